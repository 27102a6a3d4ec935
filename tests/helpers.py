"""Helpers for tests: fill catalogs, compare notes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polib

from kbtrans.catalog import Message


def fill_catalogs(locales: Path, transform: Callable[[str], str] = lambda s: s, *, fuzzy: bool = False) -> int:
    """Set every msgstr of every catalog under ``locales`` to ``transform(msgid)``. Returns entries set."""
    n = 0
    for path in sorted(locales.rglob("*.po")):
        po = polib.pofile(str(path), wrapwidth=0)
        for e in po:
            if e.obsolete:
                continue
            e.msgstr = transform(e.msgid)
            if fuzzy and "fuzzy" not in e.flags:
                e.flags.insert(0, "fuzzy")
            n += 1
        po.save()
    return n


def strip_lang(text: bytes) -> bytes:
    """Neutralise the front matter's `lang:` value (the one thing allowed to differ)."""
    import re

    return re.sub(rb"(?m)^(lang:[ \t]*['\"]?)[A-Za-z-]+", rb"\1XX", text, count=1)


def messages(root: Path) -> dict[tuple[str, str], Message]:
    """(catalog path relative to the root, msgid) → message, for every current entry."""
    from kbtrans import catalog

    out = {}
    for path in sorted((root / "locales").rglob("*.po")):
        for m in catalog.read(path):
            if not m.obsolete:
                out[(path.relative_to(root).as_posix(), m.msgid)] = m
    return out


def assert_msgfmt_ok(*paths: Path) -> None:
    """GNU gettext accepts every PO file given (or found under a folder given), header and formats included.

    Skips where msgfmt is not installed, except in CI (``CI`` set), where `.ci/run` installs it.
    """
    import os
    import shutil
    import subprocess

    import pytest

    if shutil.which("msgfmt") is None:
        if os.environ.get("CI"):
            pytest.fail("msgfmt (GNU gettext) is missing in CI: .ci/run should have installed it")
        pytest.skip("msgfmt (GNU gettext) is not installed")
    files = [f for p in paths for f in (sorted(p.rglob("*.po")) if p.is_dir() else [p])]
    assert files, paths
    for po in files:
        proc = subprocess.run(["msgfmt", "--check", "--check-format", "--check-header", "-o", os.devnull, str(po)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{po}: {proc.stderr}"
