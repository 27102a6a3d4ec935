"""A small, pure-Python sentence splitter for Russian and English.

Machine translation works sentence by sentence: the engine splits every segment into sentences,
translates (and caches) each one, then puts the translations back together with the *original*
whitespace between them. This module finds the sentences. It needs no model and no network.

It returns spans (``start``, ``end``) into the text; each span is a sentence without surrounding
whitespace, and everything between spans is whitespace, so::

    text == text[:s0] + text[s0:e0] + text[e0:s1] + ... + text[en:]

A boundary is a run of terminators (``.``, ``!``, ``?``, ``…``), optionally followed by closing
quotes, brackets, emphasis markers or placeholders (``⟦N⟧``, which are never split), then
whitespace, then the next sentence. It is *not* a boundary when:

- the next sentence would start with a lowercase letter (``т. е. это``, ``e.g. this``, ``Yahoo! is``);
- the period ends an abbreviation that never ends a sentence (``Dr.``, ``e.g.``, ``i.e.``, ``см.``,
  ``т. е.``, ``напр.``), or one that may end a sentence (``etc.``, ``т. д.``, ``и т. п.``, ``г.``)
  and the next word does not start with a capital letter;
- the period follows a single capital letter: an initial (``А. С. Пушкин``, ``J. R. R. Tolkien``);
- the period follows the number that opens the text (``1. Item``), or an abbreviation like
  ``p.``/``стр.``/``No.`` is followed by a number (``see p. 5``);
- an ellipsis (``...``, ``…``) is not followed by a capital letter (``Ну… ладно``).

Numbers such as ``3.5`` or ``3,5`` and names such as ``file.md`` never split (no whitespace).
A newline always ends a sentence.
"""

from __future__ import annotations

import re

__all__ = ["sentences", "split"]

_PLACEHOLDER = r"⟦\d+⟧"
_CLOSERS = r"[\"'»”’“)\]}*_~`]"
_OPENERS = "\"'«“„‘([{*_~`¿¡"

# A candidate boundary: terminators, then closers/placeholders, then whitespace (or the end).
_CANDIDATE = re.compile(
    rf"(?P<term>[.!?…]+)(?P<close>(?:{_CLOSERS}|{_PLACEHOLDER})*)(?P<space>[ \t\u00a0\u2009\u202f]+|$)"
)
_PLACEHOLDER_RE = re.compile(_PLACEHOLDER)
_WORD_TAIL = re.compile(r"((?:[^\W\d_]{1,4}\.[ \u00a0]?){0,3}[^\W\d_]+)$")
_NUMBER_TAIL = re.compile(r"(?:^|\s)[(\[]?\d+$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Keys: the abbreviation lowercased, without dots or spaces ("т. е." -> "те", "e.g." -> "eg").
_NEVER_END = _words(
    # English: titles, Latin abbreviations, references.
    "mr mrs ms dr prof sr jr st gen rev hon capt col lt sgt mt messrs "
    "eg ie cf vs viz approx ca resp incl esp dept est fig figs eq eqs ref refs sec ch vol vols pp"
    # Russian
    " те тк тч тн напр см ср им ул пер просп пл обл гос тов г-н г-жа проф акад доц канд "
    "англ лат греч нем франц рус рис табл стр гл разд прим изд ред сост перев"
)
_MAY_END = _words(
    "etc al inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec "
    "тд тп идр ипр др пр г гг в вв тыс млн млрд руб коп ок мин макс"
)
# Abbreviations that precede a number ("p. 5", "No. 3", "стр. 12", "с. 7", "т. 2").
_BEFORE_NUMBER = _words("p pp no nos vol ch sec fig eq art с стр т гл п пп рис табл ч ст")


def _is_upper_start(ch: str) -> bool:
    return ch.isalpha() and ch.isupper()


def _next_start(text: str, pos: int) -> str:
    """The first character of the next sentence, skipping openers and placeholders ("" at the end)."""
    n = len(text)
    while pos < n:
        m = _PLACEHOLDER_RE.match(text, pos)
        if m:
            return "⟦"
        ch = text[pos]
        if ch in _OPENERS:
            pos += 1
            continue
        if ch in "—–" and pos + 2 < n and text[pos + 1] == " " and text[pos + 2].islower():
            return text[pos + 2]  # direct speech: «Что? — спросил он.»
        return ch
    return ""


def _abbreviation(before: str) -> tuple[str, str] | None:
    """Classify the word before a period: ("never"|"may"|"number"|"initial", key) or None."""
    m = _WORD_TAIL.search(before)
    if m is None:
        return None
    tail = m.group(1)
    last = re.split(r"[.\s\u00a0]+", tail)[-1]
    # Try the longest dotted/spaced form first ("и т. д" -> "тд"), then the last word alone.
    parts = [p for p in re.split(r"[.\s\u00a0]+", tail) if p]
    for k in range(len(parts)):
        key = "".join(parts[k:]).lower()
        if key in _NEVER_END:
            return "never", key
        if key in _MAY_END:
            return "may", key
    key = last.lower()
    if len(last) == 1 and last.isupper():
        return "initial", key
    if key in _BEFORE_NUMBER:
        return "number", key
    if len(parts) > 1 and all(len(p) <= 2 for p in parts):
        return "may", "".join(parts).lower()  # unknown dotted abbreviation such as "U.S." or "н.э."
    return None


def _is_boundary(text: str, start: int, m: re.Match[str]) -> bool:
    """Whether the candidate ``m`` (inside the sentence that began at ``start``) ends a sentence."""
    after = m.end()
    if after >= len(text):
        return True
    nxt = _next_start(text, after)
    if not nxt:
        return True
    if nxt.isalpha() and nxt.islower():
        return False
    term = m.group("term")
    if "!" in term or "?" in term:
        return True
    if "…" in term or len(term) > 1:  # an ellipsis
        return _is_upper_start(nxt) or nxt == "⟦"
    # A single period.
    before = text[start : m.start()]
    if m.group("close") == "":
        kind = _abbreviation(before)
        if kind is not None:
            what, _ = kind
            if what in ("never", "initial"):
                return False
            if what == "number":
                return not nxt.isdigit()
            if what == "may":
                return _is_upper_start(nxt)
        if _NUMBER_TAIL.search(before) and before.strip().isdigit():
            return False  # "1. Item": the number opens the text
    return True


def split(text: str, lang: str = "en") -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (``lang`` is "ru" or "en"; both share the rules, so others work too).

    Spans are in order, non-empty, never start or end with whitespace, never cut a ``⟦N⟧``
    placeholder, and only whitespace lies between (and around) them.
    """
    del lang  # the rules cover Russian and English together (mixed-language notes are common)
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        lo, hi = line.start(), line.end()
        pos = lo
        sent_start = lo
        while pos < hi:
            m = _CANDIDATE.search(text, pos, hi)
            if m is None:
                break
            if _is_boundary(text[:hi], sent_start, m):
                end = m.start("space")
                _add(text, spans, sent_start, end)
                sent_start = m.end()
            pos = m.end() if m.end() > pos else pos + 1
        _add(text, spans, sent_start, hi)
    return spans


def _add(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    s = start + (len(chunk) - len(chunk.lstrip()))
    spans.append((s, s + len(stripped)))


def sentences(text: str, lang: str = "en") -> list[str]:
    """The sentences of ``text`` as strings (see :func:`split`)."""
    return [text[s:e] for s, e in split(text, lang)]
