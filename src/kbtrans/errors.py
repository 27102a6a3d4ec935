"""The one exception hierarchy of kbtrans.

The library raises these; only the CLI prints them (one paragraph, exit 1).
Every message names the file (and line or key where there is one) and says what to do.
"""

from __future__ import annotations

from pathlib import Path


class KbtransError(Exception):
    """A user error: bad input, bad config, a missing model. Never a bug."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)


class ConfigError(KbtransError):
    """kbtrans.toml / [tool.kbtrans] is invalid."""


class NoteError(KbtransError):
    """A note cannot be read (encoding, location outside content/)."""


class CatalogError(KbtransError):
    """A PO catalog cannot be read or is inconsistent with its note."""


class EngineError(KbtransError):
    """A translation engine or its model is missing or failed."""


class CheckFailed(KbtransError):
    """`--strict` turned warnings or check errors into a failure."""


class InternalError(Exception):
    """A round-trip self-check failed: this is a bug in kbtrans, please report it."""


class GlossaryError(KbtransError):
    """glossary.csv / glossary.tsv cannot be read (names the file and line)."""


class LockedError(KbtransError):
    """Another kbtrans command holds the knowledge base's lock (``--no-wait``)."""


class CatalogConflict(CatalogError):
    """A catalog entry changed on disk since it was read (``catalog.update_entries``): nothing was written.

    ``current`` is the entry as the file holds it now (None when the entry is no longer there)."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 current: object = None) -> None:
        super().__init__(message, path=path, line=line)
        self.current = current
