"""The types that cross stages: a note's source text, its segments, and the note itself.

All are frozen dataclasses; stages pass them along and never mutate them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)  # slots: a build holds every segment in memory
class Span:
    """Where one line of a segment's text sits in the source."""

    line: int
    """0-based index of the source line."""
    start: int
    """Column (character offset in the line) where the text starts, after container prefixes."""
    end: int
    """Column just past the text; the rest of the line is kept as it is."""

    # Pickling (a build spills planned notes to disk): a plain tuple, several times faster than the
    # generated field-by-field state of a slotted dataclass.
    def __reduce__(self) -> tuple[type[Span], tuple[int, int, int]]:
        return Span, (self.line, self.start, self.end)


@dataclass(frozen=True, slots=True)  # slots: a build holds every segment in memory
class Segment:
    """One translatable unit of a note: a heading, paragraph, list item, table cell, …"""

    text: str
    """The msgid: inline Markdown as written, prefixes removed, the source's line breaks kept."""
    kind: str
    """What it is, for translators: "paragraph", "heading h2", "table cell", "front matter: title", …"""
    section: str
    """Text of the nearest heading above it ("" before the first heading)."""
    spans: tuple[Span, ...]
    """One span per line of ``text``, in order."""
    single_line: bool = False
    """True where a translation must stay on one line (ATX headings, table cells, front-matter values)."""
    translatable: bool = True
    """False for inline blocks with nothing to translate (kept so links in them are still rewritten)."""
    quote: str = ""
    """For front-matter values: the YAML quoting of the source (``''``, ``'"'``, ``"'"``)."""

    def __reduce__(self) -> tuple[type[Segment], tuple[str, str, str, tuple[Span, ...], bool, bool, str]]:
        return Segment, (self.text, self.kind, self.section, self.spans, self.single_line, self.translatable,
                         self.quote)

    @property
    def line(self) -> int:
        """1-based line number of the segment's first line."""
        return self.spans[0].line + 1

    @property
    def comment(self) -> str:
        """The ``#.`` comment: what the segment is and where."""
        return f"{self.kind} · § {self.section}" if self.section else self.kind

    @property
    def is_heading(self) -> bool:
        return self.kind.startswith("heading")


@dataclass(frozen=True)
class Source:
    """A note's text split into lines, remembering everything needed to write it back byte for byte."""

    lines: tuple[str, ...]
    """The lines without their endings."""
    endings: tuple[str, ...]
    """Each line's original ending: "\\n", "\\r\\n", "\\r" or "" (last line without newline)."""
    bom: bool = False
    """The file started with a UTF-8 byte-order mark."""

    @classmethod
    def from_text(cls, text: str) -> Source:
        bom = text.startswith("\ufeff")
        if bom:
            text = text[1:]
        lines: list[str] = []
        endings: list[str] = []
        pos = 0
        for m in _NEWLINE.finditer(text):
            lines.append(text[pos:m.start()])
            endings.append(m.group())
            pos = m.end()
        if pos < len(text) or not lines:
            lines.append(text[pos:])
            endings.append("")
        return cls(tuple(lines), tuple(endings), bom)

    @property
    def normalized(self) -> str:
        """The text with LF line endings and no BOM: what the Markdown parser sees."""
        return "".join(line + ("\n" if end else "") for line, end in zip(self.lines, self.endings, strict=True))

    def render(self) -> str:
        """The original text, exactly."""
        body = "".join(line + end for line, end in zip(self.lines, self.endings, strict=True))
        return ("\ufeff" if self.bom else "") + body


@dataclass(frozen=True)
class Note:
    """A source note, segmented."""

    path: str
    """Path relative to the content folder, with forward slashes (e.g. "training/fim.md")."""
    lang: str
    """The note's source language."""
    source: Source
    """Its text."""
    segments: tuple[Segment, ...]
    """Its segments in document order (translatable or not)."""
    lang_span: Span | None = None
    """Where the front matter's ``lang`` value is, if the note has one."""
    references: frozenset[str] = frozenset()
    """Labels of the note's reference definitions (``[label]: url``), normalised as markdown-it does."""

    @property
    def entries(self) -> tuple[Segment, ...]:
        """The segments that make catalog entries."""
        return tuple(s for s in self.segments if s.translatable)

    @property
    def stem(self) -> str:
        """The path without its ``.md`` suffix: the catalog's name."""
        return self.path[:-3] if self.path.lower().endswith(".md") else self.path
