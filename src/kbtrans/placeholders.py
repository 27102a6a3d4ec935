"""Markup through machine translation: protect it as ``⟦N⟧`` placeholders, restore and repair it after.

:func:`protect` replaces everything a translation must not change by an opaque token ``⟦N⟧`` (U+27E6,
decimal N from 0, U+27E7): code spans, math, comments, URLs, link destinations ``](…)`` and reference
labels ``][…]``, whole shortcut reference links ``[label]``, wikilinks and embeds, footnote references,
HTML tags, entities, backslash escapes, emphasis delimiters (``**``, ``*``, ``__``, ``_``, ``~~``,
``==``, which ``build`` requires to stay balanced) and the glossary's do-not-translate terms. What a
reader reads stays visible so the model translates it: link text (its ``[`` becomes a placeholder paired
with the ``](…)``), image alt text (likewise its ``![``), link and image titles (``](dest "`` and ``")``
are placeholders around the title), wikilink aliases (``[[target|`` and ``]]`` are placeholders, the alias is not),
inline-footnote text (``^[`` and its ``]``) and emphasised text. Soft line breaks are joined: the masked
text is one line. Hard line breaks (two trailing spaces) and the line breaks around a line-start Dataview inline
field are placeholders, and the field's ``key::`` is one (its value is text): the line structure comes back.

:func:`restore` puts the elements back into the model's output and repairs what models do to
placeholders: garbled forms (``⟦ 3 ⟧``, ``[3]``, ``⟦3``, ``3⟧``) are normalised, unknown and duplicate ones
dropped, missing ones put back once (next to the neighbour they were glued to in the source, else at
their relative position, on a word boundary), and a pair whose closer came before its opener is
swapped back. The result is then validated exactly as ``build`` validates a msgstr
(:func:`kbtrans.check.blocking` and :func:`kbtrans.splice.fit`); when something the model invented in
the text breaks it (backticks, ``$``, ``[[``, ``](``, ``<tag>``, ``#tag``, URLs, emphasis characters,
``javascript:``, Russian words left in English), that text is neutralised (look-alike characters,
backslash escapes, transliteration), then placeholders are set apart by spaces; if even that fails the
source text is kept. So a restored text always passes ``build``'s checks.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from kbtrans import catalog, markup
from kbtrans.model import Segment
from kbtrans.splice import fit

__all__ = ["PLACEHOLDER_RE", "Masked", "Restored", "protect", "restore", "token"]

#: A placeholder as :func:`protect` writes it.
PLACEHOLDER_RE = re.compile(r"⟦\d+⟧")

# Kinds of the elements protect adds to markup.scan's.
LINK_OPEN = "link text opener"
IMAGE = "image alt text opener"
TITLE_OPEN = "link target and title opener"
TITLE_CLOSE = "title closer"
FOOTNOTE_CLOSE = "inline footnote closer"
COMMENT_MARK = "comment marker"
ESCAPE = "escape"
KEEP = "do-not-translate term"
SHORTCUT = "shortcut reference link"
EMPHASIS = "emphasis delimiter"
BRACKET = "placeholder bracket"
LINE_BREAK = "line break"

# A line break with the spaces around it: kept (a placeholder) where it is a hard break ("  " before it) or
# ends or starts a line with a Dataview inline field; any other is a soft break, joined into a space.
_LINE_BREAK = re.compile(r"[ \t]*\n[ \t]*")

_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~\n]")
# Emphasis delimiters exactly as ``kbtrans.check`` counts them (it blocks a translation that unbalances one).
_EMPHASIS = (re.compile(r"\*\*"), re.compile(r"(?<![\w_])__|__(?![\w_])"), re.compile(r"~~"), re.compile(r"=="),
             re.compile(r"(?<!\*)\*(?!\*)"), re.compile(r"(?<![\w_])_(?!_)|(?<!_)_(?![\w_])"))
_COMMENT = re.compile(r"%%.*?%%", re.DOTALL)


def token(n: int) -> str:
    """The placeholder for element ``n``."""
    return f"⟦{n}⟧"


@dataclass(frozen=True)
class Masked:
    """A segment's text with its protected elements replaced by placeholders."""

    source: str
    """The original text (the msgid)."""
    text: str
    """What the engine gets: one line, ``⟦N⟧`` for element N, soft line breaks joined into spaces."""
    originals: tuple[str, ...]
    """Element N's original text, put back for ``⟦N⟧``."""
    kinds: tuple[str, ...]
    """Element N's kind (a :mod:`kbtrans.markup` kind or one of this module's)."""
    partners: tuple[int, ...]
    """For an opener, the index of its closer and vice versa (``[`` ↔ ``](…)``, ``[[t|`` ↔ ``]]``); -1 if none."""
    comments: bool = True
    """``%%comments%%`` are protected (the ``comments`` flag of :func:`kbtrans.markup.scan`)."""

    @property
    def count(self) -> int:
        return len(self.originals)

    @property
    def has_text(self) -> bool:
        """Whether anything is left to translate outside the placeholders."""
        return markup.LETTER.search(PLACEHOLDER_RE.sub("", self.text)) is not None


