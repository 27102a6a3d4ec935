"""Put translations into a note's source text: everything outside the segments stays byte for byte.

Container prefixes (``> ``, list indentation, the footnote marker) are re-applied to every line of a
translation; a translation with more lines than the source continues with the last line's prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kbtrans.model import Note, Segment, Span
from kbtrans.segment import parser, yaml_quote

_RISKY_START = re.compile(r"^(?:[#>+*=_~`$<|\[-]|\d{1,9}[.)])", re.MULTILINE)
# A line start that can open a block (heading, quote, list, fence, setext underline, HTML, math, definition,
# thematic break or table delimiter row). Group "num" is an ordered-list number (escaped after the digits).
_BLOCK_START = re.compile(
    r"""^(?:(?P<num>\d{1,9})[.)](?:[ \t]|$)
    |\#{1,6}(?:[ \t]|$) | > | [-+*](?:[ \t]|$) | (?:[-*_][ \t]*){3,}$ | `{3,} | ~{3,} | =+[ \t]*$ | -+[ \t]*$
    | <[A-Za-z/!?] | \$\$ | \[[^\]]*\]: | \|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$)""",
    re.VERBOSE,
)
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_UNESCAPED_TITLE_DELIM = re.compile(r"(?<!\\)([\"'()])")


def _continuation(prefix: str) -> str:
    """The prefix of an added line: keep block-quote markers, blank out list markers and labels."""
    return re.sub(r"[^>\s]", " ", prefix)


def _is_one_paragraph(text: str) -> bool:
    tokens = parser().parse(text)
    return len(tokens) == 3 and tokens[0].type == "paragraph_open" and tokens[0].map == [0, text.count("\n") + 1]


def _escape_line_start(line: str) -> str:
    m = _BLOCK_START.match(line)
    if not m:
        return line
    if m.group("num"):
        return m.group("num") + "\\" + line[len(m.group("num")):]
    return "\\" + line


def fit(segment: Segment, text: str) -> str | None:
    """Shape a translation so it cannot change the note's block structure, or None if it cannot be.

    Lines lose leading whitespace and blank lines are dropped (either would start a code block or a new
    paragraph); a line that would start a heading, list, quote, fence, … is escaped; single-line segments
    are joined into one line; table cells get their pipes escaped; front-matter values are re-quoted.
    """
    if segment.kind == "link title":
        return _UNESCAPED_TITLE_DELIM.sub(r"\\\1", " ".join(text.split()))
    if segment.quote or segment.kind.startswith("front matter"):
        return yaml_quote(" ".join(text.split("\n")).strip(), segment.quote)
    lines = [line.strip() if segment.single_line else line.lstrip() for line in text.split("\n")]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    if segment.single_line:
        one = " ".join(lines)
        if segment.kind.startswith("table"):
            one = _UNESCAPED_PIPE.sub(r"\\|", one)
        return one
    lines[-1] = lines[-1].rstrip()
    out = "\n".join(lines)
    if _RISKY_START.search(out) and not _is_one_paragraph(out):
        out = "\n".join(_escape_line_start(line) for line in lines)
        if not _is_one_paragraph(out):
            return None
    return out


def render(note: Note, replacements: Mapping[int, str], lang_value: str | None = None) -> str:
    """The note's text with segment ``i`` replaced by ``replacements[i]`` (already fitted)."""
    src = note.source
    lines = list(src.lines)
    endings = list(src.endings)
    newline = next((e for e in endings if e), "\n")
    single: dict[int, list[tuple[int, int, str]]] = {}
    blocks: dict[int, tuple[Segment, str]] = {}
    for i, text in replacements.items():
        seg = note.segments[i]
        if text == seg.text and not seg.quote:
            continue
        if seg.quote and text == seg.text:
            continue
        if len(seg.spans) == 1 and "\n" not in text:
            sp = seg.spans[0]
            single.setdefault(sp.line, []).append((sp.start, sp.end, text))
        else:
            blocks[seg.spans[0].line] = (seg, text)
    if lang_value is not None and note.lang_span is not None:
        sp = note.lang_span
        single.setdefault(sp.line, []).append((sp.start, sp.end, lang_value))

    out: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        if i in blocks:
            seg, text = blocks[i]
            out.extend(_block(seg, text, lines, endings, newline))
            i = seg.spans[-1].line + 1
            continue
        line = lines[i]
        for start, end, text in sorted(single.get(i, ()), reverse=True):
            line = line[:start] + text + line[end:]
        out.append(line + endings[i])
        i += 1
    return ("\ufeff" if src.bom else "") + "".join(out)


def _block(seg: Segment, text: str, lines: list[str], endings: list[str], newline: str) -> list[str]:
    spans: tuple[Span, ...] = seg.spans
    new = text.split("\n")
    n, k = len(spans), len(new)
    prefixes = [lines[sp.line][:sp.start] for sp in spans]
    extra = prefixes[-1] if n >= 2 else _continuation(prefixes[0])
    out = []
    for j, part in enumerate(new):
        prefix = prefixes[j] if j < n else extra
        if j == k - 1:
            last = spans[-1]
            out.append(prefix + part + lines[last.line][last.end:] + endings[last.line])
        else:
            ending = endings[spans[j].line] if j < n - 1 else (endings[spans[0].line] or newline)
            out.append(prefix + part + (ending or newline))
    return out
