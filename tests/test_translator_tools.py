"""Translators' tools over every catalog of the sample KB and of every corpus in ../shared/corpora (issue 8,
"Must show" 1): GNU msgcat (default width and --no-wrap), msgmerge --previous, msgattrib --clear-fuzzy,
polib's save(), Babel's read_po/write_po and translate-toolkit's po2xliff → xliff2po.

The catalogs are first put in the state a team's catalogs are in: machine translations (the pseudo engine;
the sample KB keeps its human ones), reviewed and untranslated entries, fuzzy ones with a ``#|`` previous
msgid, translator comments, a translator's msgctxt and an obsolete entry. After a tool has rewritten every
catalog: ``kbtrans check`` exits 0, ``extract`` writes nothing, ``build --strict`` writes byte for byte what
it wrote before, and no translation, translator comment or flag is lost. Then one note is edited: ``extract``
rewrites that note's catalog only, in the tool's entry order, with everything the tool kept.
"""

from __future__ import annotations

import io
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import polib
import pytest

from tests.conftest import CORPORA, REPO, Result, copy_corpus, write_commonmark
from tests.support.po_tools import DROPS, TOOLS

pytest.importorskip("babel")
pytest.importorskip("translate")

MD_FLAG = "md-text"
KBS = ["sample", *(pytest.param(name, marks=pytest.mark.slow) for name in ["commonmark", *CORPORA])]


def _kbtrans(*args: str | Path) -> Result:
    """``kbtrans ARGS`` in-process, as a user runs it (output and exit code)."""
    from kbtrans import cli

    out, err = io.StringIO(), io.StringIO()
    code = 0
    argv, sys.argv = sys.argv, ["kbtrans", *map(str, args)]
    try:
        with redirect_stdout(out), redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return Result(code, out.getvalue(), err.getvalue())


def _ok(*args: str | Path) -> Result:
    r = _kbtrans(*args)
    assert r.exit_code == 0, f"kbtrans {' '.join(map(str, args[2:]))}:\n{r.output[-3000:]}"
    return r


def _decorate(locales: Path) -> None:
    """Reviewed, untranslated and fuzzy entries (with ``#|``), translator comments, a msgctxt, an obsolete entry."""
    for n, path in enumerate(sorted(locales.rglob("*.po"))):
        po = polib.pofile(str(path), wrapwidth=0)
        current = [e for e in po if not e.obsolete]
        for i, e in enumerate(current):
            if i % 7 == 3:
                e.msgstr = ""
                e.flags = [f for f in e.flags if f != "fuzzy"]
            elif i % 3 == 0:
                e.flags = [f for f in e.flags if f != "fuzzy"]
            elif i % 5 == 2:
                e.flags = list(dict.fromkeys(["fuzzy", *e.flags]))
                e.previous_msgid = f"{e.msgid} (an older version)"
            if i % 4 == 1:
                e.tcomment = f"Translator's note {n}.{i}: keep the term as it is."
            if i % 11 == 5:
                e.msgctxt = f"context {i}"
        po.append(polib.POEntry(msgid=f"A paragraph removed from the note {n}.", msgstr=f"Удалённый абзац {n}.",
                                tcomment="Kept in case it comes back.", obsolete=True))
        po.save()


