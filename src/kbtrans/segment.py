"""Split a note into segments: the translatable units and exactly where each sits in the source.

markdown-it-py (with the front_matter, footnote, dollarmath and tasklists plugins, GFM tables and
strikethrough) finds the blocks. Its block rules are wrapped so that, for every paragraph, heading and
table, the column where each line's text starts after its container prefixes (``> ``, list indentation,
the ``[^1]:`` marker) is recorded. A segment's text is then sliced from the source itself, so a build
that puts every msgid back reproduces the note byte for byte. Obsidian constructs without a plugin
(callouts, block ids, ``%%comments%%``, task checkboxes, front-matter values) are handled here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from kbtrans import markup
from kbtrans.model import Note, Segment, Source, Span

_RECORDED = ("paragraph_open", "heading_open", "table_open")
_TASK = re.compile(r"\[[^\]\n]\][ \t]+")
_CALLOUT = re.compile(r"\[!([\w-]+)\]([+-]?)(?:[ \t]+(.*?))?[ \t]*$")
_BLOCK_ID = re.compile(r"(?:^|[ \t])\^[A-Za-z0-9-]+[ \t]*$")
_CYRILLIC_LETTERS = re.compile("[\u0400-\u04ff]+")
_LATIN_LETTERS = re.compile("[A-Za-z]+")


def _recording(fn: Callable[..., bool]) -> Callable[..., bool]:
    def rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        first = len(state.tokens)
        ok = fn(state, start_line, end_line, silent)
        if ok and not silent:
            for tok in state.tokens[first:]:
                if tok.type in _RECORDED and tok.map:
                    s, e = tok.map
                    tok.meta["kb"] = [(state.bMarks[i] + state.tShift[i], state.eMarks[i]) for i in range(s, e)]
        return ok

    return rule


def _recording_reference(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Reference definitions make no token: remember where each one's last line starts and ends."""

    def rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        ok = fn(state, start_line, end_line, silent)
        if ok and not silent:
            last = state.line - 1
            state.env.setdefault("kb_refs", []).append(
                (last, state.bMarks[last] + state.tShift[last], state.eMarks[last]))
        return ok

    return rule


_REF_TITLE = re.compile(r"""[ \t]("([^"\\]*(?:\\.[^"\\]*)*)"|'([^'\\]*(?:\\.[^'\\]*)*)'"""
                        r"""|\(([^()\\]*(?:\\.[^()\\]*)*)\))[ \t]*$""")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


#: Block nesting markdown-it follows (its default, 20, silently drops everything after a deeper list or quote).
MAX_NESTING = 1000


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    """The Markdown parser kbtrans segments with (shared, configured once)."""
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
    md.use(front_matter_plugin).use(footnote_plugin).use(tasklists_plugin)
    # Obsidian's (and Pandoc's) rule: no space inside the dollars, no digit right after the closing one.
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    for name in ("paragraph", "heading", "lheading", "table"):
        rule = md.block.ruler.__rules__[md.block.ruler.__find__(name)]
        md.block.ruler.at(name, _recording(rule.fn), {"alt": list(rule.alt)})
    ref = md.block.ruler.__rules__[md.block.ruler.__find__("reference")]
    md.block.ruler.at("reference", _recording_reference(ref.fn), {"alt": list(ref.alt)})
    # Segments are sliced from the source, so only block parsing is needed: no inline parse
    # (the slowest half), and no footnote tail (which would drop unreferenced definitions).
    md.core.ruler.enableOnly(["normalize", "block"])
    return md


@dataclass
class _Container:
    kind: str
    label: str = ""
    paragraphs: int = 0
    callout: str = ""