@dataclass(frozen=True)
class Restored:
    """A translation with its markup back."""

    text: str
    """The msgstr: passes ``structure_diff(source, text) == []`` and ``fit`` for the segments given."""
    repairs: tuple[str, ...] = ()
    """What had to be repaired, in words (empty when the model kept every placeholder)."""
    fallback: bool = False
    """The model output could not be used at all; ``text`` is the source text."""

    @property
    def comment(self) -> str:
        """One line for the ``#. kbtrans-mt-repair:`` comment ("" when nothing was repaired)."""
        return "; ".join(self.repairs)


# -- protect ---------------------------------------------------------------------------------------------

@dataclass
class _El:
    start: int
    end: int
    kind: str
    partner: int = -1  # index into the element list while building


def _free(spans: list[_El], start: int, end: int) -> bool:
    return all(end <= e.start or start >= e.end for e in spans)


def _inside(spans: list[_El], pos: int) -> _El | None:
    for e in spans:
        if e.start <= pos < e.end:
            return e
    return None


def _match_open(text: str, els: list[_El], close_at: int) -> int:
    """Position of the ``[`` opening the link text that ends at ``close_at`` (a ``]``), or -1."""
    depth = 0
    pos = close_at - 1
    while pos >= 0:
        inner = _inside(els, pos)
        if inner is not None:
            pos = inner.start - 1
            continue
        ch = text[pos]
        if ch == "]" and not (pos and text[pos - 1] == "\\"):
            depth += 1
        elif ch == "[" and not (pos and text[pos - 1] == "\\"):
            if depth == 0:
                return pos
            depth -= 1
        pos -= 1
    return -1


def _match_close(text: str, els: list[_El], open_end: int) -> int:
    """Position of the ``]`` closing an inline footnote opened just before ``open_end``, or -1."""
    depth = 0
    pos = open_end
    while pos < len(text):
        inner = _inside(els, pos)
        if inner is not None:
            pos = inner.end
            continue
        ch = text[pos]
        if ch == "[" and text[pos - 1] != "\\":
            depth += 1
        elif ch == "]" and text[pos - 1] != "\\":
            if depth == 0:
                return pos
            depth -= 1
        pos += 1
    return -1


def _elements(text: str, keep_terms: Sequence[str], comments: bool, references: frozenset[str]) -> list[_El]:
    els: list[_El] = []
    wiki_open: list[int] = []
    scanned = markup.scan(text, comments=comments)
    if "\n" in text:
        _line_breaks(text, scanned, els)
    for e in scanned:
        els.append(_El(e.start, e.end, e.kind))
        if e.kind in (markup.WIKILINK, markup.EMBED) and e.value != "]]" and text[e.end - 1] == "|":
            wiki_open.append(len(els) - 1)
        elif e.kind == markup.WIKILINK and e.value == "]]" and text[e.start:e.end] == "]]" and wiki_open:
            opener = wiki_open.pop()
            els[opener].partner = len(els) - 1
            els[-1].partner = opener
    # Links and images: the "[" (an image's "![") of the text pairs with the "](dest)" / "][label]"; the
    # link text and the image's alt text stay translatable, and so does a title: ](dest "title") becomes
    # the opener ](dest " and the closer ") around it.
    for i, el in enumerate(list(els)):
        if el.kind not in (markup.LINK, markup.REFLABEL):
            continue
        start = _match_open(text, els, el.start)
        if start < 0:
            continue
        if start > 0 and text[start - 1] == "!" and _inside(els, start - 1) is None:
            els.append(_El(start - 1, start + 1, IMAGE, partner=i))
        else:
            els.append(_El(start, start + 1, LINK_OPEN, partner=i))
        el.partner = len(els) - 1
    for i, el in enumerate(list(els)):
        if el.kind != markup.LINK:
            continue
        title = markup.link_title(text[el.start:el.end])
        if title is not None and markup.LETTER.search(text, el.start + title[0], el.start + title[1]):
            els.append(_El(el.start + title[1], el.end, TITLE_CLOSE, partner=i))  # (one way: el pairs with its "[")
            el.end, el.kind = el.start + title[0], TITLE_OPEN
    els = _renumber(els)
    # A shortcut reference link "[label]" is its label: translated, it would no longer link.
    shortcuts = markup.shortcut_spans(text, references)
    for start, end in shortcuts:
        if _free(els, start, end):
            els.append(_El(start, end, SHORTCUT))
    if shortcuts:
        els = _renumber(els)
    # Inline footnotes: "^[" pairs with its "]".
    for i, el in enumerate(list(els)):
        if el.kind == markup.INLINE_FOOTNOTE and el.partner < 0:
            close = _match_close(text, els, el.end)
            if close >= 0:
                els.append(_El(close, close + 1, FOOTNOTE_CLOSE, partner=i))
                el.partner = len(els) - 1
    if not comments:
        for m in _COMMENT.finditer(text):
            a = _El(m.start(), m.start() + 2, COMMENT_MARK)
            b = _El(m.end() - 2, m.end(), COMMENT_MARK)
            if _free(els, a.start, b.end):
                els.append(a)
                els.append(b)
                a.partner, b.partner = len(els) - 1, len(els) - 2
    for m in _ESCAPE.finditer(text):
        if _free(els, m.start(), m.end()):
            els.append(_El(m.start(), m.end(), ESCAPE))
    for rx in _EMPHASIS:
        opener = -1
        for m in rx.finditer(text):
            if not _free(els, m.start(), m.end()):
                continue
            els.append(_El(m.start(), m.end(), EMPHASIS))
            if opener < 0:
                opener = len(els) - 1
            else:
                els[opener].partner, els[-1].partner = len(els) - 1, opener
                opener = -1
    for term in sorted({t for t in keep_terms if t.strip()}, key=len, reverse=True):
        for m in re.finditer(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text):
            if _free(els, m.start(), m.end()):
                els.append(_El(m.start(), m.end(), KEEP))
    for m in re.finditer(r"[⟦⟧]", text):
        if _free(els, m.start(), m.end()):
            els.append(_El(m.start(), m.end(), BRACKET))
    return _renumber(els)


