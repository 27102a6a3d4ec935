"""extract: segments → per-note PO catalogs, merged with what translators already did."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polib
import pytest

from tests.conftest import FIXTURES, REPO
from tests.helpers import assert_msgfmt_ok

DATES = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"$', re.MULTILINE)
PROJECT = re.compile(r'^"Project-Id-Version: .*\\n"$', re.MULTILINE)


def _normalise(po_text: str) -> str:
    text = DATES.sub(lambda m: f'"{m.group(1)}: DATE\\n"', po_text)
    return PROJECT.sub('"Project-Id-Version: kb\\\\n"', text)


def _po(kb: Path, lang: str, stem: str) -> polib.POFile:
    return polib.pofile(str(kb / "locales" / lang / "LC_MESSAGES" / f"{stem}.po"), wrapwidth=0)




def test_typical_note_matches_golden_catalog(cli, kb: Path) -> None:
    """One entry per heading, paragraph, list item and footnote definition, with reference and context."""
    shutil.copy(FIXTURES / "extract" / "typical.md", kb / "content" / "typical.md")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    assert "1 notes: 1 catalogs written (1 new), 13 new entries" in r.stdout
    written = kb / "locales" / "en" / "LC_MESSAGES" / "typical.po"
    golden = (FIXTURES / "extract" / "typical.en.po").read_text(encoding="utf-8")
    assert _normalise(written.read_text(encoding="utf-8")) == golden
    assert_msgfmt_ok(written)
    # A Russian note is translated into English only.
    assert not (kb / "locales" / "ru").exists()


def test_sample_kb_catalogs_are_valid_and_stable(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(REPO / "content", kb / "content")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    catalogs = sorted((kb / "locales").rglob("*.po"))
    notes = sorted((kb / "content").rglob("*.md"))
    assert len(catalogs) == len(notes)  # one target language per note (ru ↔ en)
    for po in catalogs:
        assert_msgfmt_ok(po)
        text = po.read_text(encoding="utf-8")
        for key in ("Project-Id-Version", "POT-Creation-Date", "PO-Revision-Date", "Last-Translator",
                    "Language-Team", "Language", "MIME-Version", "Content-Type: text/plain; charset=UTF-8",
                    "Content-Transfer-Encoding", "Plural-Forms", "X-Generator"):
            assert f'"{key}' in text, (po, key)
    ru = (kb / "locales" / "ru" / "LC_MESSAGES" / "training" / "tokenization.po").read_text(encoding="utf-8")
    assert "nplurals=3" in ru
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in catalogs}
    # Re-running on unchanged notes changes no file, also without the state cache (no date churn).
    for _ in range(2):
        r = cli("-C", kb, "extract")
        assert r.exit_code == 0, r.output
        assert "0 catalogs written" in r.stdout
        assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in catalogs} == before
        shutil.rmtree(kb / ".kbtrans")


def _translate_all(kb: Path, lang: str, stem: str, prefix: str = "EN: ") -> None:
    po = _po(kb, lang, stem)
    for e in po:
        e.msgstr = prefix + e.msgid
    po.save()


NOTE = """# Заголовок

Первое предложение абзаца. Второе предложение абзаца.

Абзац, который потом удалят целиком.