@dataclass
class _Walker:
    source: Source
    offsets: list[int]
    front_matter_keys: frozenset[str]
    comments: bool
    segments: list[Segment] = field(default_factory=list)
    stack: list[_Container] = field(default_factory=list)
    section: str = ""
    headings: list[tuple[int, str]] = field(default_factory=list)
    """The open headings above the current block: (level, text), outermost first."""
    lang_span: Span | None = None
    lang_value: str = ""

    # -- helpers -------------------------------------------------------------------------------
    def spans_of(self, marks: list[tuple[int, int]], first_line: int) -> list[Span]:
        spans = []
        for i, (start, end) in enumerate(marks):
            line = first_line + i
            base = self.offsets[line]
            spans.append(Span(line, start - base, end - base))
        return spans

    def text_of(self, spans: Iterable[Span]) -> str:
        return "\n".join(self.source.lines[s.line][s.start:s.end] for s in spans)

    def add(self, spans: list[Span], kind: str, *, single_line: bool = False, quote: str = "",
            text: str | None = None) -> None:
        spans = _trim(self.source, spans)
        if not spans:
            return
        # Obsidian block ids ("^abc" at the end) are never translated: leave them outside the span.
        last = spans[-1]
        tail = self.source.lines[last.line][last.start:last.end]
        m = _BLOCK_ID.search(tail) if "^" in tail else None
        if m:
            spans[-1] = Span(last.line, last.start, last.start + m.start())
            spans = _trim(self.source, spans)
            if not spans:
                return
        if text is None:
            text = self.text_of(spans)
        translatable = markup.has_translatable_text(text, comments=self.comments)
        self.segments.append(
            Segment(text, kind, self.section, tuple(spans), single_line, translatable, quote)
        )

    def container_kind(self) -> tuple[str, _Container | None]:
        for c in reversed(self.stack):
            if c.kind == "footnote":
                c.paragraphs += 1
                suffix = f", paragraph {c.paragraphs}" if c.paragraphs > 1 else ""
                return f"footnote [^{c.label}]{suffix}", c
            if c.kind == "item":
                return "list item", c
            if c.kind == "quote":
                return (f"callout ({c.callout})" if c.callout else "block quote"), c
        return "paragraph", None

    # -- block handlers ------------------------------------------------------------------------
    def paragraph(self, tok: Token) -> None:
        assert tok.map is not None
        spans = self.spans_of(tok.meta["kb"], tok.map[0])
        kind, container = self.container_kind()
        if container is not None and container.kind == "item" and container.paragraphs == 0:
            container.paragraphs = 1
            first = spans[0]
            m = _TASK.match(self.source.lines[first.line], first.start, first.end)
            if m:
                spans[0] = Span(first.line, m.end(), first.end)
        if container is not None and container.kind == "quote" and container.paragraphs == 0:
            container.paragraphs = 1
            first = spans[0]
            m = _CALLOUT.match(self.source.lines[first.line], first.start, first.end)
            if m:
                container.callout = m.group(1).lower()
                kind = f"callout ({container.callout})"
                if m.group(3):
                    self.add([Span(first.line, m.start(3), m.end(3))], f"callout title ({container.callout})",
                             single_line=True)
                spans = spans[1:]
        self.add(spans, kind)

    def heading(self, tok: Token, inline: Token) -> None:
        assert tok.map is not None
        level = tok.tag
        depth = int(level[1:])
        while self.headings and self.headings[-1][0] >= depth:
            self.headings.pop()
        # A heading's context is its parent heading; the blocks under it get the heading itself.
        self.section = self.headings[-1][1] if self.headings else ""
        spans = self.spans_of(tok.meta["kb"], tok.map[0])
        if tok.markup in ("=", "-"):  # setext: the last line is the underline
            self.add(spans[:-1], f"heading {level}")
        else:
            first = spans[0]
            line = self.source.lines[first.line]
            pos = first.start
            while pos < first.end and line[pos] == "#":
                pos += 1
            content = inline.content
            if not content:
                return
            col = line.find(content, pos, first.end)
            if col < 0:  # cannot happen: markdown-it slices the content from this line
                return
            self.add([Span(first.line, col, col + len(content))], f"heading {level}", single_line=True)
        last = self.segments[-1] if self.segments else None
        if last is not None and last.kind == f"heading {level}" and last.spans[0].line >= tok.map[0]:
            self.section = self.segments[-1].text
            self.headings.append((depth, self.section))

    def table_row(self, tok: Token, table_marks: dict[int, tuple[int, int]], header: bool) -> list[Span]:
        assert tok.map is not None
        line = tok.map[0]
        start, end = table_marks[line]
        base = self.offsets[line]
        text = self.source.lines[line]
        cells: list[Span] = []
        col = start - base
        stop = end - base
        # Split like markdown-it's escapedSplit: on every "|" not preceded by a backslash.
        bounds = [col - 1]
        for i in range(col, stop):
            if text[i] == "|" and (i == col or text[i - 1] != "\\"):
                bounds.append(i)
        bounds.append(stop)
        pieces = [(bounds[k] + 1, bounds[k + 1]) for k in range(len(bounds) - 1)]
        if pieces and not text[pieces[0][0]:pieces[0][1]].strip() and pieces[0][1] == col:
            pieces.pop(0)
        if pieces and pieces[-1][0] == stop:
            pieces.pop()
        for s, e in pieces:
            cells.append(Span(line, s, e))
        return cells

    def front_matter(self, tok: Token) -> None:
        assert tok.map is not None
        lines = self.source.lines
        close = tok.map[1] - 1
        i = 1
        while i < close:
            m = _FM_KEY.match(lines[i])
            if not m:
                i += 1
                continue
            key = m.group(1)
            vstart = m.end()
            value = lines[i][vstart:].rstrip()
            if key == "lang":
                sp = _scalar_span(lines[i], vstart)
                if sp is not None:
                    self.lang_span = Span(i, sp[0], sp[1])
                    self.lang_value = lines[i][sp[0]:sp[1]]
            if key not in self.front_matter_keys:
                i += 1
                continue
            kind = f"front matter: {key}"
            if not value or value.startswith("#"):
                j = i + 1
                while j < close:
                    item = _FM_ITEM.match(lines[j])
                    if item is None:
                        if lines[j].strip() == "" or lines[j].lstrip().startswith("#"):
                            j += 1
                            continue
                        break
                    self._fm_scalar(j, item.end(), kind)
                    j += 1
                i = j
                continue
            if value[0] in "|>":
                j = i + 1
                spans = []
                while j < close and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                    if lines[j].strip():
                        indent = len(lines[j]) - len(lines[j].lstrip())
                        spans.append(Span(j, indent, len(lines[j].rstrip())))
                    j += 1
                if spans and all(s.line == spans[0].line + k for k, s in enumerate(spans)):
                    self.add(spans, kind)
                i = j
                continue
            if value[0] == "[" and value.endswith("]"):
                rest = lines[i][vstart:]
                for s, e, q in _flow_items(lines[i], vstart + len(rest) - len(rest.lstrip())):
                    self._fm_add(i, s, e, q, kind)
                i += 1
                continue
            self._fm_scalar(i, vstart, kind)
            i += 1

    def _fm_scalar(self, line: int, start: int, kind: str) -> None:
        text = self.source.lines[line]
        sp = _scalar_span(text, start)
        if sp is None:
            return
        s, e = sp
        q = text[s - 1] if s > 0 and text[s - 1] in "\"'" and e < len(text) and text[e] == text[s - 1] else ""
        self._fm_add(line, s, e, q, kind)

    def _fm_add(self, line: int, s: int, e: int, quote: str, kind: str) -> None:
        raw = self.source.lines[line][s:e]
        text = yaml_unquote(raw, quote)
        self.add([Span(line, s, e)], kind, single_line=True, quote=quote, text=text)