def _line_breaks(text: str, scanned: Sequence[markup.Element], els: list[_El]) -> None:
    """Add the line breaks that are structure: hard breaks (two spaces before the newline) and the breaks
    before and after a line that starts with a Dataview inline field key."""
    fields = {e.start for e in scanned if e.kind == markup.FIELD}
    starts = [e.start for e in scanned]  # scanned is sorted and non-overlapping
    for m in _LINE_BREAK.finditer(text):
        i = bisect.bisect_left(starts, m.end())  # the elements starting before the break ends: only the last
        if i and scanned[i - 1].end > m.start():  # can overlap it
            continue  # inside a code span, an HTML comment, …
        before = text.rfind("\n", 0, m.start()) + 1
        before += len(text[before:m.start()]) - len(text[before:m.start()].lstrip(" \t"))
        if "  " in text[m.start():m.end()].split("\n", 1)[0] or m.end() in fields or before in fields:
            els.append(_El(m.start(), m.end(), LINE_BREAK))


def _renumber(els: list[_El]) -> list[_El]:
    """Sort by position, keeping partner links pointing at the right elements."""
    order = sorted(range(len(els)), key=lambda i: els[i].start)
    new_index = {old: new for new, old in enumerate(order)}
    out = []
    for old in order:
        e = els[old]
        out.append(_El(e.start, e.end, e.kind, new_index.get(e.partner, -1) if e.partner >= 0 else -1))
    return out


def protect(text: str, *, keep_terms: Sequence[str] = (), comments: bool = True,
            references: frozenset[str] = frozenset()) -> Masked:
    """Replace the protected elements of ``text`` by ``⟦N⟧`` and join its lines into one.

    ``keep_terms`` are do-not-translate terms (whole word, case-sensitive). ``comments=False`` leaves
    the text of ``%%comments%%`` translatable (only the ``%%`` become placeholders). ``references`` are the
    note's reference-definition labels (:attr:`kbtrans.model.Note.references`): a shortcut reference
    link ``[label]`` using one is kept whole.
    """
    els = _elements(text, keep_terms, comments, references)
    parts: list[str] = []
    pos = 0
    for n, e in enumerate(els):
        parts.append(text[pos:e.start].replace("\n", " "))
        # A line break is set apart by spaces (the engine reads words, not a glued ⟦N⟧); restore drops them.
        parts.append(f" {token(n)} " if e.kind == LINE_BREAK else token(n))
        pos = e.end
    parts.append(text[pos:].replace("\n", " "))
    return Masked(
        source=text,
        text="".join(parts),
        originals=tuple(text[e.start:e.end] for e in els),
        kinds=tuple(e.kind for e in els),
        partners=tuple(e.partner for e in els),
        comments=comments,
    )


