"""Quality checks: every catalog entry against its source, and every catalog against its note.

Checks are plain functions (Babel's ``checkers`` habit): each takes an :class:`Entry` (msgid, msgstr,
the segment, the languages, the glossary) and yields :class:`Finding` s. ``check`` runs them over every
translated entry of every catalog, plus the catalog-level checks (stale, unparsable, orphaned).

Severity:

* **error** — markup (link/image targets, reference labels, wikilink and embed targets, footnote
  labels, code spans, math, HTML tags) added, lost or changed; content the source does not have (a URL,
  an HTML tag or attribute, a script, a ``javascript:`` link, a wikilink target); unbalanced emphasis;
  a heading/list/quote marker introduced at a line start; a translation that cannot be placed; stale,
  missing, unparsable or orphaned catalogs. ``build`` never uses a translation with an entry error.
* **warning** — an entry whose machine translation kept the source text (``mt-fallback``, an error with
  ``strict``), language problems (Cyrillic left in English, Latin-only Russian, identical to the
  source, whitespace / end punctuation mismatch, doubled spaces, untranslated footnote text) and glossary
  problems (errors with ``strict``).
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import os
import pickle
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import IO

from kbtrans import catalog, glossary, markup, parallel, project, splice, state
from kbtrans.config import Config
from kbtrans.errors import CatalogError, GlossaryError, KbtransError
from kbtrans.model import Note, Segment

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One problem found by ``check``."""

    severity: str
    """``"error"`` or ``"warning"``."""
    code: str
    """Stable identifier of the check, e.g. ``link-target-changed``, ``catalog-stale``."""
    path: str
    """The PO file (or note, or glossary) concerned, relative to the project root."""
    line: int | None
    """1-based line where the entry starts in ``path`` (its first comment line, as polib's ``linenum``
    and ``build``'s warnings give it); None for whole-file problems."""
    msgid: str
    """A one-line excerpt of the entry's msgid ("" for whole-file problems)."""
    message: str
    """What is wrong."""
    hint: str
    """One line saying how to fix it."""

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        excerpt = f" [{self.msgid}]" if self.msgid else ""
        return f"{self.location}: {self.severity}: {self.message} ({self.code}){excerpt} — {self.hint}"


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found."""

    issues: tuple[Issue, ...]
    """Every problem, sorted by file and line."""
    catalogs: int = 0
    """Catalogs examined."""
    entries: int = 0
    """Translated (non-obsolete) entries examined."""
    notes: int = 0
    """Notes in the knowledge base."""

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == ERROR)

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        return {
            "notes": self.notes, "catalogs": self.catalogs, "entries": self.entries,
            "errors": len(self.errors), "warnings": len(self.warnings),
            "issues": [
                {"severity": i.severity, "code": i.code, "path": i.path, "line": i.line, "msgid": i.msgid,
                 "message": i.message, "hint": i.hint}
                for i in self.issues
            ],
        }


@dataclass(frozen=True)
class Finding:
    """What one check function says about one entry."""

    severity: str
    code: str
    message: str
    hint: str


@dataclass(frozen=True)
class Entry:
    """One catalog entry with everything a check needs."""

    msgid: str
    """The source text."""
    msgstr: str
    """The translation (non-empty)."""
    segment: Segment | None
    """The note's segment with this text (None when the catalog is stale and the note lacks it)."""
    source_lang: str
    """The note's language."""
    target_lang: str
    """The catalog's language."""
    glossary: glossary.Glossary = field(default_factory=glossary.Glossary)
    """The project's glossary."""
    comments: bool = True
    """``%%comments%%`` are protected (not translated)."""
    kind: str = ""
    """What the entry is ("paragraph", "footnote [^1]", …) when ``segment`` is None (from the ``#.`` comment)."""
    references: frozenset[str] = frozenset()
    """Labels of the note's reference definitions (a shortcut ``[label]`` is a link to one of them)."""

    @property
    def what(self) -> str:
        """The segment's kind, or :attr:`kind`."""
        return self.segment.kind if self.segment is not None else self.kind


Check = Callable[[Entry], Iterator[Finding]]

# -- structure and safety -------------------------------------------------------------------------

