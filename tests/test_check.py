"""kbtrans check: broken translations are caught at the right file:line and never reach a built note."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polib
import pytest

from kbtrans import check as check_mod
from kbtrans import config
from kbtrans.model import Segment, Span
from tests.conftest import CORPORA, FIXTURES, REPO, copy_corpus, write_commonmark
from tests.helpers import fill_catalogs

BROKEN_PO = Path("locales/en/LC_MESSAGES/broken.po")
_CASE = re.compile(r"case: (?P<name>.+?) → (?P<code>[a-z-]+)")


def _broken_kb(cli, tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURES / "broken", kb)
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    return kb


def _cases(po_path: Path) -> list[tuple[str, str, int, str, str]]:
    """(case, expected code, msgid line, msgid, msgstr) of every ``# case:`` entry, found independently."""
    lines = po_path.read_text(encoding="utf-8").split("\n")
    out = []
    for e in polib.pofile(str(po_path)):
        m = _CASE.search(e.tcomment or "")
        if not m:
            continue
        # An entry's line is where it starts: its first comment line (polib's linenum), checked here
        # against the text: that line starts the entry and its msgid follows within the entry.
        line = e.linenum
        assert lines[line - 2] == "" and lines[line - 1].startswith("#")
        block = lines[line - 1:lines.index("", line - 1)]
        assert any(x.startswith("msgid ") for x in block) and any(x.startswith("msgstr ") for x in block)
        out.append((m["name"], m["code"], line, e.msgid, e.msgstr))
    return out


def test_broken_corpus_has_every_case() -> None:
    names = {c[0] for c in _cases(FIXTURES / "broken" / BROKEN_PO)}
    assert names == {
        "dropped link", "changed URL", "added URL", "added script", "added raw HTML attribute",
        "lost footnote label", "renamed wikilink target", "lost code span", "lost math", "broken emphasis",
        "Cyrillic left in EN", "heading marker introduced",
    }


def test_each_broken_translation_is_caught_at_its_line(cli, tmp_path: Path) -> None:
    kb = _broken_kb(cli, tmp_path)
    report = check_mod.check(config.load(kb))
    cases = _cases(kb / BROKEN_PO)
    by_line: dict[int, set[str]] = {}
    for issue in report.issues:
        assert issue.path == BROKEN_PO.as_posix()
        assert issue.line is not None and issue.hint and issue.message
        by_line.setdefault(issue.line, set()).add(issue.code)
    for name, code, line, msgid, _ in cases:
        assert code in by_line.get(line, set()), f"{name}: expected {code} at line {line}, got {by_line.get(line)}"
        for issue in report.issues:
            if issue.line == line:
                assert issue.msgid == check_mod._excerpt(msgid)
    # The correct translations (title, intro, footnote text) raise nothing.
    case_lines = {c[2] for c in cases}
    assert set(by_line) <= case_lines
    # Every case but the Cyrillic one is an error.
    for name, code, line, _, _ in cases:
        severities = {i.severity for i in report.issues if i.line == line and i.code == code}
        assert severities == ({"warning"} if code == "cyrillic-in-en" else {"error"}), name