_FM_KEY = re.compile(r"([A-Za-z_][\w\-. ]*?)[ \t]*:(?:[ \t]+|$)")
_FM_ITEM = re.compile(r"[ \t]*-[ \t]+")


def _scalar_span(line: str, start: int) -> tuple[int, int] | None:
    """Columns of a YAML scalar's content starting at ``start`` (inside quotes if quoted)."""
    rest = line[start:]
    stripped = rest.lstrip()
    if not stripped:
        return None
    s = start + len(rest) - len(stripped)
    if stripped[0] in "\"'":
        q = stripped[0]
        i = 1
        while i < len(stripped):
            if q == '"' and stripped[i] == "\\":
                i += 2
                continue
            if stripped[i] == q:
                if q == "'" and i + 1 < len(stripped) and stripped[i + 1] == "'":
                    i += 2
                    continue
                return (s + 1, s + i)
            i += 1
        return None
    if stripped[0] in "[{|>&*!%@`#":
        return None
    m = re.search(r"[ \t]+#", stripped)
    end = s + (m.start() if m else len(stripped.rstrip()))
    return (s, end)


def _flow_items(line: str, open_col: int) -> list[tuple[int, int, str]]:
    """Items of a one-line YAML flow sequence ``[a, "b", 'c']`` as (start, end, quote)."""
    items = []
    i = open_col + 1
    n = len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] == "]":
            break
        if line[i] in "\"'":
            q = line[i]
            j = i + 1
            while j < n and line[j] != q:
                j += 2 if (q == '"' and line[j] == "\\") else 1
            items.append((i + 1, j, q))
            i = j + 1
        else:
            j = i
            while j < n and line[j] not in ",]":
                j += 1
            e = j
            while e > i and line[e - 1] in " \t":
                e -= 1
            items.append((i, e, ""))
            i = j
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] == ",":
            i += 1
    return items


def language_tag(value: str, languages: Iterable[str]) -> str:
    """A ``lang:`` value as a configured language: ``EN``, ``en_US`` and ``en-GB`` are ``en`` when the
    knowledge base has ``en`` (and not the full tag); anything else is kept, lower-cased."""
    tag = value.strip().lower().replace("_", "-")
    known = set(languages)
    if tag in known:
        return tag
    primary = tag.split("-", 1)[0]
    return primary if primary in known else tag


def yaml_unquote(raw: str, quote: str) -> str:
    if quote == "'":
        return raw.replace("''", "'")
    if quote == '"':
        return raw.replace('\\"', '"').replace("\\\\", "\\")
    return raw