_SLUG = {
    markup.CODE: "code-span", markup.MATH: "math", markup.COMMENT: "comment", markup.WIKILINK: "wikilink-target",
    markup.EMBED: "embed-target", markup.LINK: "link-target", markup.REFLABEL: "reference-label",
    markup.FOOTNOTE: "footnote-label", markup.INLINE_FOOTNOTE: "inline-footnote", markup.HTML: "html-tag",
    markup.URL: "url", markup.TAG: "tag", markup.FIELD: "inline-field-key",
}
_HINT = {
    markup.CODE: "copy the code span from the msgid unchanged (backticks included)",
    markup.MATH: "copy the math from the msgid unchanged ($…$ included)",
    markup.COMMENT: "copy the %%comment%% from the msgid unchanged",
    markup.WIKILINK: "keep the [[target|…]] part as in the msgid; translate only the alias after |",
    markup.EMBED: "keep the ![[embed]] exactly as in the msgid",
    markup.LINK: "keep the (destination) of every link exactly as in the msgid; translate only the [text]",
    markup.REFLABEL: "keep the [label] of reference links exactly as in the msgid",
    markup.FOOTNOTE: "keep every [^label] footnote reference exactly as in the msgid",
    markup.INLINE_FOOTNOTE: "keep the ^[ … ] inline footnote; translate only its text",
    markup.HTML: "copy HTML tags from the msgid unchanged, attributes included",
    markup.URL: "keep URLs exactly as in the msgid",
    markup.TAG: "keep #tags exactly as in the msgid",
    markup.FIELD: "keep the key:: of each Dataview inline field at its line start, as in the msgid; translate only "
                  "the value",
}
_UNSAFE = re.compile(
    r"<\s*/?\s*(?:script|iframe|object|embed|style|form|input|meta|link|base|svg|math)\b"
    r"|\bjavascript\s*:|\bvbscript\s*:|\bdata\s*:\s*text/html|\bon[a-z]{3,}\s*=",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@lru_cache(maxsize=4096)
def _signature(text: str, comments: bool, references: frozenset[str] = frozenset()) -> Counter[tuple[str, str]]:
    """:func:`kbtrans.markup.signature`, memoised (callers must not modify the result)."""
    return markup.signature(text, comments=comments, references=references)


def _short(value: str, n: int = 60) -> str:
    value = value.replace("\n", "⏎")
    return value if len(value) <= n else value[: n - 1] + "…"


def _is_external(target: str) -> bool:
    return bool(_SCHEME.match(target.strip())) or target.strip().startswith("//")


def check_markup(e: Entry) -> Iterator[Finding]:
    """Protected markup added, lost or changed (errors); additions the source lacks are safety errors."""
    want = _signature(e.msgid, e.comments, e.references)
    got = _signature(e.msgstr, e.comments, e.references)
    if want == got:
        return
    lost_all, added_all = want - got, got - want
    source_text = e.msgid
    for kind in sorted({k for k, _ in lost_all} | {k for k, _ in added_all}):
        lost = sorted(v for (k, v), n in lost_all.items() if k == kind for _ in range(n))
        added = sorted(v for (k, v), n in added_all.items() if k == kind for _ in range(n))
        slug, hint = _SLUG.get(kind, kind.replace(" ", "-")), _HINT.get(kind, "keep the markup of the msgid")
        pairs = list(zip(lost, added, strict=False))
        for old, new in pairs:
            unsafe = _unsafe_addition(kind, new, source_text)
            yield Finding(ERROR, f"{slug}-changed",
                          f"{kind} {_short(old)!r} changed to {_short(new)!r}" + (f"; {unsafe}" if unsafe else ""),
                          hint)
        for old in lost[len(pairs):]:
            yield Finding(ERROR, f"{slug}-lost", f"{kind} {_short(old)!r} of the source is missing", hint)
        for new in added[len(pairs):]:
            unsafe = _unsafe_addition(kind, new, source_text)
            if unsafe:
                yield Finding(ERROR, _safety_code(kind, new), f"{unsafe}: {_short(new)!r}",
                              "remove it: a translation must not add links, HTML or scripts the source lacks")
            else:
                yield Finding(ERROR, f"{slug}-added", f"{kind} {_short(new)!r} is not in the source", hint)


def _safety_code(kind: str, value: str) -> str:
    if _UNSAFE.search(value) or "javascript:" in value.lower():
        return "unsafe-script"
    if kind == markup.HTML:
        return "unsafe-html-added"
    if kind in (markup.WIKILINK, markup.EMBED):
        return "unsafe-wikilink-added"
    return "unsafe-url-added"


def _unsafe_addition(kind: str, value: str, source: str) -> str:
    """Why adding ``value`` (of ``kind``) is a safety problem, or "" when it is not one."""
    if _UNSAFE.search(value) or value.strip().lower().startswith(("javascript:", "vbscript:", "data:")):
        return "the translation introduces a script or active content"
    if kind == markup.HTML:
        return "the translation introduces an HTML tag or attribute the source does not have"
    if kind in (markup.URL, markup.LINK) and _is_external(value) and value not in source:
        return "the translation introduces a URL the source does not have"
    if kind in (markup.WIKILINK, markup.EMBED) and value not in source:
        return "the translation introduces a wikilink target the source does not have"
    return ""


@lru_cache(maxsize=1)
def _html_parser() -> object:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["strikethrough"])


def _raw_html(text: str) -> Counter[str]:
    """Inline raw HTML as markdown-it sees it (catches what the scanner's tag regex does not)."""
    if "<" not in text:
        return Counter()
    from markdown_it import MarkdownIt

    md = _html_parser()
    assert isinstance(md, MarkdownIt)
    out: Counter[str] = Counter()
    for tok in md.parseInline(text):
        for child in tok.children or ():
            if child.type == "html_inline":
                out[child.content] += 1
    return out


