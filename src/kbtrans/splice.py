"""Put translations into a note's source text: everything outside the segments stays byte for byte.

Container prefixes (``> ``, list indentation, the footnote marker) are re-applied to every line of a
translation; a translation with more lines than the source continues with the last line's prefix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from kbtrans import markup
from kbtrans.model import Note, Segment, Span

# Characters a line may start with to begin a block of its own (a superset: the parser decides). ":" starts
# a table's delimiter row (":--|--:"), which turns the line above into a table header.
_RISKY_START = re.compile(r"^(?:[#>+*=_~`$<|:\[-]|\d{1,9}[.)])", re.MULTILINE)
_ORDERED = re.compile(r"(\d{1,9})[.)]")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_UNESCAPED_TITLE_DELIM = re.compile(r"(?<!\\)([\"'()])")


def _continuation(prefix: str) -> str:
    """The prefix of an added line: keep block-quote markers, blank out list markers and labels."""
    return re.sub(r"[^>\s]", " ", prefix)


def _escape_line_start(line: str) -> str:
    """``line`` with the character that makes it start a block backslash-escaped (unchanged if none)."""
    m = _ORDERED.match(line)
    if m:
        return m.group(1) + "\\" + line[len(m.group(1)):]
    if line[:1] in ("`", "~", "$"):
        # A backslash would leave the rest of the run to pair with a later code span, strikethrough or
        # formula: write the whole run as character references instead (they render the same).
        run = len(line) - len(line.lstrip(line[0]))
        return f"&#{ord(line[0])};" * run + line[run:]
    if line[:1] == "[":
        # "[label]:" / "[^label]:" would start a definition: escape its colon, which keeps a footnote
        # reference or link text at the line start intact; else escape both brackets (balanced).
        close = line.find("]")
        if close > 0 and line[close + 1:close + 2] == ":":
            return line[:close + 1] + "\\" + line[close + 1:]
        return "\\" + (line if close < 0 else line[:close] + "\\" + line[close:])
    if line and line[0].isascii() and not line[0].isalnum() and not line[0].isspace() and line[0] != "\\":
        return "\\" + line
    return line


_STRAY = re.compile(r"(?<!\\)\$|`")
_STRAY_WIKI = re.compile(r"(?<!\\)\[\[")


def _neutralise_stray(text: str, source: str) -> str:
    """Escape ``$`` and backticks outside the protected elements (code spans, math, targets, …), ``[[``
    where the translation has more of them than the source, and a ``(`` a translation put right after an
    element that ends with ``]`` (``[[note]](``, ``[^1](``: the scanner sees no link there, Markdown reads
    one) unless the source has that same element before a ``(``.

    Unpaired in the segment, ``$``, backticks and ``[[`` could still pair with a delimiter of the next
    segment of the same paragraph (a callout's title and body) and swallow it into a code span, formula or
    wikilink.
    """
    wiki = "[[" in text and len(_STRAY_WIKI.findall(markup.plain_text(text))) > len(
        _STRAY_WIKI.findall(markup.plain_text(source)))
    joins = "](" in text
    if "$" not in text and "`" not in text and not wiki and not joins:
        return text
    allowed = Counter(_joined(source)) if joins else Counter()
    out, pos = [], 0

    def clean(part: str) -> str:
        part = _STRAY.sub(lambda m: "\\$" if m.group() == "$" else "&#96;", part)
        return _STRAY_WIKI.sub(r"\\[[", part) if wiki else part

    for e in markup.scan(text):
        out.append(clean(text[pos:e.start]))
        element = text[e.start:e.end]
        out.append(element)
        pos = e.end
        if element.endswith("]") and text.startswith("(", pos):
            if allowed[element] > 0:
                allowed[element] -= 1
            else:
                out.append("\\")
    out.append(clean(text[pos:]))
    return "".join(out)


def _joined(text: str) -> list[str]:
    """The protected elements of ``text`` that end with ``]`` and are followed by ``(``."""
    return [text[e.start:e.end] for e in markup.scan(text) if text[e.end - 1] == "]" and text.startswith("(", e.end)]


_YAML_PLAIN_UNSAFE = re.compile(r"""^[\s\-?:,\[\]{}#&*!|>'"%@`]|: |\s#|\s$|^$|:$""")


def yaml_quote(value: str, quote: str) -> str:
    """Write ``value`` into a YAML scalar that was quoted with ``quote`` ("" = plain)."""
    value = value.replace("\n", " ")
    if quote == "'":
        return value.replace("'", "''")
    if quote == '"' or _YAML_PLAIN_UNSAFE.search(value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return escaped if quote == '"' else f'"{escaped}"'
    return value


def fit(segment: Segment, text: str) -> str | None:
    """Shape a translation so it cannot change the note's block structure, or None if it cannot be.

    Lines lose leading whitespace and blank lines are dropped (either would start a code block or a new
    paragraph); a line that would start a heading, list, quote, fence, … is escaped; single-line segments
    are joined into one line; table cells get their pipes escaped; front-matter values are re-quoted.
    """
    if segment.kind == "link title":
        return _UNESCAPED_TITLE_DELIM.sub(r"\\\1", " ".join(text.split()))
    if segment.kind.startswith("front matter") and not segment.single_line:
        # A block scalar (``|`` or ``>``): its lines are its text, their indentation is put back, and
        # nothing is quoted (quotes would be part of the value).
        block = "\n".join(line.strip() for line in text.split("\n") if line.strip())
        return block or None
    if segment.quote or segment.kind.startswith("front matter"):
        return yaml_quote(" ".join(text.split("\n")).strip(), segment.quote)
    lines = [line.strip() if segment.single_line else line.lstrip() for line in text.split("\n")]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    lines = _neutralise_stray("\n".join(lines), segment.text).split("\n")
    if segment.single_line:
        one = " ".join(lines)
        if segment.kind.startswith("table"):
            one = _UNESCAPED_PIPE.sub(r"\\|", one)
        return one
    lines[-1] = lines[-1].rstrip()
    if not _RISKY_START.search("\n".join(lines)):
        return "\n".join(lines)
    # Escape, one at a time, exactly the lines that would start a block of their own.
    for _ in range(len(lines) + 1):
        bad = _first_block_line(lines)
        if bad is None:
            return "\n".join(lines)
        escaped = _escape_line_start(lines[bad])
        if escaped == lines[bad]:
            return None
        lines[bad] = escaped
    return None


def _first_block_line(lines: list[str]) -> int | None:
    """The first line of ``lines`` that is not part of one single paragraph, or None if they are one."""
    from kbtrans.segment import parser  # the Markdown parser loads only for the rare risky line

    tokens = parser().parse("\n".join(lines))
    if not tokens or tokens[0].map is None:
        return 0
    first = tokens[0]
    assert first.map is not None
    if first.type == "paragraph_open" and first.map[0] == 0:
        return None if first.map[1] >= len(lines) and len(tokens) == 3 else first.map[1]
    if first.type == "heading_open" and first.markup in ("=", "-") and first.map[0] == 0:
        return first.map[1] - 1  # a setext underline
    return first.map[0]


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
