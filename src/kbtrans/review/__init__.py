"""``kbtrans review``: a local, single-user web page to review and fix translations.

Needs the optional extra ``kbtrans[review]`` (Starlette, uvicorn, Jinja2), imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kbtrans.errors import KbtransError

if TYPE_CHECKING:
    from kbtrans.config import Config
    from kbtrans.review.app import Server

HINT = "`kbtrans review` needs the review extra: pip install 'kbtrans[review]'"


def load_server(cfg: Config, languages: Sequence[str], globs: Sequence[str], host: str, port: int) -> Server:
    """A review server for ``cfg`` bound to ``host:port`` (not started); a clear error without the extra."""
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise KbtransError(f"{HINT} (missing: {exc.name}).") from None
    from kbtrans.review.app import Server
    from kbtrans.review.data import Review

    return Server(Review(cfg, tuple(languages), tuple(globs)), host, port)
