"""Memory per note is a small multiple of its size (issue 8 item 13), and streaming keeps outputs unchanged."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from kbtrans import catalog, markup

#: A paragraph of about 1 MB (UTF-8) in one line: Russian words with the characters that open a protected
#: element but never close it ("[", "$", '](x "'), which made the scanner's regex keep state per character.
_WORDS = ("модель", "обучение", "данные", "код", "токен", "контекст", "слой", "внимание", "градиент", "функция")


def _paragraph(chars: int, opener: str) -> str:
    words = (_WORDS[i % len(_WORDS)] for i in range(chars // 7))
    return opener + " ".join(words) + "."


def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("opener", ["[", "[‼ ", "$x ", "[a](x \"", "[a][", "[^", "\\[", "`"])
def test_scanning_a_long_paragraph_takes_memory_proportional_to_it(opener: str) -> None:
    text = _paragraph(500_000, opener)
    size = len(text.encode("utf-8"))
    peak = _peak(lambda: (markup.signature(text), markup.shortcut_references(text, frozenset({"a"})),
                          markup.plain_text(text)))
    assert peak < 20 * size, f"{peak / 2**20:.0f} MB for a {size / 2**20:.1f} MB paragraph"


def test_reading_a_catalog_with_a_long_msgstr_takes_memory_proportional_to_it(tmp_path: Path) -> None:
    text = _paragraph(500_000, "[")
    po = tmp_path / "note.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                  f'#, fuzzy\nmsgid "{text}"\nmsgstr "{text}"\n', encoding="utf-8")
    size = po.stat().st_size
    messages: list[catalog.Message] = []
    peak = _peak(lambda: messages.extend(catalog.read(po)))
    assert [m.msgstr for m in messages if m.msgid] == [text]
    assert peak < 20 * size, f"{peak / 2**20:.0f} MB for a {size / 2**20:.1f} MB catalog"


def test_long_labels_titles_and_math_still_scan_as_before() -> None:
    # The rewritten (unrolled) patterns match what the alternation loops matched, escapes included.
    text = r"a [x\]y][] b [t](u 'q\'r') c $p\$q$ d [l]: e [k][a\]b] [^n]"
    kinds = [(e.kind, e.value) for e in markup.scan(text)]
    assert (markup.REFLABEL, r"x\]y") in kinds
    assert (markup.LINK, "u") in kinds
    assert (markup.MATH, r"$p\$q$") in kinds
    assert (markup.REFLABEL, r"a\]b") in kinds
    assert (markup.FOOTNOTE, "n") in kinds