def check_active_content(e: Entry) -> Iterator[Finding]:
    """Scripts, event handlers, ``javascript:`` and raw HTML the source does not have (errors)."""
    # Outside the protected elements: scripts inside an added tag or link are reported by check_markup.
    target = _prose(e, e.msgstr)
    if _UNSAFE.search(target):
        src = Counter(m.group().lower() for m in _UNSAFE.finditer(_prose(e, e.msgid)))
        got = Counter(m.group().lower() for m in _UNSAFE.finditer(target))
    else:
        src = got = Counter()
    for pattern, n in (got - src).items():
        yield Finding(ERROR, "unsafe-script", f"the translation introduces active content {pattern!r}"
                      + (f" ×{n}" if n > 1 else ""),
                      "remove it: a translation must not add scripts, event handlers or javascript: links")
    if "<" not in e.msgstr:
        return
    known = _signature(e.msgstr, e.comments)
    tags = {v for (k, v) in known if k == markup.HTML}
    for html, _n in (_raw_html(e.msgstr) - _raw_html(e.msgid)).items():
        if html in tags:
            continue  # already reported by check_markup
        yield Finding(ERROR, "unsafe-html-added", f"the translation introduces raw HTML {_short(html)!r}",
                      "remove it: a translation must not add HTML the source does not have")


_EMPHASIS = (("**", re.compile(r"\*\*")), ("__", re.compile(r"(?<![\w_])__|__(?![\w_])")),
             ("~~", re.compile(r"~~")), ("==", re.compile(r"==")),
             ("*", re.compile(r"(?<!\*)\*(?!\*)")), ("_", re.compile(r"(?<![\w_])_(?!_)|(?<!_)_(?![\w_])")))
_ESCAPE = re.compile(r"\\[\\*_~=]")


_DELIMITER_CHARS = re.compile(r"[*_~=]")


@lru_cache(maxsize=4096)
def _delimiters(text: str, comments: bool) -> tuple[int, ...]:
    """How many of each :data:`_EMPHASIS` delimiter the prose of ``text`` has (in that order)."""
    plain = markup.plain_text(text, comments=comments)
    if not _DELIMITER_CHARS.search(plain):
        return (0,) * len(_EMPHASIS)
    plain = _ESCAPE.sub("", plain)
    return tuple(len(rx.findall(plain)) for _name, rx in _EMPHASIS)


def check_emphasis(e: Entry) -> Iterator[Finding]:
    """Emphasis delimiters (``*``, ``**``, ``_``, ``__``, ``~~``, ``==``) left unpaired (error)."""
    want, got = _delimiters(e.msgid, e.comments), _delimiters(e.msgstr, e.comments)
    for (name, _rx), w, g in zip(_EMPHASIS, want, got, strict=True):
        if w % 2 != g % 2:
            yield Finding(ERROR, "emphasis-unbalanced",
                          f"unbalanced emphasis: {g} {name!r} delimiter(s) in the translation, {w} in the source",
                          f"close every {name}…{name} pair (or escape a literal one as \\{name[0]})")


_MARKER = re.compile(r"^[ \t]*(?:(#{1,6})(?=[ \t]|$)|([-+*])(?=[ \t]+\S)|(\d{1,9})[.)](?=[ \t]|$)|(>)"
                     r"|(```|~~~)|(\[\^?[^\]]*\]:)|(=+|-+)[ \t]*$)")
_MARKER_NAMES = ("heading", "list", "numbered list", "block quote", "code fence", "definition",
                 "setext underline")


def _markers(text: str) -> Counter[str]:
    """Block markers at line starts that would change the structure of a paragraph."""
    out: Counter[str] = Counter()
    for i, line in enumerate(text.split("\n")):
        m = _MARKER.match(line)
        if m is None:
            continue
        name = next(n for j, n in enumerate(_MARKER_NAMES, start=1) if m.group(j) is not None)
        if i > 0 and (name == "definition" or (name == "numbered list" and m.group(3) != "1")):
            continue  # these cannot interrupt a paragraph
        if i == 0 and name == "setext underline":
            continue  # underlines only matter below a line
        out[name] += 1
    return out


def check_block_structure(e: Entry) -> Iterator[Finding]:
    """A line of the translation starts a heading, list, quote, … the source does not (error)."""
    seg = e.segment
    if seg is not None and (seg.quote or seg.kind.startswith("front matter")):
        return
    if seg is None or not seg.single_line:
        # Single-line segments (headings, table cells) are joined into one line: no marker matters there.
        for name in (_markers(e.msgstr) - _markers(e.msgid)):
            yield Finding(ERROR, "block-marker-added",
                          f"a line of the translation starts with a {name} marker the source does not have",
                          "reword the line start, or escape the marker with a backslash (\\- \\# 1\\.)")
    if seg is not None and not seg.single_line and re.search(r"\n[ \t]*\n", e.msgstr.strip()):
        yield Finding(WARNING, "blank-line", "the translation has a blank line (a paragraph break); the build "
                      "joins the paragraphs", "remove the blank line: one entry is one block")
    if seg is not None and splice.fit(seg, e.msgstr) is None:
        yield Finding(ERROR, "block-structure",
                      "the translation cannot be placed without changing the note's block structure",
                      "write the translation as one block: no blank lines, nothing that starts a new block")


# -- language -------------------------------------------------------------------------------------

_CYR = re.compile(r"[А-Яа-яЁё]")
_LAT_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_WORDS = re.compile(r"[^\W\d_]+")
_END = re.compile(r"[.!?…:;]$")
_END_TRIM = " \t\n*_~\"'»“”’)"
LONG_WORDS = 4
"""Identical-to-source text is reported from this many words up."""


