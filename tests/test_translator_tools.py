"""Translators' tools over every catalog of the sample KB, a small KB of edge cases and every corpus in
../shared/corpora (issue 8, "Must show" 1): GNU msgcat (default width and --no-wrap), msgmerge --previous,
msgattrib --clear-fuzzy, polib's save(), Babel's read_po/write_po and translate-toolkit's po2xliff → xliff2po.

The catalogs are first put in the state a team's catalogs are in: machine translations (the pseudo engine;
the sample KB keeps its human ones), reviewed and untranslated entries, fuzzy ones with a ``#|`` previous
msgid, translator comments, a translator's msgctxt and an obsolete entry. After a tool has rewritten every
catalog: it kept every translation, translator comment and flag but what it is known to lose itself
(po_tools.EFFECTS, each checked to be really lost); ``kbtrans check`` exits 0, ``extract`` writes nothing,
``build --strict`` writes byte for byte what it wrote before, so does ``build --reviewed-only`` (after
``msgattrib --clear-fuzzy``, which reviews every translation: the full build), and ``stats`` counts the same
(after it: machine and fuzzy counted as reviewed). Then one note is edited: ``extract`` rewrites that note's
catalog only, in the tool's entry order, losing nothing the tool kept.
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import polib
import pytest

from tests.conftest import CORPORA, REPO, Result, copy_corpus, write_commonmark
from tests.support.po_tools import EFFECTS, TOOLS

pytest.importorskip("babel")
pytest.importorskip("translate")

MD_FLAG = "md-text"
KBS = ["sample", "edge", *(pytest.param(name, marks=pytest.mark.slow) for name in ["commonmark", *CORPORA])]
#: What the corpora showed tools do, in a KB small enough for every run: a text twice on one line (GNU gettext
#: writes the reference once), file names with spaces (it rewrites their references), a section comment that
#: polib wraps after a hyphen, `%` and `{…}` (Babel adds python-format), backslashes and quotes.
EDGE = {
    "заметки с пробелами/таблица и повторы.md": (
        "---\ntitle: Таблица с повторами\naliases:\n  - Повторы\n---\n\n"
        "# Проблематизация, распредмечивание и опредмечивание в СМД-методологии: длинный заголовок раздела\n\n"
        "| Да | Да | Нет |\n| --- | --- | --- |\n| Да | Нет | Да |\n\n"
        "Один и тот же абзац.\n\n"
        "Функция `\\ndef`, строка \"в кавычках\", 50% и {name}.\n\n"
        "Один и тот же абзац.\n\n"
        "> [!note] Выноска\n> Текст выноски со [[другая заметка|ссылкой]].\n\n"
        "- пункт списка\n  - вложенный пункт с **жирным** текстом\n"),
    "заметки с пробелами/другая заметка.md": "# Другая заметка\n\nКороткий абзац.\n\nЕщё один абзац.\n",
    "en note.md": ("# An English note\n\nA paragraph with a [link](https://example.com \"a title\") and a "
                   "footnote[^1].\n\nYes | Yes\n\n[^1]: The footnote text.\n"),
}


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
            kept = [c for c in e.comment.split("\n") if c.startswith("kbtrans-mt-repair:") and "source text kept" in c]
            if kept and e.msgstr == e.msgid:
                # where the pseudo engine's output was unusable (mt-fallback, an error of `build --strict`), the
                # translator has not got to it yet: untranslated
                e.msgstr, e.flags = "", [f for f in e.flags if f != "fuzzy"]
                e.comment = "\n".join(c for c in e.comment.split("\n") if c not in kept)
            if i % 7 == 3:
                e.msgstr = ""
                e.flags = [f for f in e.flags if f != "fuzzy"]
            elif i % 3 == 0:
                e.flags = [f for f in e.flags if f != "fuzzy"]
            elif i % 5 == 2 and e.msgstr:
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
    elif name == "edge":
        for rel, text in EDGE.items():
            (content / rel).parent.mkdir(parents=True, exist_ok=True)
            (content / rel).write_text(text, encoding="utf-8")
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
    _ok("-C", root, "--output", "reviewed", "build", "--reviewed-only")
    (root / "stats.json").write_text(_ok("-C", root, "stats", "--json").stdout, encoding="utf-8")
    shutil.rmtree(root / ".kbtrans")
    return root


Key = tuple[str, str | None, str, bool]
Value = tuple[str, str, frozenset[str], str | None, bool]


def _squeeze(text: str) -> str:
    # a comment as tools wrap it (Babel wraps at spaces and after hyphens)
    return "".join(text.split())


def _entries(locales: Path) -> dict[Key, Value]:
    """(catalog, msgctxt, msgid, unattached) → (msgstr, translator comment, flags but md-text, ``#|`` previous
    msgid, ``#~``). Unattached: obsolete (``#~``), or current without ``#:`` references."""
    out = {}
    for path in sorted(locales.rglob("*.po")):
        for e in polib.pofile(str(path), wrapwidth=0):
            if e.msgid:
                key = (path.relative_to(locales).as_posix(), e.msgctxt, e.msgid, bool(e.obsolete) or not e.occurrences)
                assert key not in out, key
                out[key] = (e.msgstr, e.tcomment, frozenset(e.flags) - {MD_FLAG}, e.previous_msgid,
                            bool(e.obsolete))
    return out


def _babel_comment(previous: str) -> str:
    """The translator comment Babel makes of the ``#|`` lines kbtrans writes for ``previous``."""
    rendered = polib.POEntry(msgid="x", msgstr="", previous_msgid=previous).__unicode__(wrapwidth=0)
    return "\n".join(line[1:] for line in rendered.split("\n") if line.startswith("#| "))


def _expected(before: dict[Key, Value], effects: frozenset[str]) -> dict[Key, Value]:
    """The entries ``before`` as a tool with ``effects`` (see po_tools.EFFECTS) gives them back."""
    out = {}
    converted = {key[0] for key in before if not key[3]}  # po2xliff converts catalogs with current entries
    for (catalog, ctxt, msgid, unattached), (msgstr, tcomment, flags, previous, obsolete) in before.items():
        if "clears-fuzzy" in effects:
            flags -= {"fuzzy"}
        if "previous-to-comment" in effects and previous is not None:
            # one comment line per file line; Babel's Message() keeps one of consecutive equal lines
            lines = [*(tcomment.split("\n") if tcomment else []), *_babel_comment(previous).split("\n")]
            tcomment, previous = "\n".join(line for line, _ in itertools.groupby(lines)), None
        if "drops-msgctxt" in effects:
            ctxt = None
        if "drops-previous" in effects:
            previous = None
        if "obsolete-to-current" in effects and catalog in converted:
            obsolete = False
        out[(catalog, ctxt, msgid, unattached)] = (msgstr, tcomment, flags, previous, obsolete)
    return out


def _all_reviewed(stats: dict[str, Any]) -> dict[str, Any]:
    """``stats --json`` with every machine and fuzzy translation reviewed (what msgattrib --clear-fuzzy does)."""
    for part in [*stats["locales"].values(), *stats["notes"]]:
        for counts in (part["segments"], part["words"]):
            counts["reviewed"] += counts["machine"] + counts["fuzzy"]
            counts["machine"] = counts["fuzzy"] = 0
    return stats


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _lost(expected: dict[Key, Value], after: dict[Key, Value], *, obsolete: bool = True) -> list[str]:
    """Every expected entry with its translation, translator comment, flags (more are fine: Babel adds
    ``python-format``), on a fuzzy entry its previous msgid, and (``obsolete``) its ``#~``: what is not there,
    or differs."""
    lost = []
    for key, want in expected.items():
        got = after.get(key)
        if got is None:
            lost.append(f"{key}: entry")
        elif (got[0] != want[0] or _squeeze(got[1]) != _squeeze(want[1]) or not want[2] <= got[2]
              or ("fuzzy" in want[2] and got[3] != want[3]) or (obsolete and got[4] != want[4])):
            lost.append(f"{key}: {(*want[:2], sorted(want[2]), *want[3:])} became "
                        f"{(*got[:2], sorted(got[2]), *got[3:])}")
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
        # unlike any text of the KB (else extract would carry an old translation over as fuzzy)
        added = ("Жирафы 7 раз жонглировали ананасами над Киото." if lang == "en"
                 else "Giraffes juggled pineapples over Kyoto 7 times.")
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
    # as CI sees it: a fresh checkout
    shutil.copytree(base, root, ignore=shutil.ignore_patterns("build", "reviewed", "stats.json"))
    locales = root / "locales"
    before = _entries(locales)
    TOOLS[tool](locales)
    written = _files(locales)
    assert written != _files(base / "locales") or (tool == "polib-save" and name != "sample")
    after_tool = _entries(locales)
    effects = EFFECTS.get(tool, frozenset())
    assert _lost(_expected(before, effects), after_tool) == []  # what the tool says it keeps, it keeps
    for effect in effects:  # and what it is said to lose, it loses (so this list stays true)
        assert _lost(_expected(before, effects - {effect}), after_tool) != [], effect

    r = _ok("-C", root, "check")
    assert "catalog-" not in r.output and "po-syntax" not in r.output
    r = _ok("-C", root, "extract")
    assert " 0 catalogs written" in r.stdout, r.stdout
    assert _files(locales) == written
    _ok("-C", root, "build", "--strict")
    assert _files(root / "build") == _files(base / "build")
    # Built of reviewed entries only, the KB is what it was, but where the tool was asked to review everything:
    # `msgattrib --clear-fuzzy` makes every translation a reviewed one, so that build is the full build.
    _ok("-C", root, "--output", "reviewed", "build", "--reviewed-only")
    reviewed = _files(root / "reviewed")
    if "clears-fuzzy" in effects:
        assert reviewed == _files(base / "build") != _files(base / "reviewed")
    else:
        assert reviewed == _files(base / "reviewed")
    # and the same counts (an unattached entry is not a segment)
    stats, want = (json.loads(_ok("-C", root, "stats", "--json").stdout),
                   json.loads((base / "stats.json").read_text(encoding="utf-8")))
    assert stats == (_all_reviewed(want) if "clears-fuzzy" in effects else want)

    # The note changes: only its catalog is rewritten, in the tool's order, with all the tool kept.
    path, added = _edit_one_note(root)
    # the entries attached to the note's segments (xliff2po's unattached ones become `#~` again)
    tool_order = [(e.msgctxt, e.msgid) for e in polib.pofile(str(path)) if not e.obsolete and e.occurrences]
    r = _ok("-C", root, "extract")
    assert " 1 catalogs written (0 new), 1 new entries, 0 fuzzy, 0 obsolete" in r.stdout, r.stdout
    assert {k: v for k, v in _files(locales).items() if v != written[k]}.keys() == {
        path.relative_to(locales).as_posix()}
    order = [(e.msgctxt, e.msgid) for e in polib.pofile(str(path)) if not e.obsolete]
    assert [k for k in order if k in set(tool_order)] == tool_order
    assert (None, added) in order
    final = _entries(locales)
    # kbtrans loses nothing the tool kept (an unattached current entry may become `#~` again)
    assert _lost(after_tool, final, obsolete=False) == []
    assert all(MD_FLAG in e.flags for e in polib.pofile(str(path)) if not e.obsolete)
    _ok("-C", root, "check")


def test_an_entry_without_references_is_obsolete_to_check_stats_and_extract(tmp_path: Path) -> None:
    """xliff2po gives a `#~` entry back as a current one without `#:` references: kbtrans treats it as the
    obsolete entry it was (no check of a translation that is not used, not a segment in stats), and writes it
    as `#~` again, translation kept, when the catalog is next rewritten."""
    root = tmp_path / "kb"
    (root / "content").mkdir(parents=True)
    note = root / "content" / "n.md"
    note.write_text("# Заголовок\n\nПервый абзац.\n", encoding="utf-8")
    _ok("-C", root, "extract")
    path = root / "locales" / "en" / "LC_MESSAGES" / "n.po"
    po = polib.pofile(str(path), wrapwidth=0)
    for e, text in zip(po, ["Heading", "First paragraph."], strict=True):
        e.msgstr = text
    old = "Старый абзац со [ссылкой](a.md)."
    po.append(polib.POEntry(msgid=old, msgstr="An old paragraph with a [link](b.md).", tcomment="Keep it."))
    po.save()
    written = path.read_bytes()
    r = _ok("-C", root, "check")
    assert "link-target" not in r.output and "catalog-" not in r.output, r.output
    segments = json.loads(_ok("-C", root, "stats", "--json", "--to", "en").stdout)["locales"]["en"]["segments"]
    assert (segments["reviewed"], segments["obsolete"], segments["segments"]) == (2, 1, 2), segments
    assert " 0 catalogs written" in _ok("-C", root, "extract").stdout
    assert path.read_bytes() == written
    note.write_text("# Заголовок\n\nПервый абзац.\n\nВторой абзац.\n", encoding="utf-8")
    assert " 1 catalogs written (0 new), 1 new entries, 0 fuzzy, 0 obsolete" in _ok("-C", root, "extract").stdout
    (kept,) = [e for e in polib.pofile(str(path), wrapwidth=0) if e.obsolete]
    assert (kept.msgid, kept.msgstr, kept.tcomment) == (old, "An old paragraph with a [link](b.md).", "Keep it.")
    _ok("-C", root, "check")
