"""Pseudo-localisation: a deterministic stand-in for machine translation, offline and instant.

Every letter becomes an accented look-alike (``Text`` → ``Ţéxţ``, ``Текст`` → ``Ťёќşť``-like), the text
grows by about 30 % (a run of ``·`` before the closing bracket), and the whole is bracketed ``[‼ … ‼]``
so truncation and untranslated text stand out in a layout. Placeholders ``⟦N⟧`` are left exactly as
they are, so every link, code span and footnote survives. Useful for testing layouts and for CI
without a model: ``kbtrans translate --engine pseudo``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kbtrans.config import Config
from kbtrans.placeholders import PLACEHOLDER_RE

#: Share of extra length, the usual allowance for English → German/Russian growth.
EXPANSION = 0.3
OPEN, CLOSE, PAD = "[‼ ", " ‼]", "·"

_LATIN = dict(zip(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "áƀçđéƒĝĥíĵķĺɱñóþʠŕşţúṽŵẋýžÁƁÇĐÉƑĜĤÍĴĶĹṀÑÓÞǪŔŞŢÚṼŴẊÝŽ",
    strict=True,
))
_CYRILLIC = dict(zip(
    "аеикнорстухАЕИКНОРСТУХ",
    "äёйќңöҏҫҭўӿÄЁЙЌҢÖҎҪҬЎӾ",
    strict=True,
))
_TABLE = str.maketrans({**_LATIN, **_CYRILLIC})


def pseudo(text: str) -> str:
    """Pseudo-localise ``text``, leaving ``⟦N⟧`` placeholders untouched."""
    parts: list[str] = []
    pos = 0
    letters = 0
    for m in PLACEHOLDER_RE.finditer(text):
        chunk = text[pos:m.start()]
        letters += len(chunk)
        parts.append(chunk.translate(_TABLE))
        parts.append(m.group())
        pos = m.end()
    tail = text[pos:]
    letters += len(tail)
    parts.append(tail.translate(_TABLE))
    body = "".join(parts)
    pad = max(0, math.ceil(letters * EXPANSION) - len(OPEN) - len(CLOSE))
    return OPEN + body + (" " + PAD * pad if pad else "") + CLOSE


@dataclass
class PseudoEngine:
    """The ``pseudo`` engine (the ``fast`` flag changes nothing: it is always instant)."""

    name: str = "pseudo"

    def provenance(self, source: str, target: str) -> str:
        return f"pseudo {source}→{target}"

    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        for i, text in enumerate(texts):
            yield i, pseudo(text)


def create(cfg: Config, *, fast: bool = False) -> PseudoEngine:
    """Factory for the registry."""
    del cfg, fast
    return PseudoEngine()