def _prose(e: Entry, text: str) -> str:
    return markup.plain_text(text, comments=e.comments)  # memoised there


def _words_prose(text: str, comments: bool, references: frozenset[str]) -> str:
    """Prose without shortcut reference links ``[label]`` (of the note's ``references``): a label must stay
    as in the source, in any script."""
    spans = markup.shortcut_spans(text, references)
    for start, end in reversed(spans):
        text = text[:start] + " " + text[end:]
    return markup.plain_text(text, comments=comments)


def check_script(e: Entry) -> Iterator[Finding]:
    """Cyrillic left in an English translation; Latin-only text in a Russian one (warnings)."""
    if e.msgstr == e.msgid:
        return
    prose = _words_prose(e.msgstr, e.comments, e.references)
    if e.target_lang == "en" and _CYR.search(prose):
        words = [w for w in markup.CYRILLIC_WORD.findall(prose) if w.lower() not in e.glossary.words]
        if words:
            yield Finding(WARNING, "cyrillic-in-en",
                          f"Cyrillic text left in the English translation: {_short(' '.join(words[:6]), 50)!r}",
                          "translate the remaining Russian words")
    elif e.target_lang == "ru" and not _CYR.search(prose):
        allowed = e.glossary.words
        words = [w for w in _LAT_WORD.findall(prose)
                 if w.lower() not in allowed and not w.isupper() and len(w) > 1]
        src_cyr = _CYR.search(_prose(e, e.msgid)) is not None
        if len(words) >= 3 and not src_cyr:
            yield Finding(WARNING, "latin-in-ru",
                          f"the Russian translation has no Russian words: {_short(' '.join(words[:6]), 50)!r}",
                          "translate the text (names, code and glossary terms may stay in Latin)")


def check_identical(e: Entry) -> Iterator[Finding]:
    """A translation identical to its source although the source is not in the target's script (warning).

    Into English: the source has Cyrillic words (beyond glossary terms). Into Russian: the source has
    at least ``LONG_WORDS`` Latin words beyond glossary terms and all-caps abbreviations. Identical text
    already in the target's script (a citation, a name) is fine.
    """
    if e.msgstr != e.msgid:
        return
    words = [w for w in _WORDS.findall(_prose(e, e.msgid)) if w.lower() not in e.glossary.words]
    if e.target_lang == "en":
        flagged = any(_CYR.search(w) for w in words)
    elif e.target_lang == "ru":
        latin = [w for w in words if not _CYR.search(w) and not w.isupper()]
        flagged = len(latin) >= LONG_WORDS and not any(_CYR.search(w) for w in words)
    else:
        flagged = len(words) >= LONG_WORDS
    if flagged:
        code = "untranslated-footnote" if e.what.startswith("footnote") else "identical-to-source"
        yield Finding(WARNING, code, "the translation is identical to the source text",
                      "translate it (or leave the msgstr empty until it is translated)")


def check_whitespace(e: Entry) -> Iterator[Finding]:
    """Leading/trailing whitespace, end punctuation and doubled spaces differing from the source."""
    if e.msgid[:1].isspace() != e.msgstr[:1].isspace() or e.msgid[-1:].isspace() != e.msgstr[-1:].isspace():
        yield Finding(WARNING, "whitespace-mismatch",
                      "leading or trailing whitespace differs from the source",
                      "start and end the msgstr like the msgid does")
    a, b = e.msgid.rstrip(_END_TRIM), e.msgstr.rstrip(_END_TRIM)
    ea, eb = _END.search(a), _END.search(b)
    if bool(ea) != bool(eb) or (ea and eb and (ea.group() in ":;") != (eb.group() in ":;")):
        yield Finding(WARNING, "end-punctuation",
                      f"ends with {eb.group() if eb else 'no punctuation'!r} but the source with "
                      f"{ea.group() if ea else 'no punctuation'!r}",
                      "end the translation with punctuation like the source's")
    if ("  " in _prose(e, e.msgstr).strip() and "  " not in _prose(e, e.msgid).strip()
            and _doubled_space(e.msgstr, e.comments)):
        yield Finding(WARNING, "double-space", "the translation contains doubled spaces",
                      "replace the doubled spaces with single ones")


def _doubled_space(text: str, comments: bool) -> bool:
    """Whether ``text`` has doubled spaces outside its protected elements (an element between two spaces, a URL or
    a wikilink in ``see [[x]] here``, is not a doubled space although the prose without it has one)."""
    parts, pos = [], 0
    for el in markup.scan(text, comments=comments):
        parts.append(text[pos:el.start])
        parts.append("\0")
        pos = el.end
    parts.append(text[pos:])
    return "  " in "".join(parts).strip()


def check_footnote(e: Entry) -> Iterator[Finding]:
    """Inline footnote text ``^[…]`` copied unchanged into the translation (warning)."""
    if e.msgstr == e.msgid or "^[" not in e.msgid:
        return
    for m in re.finditer(r"\^\[([^\]]{12,})\]", e.msgid):
        body = m.group(1)
        if body in e.msgstr and _WORDS.search(body):
            yield Finding(WARNING, "untranslated-footnote", f"footnote text {_short(body, 40)!r} is untranslated",
                          "translate the footnote text too")


# -- glossary -------------------------------------------------------------------------------------

