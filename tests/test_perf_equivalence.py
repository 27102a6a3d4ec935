"""Speed-ups must not change results: each fast path is compared with the plain version it replaces."""

from __future__ import annotations

import random
import re
from pathlib import Path

from kbtrans import markup

#: The first-character lookahead of markup._PATTERN (a pure speed-up).
LOOKAHEAD = "(?=[`$%!\\[\\]<^\\#&hfw])"


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[object, ...]]:
    return [(m.lastgroup, m.span(), *m.groups()) for m in pattern.finditer(text)]


def test_markup_lookahead_is_only_a_speedup() -> None:
    """Every alternative of the scanner starts with a character the lookahead lets through.

    If this fails after adding an alternative to markup._PATTERN, add its first character(s) to the
    lookahead at the top of the pattern.
    """
    source = markup._PATTERN.pattern
    assert LOOKAHEAD in source
    plain = re.compile(source.replace(LOOKAHEAD, "", 1), markup._PATTERN.flags)
    rnd = random.Random(0)
    alphabet = [*sorted(set(source) - {"\n"}), "\n", " ", "a", "Я", "1", "http://", "https://x.y/z", "ftp://a",
                "[[", "]]", "](", "][", "[^", "^[", "%%", "$$", "&amp;", "<!--", "-->", "<a href='x'>", "</b>",
                "<x@y.z>", "#tag", "`code`", "www.a.b"]
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 24)))
        assert _matches(markup._PATTERN, text) == _matches(plain, text), repr(text)


def test_detect_language_counts_letters() -> None:
    from kbtrans.model import Segment, Span
    from kbtrans.segment import detect_language

    def seg(text: str) -> Segment:
        return Segment(text, "paragraph", "", (Span(0, 0, len(text)),))

    assert detect_language([seg("Привет, мир `code code code code`")], ["ru", "en"], "en") == "ru"
    assert detect_language([seg("Hello world, привет")], ["ru", "en"], "ru") == "en"
    assert detect_language([seg("`только код`")], ["ru", "en"], "en") == "en"


# -- PO reading: the fast reader and syntax check agree with polib and the line-by-line check -----------

_NOTE = """---
title: "Заметка о \\"кавычках\\""
---

# Заголовок с `кодом`

Абзац со **словами**, [ссылкой](https://example.org "Title") и [[wiki#Раздел|алиасом]].
Вторая строка абзаца\\
с переносом.

- пункт один
- пункт "два" с \\\\ обратной чертой

| a | b |
|---|---|
| ячейка | таблица |

[^1]: Сноска.
"""


def _catalogs() -> list[str]:
    import polib

    from kbtrans import catalog
    from kbtrans.model import Source
    from kbtrans.segment import segment

    note = segment("n.md", Source.from_text(_NOTE), front_matter_keys=("title",), languages=("ru", "en"),
                   source_language="ru")
    from pathlib import Path

    base = catalog.merge(Path("/nonexistent/n.po"), note, "en", source_ref="content/n.md", project="p").text
    assert base is not None
    out = [base]
    for variant in range(4):
        po = polib.pofile(base, wrapwidth=0)
        for i, e in enumerate(po):
            if (i + variant) % 2 == 0:
                e.msgstr = e.msgid.upper() + ' "q" \\ \t'
                e.flags.insert(0, "fuzzy")
                e.previous_msgid = e.msgid[:7] + "\n" + e.msgid[7:]
            if (i + variant) % 3 == 0:
                e.obsolete = True
            if (i + variant) % 4 == 0:
                e.tcomment = "translator\nnote"
            if variant == 3 and i % 2:
                e.msgctxt = 'ctx "c"'
        po.wrapwidth = 0 if variant < 2 else 30
        out.append(str(po))
    return out


_ODD_LINES = ['#', '# c', '#.', '#. x', '#:', '#: a:1', '#,', '#, fuzzy', '#,fuzzy', '#| msgid "p"', '#| "q"', '#|',
              '#~ msgid "o"', '#~ msgstr "o"', '#~| msgid "z"', '#~', '"cont"', '"bad " quote"', 'msgctxt "c"',
              'msgid "x"', 'msgstr "y"', 'msgid_plural "p"', 'msgstr[0] "a"', '', '   ', 'junk', '\ufeffmsgid "b"',
              '"\\\\"', '"a\\"b"', '##x', '#~ "c"', '#| msgctxt "pc"', 'msgid ""', 'msgstr ""', ' #~ x', '"x\\"',
              'msgstr[x] "a"', '\u2028', '\r', ' \t', '"ok" \r', '\x0b#x', 'msgid"a"', 'msgid  "a"  ', '"\\']


def _mutations(n: int) -> list[str]:
    rnd = random.Random(1)
    texts = _catalogs()
    out = list(texts)
    for _ in range(n):
        lines = rnd.choice(texts).split("\n")
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(lines) + 1)
            op = rnd.random()
            if op < 0.4:
                lines.insert(i, rnd.choice(_ODD_LINES))
            elif op < 0.7 and lines:
                del lines[min(i, len(lines) - 1)]
            elif lines:
                lines.insert(i, lines[min(i, len(lines) - 1)])
        out.append("\n".join(lines))
    return out


def test_po_syntax_regex_is_the_line_check() -> None:
    from kbtrans import catalog

    for text in _mutations(3000):
        line_ok = all(
            not line.strip() or (line.strip().startswith("#") and not line.strip().startswith(("#~", "#|")))
            or catalog._PO_KEYWORD.fullmatch(line) for line in text.split("\n"))
        assert (catalog._PO_TEXT.fullmatch(text) is not None) == bool(line_ok), repr(text)


