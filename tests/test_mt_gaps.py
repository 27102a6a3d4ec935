"""Text that machine translation must not leave untranslated in silence (issue 8, items 10-12, 15, 16).

* image alt texts and link/image titles reach the engine as text and are translated, markup kept;
* a nesting deeper than markdown-it's default limit loses nothing after it;
* a segment whose MT output was unusable (the source text stands in) is not "machine" in stats and is a
  ``check`` finding (an error with ``--strict``);
* hard line breaks and line-start Dataview ``key:: value`` fields survive MT as structure;
* a bare ``www.`` link added by a translation is a new URL; pseudo keeps end punctuation; build and stats
  count the same segments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kbtrans import config, extract, placeholders
from kbtrans.engines import argos

from .conftest import Result
from .helpers import assert_msgfmt_ok, messages
from .support.argos_fixtures import *  # noqa: F403  (the argos_* fixtures)

IMAGE_NOTE = ('Схема конвейера: ![схема данных](img/x.png "Конвейер данных") и [статья](a.md "Статья о данных") '
              "показывают все этапы.\n")


def make_kb(root: Path, notes: dict[str, str]) -> Path:
    for rel, text in notes.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    extract.extract(config.load(root))
    return root


# -- 10: image alt texts and titles ---------------------------------------------------------------

def test_image_alt_text_and_titles_are_machine_translated(cli: Callable[..., Result], tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb", {"a.md": IMAGE_NOTE})
    r = cli("-C", kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0, r.output
    (entry,) = [m for (path, _), m in messages(kb).items() if path == "locales/en/LC_MESSAGES/a.po"]
    assert entry.msgstr != entry.msgid and entry.fuzzy
    assert not any(placeholders.KEPT_SOURCE in c for c in entry.comments), entry.comments
    # alt text, link text and both titles pseudo-translated; the destinations kept
    assert '![şĥéɱá đáññýĥ](img/x.png "Ķóñṽéĵéŕ đáññýĥ")' in entry.msgstr, entry.msgstr
    assert '[şţáţýá](a.md "Şţáţýá ó đáññýĥ")' in entry.msgstr, entry.msgstr
    b = cli("-C", kb, "build", "--strict")
    assert b.exit_code == 0, b.output
    built = (kb / "build" / "en" / "a.md").read_text(encoding="utf-8")
    assert "](img/x.png " in built and "Конвейер" not in built and "схема" not in built
    assert_msgfmt_ok(kb / "locales")


class _Spy:
    """Records the text (SentencePiece-decoded) each CTranslate2 batch gets, then translates it."""

    def __init__(self, translator: Any, sp: Any, sent: list[str]) -> None:
        self.translator, self.sp, self.sent = translator, sp, sent

    def translate_batch(self, source: list[list[str]], **kw: Any) -> Any:
        self.sent.extend(self.sp.decode_pieces(tokens) for tokens in source)
        return self.translator.translate_batch(source, **kw)


def spy_on_argos(monkeypatch: pytest.MonkeyPatch, pair: tuple[str, str] = ("ru", "en")) -> list[str]:
    sent: list[str] = []
    original = argos.create

    def create(cfg: config.Config, *, fast: bool = False) -> argos.ArgosEngine:
        engine = original(cfg, fast=fast)
        model = engine.model(*pair)
        model.translator = _Spy(model.translator, model.sp, sent)
        return engine

    monkeypatch.setattr(argos, "create", create)
    return sent


@pytest.mark.slow
def test_alt_text_and_titles_reach_a_real_model_as_text(argos_copy_packages: Path, cli: Callable[..., Result],
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = make_kb(tmp_path / "kb", {"a.md": IMAGE_NOTE})
    sent = spy_on_argos(monkeypatch)
    r = cli("-C", kb, "translate", "--engine", "argos", "--to", "en")
    assert r.exit_code == 0, r.output
    text = " ".join(sent)
    for words in ("схема данных", "Конвейер данных", "статья", "Статья о данных"):
        assert words in text, (words, sent)
    assert "img/x.png" not in text and "a.md" not in text  # destinations stay placeholders


# -- 11: deep nesting -----------------------------------------------------------------------------

def test_text_after_deeply_nested_lists_and_quotes_is_extracted(cli: Callable[..., Result], tmp_path: Path) -> None:
    items = "".join("  " * i + f"- Пункт уровня {i}\n" for i in range(10))
    quotes = "".join(">" * (i + 1) + f" Цитата уровня {i}\n" for i in range(20))
    kb = make_kb(tmp_path / "kb", {"a.md": items + "\n" + quotes + "\nПоследний абзац заметки.\n"})
    msgids = {msgid for (_path, msgid) in messages(kb)}
    assert "Последний абзац заметки." in msgids
    assert "Пункт уровня 9" in msgids and any("Цитата уровня 19" in m for m in msgids)


# -- 12: hard line breaks and Dataview inline fields are structure --------------------------------

FIELDS_NOTE = ("Статус:: в работе\nАвтор:: Иван Петров\n\n"
               "Первая строка абзаца  \nвторая строка абзаца.\n\n"
               "Описание заметки.\nПроект:: Поиск кода\n")
FIELDS = {"Статус:: в работе\nАвтор:: Иван Петров": ("Статус::", "Автор::"),
          "Первая строка абзаца  \nвторая строка абзаца.": (),
          "Описание заметки.\nПроект:: Поиск кода": ("Проект::",)}


def test_protect_keeps_field_keys_and_hard_breaks_out_of_the_engines_text() -> None:
    for msgid, keys in FIELDS.items():
        masked = placeholders.protect(msgid)
        assert "\n" not in masked.text
        for key in keys:
            assert key not in masked.text and key in masked.originals, (key, masked)
        assert "в работе" in placeholders.protect("Статус:: в работе").text  # the value is text
    assert "  \n" in placeholders.protect("Первая строка абзаца  \nвторая строка абзаца.").originals


def test_pseudo_translation_keeps_line_structure_and_field_keys(cli: Callable[..., Result], tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb", {"a.md": FIELDS_NOTE})
    assert cli("-C", kb, "translate", "--engine", "pseudo").exit_code == 0
    msgs = messages(kb)
    for msgid, keys in FIELDS.items():
        m = msgs[("locales/en/LC_MESSAGES/a.po", msgid)]
        assert m.msgstr != m.msgid and "source text kept" not in " ".join(m.comments), m
        src_lines, lines = msgid.split("\n"), m.msgstr.split("\n")
        assert len(lines) == len(src_lines), m.msgstr  # the line structure is restored
        for key in keys:  # each key at a line start, untranslated; its value translated
            (line,) = [x for x in lines if x.startswith(key + " ")]
            assert not any(c in line[len(key):] for c in "абвгдежзийклмнопрстуфхцчшщыэюя"), line
    hard = msgs[("locales/en/LC_MESSAGES/a.po", "Первая строка абзаца  \nвторая строка абзаца.")].msgstr
    assert hard.split("\n")[0].endswith("  ")  # the hard break's two spaces are kept
    c = cli("-C", kb, "check", "--strict")
    assert c.exit_code == 0 and "0 errors, 0 warnings" in c.output, c.output
    b = cli("-C", kb, "build", "--strict")
    assert b.exit_code == 0 and "en: 3/3 segments translated" in b.output, b.output
    built = (kb / "build" / "en" / "a.md").read_text(encoding="utf-8").splitlines()
    assert built[0].startswith("Статус:: ") and built[1].startswith("Автор:: ") and built[3].endswith("  ")


def test_a_translated_field_key_is_an_error() -> None:
    from kbtrans import check

    entry = check.Entry("Статус:: в работе", "Status:: in progress", None, "ru", "en")
    assert [(f.code, f.message) for f in check.check_markup(entry)] == [
        ("inline-field-key-changed", "inline field key 'Статус' changed to 'Status'")]


@pytest.mark.slow
def test_field_keys_never_reach_a_real_model(argos_copy_packages: Path, cli: Callable[..., Result],
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy model answers its input: the values (and the lines' text) reach it, the keys never do, and the
    restored translation is the msgid, line breaks and keys in place."""
    kb = make_kb(tmp_path / "kb", {"a.md": FIELDS_NOTE})
    sent = spy_on_argos(monkeypatch)
    r = cli("-C", kb, "translate", "--engine", "argos", "--to", "en")
    assert r.exit_code == 0, r.output
    text = " ".join(sent)
    for words in ("в работе", "Иван Петров", "Поиск кода", "Первая строка абзаца", "вторая строка абзаца"):
        assert words in text, (words, sent)
    for key in ("Статус", "Автор", "Проект"):
        assert key not in text, (key, sent)
    msgs = messages(kb)
    for msgid in FIELDS:
        m = msgs[("locales/en/LC_MESSAGES/a.po", msgid)]
        assert m.msgstr == msgid and not any("source text kept" in c for c in m.comments), m