def test_check_cli_formats_and_exit_code(cli, tmp_path: Path) -> None:
    kb = _broken_kb(cli, tmp_path)
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert "locales/en/LC_MESSAGES/broken.po:31: error: link target 'https://example.org/paper' of the source " \
           "is missing (link-target-lost)" in r.stderr
    assert "fix: keep the (destination) of every link" in r.stderr
    assert re.search(r"1 catalogs, 15 translated entries: 1\d errors, \d+ warnings", r.stdout)

    r = cli("-C", kb, "check", "--format", "json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["errors"] == sum(1 for i in data["issues"] if i["severity"] == "error") > 10
    first = data["issues"][0]
    assert set(first) == {"severity", "code", "path", "line", "msgid", "message", "hint"}

    r = cli("-C", kb, "check", "--format", "github")
    assert r.exit_code == 1
    assert "::error file=locales/en/LC_MESSAGES/broken.po,line=31,title=kbtrans link-target-lost::" in r.stdout
    assert "::warning file=locales/en/LC_MESSAGES/broken.po,line=101,title=kbtrans cyrillic-in-en::" in r.stdout

    r = cli("-C", kb, "check", "--format", "xml")
    assert r.exit_code == 2
    r = cli("-C", kb, "check", "--to", "de")
    assert r.exit_code == 1 and "--to de: not one of the configured languages" in r.stderr


def test_github_annotations_from_the_environment(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = _broken_kb(cli, tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = cli("-C", kb, "check")
    assert r.stdout.startswith("::error file=locales/en/LC_MESSAGES/broken.po,line=31,")
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 1
    assert "::error file=locales/en/LC_MESSAGES/broken.po,line=52,title=kbtrans unsafe-script::" in r.stdout
    assert "--strict" in r.stderr
    assert not (kb / "build").exists()  # nothing was built


def test_no_broken_translation_reaches_a_built_note(cli, tmp_path: Path) -> None:
    kb = _broken_kb(cli, tmp_path)
    r = cli("-C", kb, "build")
    assert r.exit_code == 0, r.output
    # build names the same PO line as check for each translation it does not use
    for name, _code, line, _, _ in _cases(kb / BROKEN_PO):
        if name != "heading marker introduced":
            assert f"broken.po:{line}: translation changes the markup" in r.stderr, name
    built = (kb / "build" / "en" / "broken.md").read_text(encoding="utf-8")
    source = (kb / "content" / "broken.md").read_text(encoding="utf-8")
    for name, _code, _line, msgid, msgstr in _cases(kb / BROKEN_PO):
        if name == "heading marker introduced":
            # Used, but its line start is escaped: no heading appears.
            assert "The first line of the paragraph\n\\# and the second line." in built
            continue
        assert msgstr not in built, name
        assert msgid in built, f"{name}: the source text is used instead"
    for bad in ("evil", "<script", "onmouseover", "pretraining-corpus", "обучена on"):
        assert bad not in built
    # The good translations are used.
    assert "# Broken translations" in built and "[^data]: The paper authors' estimate." in built
    assert source.count("\n") <= built.count("\n")
    assert built.count("\n# ") == 1  # exactly one heading
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 1
    assert "check errors and --strict is set" in r.stderr
    assert "broken.po:59: error:" in r.stderr


def test_stale_catalog_after_an_edit(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "content").mkdir(parents=True)
    note = kb / "content" / "n.md"
    note.write_text("# Заголовок\n\nПервый абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    fill_catalogs(kb / "locales", lambda s: {"Заголовок": "Heading", "Первый абзац.": "First paragraph."}[s])
    r = cli("-C", kb, "check")
    assert r.exit_code == 0, r.output
    assert cli("-C", kb, "build", "--strict").exit_code == 0
    note.write_text("# Заголовок\n\nПервый абзац.\n\nНовый абзац.\n", encoding="utf-8")
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert "locales/en/LC_MESSAGES/n.po: error: out of date with content/n.md" in r.stderr
    assert "(catalog-stale)" in r.stderr and "run `kbtrans extract`" in r.stderr
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 1 and "catalog-stale" in r.stderr
    assert cli("-C", kb, "extract").exit_code == 0
    assert cli("-C", kb, "check").exit_code == 0


def test_missing_orphan_own_language_and_unparsable_catalogs(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "content").mkdir(parents=True)
    (kb / "content" / "a.md").write_text("Абзац.\n", encoding="utf-8")
    (kb / "content" / "b.md").write_text("Другой абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    en = kb / "locales" / "en" / "LC_MESSAGES"
    (en / "a.po").unlink()
    shutil.copy(en / "b.po", en / "gone.po")
    (kb / "locales" / "ru" / "LC_MESSAGES").mkdir(parents=True, exist_ok=True)
    shutil.copy(en / "b.po", kb / "locales" / "ru" / "LC_MESSAGES" / "b.po")
    text = (en / "b.po").read_text(encoding="utf-8").split("\n")
    bad_line = next(i for i, line in enumerate(text, 1) if line.startswith("msgstr") and i > 5)
    text[bad_line - 1] = 'msgstr "unterminated'
    (en / "b.po").write_text("\n".join(text), encoding="utf-8")
    report = check_mod.check(config.load(kb))
    found = {(i.code, i.path, i.line) for i in report.issues}
    assert ("catalog-missing", "locales/en/LC_MESSAGES/a.po", None) in found
    assert ("catalog-orphan", "locales/en/LC_MESSAGES/gone.po", None) in found
    assert ("catalog-orphan", "locales/ru/LC_MESSAGES/b.po", None) in found
    assert ("po-syntax", "locales/en/LC_MESSAGES/b.po", bad_line) in found
    assert all(i.severity == "error" for i in report.issues)


def _entry(msgid: str, msgstr: str, target: str = "en", source: str = "ru", **kw: object) -> check_mod.Entry:
    seg = Segment(msgid, "paragraph", "", tuple(Span(i, 0, len(line)) for i, line in enumerate(msgid.split("\n"))))
    return check_mod.Entry(msgid, msgstr, seg, source, target, **kw)  # type: ignore[arg-type]


def _codes(msgid: str, msgstr: str, target: str = "en", **kw: object) -> set[str]:
    return {f.code for f in check_mod.findings(_entry(msgid, msgstr, target, **kw))}


@pytest.mark.parametrize(("msgid", "msgstr"), [
    ("Переменная `snake_case_name` и _курсив_.", "The `snake_case_name` variable and _italics_."),
    ("Знак \\* и **жирный**.", "A \\* sign and **bold**."),
    ("2 * 3 = 6, а 4 * 5 = 20.", "2 * 3 = 6 and 4 * 5 = 20."),
    ("См. [[a#Раздел|раздел]] и ![[img.png]].", "See [[a#Раздел|the section]] and ![[img.png]]."),
    ("Ссылка [текст][ref] и <https://a.b/c>.", "A [text][ref] link and <https://a.b/c>."),
    ("Модели StarCoder и HumanEval.", "StarCoder and HumanEval models."),
    ("Первая строка\nвторая строка.", "First line\nsecond line."),
    ("Год 2024.", "The year 2024."),
    ("Нажмите <kbd>Ctrl</kbd>.", "Press <kbd>Ctrl</kbd>."),
])
def test_good_translations_raise_nothing(msgid: str, msgstr: str) -> None:
    assert _codes(msgid, msgstr) == set()


@pytest.mark.parametrize(("msgid", "msgstr", "code"), [
    ("Ссылка [тут](https://a.b).", "A link [here](javascript:alert(1)).", "link-target-changed"),
    ("Текст.", "Text <img src=x onerror=alert(1)>.", "unsafe-script"),
    ("Текст.", "Text <img src=x>.", "unsafe-html-added"),
    ("Текст.", "Text <?php echo 1; ?>.", "unsafe-html-added"),
    ("Текст.", "Text [[secret-note]].", "unsafe-wikilink-added"),
    ("Текст.", "Text <a href=\"https://evil\">x</a>.", "unsafe-html-added"),
    ("Текст.", "Text onclick=alert(1).", "unsafe-script"),
    ("Тег #llm тут.", "The tag here.", "tag-lost"),
    ("Ссылка [x][ref].", "A [x][other] link.", "reference-label-changed"),
    ("Текст ^[сноска].", "Text.", "inline-footnote-lost"),
    ("Это _курсив_ тут.", "This is _italics here.", "emphasis-unbalanced"),
    ("Это ~~зачёркнуто~~.", "This is ~~struck.", "emphasis-unbalanced"),
    ("Абзац\nпродолжение.", "Paragraph\n- continued.", "block-marker-added"),
    ("Абзац\nпродолжение.", "Paragraph\n> continued.", "block-marker-added"),
    ("Абзац.", "Paragraph.\n\nSecond.", "blank-line"),
    ("Абзац.", " \n ", "block-structure"),
    ("Абзац.", " Paragraph.", "whitespace-mismatch"),
    ("Абзац.", "Paragraph", "end-punctuation"),
    ("Абзац про модели.", "A paragraph  about models.", "double-space"),
    ("Длинный абзац про языковые модели для кода.", "Длинный абзац про языковые модели для кода.",
     "identical-to-source"),
    ("Текст ^[Длинный текст сноски здесь].", "Text ^[Длинный текст сноски здесь].", "untranslated-footnote"),
])
def test_bad_translations_are_reported(msgid: str, msgstr: str, code: str) -> None:
    assert code in _codes(msgid, msgstr)


def test_latin_only_russian_translation() -> None:
    assert "latin-in-ru" in _codes("A paragraph about models.", "A paragraph about the models here.", "ru")
    assert _codes("Use StarCoder with FIM.", "Используйте StarCoder с FIM.", "ru") == set()
    # identical English text into Russian: reported as identical, not twice
    assert _codes("A long paragraph about code models.", "A long paragraph about code models.", "ru") == {
        "identical-to-source"}
    # short names may stay
    assert _codes("Code Llama", "Code Llama", "ru") == set()


def test_glossary_warnings_and_strict(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "content").mkdir(parents=True)
    (kb / "content" / "n.md").write_text("Этап предобучения StarCoder.\n\nТокенизатор важен.\n", encoding="utf-8")
    (kb / "glossary.csv").write_text("ru,en,note\nпредобучение,pretraining,\nтокенизатор,tokenizer,\n"
                                     ",StarCoder,\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    fill_catalogs(kb / "locales", lambda s: {"Этап предобучения StarCoder.": "The pre-learning stage of Starcoder.",
                                             "Токенизатор важен.": "The tokenizer matters."}[s])
    r = cli("-C", kb, "check")
    assert r.exit_code == 0, r.output
    assert "the source has 'предобучение' but the translation lacks 'pretraining' (glossary-term)" in r.stderr
    assert "use the glossary translation (glossary.csv:2)" in r.stderr
    assert "do-not-translate term 'StarCoder' is missing (glossary-keep)" in r.stderr
    assert "tokenizer" not in r.stderr
    r = cli("-C", kb, "check", "--strict")
    assert r.exit_code == 1
    assert re.search(r"n\.po:\d+: error: the source has 'предобучение'", r.stderr)
    (kb / "glossary.csv").write_text("ru,en\nа,b,c\n", encoding="utf-8")
    r = cli("-C", kb, "check")
    assert r.exit_code == 1 and "glossary.csv:2: error:" in r.stderr and "(glossary-invalid)" in r.stderr


def test_committed_sample_kb_has_no_errors(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    for name in ("content", "locales"):
        shutil.copytree(REPO / name, kb / name)
    shutil.copy(REPO / "glossary.csv", kb / "glossary.csv")
    report = check_mod.check(config.load(kb))
    assert report.catalogs >= 10 and report.entries > 0
    assert [str(i) for i in report.errors] == []
    assert [str(i) for i in report.issues if i.code.startswith("glossary-")] == []


def _identity_errors(cli, root: Path) -> list[str]:
    r = cli("-C", root, "extract")
    assert r.exit_code == 0, r.output
    fill_catalogs(root / "locales")
    report = check_mod.check(config.load(root))
    return [str(i) for i in report.errors]


def test_identity_sample_kb_has_no_errors(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(REPO / "content", kb / "content")
    shutil.copy(REPO / "glossary.csv", kb / "glossary.csv")
    assert _identity_errors(cli, kb) == []


@pytest.mark.slow
def test_identity_commonmark_examples_have_no_errors(cli, kb: Path) -> None:
    write_commonmark(kb / "content")
    assert _identity_errors(cli, kb) == []


@pytest.mark.slow
@pytest.mark.parametrize("corpus", CORPORA)
def test_identity_corpus_has_no_errors(cli, kb: Path, corpus: str) -> None:
    copy_corpus(corpus, kb / "content")
    assert _identity_errors(cli, kb) == []


def test_ci_examples_are_valid() -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / "examples" / "github-actions.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["locales"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "pip install kbtrans" in runs and "kbtrans check" in runs and "kbtrans build --strict" in runs
    assert any(s.get("uses", "").startswith("actions/upload-artifact") and "build/" in s["with"]["path"]
               for s in steps)
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "kbtrans-check")
    assert hook["entry"] == "kbtrans check" and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("content/a.md") and files.search("locales/en/LC_MESSAGES/a.po")
    assert files.search("glossary.csv") and not files.search("src/x.py")


def test_strict_build_with_min_translated_skips_without_failing(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "content").mkdir(parents=True)
    (kb / "content" / "a.md").write_text("Абзац.\n", encoding="utf-8")
    (kb / "content" / "b.md").write_text("Другой абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    fill_catalogs(kb / "locales", lambda s: {"Абзац.": "Paragraph.", "Другой абзац.": ""}[s])
    r = cli("-C", kb, "build", "--strict", "--min-translated", "50")
    assert r.exit_code == 0, r.output
    assert "skipped: en/b.md is 0.0% translated" in r.stderr
    assert (kb / "build" / "en" / "a.md").read_text(encoding="utf-8") == "Paragraph.\n"


def test_shortcut_reference_labels_may_stay_russian() -> None:
    """A ``[label]`` the note defines is its label: Russian in an English text, yet no leftover. Brackets
    that link nothing are text like any other."""
    from markdown_it.common.utils import normalizeReference

    msgid = "Доступна [печатная книга в мягкой обложке] и онлайн."
    msgstr = "Available as a [печатная книга в мягкой обложке] and online."
    refs = frozenset({normalizeReference("печатная книга в мягкой обложке")})
    assert _codes(msgid, msgstr, references=refs) == set()
    assert check_mod.left_over_cyrillic(msgid, msgstr, references=refs) == []
    assert "cyrillic-in-en" in _codes(msgid, msgstr)
    assert check_mod.left_over_cyrillic(msgid, msgstr) == ["печатная", "книга", "мягкой", "обложке"]
    assert check_mod.left_over_cyrillic("Модель обучена на коде.", "The model is обучена on code.") == ["обучена"]


def test_build_warnings_as_github_annotations(cli, tmp_path: Path) -> None:
    kb = _broken_kb(cli, tmp_path)
    line = next(c[2] for c in _cases(kb / BROKEN_PO) if c[0] == "dropped link")
    r = cli("-C", kb, "build", "--format", "github")
    assert r.exit_code == 0, r.output
    assert (f"::warning file=locales/en/LC_MESSAGES/broken.po,line={line},title=kbtrans build::translation "
            "changes the markup (lost link target 'https://example.org/paper')") in r.stdout
    assert check_mod.github_escape("50%\nnext") == "50%25%0Anext"
    assert check_mod.github_escape("a:b,c", prop=True) == "a%3Ab%2Cc"


def test_results_are_reused_only_while_note_catalog_and_settings_are_unchanged(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    kb = _broken_kb(cli, tmp_path)
    (kb / "content" / "ok.md").write_text("# Заметка\n\nПростой абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    cfg = config.load(kb)
    calls: list[str] = []
    real = check_mod._check_catalog
    monkeypatch.setattr(check_mod, "_check_catalog", lambda cfg, rel, *a: calls.append(rel) or real(cfg, rel, *a))

    first = check_mod.check(cfg, jobs=1)
    assert sorted(calls) == ["broken.md", "ok.md"] and first.errors
    calls.clear()
    assert check_mod.check(cfg, jobs=1) == first and calls == []  # nothing changed: nothing re-checked
    shutil.rmtree(kb / ".kbtrans")
    assert check_mod.check(cfg, jobs=1) == first  # the same without any cache

    # Fix one broken entry: only its catalog is checked again, and its issue is gone.
    calls.clear()
    case = next(c for c in _cases(kb / BROKEN_PO) if c[0] == "dropped link")
    po = polib.pofile(str(kb / BROKEN_PO), wrapwidth=0)
    po.find(case[3]).msgstr = case[3]
    po.save()
    fixed = check_mod.check(cfg, jobs=1)
    assert calls == ["broken.md"]
    assert not any(i.code == case[1] for i in fixed.issues) and any(i.code == case[1] for i in first.issues)
    shutil.rmtree(kb / ".kbtrans")
    assert check_mod.check(cfg, jobs=1) == fixed

    # --strict only promotes glossary warnings: it reuses the same results (a hook may run both).
    calls.clear()
    check_mod.check(cfg, strict=True, jobs=1)
    assert calls == []
    # Another glossary, damaged records: checked again, same answers as without a cache.
    (kb / "glossary.csv").write_text("ru,en\nабзац,paragraph\n", encoding="utf-8")
    calls.clear()
    with_glossary = check_mod.check(cfg, jobs=1)
    assert sorted(calls) == ["broken.md", "ok.md"]
    con = sqlite3.connect(kb / ".kbtrans" / "state.db")
    with con:
        con.execute("UPDATE checked SET issues='[[1, 2]]'")
    con.close()
    assert check_mod.check(cfg, jobs=1) == with_glossary
    shutil.rmtree(kb / ".kbtrans")
    assert check_mod.check(cfg, jobs=1) == with_glossary