def _trim(source: Source, spans: list[Span]) -> list[Span]:
    """Drop blank lines at both ends and trailing whitespace of the last line."""
    while spans and not source.lines[spans[-1].line][spans[-1].start:spans[-1].end].strip():
        spans = spans[:-1]
    while spans and not source.lines[spans[0].line][spans[0].start:spans[0].end].strip():
        spans = spans[1:]
    if not spans:
        return spans
    first = spans[0]
    text = source.lines[first.line]
    s = first.start
    while s < first.end and text[s] in " \t":
        s += 1
    spans[0] = Span(first.line, s, first.end)
    last = spans[-1]
    text = source.lines[last.line]
    e = last.end
    while e > last.start and text[e - 1] in " \t":
        e -= 1
    spans[-1] = Span(last.line, last.start, e)
    return spans


def _reference_titles(w: _Walker, env: dict[str, Any]) -> None:
    """Titles of reference definitions (``[label]: url "Title"``) are translatable; labels and URLs are not."""
    titles = {str(ref.get("title", "")) for ref in env.get("references", {}).values()} - {""}
    for line, start, end in env.get("kb_refs", []):
        base = w.offsets[line]
        text = w.source.lines[line]
        m = _REF_TITLE.search(text, start - base, end - base)
        if m is None:
            continue
        group = 2 if m.group(2) is not None else 3 if m.group(3) is not None else 4
        if _ESCAPED.sub(r"\1", m.group(group)) not in titles or not m.group(group).strip():
            continue
        w.section = next((seg.text for seg in reversed(w.segments) if seg.is_heading and seg.spans[0].line < line),
                         "")
        w.add([Span(line, m.start(group), m.end(group))], "link title", single_line=True)


def detect_language(segments: Iterable[Segment], languages: Iterable[str], default: str) -> str:
    """The note's language from the share of Cyrillic letters in its translatable text."""
    cyr = lat = 0
    for seg in segments:
        if not seg.translatable:
            continue
        plain = markup.plain_text(seg.text)
        cyr += sum(map(len, _CYRILLIC_LETTERS.findall(plain)))
        lat += sum(map(len, _LATIN_LETTERS.findall(plain)))
    langs = list(languages)
    if cyr == 0 and lat == 0:
        return default
    pool = [x for x in langs if (x in markup.CYRILLIC_LANGUAGES) == (cyr > lat)]
    if default in pool:
        return default
    return pool[0] if len(pool) == 1 else default


def segment(path: str, source: Source, *, front_matter_keys: Iterable[str], languages: Iterable[str],
            source_language: str, translate_comments: bool = False) -> Note:
    """Segment ``source`` (the note at content-relative ``path``) into a :class:`Note`."""
    text = source.normalized
    offsets = [0] * (len(source.lines) + 1)
    pos = 0
    for i, line in enumerate(source.lines):
        offsets[i] = pos
        pos += len(line) + 1
    offsets[len(source.lines)] = pos
    env: dict[str, Any] = {}
    try:
        tokens = parser().parse(text, env)
    except RecursionError:
        from kbtrans.errors import KbtransError

        raise KbtransError(f"{path}: lists or quotes are nested too deeply to segment; "
                           "flatten the nesting and run the command again.") from None
    w = _Walker(source, offsets, frozenset(front_matter_keys), not translate_comments)
    table_marks: dict[int, tuple[int, int]] = {}
    in_header = False
    row: list[Span] = []
    cell = 0
    for i, tok in enumerate(tokens):
        t = tok.type
        if t == "front_matter":
            w.front_matter(tok)
        elif t == "blockquote_open":
            w.stack.append(_Container("quote"))
        elif t == "list_item_open":
            w.stack.append(_Container("item"))
        elif t == "footnote_reference_open":
            w.stack.append(_Container("footnote", label=str(tok.meta.get("label", ""))))
        elif t in ("blockquote_close", "list_item_close", "footnote_reference_close"):
            w.stack.pop()
        elif t == "paragraph_open":
            w.paragraph(tok)
        elif t == "heading_open":
            w.heading(tok, tokens[i + 1])
        elif t == "table_open":
            assert tok.map is not None
            table_marks = {tok.map[0] + k: mark for k, mark in enumerate(tok.meta["kb"])}
        elif t == "thead_open":
            in_header = True
        elif t == "thead_close":
            in_header = False
        elif t == "tr_open":
            row = w.table_row(tok, table_marks, in_header)
            cell = 0
        elif t in ("th_open", "td_open"):
            if cell < len(row):
                w.add([row[cell]], "table header" if in_header else "table cell", single_line=True)
            cell += 1
    _reference_titles(w, env)
    segments = tuple(sorted(w.segments, key=lambda seg: (seg.spans[0].line, seg.spans[0].start)))
    lang = language_tag(w.lang_value, languages) if w.lang_value else detect_language(segments, languages,
                                                                                     source_language)
    return Note(path, lang, source, segments, w.lang_span, frozenset(env.get("references", {})))