# -- 15: bare www. links --------------------------------------------------------------------------

def test_a_bare_www_link_added_by_a_translation_is_a_new_url() -> None:
    from kbtrans import check

    entry = check.Entry("Подробности в документации.", "Details at www.example.com in the docs.", None, "ru", "en")
    found = list(check.check_markup(entry))
    assert [(f.severity, f.code, f.message) for f in found] == [
        ("error", "url-added", "URL 'www.example.com' is not in the source")]


@pytest.mark.parametrize(("msgstr", "code", "message"), [
    ("Details at <https://example.com/a> in the docs.", "unsafe-url-added",
     "the translation introduces a URL the source does not have: 'https://example.com/a'"),
    ("Details at https://example.com/b in the docs.", "unsafe-url-added",
     "the translation introduces a URL the source does not have: 'https://example.com/b'"),
    ("See www.example.com.", "url-added", "URL 'www.example.com' is not in the source"),
])
def test_any_url_a_translation_adds_is_an_error_and_nothing_else(msgstr: str, code: str, message: str) -> None:
    """An autolink, a plain URL and a bare www. link: one error each (and no false doubled-space warning for
    the URL between two spaces)."""
    from kbtrans import check

    entry = check.Entry("Подробности в документации.", msgstr, None, "ru", "en")
    assert [(f.severity, f.code, f.message) for f in check.findings(entry)] == [("error", code, message)]