# -- restore ---------------------------------------------------------------------------------------------

# ⟦ 3 ⟧, ⟦⟦3⟧⟧, ⟦3], [3⟧, ⟦3 (no closer), 3⟧ (no opener).
_GARBLED = re.compile(
    r"\[*⟦[⟦\[]*\s*(\d{1,4})(?:\s*[⟧\]]+)?|(?:\[+\s*)?(?<!\d)(\d{1,4})\s*⟧[⟧\]]*"
)
_BRACKETED = re.compile(r"\[\[?\s*(\d{1,4})\s*\]\]?")
_STRAY = re.compile(r"[⟦⟧]")
_WORD = re.compile(r"[^\W_]+")

Token = str | int


def _describe(masked: Masked, n: int) -> str:
    original = " ".join(masked.originals[n].split())
    if len(original) > 40:
        original = original[:37] + "…"
    return f"⟦{n}⟧ {original!r}"


def _tokenize(output: str, masked: Masked, repairs: list[str]) -> list[Token]:
    """Split the model output into text and placeholder numbers, normalising garbled placeholders."""
    out: list[Token] = []
    garbled: list[str] = []
    present = {int(m.group()[1:-1]) for m in PLACEHOLDER_RE.finditer(output)}
    plain_source = PLACEHOLDER_RE.sub(" ", masked.text)

    def bracketed_ok(m: re.Match[str]) -> bool:
        n = int(m.group(1))
        return n < masked.count and n not in present and m.group() not in plain_source

    pos = 0
    matches: list[tuple[int, int, int, str]] = []
    for m in _GARBLED.finditer(output):
        n = int(m.group(1) or m.group(2))
        matches.append((m.start(), m.end(), n, m.group()))
    for m in _BRACKETED.finditer(output):
        if bracketed_ok(m) and _free_range(matches, m.start(), m.end()):
            matches.append((m.start(), m.end(), int(m.group(1)), m.group()))
            present.add(int(m.group(1)))
    for start, end, n, raw in sorted(matches):
        if start < pos:
            continue
        out.append(output[pos:start])
        out.append(n)
        if raw != token(n):
            garbled.append(raw.strip())
        pos = end
    out.append(output[pos:])
    if garbled:
        repairs.append("normalised garbled placeholder" + ("s " if len(garbled) > 1 else " ")
                       + ", ".join(repr(g) for g in garbled))
    return [t for t in out if t != ""]


def _free_range(matches: list[tuple[int, int, int, str]], start: int, end: int) -> bool:
    return all(end <= s or start >= e for s, e, _, _ in matches)


def _dedupe(tokens: list[Token], masked: Masked, repairs: list[str]) -> list[Token]:
    seen: set[int] = set()
    out: list[Token] = []
    unknown: list[int] = []
    dupes: list[int] = []
    for t in tokens:
        if isinstance(t, int):
            if t >= masked.count:
                unknown.append(t)
                continue
            if t in seen:
                dupes.append(t)
                continue
            seen.add(t)
        out.append(t)
    if unknown:
        repairs.append("dropped unknown placeholder" + ("s " if len(unknown) > 1 else " ")
                       + ", ".join(token(n) for n in unknown))
    if dupes:
        repairs.append("removed duplicate" + ("s " if len(dupes) > 1 else " ")
                       + ", ".join(_describe(masked, n) for n in dupes))
    return out


def _positions(tokens: list[Token]) -> dict[int, int]:
    return {t: i for i, t in enumerate(tokens) if isinstance(t, int)}


def _relative(masked: Masked) -> list[float]:
    """Per element: its relative position in the masked source."""
    text = masked.text
    return [m.start() / max(1, len(text)) for m in PLACEHOLDER_RE.finditer(text)]