def check_glossary(e: Entry) -> Iterator[Finding]:
    """A required term translation missing; a do-not-translate term lost (warnings)."""
    g = e.glossary
    if e.msgstr == e.msgid or (not g.pairs and not g.keep):
        return
    where = g.path.name if g.path else "glossary"
    source, target = _prose(e, e.msgid), _prose(e, e.msgstr)
    for term in g.required_terms(e.source_lang, e.target_lang, source):
        if not g.has(term, e.target_lang, target):
            yield Finding(WARNING, "glossary-term",
                          f"the source has {term.term(e.source_lang)!r} but the translation lacks "
                          f"{term.term(e.target_lang)!r}",
                          f"use the glossary translation ({where}:{term.line})")
    for word in g.kept(source):
        if word not in target:
            yield Finding(WARNING, "glossary-keep", f"do-not-translate term {word!r} is missing",
                          f"keep {word!r} as written in the source ({where})")


#: Checks run on every translated entry, in order.
ENTRY_CHECKS: tuple[Check, ...] = (check_markup, check_active_content, check_emphasis, check_block_structure,
                                   check_script, check_identical, check_whitespace, check_footnote,
                                   check_glossary)


#: The checks that can find something in a translation identical to its source (the others compare
#: the two texts, so they cannot).
IDENTITY_CHECKS: tuple[Check, ...] = (check_identical,)


def findings(e: Entry, checks: Sequence[Check] = ENTRY_CHECKS) -> list[Finding]:
    """Everything ``checks`` say about ``e``."""
    if e.msgstr == e.msgid:
        checks = [c for c in checks if c in IDENTITY_CHECKS]
    return [f for c in checks for f in c(e)]


def entry_findings(msgid: str, msgstr: str, po_comments: Sequence[str], segment: Segment | None, note_lang: str,
                   lang: str, g: glossary.Glossary, *, comments: bool = True,
                   references: frozenset[str] = frozenset()) -> list[Finding]:
    """What ``check`` says about one translated catalog entry (``po_comments``: its ``#.`` lines).

    ``check`` calls this for every entry; the review page calls it as the reviewer types.
    """
    kind = next((c.split(" · ", 1)[0] for c in po_comments if c.startswith("footnote")), "")
    return findings(Entry(msgid, msgstr, segment, note_lang, lang, g, comments, kind, references))


#: The checks whose findings keep a translation out of a built note (besides changed markup).
BLOCKING_CHECKS: tuple[Check, ...] = (check_active_content, check_emphasis)

#: The entry checks :func:`blocking` does not run (it compares the markup itself): their errors are the
#: rest of what fails ``build --strict``.
STRICT_ONLY_CHECKS: tuple[Check, ...] = tuple(c for c in ENTRY_CHECKS if c not in (check_markup, *BLOCKING_CHECKS))


_MENTION = re.compile(r"«[^»\n]*»|“[^”\n]*”|\"[^\"\n]*\"|\([^()\n]*\)|(\*{1,2}|_{1,2})[^*_\n]+\1")


def left_over_cyrillic(msgid: str, msgstr: str, *, comments: bool = True,
                       references: frozenset[str] = frozenset()) -> list[str]:
    """Russian words of ``msgid`` left in an English ``msgstr`` that differs from it (half-done work).

    Only words of four or more letters that occur in the source count (short ones such as «или», «тут»
    are often palindromes of a word-reversing pseudo-translation). They count when at least a third of
    the translation's letters are Latin (a partly translated text), or when they are at least half of
    its long Cyrillic words (the source pasted and edited); a text that is all Cyrillic but not copied
    from the source (a pseudo-translation) is not reported.
    """
    if msgstr == msgid:
        return []
    prose = _words_prose(msgstr, comments, references)
    # Words quoted, emphasised or in parentheses are mentions ("the term «предобучение»"), not leftovers.
    cyr = markup.CYRILLIC_WORD.findall(_MENTION.sub(" ", prose))
    if not cyr:
        return []
    source = {w.lower() for w in markup.CYRILLIC_WORD.findall(_words_prose(msgid, comments, references))}
    long = [w for w in cyr if len(w) >= 4]
    left = [w for w in long if w.lower() in source]
    if not left:
        return []
    latin = sum(len(w) for w in _LAT_WORD.findall(prose))
    if latin * 3 >= latin + sum(len(w) for w in cyr) or len(left) * 2 >= len(long):
        return left
    return []


def blocking(segment: Segment, msgstr: str, source_lang: str, target_lang: str, *,
             comments: bool = True, references: frozenset[str] = frozenset()) -> list[str]:
    """Why ``build`` must not use ``msgstr`` for ``segment`` (empty when it may).

    Changed markup (:func:`kbtrans.markup.structure_diff`), added scripts or raw HTML, unbalanced
    emphasis and Russian words left in an English translation (:func:`left_over_cyrillic`) keep a
    translation out of the build. (A line
    that would start a heading or list is escaped by :func:`kbtrans.splice.fit` instead.)
    """
    out = markup.structure_diff(segment.text, msgstr, comments=comments, references=references)
    e = Entry(segment.text, msgstr, segment, source_lang, target_lang, glossary.Glossary(), comments,
              references=references)
    for c in BLOCKING_CHECKS:
        out.extend(f.message for f in c(e) if f.severity == ERROR)
    if target_lang == "en":
        left = left_over_cyrillic(segment.text, msgstr, comments=comments, references=references)
        if left:
            out.append(f"Russian words left in the English translation: {_short(' '.join(left[:6]), 50)!r}")
    return out