def test_an_element_between_two_spaces_is_not_a_doubled_space() -> None:
    from kbtrans import check

    ok = check.Entry("[[benchmarks]] - другие бенчмарки", "[‼ [[benchmarks]] - other benchmarks ‼]", None, "ru", "en")
    assert "double-space" not in [f.code for f in check.findings(ok)]
    bad = check.Entry("Другие бенчмарки.", "Other  benchmarks.", None, "ru", "en")
    assert [f.code for f in check.findings(bad)] == ["double-space"]


# -- 11: a machine translation that fell back to the source text -----------------------------------

ENGINES = "tests.support.mt_engines"
FALLBACK_NOTE = "Первый абзац заметки.\n\nВторой абзац заметки.\n"


def fallback_kb(cli: Callable[..., Result], root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A KB whose first paragraph translate kept as source text (the ``empty`` engine's output is unusable)
    and whose second one is a pseudo machine translation."""
    kb = make_kb(root, {"a.md": FALLBACK_NOTE})
    assert cli("-C", kb, "translate", "--engine", "pseudo").exit_code == 0
    import polib

    po = polib.pofile(str(kb / "locales/en/LC_MESSAGES/a.po"), wrapwidth=0)  # the first is new again
    first = po.find("Первый абзац заметки.")
    first.msgstr, first.comment, first.flags = "", "", ["md-text"]
    po.save()
    monkeypatch.setenv("KBTRANS_ENGINE_EMPTY", f"{ENGINES}:empty")
    r = cli("-C", kb, "translate", "--engine", "empty")
    assert r.exit_code == 0 and "1 kept as source text (unusable output)" in r.stdout, r.output
    msgs = messages(kb)
    first = msgs[("locales/en/LC_MESSAGES/a.po", "Первый абзац заметки.")]
    assert first.msgstr == first.msgid and first.fuzzy, first
    assert any(c.startswith("kbtrans-mt-repair:") and "source text kept" in c for c in first.comments)
    assert msgs[("locales/en/LC_MESSAGES/a.po", "Второй абзац заметки.")].msgstr.startswith("[‼")
    return kb


def test_a_fallback_is_untranslated_in_stats_and_the_review_data(cli: Callable[..., Result], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    kb = fallback_kb(cli, tmp_path / "kb", monkeypatch)
    r = cli("-C", kb, "stats", "--json", "--to", "en")
    assert r.exit_code == 0, r.output
    segs = json.loads(r.stdout)["locales"]["en"]["segments"]
    assert (segs["machine"], segs["untranslated"], segs["segments"]) == (1, 1, 2), segs
    text = cli("-C", kb, "stats", "--to", "en")
    assert "50% machine" in text.stdout and "50% untranslated" in text.stdout, text.stdout
    from kbtrans.review.data import Review

    review = Review(config.load(kb))
    rows = review.notes_list(lang="en").rows
    assert [(r.note, r.segments.machine, r.segments.untranslated) for r in rows] == [("a.md", 1, 1)]
    view = review.note_view("a.md", "en")
    assert {e.state.msgid: e.category for e in view.entries} == {
        "Первый абзац заметки.": "untranslated", "Второй абзац заметки.": "machine"}
    (kept,) = [e for e in view.entries if e.category == "untranslated"]
    assert [f.code for f in kept.findings] == ["mt-fallback"]  # as `kbtrans check` says


def test_a_fallback_is_a_check_finding_and_an_error_with_strict(cli: Callable[..., Result], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    kb = fallback_kb(cli, tmp_path / "kb", monkeypatch)
    line = messages(kb)[("locales/en/LC_MESSAGES/a.po", "Первый абзац заметки.")].line
    r = cli("-C", kb, "check", "--to", "en")
    assert r.exit_code == 0, r.output
    want = (f"locales/en/LC_MESSAGES/a.po:{line}: warning: machine translation kept the source text (the model's "
            "output was unusable): the entry is untranslated (mt-fallback)")
    assert want in r.output, r.output
    assert "translate it by hand (write the msgstr and remove the fuzzy flag), or run `kbtrans translate` again" \
        in r.output
    assert "identical-to-source" not in r.output  # one finding, not the checks of a translation
    s = cli("-C", kb, "check", "--to", "en", "--strict")
    assert s.exit_code == 1, s.output
    assert want.replace(": warning: ", ": error: ") in s.output
    b = cli("-C", kb, "build", "--strict", "--to", "en")
    assert b.exit_code == 1, b.output
    assert (f"locales/en/LC_MESSAGES/a.po:{line}: machine translation kept the source text (the model's output "
            "was unusable); the source text is used. Translate the entry (or run `kbtrans translate` again).") \
        in b.output
    assert "1 warnings and --strict is set" in b.output
    plain = cli("-C", kb, "build", "--to", "en")
    assert plain.exit_code == 0 and "en: 1/2 segments translated" in plain.output, plain.output


# -- 16: pseudo keeps end punctuation; build and stats count the same segments ----------------------

def test_pseudo_output_raises_no_end_punctuation_warnings(cli: Callable[..., Result], sample_kb: Path) -> None:
    r = cli("-C", sample_kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0, r.output
    c = cli("-C", sample_kb, "check")
    assert c.exit_code == 0, c.output
    assert "(end-punctuation)" not in c.output
    from kbtrans.engines.pseudo import pseudo

    assert pseudo("Текст.", "en").endswith(" ‼].")
    assert pseudo("Текст ⟦0⟧жирный.⟦1⟧", "en").endswith("⟦1⟧ ‼].")  # the closer stays inside, the "." repeated


def test_build_and_stats_count_the_same_segments(cli: Callable[..., Result], sample_kb: Path) -> None:
    import json
    import re

    assert cli("-C", sample_kb, "translate", "--engine", "pseudo").exit_code == 0
    s = cli("-C", sample_kb, "stats", "--json")
    assert s.exit_code == 0, s.output
    locales = json.loads(s.stdout)["locales"]
    b = cli("-C", sample_kb, "build")
    assert b.exit_code == 0, b.output
    built = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"(\w+): (\d+)/(\d+) segments translated", b.stdout)}
    assert set(built) == set(locales) == {"en", "ru"}
    for lang, counts in locales.items():
        seg = counts["segments"]
        assert built[lang] == (seg["reviewed"] + seg["machine"] + seg["fuzzy"], seg["segments"]), (lang, built, seg)