def _insert_missing(tokens: list[Token], masked: Masked, repairs: list[str]) -> list[Token]:
    present = _positions(tokens)
    missing = [n for n in range(masked.count) if n not in present]
    if not missing:
        return tokens
    rel = _relative(masked)
    src = masked.text
    for n in missing:
        pos = _positions(tokens)
        prev = next((j for j in range(n - 1, -1, -1) if j in pos), None)
        nxt = next((j for j in range(n + 1, masked.count) if j in pos), None)
        lo = pos[prev] + 1 if prev is not None else 0
        hi = pos[nxt] if nxt is not None else len(tokens)
        if lo > hi:  # its neighbours were reordered: anywhere
            lo, hi = 0, len(tokens)
        offsets = [0]
        for t in tokens:
            offsets.append(offsets[-1] + (len(t) if isinstance(t, str) else 1))
        flat = "".join(t if isinstance(t, str) else "\0" for t in tokens)
        lo_c, hi_c = offsets[lo], offsets[hi]
        here = src.find(token(n))
        if prev == n - 1 and src.find(token(n - 1)) + len(token(n - 1)) == here:
            target = lo_c  # glued to the element before it in the source
        elif nxt == n + 1 and here + len(token(n)) == src.find(token(n + 1)):
            target = hi_c  # glued to the element after it
        elif (partner := masked.partners[n]) >= 0 and partner in pos:
            # an opener goes as many words before its closer as it enclosed in the source (and vice versa)
            a, b = sorted((here, src.find(token(partner))))
            words = max(1, len(_WORD.findall(PLACEHOLDER_RE.sub(" ", src[a:b]))))
            at = offsets[pos[partner]]
            if n < partner:
                found = list(_WORD.finditer(flat, lo_c, max(lo_c, min(at, hi_c))))
                target = found[max(0, len(found) - words)].start() if found else min(at, hi_c)
            else:
                found = list(_WORD.finditer(flat, max(at + 1, lo_c), hi_c))
                target = found[min(words, len(found)) - 1].end() if found else max(at + 1, lo_c)
            target = min(max(target, lo_c), hi_c)
        else:
            glued_left = here > 0 and not src[here - 1].isspace()
            glued_right = here + len(token(n)) < len(src) and not src[here + len(token(n))].isspace()
            target = _snap(flat, min(max(round(rel[n] * len(flat)), lo_c), hi_c), lo_c, hi_c,
                           word_end=glued_left and not glued_right)
        tokens = _split_at(tokens, offsets, target, n)
        tokens = _space_like_source(tokens, n, src, here)
    repairs.append("restored missing " + ", ".join(_describe(masked, n) for n in missing))
    return tokens


def _snap(flat: str, target: int, lo: int, hi: int, word_end: bool = False) -> int:
    """Move ``target`` to the nearest word boundary within [lo, hi].

    A word start (after a space) by default; with ``word_end`` the end of a word (before a space or
    punctuation), for an element the source glued to the word before it (a closing ``**``, a ``]]``).
    """
    def ok(cand: int) -> bool:
        if cand in (0, len(flat)) or flat[cand - 1] == "\0" or flat[cand] == "\0":
            return True
        if word_end:
            return not flat[cand - 1].isspace() and (flat[cand].isspace() or flat[cand] in ".,;:!?)»\"")
        return flat[cand - 1] == " "

    for d in range(0, min(60, hi - lo) + 1):
        for cand in (target - d, target + d):
            if lo <= cand <= hi and ok(cand):
                return cand
    return target


def _split_at(tokens: list[Token], offsets: list[int], target: int, n: int) -> list[Token]:
    for i, t in enumerate(tokens):
        start, end = offsets[i], offsets[i + 1]
        if isinstance(t, str) and start < target < end:
            cut = target - start
            return [*tokens[:i], t[:cut], n, t[cut:], *tokens[i + 1:]]
        if target <= start:
            return [*tokens[:i], n, *tokens[i:]]
    return [*tokens, n]


def _space_like_source(tokens: list[Token], n: int, src: str, here: int) -> list[Token]:
    """After inserting element ``n``: separate it from its neighbours by a space where the source did."""
    i = tokens.index(n)
    space_before = here > 0 and src[here - 1] == " "
    space_after = here + len(token(n)) < len(src) and src[here + len(token(n))] == " "
    out = list(tokens)
    if space_before and i > 0 and isinstance(out[i - 1], str):
        prev = out[i - 1]
        assert isinstance(prev, str)
        if not prev.endswith(" "):
            out[i - 1] = prev + " "
    if space_after and i + 1 < len(out) and isinstance(out[i + 1], str):
        nxt = out[i + 1]
        assert isinstance(nxt, str)
        if not nxt.startswith(" ") and nxt[:1] not in (".", ",", ";", ":", "!", "?", ")"):
            out[i + 1] = " " + nxt
    return out


def _groups(masked: Masked) -> list[list[int]]:
    """Elements that must stay in source order: each opener with its closer, and a link's ``[`` with its
    ``](dest "`` and the title's ``")`` (a closer that points at its opener one way only)."""
    partners = masked.partners
    groups: dict[int, list[int]] = {}  # by the index of the group's last two-way member
    for n, partner in enumerate(partners):
        if partner > n and partners[partner] == n:
            groups[partner] = [n, partner]
    for n, partner in enumerate(partners):
        if 0 <= partner < n and partners[partner] != n:
            groups.setdefault(partner, [partner]).append(n)
    return list(groups.values())


