"""The protected-markup scanner: elements are ordered and never overlap; stray delimiters are neutralised."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbtrans import markup, splice
from kbtrans.model import Segment, Span

PIECES = st.sampled_from(["[[", "]]", "|", "[", "]", "(", ")", "`", "``", "$", "$$", "^[", "[^1]", "<b>", "</b>",
                          "http://x.org/a", "#tag", "%%", "&amp;", "a", "б", " ", "\n", "!", "\\", ":"])


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_elements_are_ordered_and_disjoint(text: str) -> None:
    pos = 0
    for e in markup.scan(text):
        assert pos <= e.start < e.end <= len(text), (text, e)
        pos = e.end


def test_wikilink_needs_its_closing_brackets_right_after_the_target() -> None:
    kinds = [(e.kind, e.value) for e in markup.scan("a [[ b [[x|y]] and [[z]]")]
    assert kinds == [(markup.WIKILINK, "x"), (markup.WIKILINK, "]]"), (markup.WIKILINK, "z")]


def test_fit_neutralises_stray_delimiters_a_translation_adds() -> None:
    seg = Segment("Текст `код` и [[z]].", "paragraph", "", (Span(0, 0, 20),))
    out = splice.fit(seg, "Text ``` `код` costs $5 and [[ stray [[z]].")
    assert out == "Text &#96;&#96;&#96; `код` costs \\$5 and \\[[ stray [[z]]."
    assert markup.structure_diff(seg.text, out) == []


@pytest.mark.parametrize("text", ["a | b\n:--|:--", "a | b\n:-: | :-:", "Текст\nещё | строка\n:---|---"])
def test_fit_never_lets_a_paragraph_become_a_table(text: str) -> None:
    """A delimiter row may start with ``:``: a translation that would make a table is escaped or refused."""
    from kbtrans.segment import parser

    seg = Segment("Первая строка\nвторая строка", "paragraph", "", (Span(0, 0, 13), Span(1, 0, 13)))
    out = splice.fit(seg, text)
    assert out is None or [t.type for t in parser().parse(out)] == ["paragraph_open", "inline", "paragraph_close"]


def test_fit_keeps_a_reference_at_a_line_start_that_would_start_a_definition() -> None:
    """``[^1]:`` at a line start would define a footnote: its colon is escaped, the reference stays one
    (found by the property test: escaping the brackets orphaned the note's only footnote)."""
    from kbtrans.segment import parser

    seg = Segment("модель [^1]:", "footnote [^1]", "", (Span(0, 6, 18),))
    out = splice.fit(seg, "ьледом\n[^1]:")
    assert out == "ьледом\n[^1]\\:"
    assert markup.structure_diff(seg.text, out) == []
    tokens = [t.type for t in parser().parse("[^1]: " + out.replace("\n", "\n      "))]
    assert tokens.count("footnote_reference_open") == 1  # no second definition


def test_escaped_bracket_opens_no_link_destination() -> None:
    """``\\](x)`` is text for Markdown, so it is no link target for the scanner either (a translation that
    puts a backslash before a link's ``]`` loses the link, and check says so)."""
    assert markup.signature("a \\](x) b") == markup.signature("a b")
    assert markup.signature("a \\\\](x)") == markup.signature("[t](x)")  # an escaped backslash escapes nothing
    assert markup.structure_diff("[текст](x)", "[text \\](x)") == ["lost link target 'x'"]


def test_fit_keeps_an_element_and_a_parenthesis_from_forming_a_link() -> None:
    """``[[note]](url)`` reads as a link in Markdown: when a translation brings ``]]`` and ``(`` together
    the parenthesis is escaped (found by the word-order structural round-trip)."""
    seg = Segment("См. [[a|b]] текст (https://x.org/1).", "paragraph", "", (Span(0, 0, 36),))
    assert splice.fit(seg, "Text [[a|b]](https://x.org/1) see.") == "Text [[a|b]]\\(https://x.org/1) see."
    assert splice.fit(seg, "See [[a|b]] text (https://x.org/1).") == "See [[a|b]] text (https://x.org/1)."
    # A join the source has is the note's own markup: kept (once per join in the source).
    seg = Segment("Смотри [[заметка]](подробнее) здесь.", "paragraph", "", (Span(0, 0, 36),))
    assert splice.fit(seg, seg.text) == seg.text
    assert splice.fit(seg, "See [[заметка]](more) here.") == "See [[заметка]](more) here."
    twice = splice.fit(seg, "See [[заметка]](more), [[заметка]](again).")
    assert twice == "See [[заметка]](more), [[заметка]]\\(again)."