Последний абзац остаётся как есть.
"""


def test_edit_is_fuzzy_with_previous_msgid_and_delete_is_obsolete(cli, kb: Path) -> None:
    note = kb / "content" / "n.md"
    note.write_text(NOTE, encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    po = _po(kb, "en", "n")
    for e in po:
        e.msgstr = "EN: " + e.msgid
        if e.msgid.startswith("Последний"):
            e.tcomment = "checked by Anna"
            e.flags.append("no-wrap")
    po.save()

    note.write_text(NOTE.replace("Второе предложение абзаца.", "Второе, изменённое предложение абзаца.")
                    .replace("Абзац, который потом удалят целиком.\n\n", ""), encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    assert "1 fuzzy, 1 obsolete" in r.stdout
    po = _po(kb, "en", "n")
    edited = po.find("Первое предложение абзаца. Второе, изменённое предложение абзаца.")
    assert edited is not None
    assert "fuzzy" in edited.flags
    assert edited.previous_msgid == "Первое предложение абзаца. Второе предложение абзаца."
    assert edited.msgstr == "EN: Первое предложение абзаца. Второе предложение абзаца."
    gone = po.find("Абзац, который потом удалят целиком.", include_obsolete_entries=True)
    assert gone is not None and gone.obsolete and gone.msgstr == "EN: Абзац, который потом удалят целиком."
    kept = po.find("Последний абзац остаётся как есть.")
    assert kept is not None and kept.tcomment == "checked by Anna" and "no-wrap" in kept.flags
    assert "fuzzy" not in kept.flags
    # Order: document order, obsolete entries last.
    ids = [e.msgid for e in po]
    assert ids == ["Заголовок", "Первое предложение абзаца. Второе, изменённое предложение абзаца.",
                   "Последний абзац остаётся как есть.", "Абзац, который потом удалят целиком."]
    assert_msgfmt_ok(kb / "locales" / "en" / "LC_MESSAGES" / "n.po")

    # The paragraph comes back: its obsolete translation is revived as an exact match.
    note.write_text(NOTE, encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    back = _po(kb, "en", "n").find("Абзац, который потом удалят целиком.")
    assert back is not None and not back.obsolete and back.msgstr.startswith("EN: ")

    # --no-obsolete drops what is no longer in the note.
    note.write_text("# Заголовок\n", encoding="utf-8")
    assert cli("-C", kb, "extract", "--no-obsolete").exit_code == 0
    assert [e.msgid for e in _po(kb, "en", "n")] == ["Заголовок"]


def test_rename_carries_translations_and_deleted_note_is_reported(cli, kb: Path) -> None:
    (kb / "content" / "old.md").write_text(NOTE, encoding="utf-8")
    (kb / "content" / "gone.md").write_text("# Удалённая заметка\n\nТекст.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate_all(kb, "en", "old")
    (kb / "content" / "sub").mkdir()
    (kb / "content" / "old.md").rename(kb / "content" / "sub" / "new.md")
    (kb / "content" / "gone.md").unlink()
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    assert "renamed: locales/en/LC_MESSAGES/old.po → locales/en/LC_MESSAGES/sub/new.po" in r.stdout
    assert "gone.po: catalog without a note" in r.stderr
    assert not (kb / "locales" / "en" / "LC_MESSAGES" / "old.po").exists()
    assert (kb / "locales" / "en" / "LC_MESSAGES" / "gone.po").exists()  # kept: no translation is lost
    po = _po(kb, "en", "sub/new")
    assert all(e.msgstr == "EN: " + e.msgid for e in po)
    assert all(occ[0] == "content/sub/new.md" for e in po for occ in e.occurrences)
    cache = kb / ".kbtrans" / "notes"
    assert (cache / "sub" / "new.md.json").is_file()
    assert not (cache / "old.md.json").exists() and not (cache / "gone.md.json").exists()  # no stale cache


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("---\nlang: en\n---\n\nТекст на русском, но ключ lang главнее.\n", "en"),
        ("---\nlang: ru-RU\n---\n\nA Russian note, says its region-tagged lang key.\n", "ru"),
        ("---\nlang: en_US\n---\n\nАнглийская заметка по ключу lang.\n", "en"),
        ("Обычная русская заметка о моделях.\n", "ru"),
        ("An English note about code models, with one слово.\n", "en"),
        ("`code only`\n\n```\nfenced\n```\n", "ru"),  # nothing to detect: source_language
    ],
)
def test_note_language(cli, kb: Path, text: str, lang: str) -> None:
    (kb / "content" / "n.md").write_text(text, encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    other = {"ru": "en", "en": "ru"}[lang]
    assert not (kb / "locales" / lang).exists()
    assert (kb / "locales" / other / "LC_MESSAGES" / "n.po").exists()


def test_source_language_and_languages_from_config(cli, kb: Path) -> None:
    (kb / "kbtrans.toml").write_text('languages = ["en", "ru", "de"]\nsource_language = "en"\n', encoding="utf-8")
    (kb / "content" / "n.md").write_text("`x`\n\nEnglish words.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    assert sorted(p.parts[-3] for p in (kb / "locales").rglob("*.po")) == ["de", "ru"]


def test_never_translated_parts_make_no_entry(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text(
        "---\ntitle: Заметка\ntags: [a, b]\ndate: 2024-01-01\n---\n\n"
        "```python\nprint('привет')\n```\n\n"
        "    отступ — это код\n\n"
        "$$\nx = \\text{формула}\n$$\n\n"
        "<div>\nHTML-блок\n</div>\n\n"
        "[[training/tokenization]]\n\n"
        "https://example.org/путь\n\n"
        "%%комментарий автора%%\n\n"
        "[ref]: https://example.org \"Заголовок ссылки\"\n\n"
        "42\n\n"
        "Текст со сноской[^a] и ^[встроенной сноской]. ^block-id\n\n"
        "[^a]: Определение сноски.\n\n"
        "    Второй абзац сноски.\n",
        encoding="utf-8",
    )
    assert cli("-C", kb, "extract").exit_code == 0
    ids = [e.msgid for e in _po(kb, "en", "n")]
    assert ids == ["Заметка", "Заголовок ссылки", "Текст со сноской[^a] и ^[встроенной сноской].",
                   "Определение сноски.", "Второй абзац сноски."]
    comments = [e.comment for e in _po(kb, "en", "n")]
    assert comments == ["front matter: title", "link title", "paragraph", "footnote [^a]",
                        "footnote [^a], paragraph 2"]


def test_quantities_make_no_entry(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text(
        "| Модель | Размеры | Контекст |\n|---|---|---|\n"
        "| StarCoder | 15.5B | 8K |\n| Code Llama | 7B–70B | до 100K |\n",
        encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    assert [e.msgid for e in _po(kb, "en", "n")] == ["Модель", "Размеры", "Контекст", "StarCoder", "Code Llama",
                                                    "до 100K"]


def test_line_separator_inside_a_paragraph_keeps_its_translation(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text("Первый\u2028абзац тут.\n\nВторой\x85абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    po = _po(kb, "en", "n")
    assert [e.msgid for e in po] == ["Первый\u2028абзац тут.", "Второй\x85абзац."]
    po = _po(kb, "en", "n")
    for e, msgstr in zip(po, ["First\u2028paragraph here.", "Second\x85paragraph."], strict=True):
        e.msgstr = msgstr
    po.save()
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 0, r.output
    assert "en: 2/2 segments translated" in r.stdout
    assert "First\u2028paragraph here." in (kb / "build" / "en" / "n.md").read_text(encoding="utf-8")
    assert cli("-C", kb, "extract").stdout.startswith("1 notes: 0 catalogs written")


def test_duplicate_msgid_and_bom(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text("Первый абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    path = kb / "locales" / "en" / "LC_MESSAGES" / "n.po"
    text = path.read_text(encoding="utf-8")
    path.write_text("\ufeff" + text, encoding="utf-8")  # some editors save a byte-order mark
    assert cli("-C", kb, "build", "--strict").exit_code == 0
    path.write_text(text + '\nmsgid "Первый абзац."\nmsgstr "First paragraph."\n', encoding="utf-8")
    dup = text.count("\n") + 2
    for command in ("extract", "build"):
        r = cli("-C", kb, command)
        assert r.exit_code == 1, r.output
        assert f"n.po:{dup}: this entry repeats the msgid of the entry at line" in r.stderr
    assert "First paragraph." in path.read_text(encoding="utf-8")  # nothing was dropped


def test_wrap_sets_the_po_line_width(cli, kb: Path) -> None:
    long = "Очень длинный абзац, " * 8 + "и конец."
    (kb / "content" / "n.md").write_text(long + "\n", encoding="utf-8")
    (kb / "kbtrans.toml").write_text("wrap = 40\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    po = kb / "locales" / "en" / "LC_MESSAGES" / "n.po"
    body = po.read_text(encoding="utf-8").split("\n\n", 1)[1]
    assert max(len(line) for line in body.splitlines() if not line.startswith("#")) <= 42
    assert_msgfmt_ok(po)
    assert [e.msgid for e in _po(kb, "en", "n")] == [long]
    assert cli("-C", kb, "translate", "--engine", "pseudo").exit_code == 0
    body = po.read_text(encoding="utf-8").split("\n\n", 1)[1]  # a line longer than 40 has no space to break at
    assert all(len(line) <= 42 or " " not in line for line in body.splitlines() if not line.startswith("#"))
    assert any(line.startswith('"') for line in body.splitlines()[-4:])
    assert cli("-C", kb, "extract").stdout.startswith("1 notes: 0 catalogs written")


def test_cache_folder_keeps_itself_out_of_git(cli, kb: Path) -> None:
    """`.kbtrans/` holds caches only: it ignores itself in git, like .pytest_cache."""
    import subprocess

    (kb / "content" / "a.md").write_text("# Заметка\n\nТекст.\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(kb)], check=True)
    assert cli("-C", kb, "extract").exit_code == 0
    status = subprocess.run(["git", "-C", str(kb), "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    assert "content/a.md" in status and "locales/en/LC_MESSAGES/a.po" in status
    assert ".kbtrans" not in status