def _order_pairs(tokens: list[Token], masked: Masked, repairs: list[str]) -> list[Token]:
    swapped = []
    pos = _positions(tokens)
    tokens = list(tokens)
    for group in _groups(masked):
        places = sorted(pos[n] for n in group)
        if places == [pos[n] for n in group]:
            continue
        for n, at in zip(group, places, strict=True):
            tokens[at] = n
            pos[n] = at
        swapped.append(group)
    if swapped:
        repairs.append("put back in order " + ", ".join("…".join(token(n) for n in g) for g in swapped))
    return tokens


def _pin_fields(tokens: list[Token], masked: Masked, repairs: list[str]) -> list[Token]:
    """Each Dataview inline field key back at its line start: first when the source starts with it, else right
    after the line break before it (a model may move a key into its value)."""
    moved = []
    for n, kind in enumerate(masked.kinds):
        if kind != markup.FIELD:
            continue
        if n == 0 and masked.text.startswith(token(0)):
            anchor = None
        elif n > 0 and masked.kinds[n - 1] == LINE_BREAK:
            anchor = n - 1
        else:
            continue
        at = tokens.index(n)
        want = 0 if anchor is None else tokens.index(anchor) + 1
        if want <= at and all(isinstance(t, str) and not t.strip() for t in tokens[want:at]):
            continue  # in place (spaces between are dropped when the text is assembled)
        rest = tokens[:at] + tokens[at + 1:]
        want = 0 if anchor is None else rest.index(anchor) + 1
        tokens = _merge_text([*rest[:want], n, *rest[want:]])
        moved.append(n)
    if moved:
        repairs.append("moved back to its line start " + ", ".join(_describe(masked, n) for n in moved))
    return tokens


def _merge_text(tokens: list[Token]) -> list[Token]:
    """Adjacent text tokens joined (one space where both had one)."""
    out: list[Token] = []
    for t in tokens:
        if isinstance(t, str) and out and isinstance(out[-1], str):
            prev = out[-1]
            assert isinstance(prev, str)
            out[-1] = prev + (t.lstrip(" ") if prev.endswith(" ") else t)
        else:
            out.append(t)
    return out


# Stage 1: markup characters in the model's text replaced by look-alikes that no scanner reads as markup.
_NEUTRAL = str.maketrans({"`": "’", "$": "＄", "[": "［", "]": "］", "<": "‹", "#": "＃", "\\": None,
                          "⟦": None, "⟧": None})
_EMPHASIS_CHARS = re.compile(r"[*_~=]")
_UNSAFE_TEXT = re.compile(r"\b(?:javascript|vbscript|data)\s*:|\bon[a-z]{3,}\s*=", re.IGNORECASE)
_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
})


def transliterate(word: str) -> str:
    """Russian → Latin letters (for Russian words a model left in an English translation)."""
    out = word.lower().translate(_TRANSLIT)
    return out[:1].upper() + out[1:] if word[:1].isupper() else out


# What must not touch a tag or URL on its left (their scanner lookbehinds), or extend them on the right.
_BEFORE_TAG = re.compile(r"[\w#&/\\\]`]$")
_BEFORE_URL = re.compile(r"[\w/<(\[\"']$")
_AFTER_TAG = re.compile(r"^[\w/\-]")
_AFTER_URL = re.compile(r"^(?:[^\s<>()\[\].,;:!?'\"*_~]|[.,;:!?'\"*_~][^\s<>()\[\]])")


def _glues_after(prev: str, prev_kind: str, chunk: str) -> bool:
    """Would ``chunk`` right after the element ``prev`` change how it is read?"""
    return bool(
        (prev.endswith("]") and chunk[:1] in ("(", "[", ":"))
        or (prev_kind == markup.TAG and _AFTER_TAG.search(chunk))
        or (prev_kind == markup.URL and not prev.startswith("<") and _AFTER_URL.search(chunk))
        or (prev_kind == markup.MATH and chunk[:1].isdigit())
        or (prev.endswith("`") and chunk.startswith("`")))


def _guard(chunk: str, prev: str | None, prev_kind: str, nxt: str | None, nxt_kind: str) -> str:
    """Keep the model's text from changing how the elements next to it are read."""
    if nxt is not None:
        chunk = chunk.rstrip("\\") if not chunk.endswith(("\\*", "\\_", "\\~", "\\=")) else chunk
        if nxt.startswith("["):
            chunk = chunk.rstrip("!^")
        if (nxt_kind == markup.TAG and _BEFORE_TAG.search(chunk)) or (
                nxt_kind == markup.URL and not nxt.startswith("<") and _BEFORE_URL.search(chunk)):
            chunk += " "
        if nxt.startswith("`") and chunk.endswith("`"):
            chunk += " "
    if prev is not None and _glues_after(prev, prev_kind, chunk):
        chunk = " " + chunk
    return chunk