def _content(name: str, content: Path) -> None:
    if name == "sample":
        shutil.copytree(REPO / "content", content)
    elif name == "commonmark":
        content.mkdir(parents=True)
        write_commonmark(content)
    else:
        copy_corpus(name, content)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name → a KB with catalogs as a team has them and its build (made once per KB)."""
    return {}


def _prepare(name: str, root: Path) -> Path:
    _content(name, root / "content")
    if name == "sample":
        shutil.copytree(REPO / "locales", root / "locales")
        shutil.copy(REPO / "glossary.csv", root / "glossary.csv")
    _ok("-C", root, "extract")
    if name != "sample":
        _ok("-C", root, "translate", "--engine", "pseudo")
    _decorate(root / "locales")
    r = _ok("-C", root, "extract")
    assert " 0 catalogs written" in r.stdout, r.stdout  # the decorated catalogs are what extract would keep
    _ok("-C", root, "check")
    _ok("-C", root, "build", "--strict")
    shutil.rmtree(root / ".kbtrans")
    return root


def _entries(locales: Path) -> dict[tuple[str, str | None, str, bool], tuple[str, str, frozenset[str]]]:
    """(catalog, msgctxt, msgid, obsolete) → (msgstr, translator comment, flags but md-text)."""
    out = {}
    for path in sorted(locales.rglob("*.po")):
        for e in polib.pofile(str(path), wrapwidth=0):
            if e.msgid:
                out[(path.relative_to(locales).as_posix(), e.msgctxt, e.msgid, bool(e.obsolete))] = (
                    e.msgstr, " ".join(e.tcomment.split()), frozenset(e.flags) - {MD_FLAG})
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _lost(before: dict, after: dict, drops: frozenset[str]) -> list[str]:  # type: ignore[type-arg]
    lost = []
    for key, (msgstr, tcomment, flags) in before.items():
        if key[3]:
            continue  # obsolete entries: not every tool keeps them (po2xliff does not), kbtrans does
        got = after.get(key)
        if got is None:
            lost.append(f"{key}: entry")
        elif got[0] != msgstr or got[1] != tcomment or not (flags - drops) <= got[2]:
            lost.append(f"{key}: {(msgstr, tcomment, sorted(flags))} became {(got[0], got[1], sorted(got[2]))}")
    return lost


def _edit_one_note(root: Path) -> tuple[Path, str]:
    """Append a paragraph to a note with at least two entries; return its catalog and the new text."""
    for path in sorted((root / "locales").rglob("*.po")):
        lang, rel = path.relative_to(root / "locales").parts[0], path.relative_to(root / "locales").parts[2:]
        note = root / "content" / Path(*rel).with_suffix(".md")
        text = note.read_text(encoding="utf-8")
        if len([e for e in polib.pofile(str(path)) if not e.obsolete]) < 2 or any(
                c in text for c in ("```", "~~~", "<", "\r", "    ", "\t", "$$")):
            continue
        added = "Новый абзац, добавленный автором." if lang == "en" else "A paragraph the writer added."
        note.write_text(text.rstrip("\n") + f"\n\n{added}\n", encoding="utf-8")
        return path, added
    raise AssertionError("no note to edit")


@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize("name", KBS)
def test_catalogs_survive_translators_tools(prepared: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                                            name: str, tool: str) -> None:
    if name not in prepared:
        prepared[name] = _prepare(name, tmp_path_factory.mktemp(f"base-{name}") / "kb")
    base = prepared[name]
    root = tmp_path_factory.mktemp(f"{name}-{tool}") / "kb"
    shutil.copytree(base, root, ignore=shutil.ignore_patterns("build"))  # as CI sees it: a fresh checkout
    locales = root / "locales"
    before = _entries(locales)
    TOOLS[tool](locales)
    written = _files(locales)
    assert written != _files(base / "locales") or (tool == "polib-save" and name != "sample")
    after_tool = _entries(locales)
    assert _lost(before, after_tool, DROPS.get(tool, frozenset())) == []

    r = _ok("-C", root, "check")
    assert "catalog-" not in r.output and "po-syntax" not in r.output
    r = _ok("-C", root, "extract")
    assert " 0 catalogs written" in r.stdout, r.stdout
    assert _files(locales) == written
    _ok("-C", root, "build", "--strict")
    assert _files(root / "build") == _files(base / "build")

    # The note changes: only its catalog is rewritten, in the tool's order, with all the tool kept.
    path, added = _edit_one_note(root)
    tool_order = [(e.msgctxt, e.msgid) for e in polib.pofile(str(path)) if not e.obsolete]
    r = _ok("-C", root, "extract")
    assert " 1 catalogs written (0 new), 1 new entries, 0 fuzzy, 0 obsolete" in r.stdout, r.stdout
    assert {k: v for k, v in _files(locales).items() if v != written[k]}.keys() == {
        path.relative_to(locales).as_posix()}
    order = [(e.msgctxt, e.msgid) for e in polib.pofile(str(path)) if not e.obsolete]
    assert [k for k in order if k in set(tool_order)] == tool_order
    assert (None, added) in order
    final = _entries(locales)
    assert _lost(after_tool, final, frozenset()) == []
    assert all(MD_FLAG in e.flags for e in polib.pofile(str(path)) if not e.obsolete)
    _ok("-C", root, "check")
