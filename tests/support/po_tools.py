"""Translators' tools that rewrite PO catalogs: GNU gettext, polib, Babel and translate-toolkit.

Each tool is a function ``(locales) -> None`` that rewrites every catalog under the folder ``locales`` in
place as that tool saves it (what a translator's editor or a CI step does to the catalogs kbtrans wrote).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import polib
import pytest


def _gettext(*argv: str) -> None:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} (GNU gettext) is not installed")
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr}"


def msgcat(path: Path) -> None:
    """GNU msgcat at its default width (79), as Poedit and gettext write."""
    _gettext("msgcat", "-o", str(path), str(path))


def msgcat_no_wrap(path: Path) -> None:
    _gettext("msgcat", "--no-wrap", "-o", str(path), str(path))


def msgmerge_previous(path: Path) -> None:
    """``msgmerge --previous`` against a template of the catalog's own msgids (what a gettext update does)."""
    po = polib.pofile(str(path), wrapwidth=0)
    pot = polib.POFile(wrapwidth=0)
    pot.metadata = dict(po.metadata)
    for e in po:
        if not e.obsolete:
            pot.append(polib.POEntry(msgctxt=e.msgctxt, msgid=e.msgid, msgstr="", comment=e.comment,
                                     occurrences=e.occurrences, flags=[f for f in e.flags if f != "fuzzy"]))
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / "ref.pot"
        pot.save(str(ref))
        _gettext("msgmerge", "--quiet", "--previous", "-o", str(path), str(path), str(ref))


def msgattrib_clear_fuzzy(path: Path) -> None:
    _gettext("msgattrib", "--clear-fuzzy", "-o", str(path), str(path))


def polib_save(path: Path) -> None:
    """polib's default ``save()`` (wraps at 78, ``#.`` comments included)."""
    polib.pofile(str(path)).save()


def babel(path: Path) -> None:
    """Babel's ``read_po`` / ``write_po`` (wraps at 76)."""
    from babel.messages.pofile import read_po, write_po

    with path.open("rb") as f:
        cat = read_po(f, abort_invalid=True)
    with path.open("wb") as f:
        write_po(f, cat, include_previous=True)


def xliff_roundtrip(locales: Path) -> None:
    """translate-toolkit's po2xliff → xliff2po over the whole folder (what an XLIFF-based CAT tool does)."""
    with tempfile.TemporaryDirectory() as tmp:
        xlf, back = Path(tmp) / "xlf", Path(tmp) / "po"
        for module, src, dst in (("po2xliff", locales, xlf), ("xliff2po", xlf, back)):
            dst.mkdir()
            # the venv's console scripts (``python -m translate.convert.xliff2po`` does nothing: no __main__)
            script = Path(sys.executable).parent / module
            proc = subprocess.run([str(script), "--progress=none", "--errorlevel=traceback", "-i", str(src), "-o",
                                   str(dst)],
                                  capture_output=True, text=True)
            assert proc.returncode == 0 and not proc.stderr.strip(), f"{module}: {proc.stderr}"
        for path in _catalogs(locales):
            got = back / path.relative_to(locales)
            if got.exists():
                shutil.copy(got, path)
            else:
                # po2xliff writes no file for a catalog without current entries (only `#~` ones: nothing to
                # translate); a CAT tool gives nothing back for it and the catalog stays as it was.
                assert all(e.obsolete for e in polib.pofile(str(path)) if e.msgid), f"xliff2po lost {path}"


def _catalogs(locales: Path) -> list[Path]:
    return sorted(locales.rglob("*.po"))


def _each(tool: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(locales: Path) -> None:
        for path in _catalogs(locales):
            tool(path)

    run.__doc__ = tool.__doc__
    return run


TOOLS: dict[str, Callable[[Path], None]] = {
    "msgcat": _each(msgcat),
    "msgcat-no-wrap": _each(msgcat_no_wrap),
    "msgmerge-previous": _each(msgmerge_previous),
    "msgattrib-clear-fuzzy": _each(msgattrib_clear_fuzzy),
    "polib-save": _each(polib_save),
    "babel": _each(babel),
    "po2xliff-xliff2po": xliff_roundtrip,
}
#: What a tool itself does to the entries (besides wrapping, entry and header order, and the ``md-text`` flag,
#: which GNU gettext 0.21 — msgcat, msgmerge, msgattrib — and xliff2po drop from every entry, as any flag they
#: do not know), measured with gettext 0.21, polib 1.2, Babel 2.19 and translate-toolkit 3.20:
#:
#: - ``clears-fuzzy``: no entry is ``fuzzy`` any more (what ``msgattrib --clear-fuzzy`` is asked to do; it
#:   keeps the ``#|`` previous msgid, which means nothing on an entry that is not fuzzy);
#: - ``previous-to-comment``: Babel's ``read_po`` does not parse ``#|`` lines but keeps them as translator
#:   comments, which ``write_po`` writes as ``# | msgid "…"``: the previous msgid is gone, a comment added;
#:   and of consecutive equal comment lines (``| "||\n"`` twice: a YFM table) it keeps one;
#: - ``drops-msgctxt``, ``drops-previous``: po2xliff writes neither a ``msgctxt`` nor a ``#|`` previous msgid
#:   into the XLIFF, so xliff2po cannot give them back;
#: - ``obsolete-to-current``: xliff2po gives ``#~`` entries back as current entries without ``#:``
#:   references (kbtrans counts those as unattached: obsolete in all but the ``#~``); a catalog with only
#:   obsolete entries is not converted at all (see :func:`xliff_roundtrip`).
EFFECTS: dict[str, frozenset[str]] = {
    "msgattrib-clear-fuzzy": frozenset({"clears-fuzzy"}),
    "babel": frozenset({"previous-to-comment"}),
    "po2xliff-xliff2po": frozenset({"drops-msgctxt", "drops-previous", "obsolete-to-current"}),
}
