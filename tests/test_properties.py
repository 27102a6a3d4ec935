"""Property tests of the round-trip promise on generated Obsidian-style notes.

For any note built from the constructs a KB uses (front matter, headings, paragraphs with inline markup,
nested lists, task items, quotes, callouts, tables, fences, math, footnotes, reference definitions), with
LF or CRLF endings, tabs and an optional missing final newline:

* putting every msgid back reproduces the note byte for byte;
* translating every text run (reversing the letters of each word) keeps every link target, wikilink
  target, footnote label, code block, code span and formula, and the block structure.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbtrans import markup, splice
from kbtrans.model import Source
from kbtrans.segment import segment
from tests.test_structural_roundtrip import reverse_words, structure

WORDS = st.sampled_from(["модель", "код", "данные", "обучение", "model", "code", "data", "токены", "tokens",
                         "Ёлка", "ещё", "why", "3.5", "2024", "и", "a", "т. е.", "e.g."])
INLINE = st.sampled_from([
    "**жирный**", "*курсив*", "_italic_", "~~зачёркнуто~~", "`код`", "``a ` b``", "$x^2$", "[ссылка](https://example.org/a_b)",
    "[[заметка]]", "[[папка/заметка#Раздел|псевдоним]]", "![[схема.png]]", "![alt текст](img/a.png \"Заголовок\")",
    "[^1]", "^[встроенная сноска]", "<kbd>Tab</kbd>", "https://example.org/путь", "#тег", "&amp;", "%%скрыто%%",
    "[текст][ref]", "\\*не курсив\\*", "<https://example.org>",
])


@st.composite
def sentence(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(WORDS, WORDS, INLINE), min_size=1, max_size=8))
    return " ".join(parts) + draw(st.sampled_from([".", "!", "?", ":", "", " ^blk-1"]))


@st.composite
def paragraph(draw: st.DrawFn) -> str:
    return "\n".join(draw(st.lists(sentence(), min_size=1, max_size=3)))


@st.composite
def block(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["h", "setext", "p", "ul", "ol", "task", "quote", "callout", "table", "fence",
                                 "math", "footnote", "refdef", "indented", "html", "hr"]))
    s = draw(sentence())
    if kind == "h":
        return "#" * draw(st.integers(1, 6)) + " " + s.replace("\n", " ")
    if kind == "setext":
        return s + "\n" + draw(st.sampled_from(["===", "---"]))
    if kind == "p":
        return draw(paragraph())
    if kind == "ul":
        items = draw(st.lists(paragraph(), min_size=1, max_size=3))
        out = []
        for item in items:
            lines = item.split("\n")
            out.append("- " + lines[0] + "".join("\n  " + x for x in lines[1:]))
        if draw(st.booleans()):
            out.append("\t- " + draw(sentence()))
        return "\n".join(out)
    if kind == "ol":
        return "\n".join(f"{i}. {x}" for i, x in enumerate(draw(st.lists(sentence(), min_size=1, max_size=3)), 1))
    if kind == "task":
        return "- [ ] " + s + "\n- [x] " + draw(sentence())
    if kind == "quote":
        return "\n".join("> " + x for x in draw(paragraph()).split("\n"))
    if kind == "callout":
        title = draw(st.sampled_from(["", " Заголовок", " Title with `code`"]))
        return f"> [!{draw(st.sampled_from(['note', 'tip', 'warning']))}]{draw(st.sampled_from(['', '-', '+']))}" \
            f"{title}\n" + "\n".join("> " + x for x in draw(paragraph()).split("\n"))
    if kind == "table":
        rows = draw(st.lists(st.lists(st.one_of(WORDS, INLINE.filter(lambda x: "|" not in x)), min_size=2,
                                      max_size=2), min_size=1, max_size=3))
        return "| A | Б |\n|---|:-:|\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    if kind == "fence":
        return "```python\nprint('привет')  # комментарий\n```"
    if kind == "math":
        return "$$\n\\sum_i x_i\n$$"
    if kind == "footnote":
        return "[^1]: " + draw(paragraph()).replace("\n", "\n    ") + (
            "\n\n    " + draw(sentence()) if draw(st.booleans()) else "")
    if kind == "refdef":
        return '[ref]: https://example.org/ref "Заголовок ссылки"'
    if kind == "indented":
        return "    отступ — код"
    if kind == "html":
        return "<div>\nHTML блок\n</div>"
    return "***"


@st.composite
def note(draw: st.DrawFn) -> str:
    blocks = draw(st.lists(block(), min_size=1, max_size=8))
    text = "\n\n".join(blocks)
    if draw(st.booleans()):
        text = "---\ntitle: " + draw(WORDS) + "\naliases:\n  - " + draw(WORDS) + "\ntags: [a, b]\n---\n\n" + text
    if draw(st.booleans()):
        text += "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text


def _note(text: str):  # type: ignore[no-untyped-def]
    return segment("n.md", Source.from_text(text), front_matter_keys=("title", "aliases"), languages=("ru", "en"),
                   source_language="ru")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note())
def test_identity_is_byte_exact(text: str) -> None:
    n = _note(text)
    assert splice.render(n, {i: s.text for i, s in enumerate(n.segments)}) == text
    # Each segment's text is exactly what its spans cover.
    lines = n.source.lines
    for s in n.segments:
        if not s.quote:
            assert s.text == "\n".join(lines[sp.line][sp.start:sp.end] for sp in s.spans)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note())
def test_translation_keeps_structure(text: str) -> None:
    n = _note(text)
    texts = {}
    for i, s in enumerate(n.segments):
        if not s.translatable:
            continue
        new = reverse_words(s.text)
        assert markup.structure_diff(s.text, new) == []
        fitted = splice.fit(s, new)
        assert fitted is not None, s
        texts[i] = fitted
    built = splice.render(n, texts)
    assert structure(built.replace("\r\n", "\n")) == structure(text.replace("\r\n", "\n"))


HOSTILE = st.sampled_from(["\n- ", "\n# ", "\n1. ", "\n> ", "\n```\n", "\n---\n", "\n\n", "\n    ",
                           "\n| a | b |\n|---|---|\n", " x | y\n:--|:--\n", "\n[^9]: ", "\n<div>", "\n$$\n",
                           "\n=== ", "\n* * *\n", "\n+ "])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note(), st.data())
def test_hostile_line_starts_never_change_structure(text: str, data: st.DataObject) -> None:
    """A translation that starts lines with block markers is escaped, or not used: structure never changes."""
    n = _note(text)
    texts = {}
    for i, s in enumerate(n.segments):
        if not s.translatable:
            continue
        marker = data.draw(HOSTILE)
        new = reverse_words(s.text).replace(" ", marker, 1)
        if markup.structure_diff(s.text, new):
            continue  # build rejects it before fitting (a check error)
        fitted = splice.fit(s, new)
        if fitted is not None:
            texts[i] = fitted
    built = splice.render(n, texts)
    assert structure(built.replace("\r\n", "\n")) == structure(text.replace("\r\n", "\n"))