# Text after these elements starts right after them, and before these ends right before them.
_HUGGED_AFTER = frozenset({TITLE_OPEN, LINE_BREAK})
_HUGGED_BEFORE = frozenset({TITLE_CLOSE, LINE_BREAK})
# Inside a title: the quotes that would close it become typographic ones.
_TITLE_QUOTES = {'"': str.maketrans({'"': "”"}), "'": str.maketrans({"'": "’"}),
                 "(": str.maketrans({"(": "（", ")": "）"})}


def _glued(masked: Masked, n: int, *, after: bool) -> bool:
    """Whether the source has text right after (or before) element ``n``, without a space between."""
    at = masked.text.find(token(n))
    if after:
        at += len(token(n))
        return at < len(masked.text) and not masked.text[at].isspace()
    return at > 0 and not masked.text[at - 1].isspace()


def _clean(chunk: str, prev: int | None, nxt: int | None, masked: Masked, stage: int, target_lang: str) -> str:
    """One piece of model text between placeholders ``prev`` and ``nxt``."""
    chunk = _STRAY.sub("", chunk.replace("\n", " "))
    if stage >= 1:
        chunk = chunk.translate(_NEUTRAL).replace("%%", "% %").replace("://", ": //")
        chunk = _EMPHASIS_CHARS.sub(lambda m: "\\" + m.group(), chunk)
        chunk = _UNSAFE_TEXT.sub(lambda m: m.group().replace(":", "꞉").replace("=", "꞊"), chunk)
        if target_lang == "en":
            chunk = markup.CYRILLIC_WORD.sub(lambda m: transliterate(m.group()), chunk)
    chunk = _guard(chunk, None if prev is None else masked.originals[prev], "" if prev is None else masked.kinds[prev],
                   None if nxt is None else masked.originals[nxt], "" if nxt is None else masked.kinds[nxt])
    # Emphasis hugs its text: no space inside "**…**"; an "_" is a delimiter only off a word's edge.
    prev_inner = prev is not None and masked.kinds[prev] == EMPHASIS and masked.partners[prev] > prev
    nxt_inner = nxt is not None and masked.kinds[nxt] == EMPHASIS and 0 <= masked.partners[nxt] < nxt
    if prev is not None and masked.kinds[prev] in _HUGGED_AFTER:
        prev_inner = True
        if masked.kinds[prev] == TITLE_OPEN:  # a quote like the title's own would end it early
            quote = masked.originals[prev][-1]
            chunk = chunk.translate(_TITLE_QUOTES[quote]).rstrip("\\")
    if nxt is not None and masked.kinds[nxt] in _HUGGED_BEFORE:
        nxt_inner = True
    # A link's text and an image's alt text hug their brackets where the source's did.
    if prev is not None and masked.kinds[prev] in (LINK_OPEN, IMAGE) and _glued(masked, prev, after=True):
        prev_inner = True
    if (nxt is not None and masked.partners[nxt] >= 0 and masked.kinds[masked.partners[nxt]] in (LINK_OPEN, IMAGE)
            and _glued(masked, nxt, after=False)):
        nxt_inner = True
    if prev_inner:
        chunk = chunk.lstrip()
    if nxt_inner:
        chunk = chunk.rstrip()
    if (prev is not None and masked.kinds[prev] == markup.FIELD and chunk and not chunk[0].isspace()
            and not _glued(masked, prev, after=True)):
        chunk = " " + chunk  # "key:: value", as in the source
    if (prev is not None and masked.kinds[prev] == EMPHASIS and not prev_inner
            and masked.originals[prev].startswith("_") and chunk[:1].isalnum()):
        chunk = " " + chunk
    if (nxt is not None and masked.kinds[nxt] == EMPHASIS and not nxt_inner
            and masked.originals[nxt].startswith("_") and chunk[-1:].isalnum()):
        chunk += " "
    if stage >= 2:
        if prev is not None and not prev_inner and chunk and not chunk[0].isspace():
            chunk = " " + chunk
        if nxt is not None and not nxt_inner and chunk and not chunk[-1].isspace():
            chunk = chunk + " "
    return chunk


