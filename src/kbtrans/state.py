"""What the last run saw, so a re-run skips notes whose inputs did not change (``.kbtrans/``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kbtrans import __version__
from kbtrans.fsutil import write_atomic


def stat_key(path: str | os.PathLike[str]) -> list[int] | None:
    """(mtime_ns, size) of ``path``, or None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_mtime_ns, st.st_size]


def load(path: Path, fingerprint: str) -> dict[str, Any]:
    """The saved state, or {} when missing, unreadable or made with other settings or another version."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("fingerprint") != f"{__version__}:{fingerprint}":
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def save(path: Path, fingerprint: str, entries: dict[str, Any]) -> None:
    data = {"fingerprint": f"{__version__}:{fingerprint}", "entries": entries}
    write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
