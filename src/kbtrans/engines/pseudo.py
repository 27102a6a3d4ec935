"""Pseudo-localisation: a deterministic stand-in for machine translation, offline and instant.

Every letter becomes an accented look-alike in the target's script (into English ``Текст`` →
``Ţéķşţ``, ``Text`` → ``Ţéẋţ``; into Russian ``Text`` → ``Ҭёкҫҭ``), the text grows by about 30 % (a run of
``·`` before the closing bracket), and the whole is bracketed ``[‼ … ‼]`` so truncation and untranslated
text stand out in a layout. A sentence's end punctuation stays at its end (``Текст.`` →
``[‼ Ţéķşţ ··· ‼].``), so ``kbtrans check`` does not report ``end-punctuation`` on every entry. Placeholders ``⟦N⟧``
are left exactly as they are, so every link, code span and footnote survives. Useful for testing layouts and for
CI without a model: ``kbtrans translate --engine pseudo``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kbtrans import markup
from kbtrans.config import Config
from kbtrans.placeholders import PLACEHOLDER_RE

#: Share of extra length, the usual allowance for English → German/Russian growth.
EXPANSION = 0.3
OPEN, CLOSE, PAD = "[‼ ", " ‼]", "·"

#: The text's end punctuation (as ``kbtrans check`` reads it), with what may close it: quotes, brackets and
#: placeholders glued to it (``**bold.**``, ``text.[^1]``).
_END = re.compile(r"[.!?…:;](?:⟦\d+⟧|[\"'»“”’)*_~])*\s*$")

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
_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
}
_TO_CYRILLIC = dict(zip("abcdefghijklmnopqrstuvwxyz", "абцдефгхийклмнопкрстувшжыз", strict=True))
#: Into a Latin-script language: Cyrillic transliterated, then every Latin letter accented.
_LATIN_TABLE = str.maketrans({
    **{c: "".join(_LATIN.get(x, x) for x in t) for c, t in _TO_LATIN.items()},
    **{c.upper(): "".join(_LATIN.get(x, x) for x in t.capitalize()) for c, t in _TO_LATIN.items()},
    **_LATIN,
})
#: Into a Cyrillic-script language: Latin transliterated, then Cyrillic look-alikes.
_CYRILLIC_TABLE = str.maketrans({
    **{c: _CYRILLIC.get(t, t) for c, t in _TO_CYRILLIC.items()},
    **{c.upper(): _CYRILLIC.get(t.upper(), t.upper()) for c, t in _TO_CYRILLIC.items()},
    **_CYRILLIC,
})


def pseudo(text: str, target: str = "en") -> str:
    """Pseudo-localise ``text`` into ``target``'s script, leaving ``⟦N⟧`` placeholders untouched."""
    table = _CYRILLIC_TABLE if target in markup.CYRILLIC_LANGUAGES else _LATIN_TABLE
    parts: list[str] = []
    pos = 0
    letters = 0
    for m in PLACEHOLDER_RE.finditer(text):
        chunk = text[pos:m.start()]
        letters += len(chunk)
        parts.append(chunk.translate(table))
        parts.append(m.group())
        pos = m.end()
    tail = text[pos:]
    letters += len(tail)
    parts.append(tail.translate(table))
    body = "".join(parts)
    pad = max(0, math.ceil(letters * EXPANSION) - len(OPEN) - len(CLOSE))
    # The end punctuation follows the closing bracket: moved there when it is the text's last character,
    # repeated there when markup follows it (a placeholder is never moved out of the brackets).
    end = ""
    ending = _END.search(text)
    if ending is not None:
        end = ending.group().strip()[0]
        if ending.group().strip() == end:
            body = body.rstrip()[:-1]
    return OPEN + body + (" " + PAD * pad if pad else "") + CLOSE + end


@dataclass
class PseudoEngine:
    """The ``pseudo`` engine (the ``fast`` flag changes nothing: it is always instant)."""

    name: str = "pseudo"

    def provenance(self, source: str, target: str) -> str:
        return f"pseudo {source}→{target}"

    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        for i, text in enumerate(texts):
            yield i, pseudo(text, target)


def create(cfg: Config, *, fast: bool = False) -> PseudoEngine:
    """Factory for the registry."""
    del cfg, fast
    return PseudoEngine()