def _assemble(tokens: list[Token], masked: Masked, stage: int, target_lang: str) -> str:
    parts: list[str] = []
    for i, t in enumerate(tokens):
        if isinstance(t, int):
            before = tokens[i - 1] if i > 0 else None
            breaks = LINE_BREAK in (masked.kinds[t], masked.kinds[before]) if isinstance(before, int) else False
            if isinstance(before, int) and not breaks and (stage >= 2 or token(before) + token(t) not in masked.text):
                parts.append(" ")  # side by side only where the source had them so
            parts.append(masked.originals[t])
            continue
        prev = tokens[i - 1] if i > 0 else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        parts.append(_clean(t, prev if isinstance(prev, int) else None, nxt if isinstance(nxt, int) else None,
                            masked, stage, target_lang))
    return _escape_start("".join(parts).strip())


# A line start that would open a block (as kbtrans.check reads it): heading, list, quote, fence, definition.
_BLOCK_START = re.compile(r"(?:#{1,6}(?=[ \t]|$)|[-+*](?=[ \t]+\S)|(\d{1,9})[.)](?=[ \t]|$)|>|```|~~~|\[\^?[^\]]*\]:)")


def _escape_start(text: str) -> str:
    m = _BLOCK_START.match(text)
    if m is None:
        return text
    if m.group(1):
        return m.group(1) + "\\" + text[len(m.group(1)):]
    return "\\" + text


def problems(source: str, text: str, segments: Sequence[Segment] = (), *, source_lang: str = "",
             references: frozenset[str] = frozenset(),
             target_lang: str = "", comments: bool = True) -> list[str]:
    """Why ``build`` would not use ``text`` as the translation of ``source`` in one of ``segments``.

    The same checks as ``build``: :func:`kbtrans.check.blocking` (markup, active content, emphasis,
    Russian left in English), the errors of ``kbtrans check`` (which ``build --strict`` runs first) and
    :func:`kbtrans.splice.fit`. Without segments (a stale catalog entry)
    only the markup is compared.
    """
    from kbtrans import check

    if text == source:
        return []
    if not text.strip():
        return ["empty"]
    if not segments:
        return markup.structure_diff(source, text, comments=comments, references=references)
    out: list[str] = []
    for seg in segments:
        found = check.blocking(seg, text, source_lang, target_lang, comments=comments, references=references)
        entry = check.Entry(source, text, seg, source_lang, target_lang, comments=comments, references=references)
        found.extend(f.message for f in check.findings(entry, check.STRICT_ONLY_CHECKS) if f.severity == check.ERROR)
        if not found and fit(seg, text) is None:
            found = ["would change the block structure"]
        out.extend(found)
    return out


def valid(source: str, text: str, segments: Sequence[Segment] = (), *, source_lang: str = "",
          target_lang: str = "", comments: bool = True, references: frozenset[str] = frozenset()) -> bool:
    """Whether ``build`` would use ``text`` as the translation of ``source`` (see :func:`problems`).

    ``references`` are the labels of the note's reference definitions (:attr:`kbtrans.model.Note.references`).
    """
    return not problems(source, text, segments, source_lang=source_lang, target_lang=target_lang,
                        comments=comments, references=references)


#: Said in the repair comment when the model's output was unusable and the source text stands in.
KEPT_SOURCE = catalog.KEPT_SOURCE


def restore(output: str, masked: Masked, *, segments: Sequence[Segment] = (), source_lang: str = "",
            target_lang: str = "", references: frozenset[str] = frozenset()) -> Restored:
    """Put ``masked``'s elements back into the engine's ``output``, repairing what the model broke.

    ``segments`` are the segments the translation will be used for, ``source_lang``/``target_lang`` the
    direction: the result passes ``build``'s validation (:func:`valid`) for each; see the module docstring.
    """
    if output.strip() == masked.text.strip():
        return Restored(masked.source)  # copied unchanged (a name, a citation): the source, line breaks and all
    repairs: list[str] = []
    tokens = _tokenize(output, masked, repairs)
    tokens = _dedupe(tokens, masked, repairs)
    tokens = _insert_missing(tokens, masked, repairs)
    tokens = _order_pairs(tokens, masked, repairs)
    tokens = _pin_fields(tokens, masked, repairs)
    notes = ("", "neutralised markup characters (or Russian words) the model added",
             "neutralised markup characters (or Russian words) the model added and spaced placeholders apart")
    words = "".join(t for t in tokens if isinstance(t, str))
    if masked.has_text and not markup.LETTER.search(words):
        return Restored(masked.source, (*repairs, f"the model returned no text; {KEPT_SOURCE}"), fallback=True)
    for stage in range(3):
        text = _assemble(tokens, masked, stage, target_lang)
        if valid(masked.source, text, segments, source_lang=source_lang, target_lang=target_lang,
                 comments=masked.comments, references=references):
            return Restored(text, tuple(repairs + ([notes[stage]] if stage else [])))
    return Restored(masked.source, (*repairs, f"model output unusable; {KEPT_SOURCE}"), fallback=True)