def github_escape(value: str, *, prop: bool = False) -> str:
    """Escape ``value`` for a GitHub Actions workflow command (``::error file=…::message``)."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def github_annotation(severity: str, path: str, line: int | None, message: str, title: str = "") -> str:
    """One GitHub Actions annotation line."""
    props = [f"file={github_escape(path, prop=True)}"]
    if line:
        props.append(f"line={line}")
    if title:
        props.append(f"title={github_escape(title, prop=True)}")
    return f"::{severity} {','.join(props)}::{github_escape(message)}"


def annotation(issue: Issue) -> str:
    """``issue`` as a GitHub Actions annotation."""
    return github_annotation(issue.severity, issue.path, issue.line, f"{issue.message}. Fix: {issue.hint}",
                             f"kbtrans {issue.code}")


# -- catalogs -------------------------------------------------------------------------------------

#: The code of an entry whose machine translation fell back to the source text (a warning; an error with strict).
FALLBACK = "mt-fallback"
FALLBACK_MESSAGE = ("machine translation kept the source text (the model's output was unusable): "
                    "the entry is untranslated")
FALLBACK_HINT = ("translate it by hand (write the msgstr and remove the fuzzy flag), or run `kbtrans translate` "
                 "again (it retries these entries)")


def _excerpt(text: str) -> str:
    return _short(text, 50)


@dataclass(frozen=True)
class _NoteResult:
    by_lang: dict[str, tuple[list[Issue], int, int]]
    """Per language: (issues, catalogs examined, translated entries examined)."""


class _Lazy:
    """A note segmented only when needed (a fresh catalog without translations to check needs none)."""

    def __init__(self, cfg: Config, rel: str) -> None:
        self.cfg, self.rel = cfg, rel
        self.note: Note | None = None

    def __call__(self) -> Note:
        if self.note is None:
            self.note = project.load_note(self.cfg, self.rel)
        return self.note


def _check_catalog(cfg: Config, rel: str, note_lang: str, get_note: Callable[[], Note], lang: str,
                   g: glossary.Glossary, fresh: bool) -> tuple[list[Issue], int]:
    path = catalog.catalog_path(cfg.locales_dir, lang, rel[:-3])
    name = cfg.display(path)
    ref = project.source_ref(cfg, rel)
    issues: list[Issue] = []
    if not path.exists():
        if get_note().entries:
            issues.append(Issue(ERROR, "catalog-missing", name, None, "", f"no {lang} catalog for {ref}",
                                "run `kbtrans extract`"))
        return issues, 0
    try:
        differs = None if fresh else catalog.difference(path, get_note(), source_ref=ref)
        messages = catalog.read(path)
    except CatalogError as exc:
        msg = str(exc)
        prefix = f"{exc.path}:{exc.line}: " if exc.line is not None else f"{exc.path}: "
        issues.append(Issue(ERROR, "po-syntax", name, exc.line, "", msg.removeprefix(prefix),
                            "fix the PO syntax by hand (or restore the file), then run `kbtrans extract`"))
        return issues, 0
    if differs is not None and differs.empty:
        issues.append(Issue(ERROR, "catalog-empty", name, None, "", differs.message,
                            "restore the file from version control (`git checkout -- FILE`), or run `kbtrans "
                            "extract` to start it again untranslated"))
    elif differs is not None:
        issues.append(Issue(ERROR, "catalog-stale", name, None, "", f"out of date with {ref}: {differs.message}",
                            "run `kbtrans extract` and review the new and fuzzy entries"))
    todo = [m for m in messages if not m.obsolete and not m.unattached and m.msgstr]
    if not todo:
        return issues, 0
    segs: dict[str, Segment] = {}
    refs: frozenset[str] = frozenset()
    if any(m.msgstr != m.msgid for m in todo):
        note = get_note()
        refs = note.references
        for seg in note.entries:
            segs.setdefault(seg.text, seg)
    comments = not cfg.translate_comments
    for m in todo:
        if m.fallback:  # not a translation: the checks of one would only repeat "identical to the source"
            issues.append(Issue(WARNING, FALLBACK, name, m.line, _excerpt(m.msgid), FALLBACK_MESSAGE, FALLBACK_HINT))
            continue
        found = entry_findings(m.msgid, m.msgstr, m.comments, segs.get(m.msgid), note_lang, lang, g,
                               comments=comments, references=refs)
        issues.extend(Issue(f.severity, f.code, name, m.line, _excerpt(m.msgid), f.message, f.hint)
                      for f in found)
    return issues, len(todo)


def _one(cfg: Config, langs: tuple[str, ...], g: glossary.Glossary,
         job: tuple[str, frozenset[str], str | None]) -> _NoteResult | KbtransError:
    rel, fresh, known_lang = job
    get_note = _Lazy(cfg, rel)
    try:
        note_lang = known_lang if known_lang in cfg.languages else get_note().lang
        assert note_lang is not None
        by_lang: dict[str, tuple[list[Issue], int, int]] = {}
        for lang in langs:
            if lang == note_lang:
                own = catalog.catalog_path(cfg.locales_dir, lang, rel[:-3])
                by_lang[lang] = ([Issue(ERROR, "catalog-orphan", cfg.display(own), None, "",
                                        f"catalog in the note's own language ({lang}): it is never used",
                                        "delete it (the note is written in this language)")]
                                 if own.exists() else [], 0, 0)
                continue
            found, n = _check_catalog(cfg, rel, note_lang, get_note, lang, g, lang in fresh)
            by_lang[lang] = (found, 1, n)
    except KbtransError as exc:
        return exc
    return _NoteResult(by_lang)


def check_catalog(cfg: Config, rel: str, lang: str, g: glossary.Glossary) -> list[Issue]:
    """What :func:`check` finds in the ``lang`` catalog of note ``rel`` (the same functions, one catalog; nothing
    cached is read or written). The review page counts a catalog that changed since it last looked with it."""
    r = _one(cfg, (lang,), g, (rel, frozenset(), None))
    if isinstance(r, KbtransError):
        raise r
    return r.by_lang[lang][0]


def _check_notes(cfg: Config, inv: project.Inventory, langs: tuple[str, ...], g: glossary.Glossary,
                 jobs: int | None, store: state.CheckState, issues: _Sink) -> tuple[int, int]:
    """Check every note's catalogs (reusing what ``store`` holds for unchanged ones) into ``issues``;
    return (catalogs, entries) examined."""
    from kbtrans.extract import recorded, recorded_language

    # (a large KB's workers start before the last run's records are read: see parallel.early_pool)
    with parallel.early_pool(len(inv.notes), jobs) as pool:
        previous = store.stamps()
        seen = recorded(cfg)
        content, locales = str(cfg.content_dir), str(cfg.locales_dir)
        work: list[tuple[str, frozenset[str], str | None]] = []
        stamps: dict[str, str] = {}
        catalogs = entries = 0
        for rel in inv.notes:
            note_stamp = state.stamp(f"{content}/{rel}")
            po = {lang: state.stamp(catalog.catalog_file(locales, lang, rel[:-3])) for lang in langs}
            here = {f"{lang}/{rel}": f"{note_stamp} {po[lang]}" for lang in langs}
            # Rows are read one by one, and only where the stamp says they still hold.
            rows = [store.get(key) if previous.get(key) == stamp else None for key, stamp in here.items()]
            found = [_reuse(row, stamp) for row, stamp in zip(rows, here.values(), strict=True)]
            if all(f is not None for f in found):
                for lang, f, row in zip(langs, found, rows, strict=True):
                    assert f is not None and row is not None
                    issues.add(("reused", lang), f)
                    catalogs += row.catalogs
                    entries += row.entries
                continue
            # Catalogs exactly as the last extract left them (with the note): not stale, no merge needed.
            known = seen.get(rel)
            fresh = frozenset(lang for lang in langs if known is not None and known.stamp == note_stamp
                              and po[lang] and known.catalogs.get(lang) == po[lang])
            work.append((rel, fresh, recorded_language(known, note_stamp)))
            stamps.update(here)
        notes = set(inv.notes)
        gone = [key for key in previous if key.split("/", 1)[1] not in notes]
        # Workers that start below (a smaller KB) count what the parent holds then once more.
        del previous, seen, notes
        # Results are taken as they come and recorded in batches: the parent holds a bounded part of them.
        results = parallel.pmap(partial(_one, cfg, langs, g), work, jobs=jobs, pool=pool)
        changed: dict[str, state.Checked] = {}
        for (rel, _, _), r in zip(work, results, strict=True):
            if isinstance(r, KbtransError):
                raise r
            if len(changed) >= _SAVE_BATCH:
                store.save(changed)
                changed = {}
            for lang, (found_here, c, e) in r.by_lang.items():
                issues.add(("checked", lang), found_here)
                catalogs += c
                entries += e
                key = f"{lang}/{rel}"
                changed[key] = state.Checked(stamps[key], json.dumps([_fields(i) for i in found_here],
                                                                     ensure_ascii=False), c, e)
        store.save(changed, gone)
        return catalogs, entries


#: Rows of the check state written per transaction.
_SAVE_BATCH = 512


def _reuse(row: state.Checked | None, stamp: str) -> list[Issue] | None:
    """The issues recorded in ``row`` if it is for ``stamp`` and readable, else None (check again)."""
    if row is None or row.stamp != stamp:
        return None
    try:
        data = json.loads(row.issues)
    except ValueError:
        return None
    if not (isinstance(data, list) and all(_issue_fields_ok(f) for f in data)):
        return None
    return [Issue(*fields) for fields in data]


def _fields(i: Issue) -> tuple[str, str, str, int | None, str, str, str]:
    return i.severity, i.code, i.path, i.line, i.msgid, i.message, i.hint


def _issue_fields_ok(fields: object) -> bool:
    return (isinstance(fields, list) and len(fields) == 7 and all(isinstance(f, str) for f in fields[:3])
            and (fields[3] is None or isinstance(fields[3], int)) and all(isinstance(f, str) for f in fields[4:]))


def _order(i: Issue) -> tuple[str, int, bool, str]:
    return i.path, i.line or 0, i.severity != ERROR, i.code


#: Issues a check keeps in memory; beyond them they wait in a temporary file until they are written.
MEMORY_ISSUES = 150_000


class _Sink:
    """The issues found, in streams whose groups (one catalog's issues each) arrive in path order.

    Up to :data:`MEMORY_ISSUES` stay in memory, the rest are pickled to an anonymous temporary file;
    :meth:`issues` merges the streams into the order of ``sorted(issues, key=_order)``.
    """

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.errors = self.warnings = self.kept = 0
        self._memory: dict[object, list[list[Issue]]] = {}
        self._spilled: dict[object, list[tuple[int, int]]] = {}
        self._file: IO[bytes] | None = None

    def add(self, stream: object, group: list[Issue]) -> None:
        if not group:
            return
        if self.strict:  # applied after the cache, which holds what check finds either way
            group = [dataclasses.replace(i, severity=ERROR) if i.code.startswith("glossary-") or i.code == FALLBACK
                     else i for i in group]
        group = sorted(group, key=_order)
        errors = sum(i.severity == ERROR for i in group)
        self.errors += errors
        self.warnings += len(group) - errors
        if stream not in self._spilled and self.kept + len(group) <= MEMORY_ISSUES:
            self._memory.setdefault(stream, []).append(group)
            self.kept += len(group)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="kbtrans-check-")  # noqa: SIM115 (closed by close)
        data = pickle.dumps([_fields(i) for i in group], pickle.HIGHEST_PROTOCOL)
        self._spilled.setdefault(stream, []).append((self._file.seek(0, os.SEEK_END), len(data)))
        self._file.write(data)

    def _stream(self, key: object) -> Iterator[Issue]:
        for group in self._memory.get(key, []):
            yield from group
        for offset, size in self._spilled.get(key, []):
            assert self._file is not None
            self._file.seek(offset)
            for fields in pickle.loads(self._file.read(size)):
                yield Issue(*fields)

    def issues(self) -> Iterator[Issue]:
        """Every issue, sorted by file and line; read once."""
        keys = list(dict.fromkeys([*self._memory, *self._spilled]))
        try:
            yield from heapq.merge(*(self._stream(k) for k in keys), key=_order)
        finally:
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class CheckStream:
    """What ``check`` found, its issues to be read once (:func:`check_stream`)."""

    issues: Iterator[Issue]
    """Every problem, sorted by file and line (as :attr:`CheckReport.issues`), read as it is written."""
    errors: int
    """Issues of severity error."""
    warnings: int
    """Issues of severity warning."""
    catalogs: int = 0
    """Catalogs examined."""
    entries: int = 0
    """Translated (non-obsolete) entries examined."""
    notes: int = 0
    """Notes in the knowledge base."""


def check(cfg: Config, languages: Sequence[str] = (), *, strict: bool = False,
          jobs: int | None = None) -> CheckReport:
    """Check every catalog of ``cfg``'s knowledge base (only ``languages`` when given).

    ``strict`` turns glossary warnings into errors. A note that cannot be read raises; a catalog that
    cannot be parsed is reported as an issue (with its line) so the rest is still checked.
    """
    found = check_stream(cfg, languages, strict=strict, jobs=jobs)
    return CheckReport(tuple(sorted(found.issues, key=_order)), found.catalogs, found.entries, found.notes)


def check_stream(cfg: Config, languages: Sequence[str] = (), *, strict: bool = False,
                 jobs: int | None = None) -> CheckStream:
    """:func:`check`, with the issues as an iterator: a KB's findings are not all held in memory."""
    langs = cfg.select_languages(languages)
    issues = _Sink(strict)
    try:
        g = glossary.load(cfg)
    except GlossaryError as exc:
        g = glossary.Glossary()
        where = cfg.display(Path(exc.path)) if exc.path else "glossary.csv"
        prefix = f"{exc.path}:{exc.line}: " if exc.line is not None else f"{exc.path}: "
        issues.add("glossary", [Issue(ERROR, "glossary-invalid", where, exc.line, "", str(exc).removeprefix(prefix),
                                      "fix the glossary file")])
    inv = project.inventory(cfg)
    # What an earlier check found in a catalog stands while the note, the catalog, the glossary and the
    # settings are the same (a re-run, a pre-commit hook or `build --strict` re-checks only what changed).
    settings = (cfg.settings(), [state.stamp(cfg.root / n) for n in glossary.NAMES])
    try:
        with state.CheckState(cfg.cache_dir, settings) as store:
            catalogs, entries = _check_notes(cfg, inv, langs, g, jobs, store, issues)
        stems = {rel[:-3] for rel in inv.notes}
        for lang in langs:  # one group per language (sorted by add)
            issues.add(("orphans", lang), [Issue(
                ERROR, "catalog-orphan", cfg.display(orphan), None, "",
                "catalog without a note (the note was deleted or renamed)",
                "delete the catalog, or run `kbtrans extract` if the note was renamed")
                for orphan in catalog.orphan_catalogs(cfg.locales_dir, lang, stems)])
    except BaseException:
        issues.close()
        raise
    return CheckStream(issues.issues(), issues.errors, issues.warnings, catalogs, entries, len(inv.notes))