def test_fast_po_reader_reads_what_polib_reads() -> None:

    from kbtrans import catalog

    read = 0
    for text in _mutations(3000):
        fast = catalog._fast_messages(text)
        if fast is None:
            continue  # polib decides
        read += 1
        slow = [catalog._message(e) for e in catalog._parse(text)]
        assert [m for m in fast if m.msgid] == [m for m in slow if m.msgid], repr(text)
    assert read > 1000  # the fast path is taken for well-formed catalogs


def test_has_translatable_text_fast_path() -> None:
    """Three letters in a row are never part of a quantity: the fast path answers as the full rule."""
    from kbtrans import markup

    def slow(text: str) -> bool:
        plain = markup.plain_text(text)
        return markup.LETTER.search(markup._QUANTITY.sub(" ", plain)) is not None

    rnd = random.Random(2)
    alphabet = ["1", "5", ".", ",", "e", "-", "K", "B", "M", "x", "%", "~", "≈", "ab", "Я", " ", "`", "$", "_", "7B",
                "100K", "1e-5", "KB", "GB", "abc", "[[", "]]", "|"]
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 12)))
        assert markup.has_translatable_text(text) == slow(text), repr(text)


def test_segmentation_cache_returns_what_segmentation_returns(tmp_path: Path) -> None:

    from kbtrans import config, project
    from tests.conftest import copy_corpus

    copy_corpus("en-obsidian-tasks", tmp_path / "content")
    (tmp_path / "content" / "ru.md").write_text("---\nlang: ru\ntitle: 'Т'\n---\n# Заголовок\n\nТекст ^abc\n",
                                                encoding="utf-8")
    cfg = config.load(tmp_path)
    rels = project.inventory(cfg).notes
    fresh = [project.segment(rel, project.read_source(cfg, rel)[0], front_matter_keys=cfg.front_matter_keys,
                             languages=cfg.languages, source_language=cfg.source_language) for rel in rels]
    first = [project.load_note(cfg, rel) for rel in rels]  # writes the cache
    assert (cfg.cache_dir / "notes" / "ru.md.json").is_file()
    second = [project.load_note(cfg, rel) for rel in rels]  # reads it
    assert first == fresh
    assert second == fresh
    # a changed note, or a changed setting, is segmented again
    (tmp_path / "content" / "ru.md").write_text("# Другой\n", encoding="utf-8")
    assert project.load_note(cfg, "ru.md").segments[0].text == "Другой"
    other = config.load(tmp_path, {"front_matter_keys": ["title", "summary"]})
    assert project.load_note(other, rels[0]) == project.segment(
        rels[0], project.read_source(cfg, rels[0])[0], front_matter_keys=("title", "summary"),
        languages=cfg.languages, source_language=cfg.source_language)


def test_inventory_walks_like_os_walk(tmp_path: Path) -> None:
    """Hidden entries skipped, linked folders followed once (the first path in name order wins)."""
    import os

    from kbtrans import config, project

    c = tmp_path / "content"
    for d in ("a/.hidden", "b"):
        (c / d).mkdir(parents=True)
    for f in ("a/x.md", "a/.h.md", "a/.hidden/y.md", "b/z.MD", "b/img.png", "top.md"):
        (c / f).write_text("x", encoding="utf-8")
    os.symlink("../a", c / "b" / "link_to_a")
    os.symlink("../top.md", c / "b" / "top_link.md")
    os.symlink("..", c / "a" / "loop")
    inv = project.inventory(config.load(tmp_path))
    assert inv.notes == ("a/x.md", "b/top_link.md", "b/z.MD", "top.md")
    assert inv.attachments == ("b/img.png",)


def test_po_renderer_writes_what_polib_writes() -> None:
    import polib

    from kbtrans import catalog

    rnd = random.Random(3)
    pieces = ["", "a", "Текст", " ", '"', "\\", "\n", "\r", "\t", "\r\n", "\u2028", "\x0b", "\x0c", "\x1c", "#", "|",
              "~", "⟦0⟧", "[[x#y|z]]", "`c`", "\x04", "\\n", "msgid", ":"]

    def text(n: int = 6) -> str:
        return "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, n)))

    checked = 0
    for base in _catalogs():
        for _ in range(60):
            po = polib.pofile(base, wrapwidth=0)
            po.wrapwidth = 0
            po.header = rnd.choice([po.header, "", text(), ",x\n:y\n\nz"])
            if rnd.random() < 0.3:
                po.metadata_is_fuzzy = ["fuzzy"]
            for e in po:
                if rnd.random() < 0.5:
                    e.msgid, e.msgstr = text(), text()
                if rnd.random() < 0.3:
                    e.msgctxt = text()
                if rnd.random() < 0.3:
                    e.previous_msgid = text()
                if rnd.random() < 0.2:
                    e.previous_msgctxt = text()
                if rnd.random() < 0.3:
                    e.tcomment = text()
                if rnd.random() < 0.3:
                    e.comment = text()
                if rnd.random() < 0.3:
                    e.flags = [text(2) for _ in range(rnd.randint(0, 3))]
                if rnd.random() < 0.3:
                    e.occurrences = [(text(2) or "f", rnd.choice(["", "7"])) for _ in range(rnd.randint(0, 3))]
                if rnd.random() < 0.2:
                    e.obsolete = not e.obsolete
            assert catalog.render(po) == str(po)
            checked += 1
    assert checked >= 200
    plural = polib.pofile(_catalogs()[0], wrapwidth=0)
    plural.append(polib.POEntry(msgid="one", msgid_plural="many", msgstr_plural={0: "a", 1: "b"}))
    assert catalog.render(plural) == str(plural)
