"""Inline markup that translation must never change.

One regex scanner finds the protected elements of a segment's text: code spans, math, wikilink and
embed targets, link and image destinations, footnote references, inline-footnote openers, HTML tags,
autolinks and bare URLs, tags, ``%%comments%%`` and the keys of line-start Dataview inline fields
(``key::``). It serves three stages:

* ``extract`` — does a segment have anything left to translate?
* ``build`` / ``check`` — does a translation keep the msgid's structure (:func:`signature`)?
* ``translate`` — what becomes an opaque placeholder before machine translation (:func:`scan`)?
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

# Kinds of protected elements. The value of an element is what must survive translation.
CODE = "code span"
MATH = "math"
COMMENT = "comment"
WIKILINK = "wikilink target"
EMBED = "embed target"
LINK = "link target"
REFLABEL = "reference label"
FOOTNOTE = "footnote label"
INLINE_FOOTNOTE = "inline footnote"
HTML = "HTML tag"
URL = "URL"
TAG = "tag"
ENTITY = "entity"
FIELD = "inline field key"

#: A Dataview inline field ``key:: value`` at a line start: its key (with the ``::``) is protected, the value is text.
_FIELD = re.compile(r"^[ \t]*(?P<key>[^\W_][\w\- ]{0,60}?)::(?=[ \t]|$)", re.MULTILINE)

_PATTERN = re.compile(
    # The lookahead lists every character an alternative can start with: other positions fail at once
    # instead of trying each alternative (10x faster on prose).
    r"""
    (?=[`$%!\[\]<^\#&hfw])
    (?:
    (?P<code>(?<![`\\])(?P<ticks>`+)(?!`).*?(?<!`)(?P=ticks)(?!`))
  | (?P<math>(?<!\\)\$\$.+?(?<!\\)\$\$|(?<![\\\d])\$(?![\s$])[^$\\]*(?:\\.[^$\\]*)*(?<![\s\\])\$(?!\d))
  | (?P<comment>%%.*?%%)
  | (?P<wiki>(?P<bang>!?)\[\[(?P<wtarget>[^\[\]|\n]*)(?P<wpipe>\|)?)
  | (?P<wclose>(?<!\\)\]\])
  | (?P<autolink><(?:[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^<>\s]*|[\w.!\#$%&'*+/=?^`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?)>)
  | (?P<html></?[A-Za-z][A-Za-z0-9\-]*(?:\s+[A-Za-z_:][\w.:\-]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*\s*/?>|<!--.*?-->|<\?.*?\?>|<![A-Za-z][^>]*>|<!\[CDATA\[.*?\]\]>)
  | (?P<dest>\]\(\s*(?P<target><[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*\))*\))*)(?P<title>\s+(?:"[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*'|\([^()\\]*(?:\\.[^()\\]*)*\)))?\s*\))
  | (?P<ref>\]\[(?P<label>(?:[^\[\]\\]|\\.)[^\[\]\\]*(?:\\.[^\[\]\\]*)*)\])
  | (?P<collapsed>(?<!\\)\[(?P<clabel>(?:[^\[\]\\]|\\.)[^\[\]\\]*(?:\\.[^\[\]\\]*)*)\]\[\])
  | (?P<fnref>\[\^(?P<fnlabel>[^\]\s]+)\](?!\())
  | (?P<inlinefn>\^\[)
  | (?P<url>(?<![\w/<(\["'.@])(?:(?:https?|ftp)://|www\.(?=[A-Za-z0-9\-]+\.))[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'"*_~])
  | (?P<tag>(?<![\w#&/\\\]`])\#(?:[\w/\-]*[^\W\d][\w/\-]*))
  | (?P<entity>&(?:\#[0-9]{1,7}|\#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)
    )
    """,
    re.VERBOSE | re.DOTALL,
)

#: A letter of any script: ``LETTER.search(text)`` says whether ``text`` has words at all.
LETTER = re.compile(r"[^\W\d_]")
#: A Russian word (hyphenated ones included).
CYRILLIC_WORD = re.compile(r"[А-Яа-яЁё][А-Яа-яЁё\-]*")
#: Languages written in Cyrillic (for language detection and script checks).
CYRILLIC_LANGUAGES = frozenset({"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn"})
_LETTERS3 = re.compile(r"[^\W\d_]{3}")
# A number with an optional unit suffix ("15.5B", "8K", "~100K", "3x", "1e-4"): nothing to translate.
_QUANTITY = re.compile(r"(?<![^\W\d_])[~≈<>±]?\d[\d.,]*(?:e-?\d+)?(?:[KMGTBkx×%]|[KMGT]B)?(?![^\W\d_])")


@dataclass(frozen=True)
class Element:
    """One protected piece of a segment's text."""

    kind: str
    """One of the kind constants of this module."""
    start: int
    """Offset of the first character of the piece in the text."""
    end: int
    """Offset just past the piece."""
    value: str
    """What must be identical in a translation (e.g. a link's destination, a code span's text)."""


def _escaped(text: str, pos: int) -> bool:
    """Whether the character at ``pos`` is backslash-escaped (an odd run of backslashes before it)."""
    n = 0
    while pos - n - 1 >= 0 and text[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def scan(text: str, *, comments: bool = True) -> list[Element]:
    """Protected elements of ``text``, left to right, non-overlapping.

    For a wikilink ``[[target|alias]]`` the elements are ``[[target|`` and ``]]``: the alias stays
    translatable. For a link ``[text](dest "title")`` the element is ``](dest "title")``: the text stays
    translatable. With ``comments=False`` ``%%comments%%`` are left as translatable text.
    """
    out: list[Element] = []
    open_wikilinks = 0
    pos = 0
    while True:
        m = _PATTERN.search(text, pos)
        if m is None:
            break
        group = m.lastgroup
        start, end = m.span()
        pos = end
        if group in ("dest", "ref", "fnref") and _escaped(text, start):
            pos = start + 1  # "\](", "\][", "\[^": an escaped bracket is text (Markdown links nothing there)
            continue
        if group == "code":
            out.append(Element(CODE, start, end, m.group()))
        elif group == "math":
            out.append(Element(MATH, start, end, m.group()))
        elif group == "comment":
            if comments:
                out.append(Element(COMMENT, start, end, m.group()))
        elif group == "wiki":
            kind = EMBED if m.group("bang") else WIKILINK
            target = m.group("wtarget")
            if m.group("wpipe"):
                out.append(Element(kind, start, end, target))
                open_wikilinks += 1
            else:
                if not text.startswith("]]", end):
                    pos = start + 1  # not a wikilink ("[[[x]]" holds one a character later): look again
                    continue
                out.append(Element(kind, start, end + 2, target))
                pos = end + 2
        elif group == "wclose":
            if open_wikilinks:
                open_wikilinks -= 1
                out.append(Element(WIKILINK, start, end, "]]"))
            else:  # not a wikilink's end: "]](" may still close a link, so look again from the next "]"
                pos = start + 1
        elif group == "autolink":
            out.append(Element(URL, start, end, m.group()[1:-1]))
        elif group == "html":
            out.append(Element(HTML, start, end, m.group()))
        elif group == "dest":
            target = m.group("target")
            if target.startswith("<"):
                target = target[1:-1]
            out.append(Element(LINK, start, end, target))
        elif group == "ref":
            out.append(Element(REFLABEL, start, end, m.group("label").lower()))
        elif group == "collapsed":
            out.append(Element(REFLABEL, start, end, m.group("clabel").lower()))
        elif group == "fnref":
            # "[^x]:" at a line start is a definition's marker; anywhere else "[^x]" is a reference.
            if not (text.startswith(":", end) and (start == 0 or text[start - 1] == "\n")):
                out.append(Element(FOOTNOTE, start, end, m.group("fnlabel")))
        elif group == "inlinefn":
            out.append(Element(INLINE_FOOTNOTE, start, end, "^["))
        elif group == "url":
            out.append(Element(URL, start, end, m.group()))
        elif group == "tag":
            out.append(Element(TAG, start, end, m.group()))
        elif group == "entity":
            out.append(Element(ENTITY, start, end, m.group()))
    # A wikilink's closing "]]" is recorded for placeholders; a later wikilink close may have been
    # matched inside a code span etc. - overlaps are impossible because finditer does not overlap.
    if "::" in text:
        out = _with_fields(text, out)
    return out


def _with_fields(text: str, out: list[Element]) -> list[Element]:
    """``out`` with the keys of line-start Dataview inline fields (``Статус:: в работе``) added, in order."""
    fields = [Element(FIELD, m.start("key"), m.end(), m.group("key")) for m in _FIELD.finditer(text)]
    fields = [f for f in fields if all(f.end <= e.start or f.start >= e.end for e in out)]
    return sorted([*out, *fields], key=lambda e: e.start) if fields else out


#: Kinds whose values a translation must keep (as a multiset; order may change).
STRUCTURAL = frozenset({CODE, MATH, COMMENT, WIKILINK, EMBED, LINK, REFLABEL, FOOTNOTE, INLINE_FOOTNOTE,
                        HTML, URL, TAG, FIELD})


def signature(text: str, *, comments: bool = True,
              references: frozenset[str] = frozenset()) -> Counter[tuple[str, str]]:
    """The multiset of protected (kind, value) pairs of ``text``: what a translation must keep.

    With the note's ``references``, a shortcut link ``[label]`` counts as the reference label it uses
    (so ``[label]`` may become ``[translated text][label]``).
    """
    sig = Counter((e.kind, e.value) for e in scan(text, comments=comments) if e.kind in STRUCTURAL)
    sig.update((REFLABEL, label) for label in shortcut_references(text, references))
    return sig


def structure_diff(msgid: str, msgstr: str, *, comments: bool = True,
                   references: frozenset[str] = frozenset()) -> list[str]:
    """Human-readable differences between the protected markup of ``msgid`` and ``msgstr``.

    Empty when the translation keeps every link target, wikilink target, footnote label, code span,
    math, HTML tag, URL and tag of the source (in any order).
    """
    want = signature(msgid, comments=comments, references=references)
    got = signature(msgstr, comments=comments, references=references)
    if want == got:
        return []
    problems = []
    for (kind, value), n in sorted((want - got).items()):
        problems.append(f"lost {kind} {value!r}" + (f" ×{n}" if n > 1 else ""))
    for (kind, value), n in sorted((got - want).items()):
        problems.append(f"added {kind} {value!r}" + (f" ×{n}" if n > 1 else ""))
    return problems


_SHORTCUT = re.compile(r"(?<![\\\[\]])\[((?:[^\[\]\\\n]|\\.)[^\[\]\\\n]*(?:\\.[^\[\]\\\n]*)*)\](?![\[(:])")


def shortcut_references(text: str, defined: frozenset[str]) -> list[str]:
    """Labels (lower case) of shortcut reference links ``[label]`` in ``text`` whose definition exists.

    ``defined`` holds the note's definition labels normalised as markdown-it does. A shortcut link is its
    label: translating its text would break the link unless written ``[text][label]``.
    """
    return [text[a + 1:b - 1].lower() for a, b in shortcut_spans(text, defined)]


def shortcut_spans(text: str, defined: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of each shortcut reference link ``[label]`` in ``text`` whose definition exists."""
    if not defined or "]" not in text:
        return []
    from markdown_it.common.utils import normalizeReference

    return [m.span() for m in _SHORTCUT.finditer(text) if normalizeReference(m.group(1)) in defined]


# The title of a link or image destination ``](dest "title")``: group 1, 2 or 3 by its quotes.
_TITLE = re.compile(r"""\s(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|\(((?:[^()\\]|\\.)*)\))\s*\)$""", re.DOTALL)


def link_title(element: str) -> tuple[int, int] | None:
    """(start, end) of the title inside a link destination element ``](dest "title")``, or None.

    The title is text a reader sees (a tooltip): translated, while the destination is not.
    """
    if not element.endswith(("\")", "')", "))")):
        return None
    m = _TITLE.search(element)
    if m is None:
        return None
    group = next(g for g in (1, 2, 3) if m.group(g) is not None)
    return m.start(group), m.end(group)


def plain_text(text: str, *, comments: bool = True) -> str:
    """``text`` with its protected elements removed (wikilink aliases, link texts, image alt texts and
    link/image titles stay)."""
    return _plain_text(text, comments)


@lru_cache(maxsize=4096)
def _plain_text(text: str, comments: bool) -> str:
    # Cached: segmentation asks for every segment twice (has_translatable_text, detect_language).
    parts = []
    pos = 0
    for e in scan(text, comments=comments):
        parts.append(text[pos:e.start])
        pos = e.end
        if e.kind == LINK:
            title = link_title(text[e.start:e.end])
            if title is not None:
                parts.append(" " + text[e.start + title[0]:e.start + title[1]] + " ")
    parts.append(text[pos:])
    return "".join(parts)


def has_translatable_text(text: str, *, comments: bool = True) -> bool:
    """True when ``text`` has a letter outside its protected elements and quantities such as ``15.5B``."""
    plain = plain_text(text, comments=comments)
    if _LETTERS3.search(plain):
        return True  # a quantity never holds three letters in a row, nor touches one: fast path
    if LETTER.search(plain) is None:
        return False
    return LETTER.search(_QUANTITY.sub(" ", plain)) is not None
