"""Speed-ups must not change results: each fast path is compared with the plain version it replaces."""

from __future__ import annotations

import random
import re

from kbtrans import markup

#: The first-character lookahead of markup._PATTERN (a pure speed-up).
LOOKAHEAD = "(?=[`$%!\\[\\]<^\\#&hf])"


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
                "<x@y.z>", "#tag", "`code`"]
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
