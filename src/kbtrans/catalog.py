"""gettext PO catalogs: reading, writing and updating them from a note (the only module using polib).

The update follows Babel's ``Catalog.update``: an exact match keeps its translation; otherwise a close
match carries the old translation over, marked ``fuzzy``, with the previous msgid as ``#|``; entries no
longer in the note become obsolete (``#~``), so a translation is never lost.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polib

from kbtrans import __version__
from kbtrans.errors import CatalogError
from kbtrans.fsutil import write_if_changed
from kbtrans.model import Note, Segment

#: Flag on every entry kbtrans extracts: its text is inline Markdown.
MD_FLAG = "md-text"
#: Extracted comments starting with this prefix are kbtrans' own bookkeeping (e.g. MT provenance)
#: and survive re-extraction.
KEEP_PREFIX = "kbtrans-"

PLURAL_FORMS = {
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "uk": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "be": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "ja": "nplurals=1; plural=0;",
    "zh": "nplurals=1; plural=0;",
    "fr": "nplurals=2; plural=(n > 1);",
}
DEFAULT_PLURAL = "nplurals=2; plural=(n != 1);"
LANGUAGE_NAMES = {"ru": "Russian", "en": "English", "de": "German", "fr": "French", "uk": "Ukrainian"}
_SYNTAX_LINE = re.compile(r"\(line (\d+)\)")
FUZZY_CUTOFF = 0.6


#: Extracted-comment prefix of ``translate``'s placeholder-repair note.
MT_REPAIR_PREFIX = "kbtrans-mt-repair:"
#: Said in that note when the model's output was unusable and the source text stands in for the translation.
KEPT_SOURCE = "source text kept"


@dataclass(frozen=True)
class Message:
    """One catalog entry, as the rest of kbtrans sees it."""

    msgid: str
    """The source text (a segment's inline Markdown)."""
    msgstr: str
    """The translation ("" when untranslated)."""
    fuzzy: bool = False
    """Marked ``fuzzy``: machine output or carried over from an older msgid; needs review."""
    msgctxt: str | None = None
    """gettext context, where the same text needs different translations."""
    line: int = 0
    """1-based line of the entry's msgid in the PO file (for messages that name it)."""
    comments: tuple[str, ...] = ()
    """Extracted ``#.`` comment lines."""
    previous_msgid: str | None = None
    """The ``#|`` previous msgid of a fuzzy entry."""
    obsolete: bool = False
    """An ``#~`` entry kept for a text no longer in the note."""
    flags: tuple[str, ...] = ()
    """All flags of the entry, ``fuzzy`` included."""
    references: tuple[str, ...] = ()
    """The ``#:`` references as written (``content/note.md:12``), split at whitespace."""

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and not self.obsolete

    @property
    def unattached(self) -> bool:
        """A current entry without ``#:`` references, read from a file: it belongs to no segment (kbtrans writes
        references on every segment's entry; xliff2po gives ``#~`` entries back so), obsolete in all but its
        ``#~``, which the next rewrite of the catalog gives it back."""
        return not self.obsolete and not self.references

    @property
    def fallback(self) -> bool:
        """Machine translation kept the source text because the model's output was unusable: ``fuzzy``, the
        msgstr is the msgid and a ``#. kbtrans-mt-repair: … source text kept`` comment says so. Not a translation
        (``stats`` counts it untranslated, ``check`` reports it, ``build`` warns and uses the source)."""
        return (self.fuzzy and self.msgstr == self.msgid and not self.obsolete
                and any(c.startswith(MT_REPAIR_PREFIX) and KEPT_SOURCE in c for c in self.comments))


def catalog_path(locales_dir: Path, lang: str, note_stem: str) -> Path:
    """``locales/<lang>/LC_MESSAGES/<note path without .md>.po``."""
    return Path(catalog_file(str(locales_dir), lang, note_stem))


def catalog_file(locales_dir: str, lang: str, note_stem: str) -> str:
    """:func:`catalog_path` as a string, for loops that look at every note on every run."""
    return f"{locales_dir}/{lang}/LC_MESSAGES/{note_stem}.po"


# One line of a PO file: blank, a comment, or a keyword / continuation with a properly closed C string.
# polib silently accepts an unterminated string (and drops its last character): check lines first.
#: An escape sequence GNU gettext accepts in a PO string (``msgfmt`` rejects any other, e.g. ``\q``).
_ESCAPE = r"""\\(?:[ntbrfva\\"'?]|[0-7]{1,3}|x[0-9A-Fa-f]+)"""
# Unrolled (no regex state per character: a 1 MB string stays cheap to check).
_PO_STRING = r'"[^"\\]*(?:' + _ESCAPE + r'[^"\\]*)*"[ \t]*\r?'
_PO_KEYWORD = re.compile(
    r"[ \t]*(?:#~\|?[ \t]*|#\|[ \t]*)?(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)[ \t]+)?" + _PO_STRING
)


#: Every line of ``text.split("\n")`` passes :func:`_check_syntax` (one regex over the file: 10x faster).
_PO_TEXT = re.compile(
    r"""(?:(?:[ \t]*(?:\#~\|?[ \t]*|\#\|[ \t]*)?(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)[ \t]+)?"""
    r""""[^"\\\n]*(?:""" + _ESCAPE + r"""[^"\\\n]*)*"[ \t]*\r?"""
    r"""|[^\S\n]*(?:\#(?![~|])[^\n]*)?)(?:\n|\Z))*"""
)


_ANY_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]|.?)")


def _bad_escape(line: str) -> str | None:
    """The first backslash sequence of ``line`` that is not an escape of :data:`_ESCAPE`."""
    for m in _ANY_ESCAPE.finditer(line):
        if not m.group(1) or m.group(1)[0] not in "ntbrfva\\\"'?01234567x":
            return m.group()
    return None


def _check_syntax(path: Path, text: str) -> None:
    if _PO_TEXT.fullmatch(text):
        return
    for n, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not stripped.startswith(("#~", "#|"))):
            continue
        if not _PO_KEYWORD.fullmatch(line):
            bad = _bad_escape(line)
            if bad:
                hint = (f"invalid escape sequence `{bad}` in a string, which msgfmt rejects; write `\\\\` "
                        "for a backslash")
            elif line.count('"') % 2:
                hint = "a string is not closed with a quote"
            else:
                hint = "this line is not valid PO syntax"
            raise CatalogError(
                f"PO syntax error ({hint}). Fix the entry by hand (or restore the file from version control) "
                "and run the command again.", path=path, line=n)


def _read_text(path: Path) -> str:
    """The catalog's text (UTF-8, a byte-order mark dropped); unreadable files raise CatalogError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog ({exc.strerror}).", path=path) from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, data, exc) from None


def _decode_error(path: Path, data: bytes, exc: UnicodeDecodeError) -> CatalogError:
    """The file's line and column of an invalid UTF-8 byte (a byte offset means nothing in an editor)."""
    start = data.rfind(b"\n", 0, exc.start) + 1
    column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    return CatalogError(f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at column {column}). Save the file as UTF-8 "
                        "(in Poedit: Catalog → Properties → Charset).", path=path, line=line)


class _Lines(list[str]):
    """polib splits a text with ``str.splitlines()``, which also breaks at U+2028, U+0085, … inside a
    msgid (and so loses characters); this list of the file's lines is what it iterates instead."""

    def splitlines(self) -> _Lines:
        return self


def _parse(text: str) -> polib.POFile:
    """polib's reading of ``text``, split at newlines only (see :class:`_Lines`)."""
    lines = _Lines(line.removesuffix("\r") for line in text.split("\n"))
    return polib.pofile(lines, wrapwidth=0, check_for_duplicates=False, encoding="utf-8")


def _check_plurals(path: Path, po: polib.POFile) -> None:
    """msgfmt's rule: ``msgstr[N]`` needs a ``msgid_plural`` and a ``msgid_plural`` needs ``msgstr[N]`` (polib
    reads either as an untranslated entry)."""
    for e in po:
        if e.msgstr_plural and not e.msgid_plural:
            raise CatalogError("`msgstr[0]` without `msgid_plural` (msgfmt: missing 'msgid_plural' section): the "
                               "translation would be lost. Write it as `msgstr \"…\"`.", path=path, line=e.linenum)
        if e.msgid_plural and not e.msgstr_plural:
            raise CatalogError("`msgid_plural` without `msgstr[0]`, `msgstr[1]`, …: write the translations as "
                               "`msgstr[N]` lines.", path=path, line=e.linenum)


def _check_duplicates(path: Path, messages: Iterable[tuple[str | None, str, bool, int]]) -> None:
    seen: dict[tuple[str | None, str], int] = {}
    for ctxt, msgid, obsolete, line in messages:
        if obsolete or not msgid:
            continue
        first = seen.setdefault((ctxt, msgid), line)
        if first != line:
            raise CatalogError(f"this entry repeats the msgid of the entry at line {first}. Keep one of the two "
                               "(with the translation you want) and delete the other.", path=path, line=line)


def _load(path: Path, text: str | None = None, *, checked: bool = False) -> polib.POFile:
    """polib's reading of the catalog at ``path`` (of ``text``, its content, when given; ``checked``: its
    lines already passed :func:`_check_syntax`)."""
    text = _read_text(path) if text is None else text
    if not checked:
        _check_syntax(path, text)
    try:
        po = _parse(text)
        _check_plurals(path, po)
        _check_duplicates(path, ((e.msgctxt, e.msgid, bool(e.obsolete), e.linenum) for e in po))
        return po
    except OSError as exc:
        msg = str(exc)
        m = _SYNTAX_LINE.search(msg)
        if m or "Syntax error" in msg:
            raise CatalogError(
                "PO syntax error. Fix the entry by hand (or restore the file from version control) "
                "and run the command again.",
                path=path, line=int(m.group(1)) if m else None,
            ) from None
        raise CatalogError(f"cannot read the catalog ({exc}).", path=path) from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise CatalogError(f"cannot decode the catalog ({exc}). Save it as UTF-8.", path=path) from None
    except ValueError as exc:
        raise CatalogError(f"invalid catalog ({exc}). Fix the file by hand.", path=path) from None


def _message(e: polib.POEntry) -> Message:
    return Message(
        msgid=e.msgid,
        msgstr=e.msgstr,
        fuzzy="fuzzy" in e.flags,
        msgctxt=e.msgctxt,
        line=e.linenum,
        comments=tuple(e.comment.split("\n")) if e.comment else (),
        previous_msgid=e.previous_msgid,
        obsolete=bool(e.obsolete),
        flags=tuple(e.flags),
        references=tuple(_occurrences_key(e.occurrences).split()),
    )


def read(path: Path) -> list[Message]:
    """All entries of the catalog at ``path`` (obsolete ones last). Raises CatalogError on bad syntax."""
    text = _read_text(path)
    _check_syntax(path, text)
    fast = _fast_messages(text)  # the usual subset, 5x faster; polib decides everything else
    if fast is None:
        return [_message(e) for e in _load(path, text, checked=True) if e.msgid]
    messages = [m for m in fast if m.msgid]
    _check_duplicates(path, ((m.msgctxt, m.msgid, m.obsolete, m.line) for m in messages))
    return messages


def translations(path: Path, *, include_fuzzy: bool = True) -> dict[str, Message]:
    """msgid → translated (non-obsolete, non-empty) message; fuzzy ones unless excluded."""
    out: dict[str, Message] = {}
    if not path.exists():
        return out
    for m in read(path):
        if m.translated and (include_fuzzy or not m.fuzzy) and m.msgid not in out:
            out[m.msgid] = m
    return out


def msgids(path: Path) -> set[str]:
    """The msgids of a catalog's current (non-obsolete) entries."""
    return {m.msgid for m in read(path) if not m.obsolete}


# -- a fast reader for the usual PO subset ----------------------------------------------------------

_UNESCAPED_QUOTE = re.compile(r'([^\\]|^)"')
_PREVIOUS = {"msgid": "pm", "msgctxt": "pc", "msgid_plural": "pp"}
#: Where a line with a given symbol may follow (polib's transitions, without plural forms).
_AFTER = {
    "gc": None, "oc": None, "fl": None, "pc": None, "pm": None,
    "ct": frozenset({"st", "he", "gc", "oc", "fl", "tc", "pc", "pm", "pp", "ms"}),
    "mi": frozenset({"st", "he", "gc", "oc", "fl", "ct", "tc", "pc", "pm", "pp", "ms"}),
    "ms": frozenset({"mi", "tc"}),
}


def _po_string(token: str, check: bool) -> str | None:
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        return None
    body = token[1:-1]
    if check and '"' in body and _UNESCAPED_QUOTE.search(body):
        return None
    return polib.unescape(body) if "\\" in body else body


def _fast_messages(text: str) -> list[Message] | None:
    """What ``polib.pofile(text)`` reads, as Messages, for the PO subset kbtrans and editors write.

    About 5x faster than polib. Returns None for anything else (plural forms, comments inside an
    entry, syntax errors, …): the caller then lets polib decide, so the result never differs.
    """
    out: list[Message] = []
    state = "st"
    # the current entry: first line, msgctxt, msgid, msgstr, previous msgid, #. lines, flags, obsolete
    line0, ctxt, msgid, msgstr, prev = 0, None, "", "", None
    comments: list[str] = []
    flags: list[str] = []
    refs: list[str] = []
    obsolete = False
    last = ""
    for n, raw in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 may stand inside a msgid
        line = raw.strip()
        if not line:
            continue
        tokens = line.split(None, 2)
        tok = last = tokens[0]
        if tok == "#~|":
            continue
        is_obsolete = False
        if tok == "#~" and len(tokens) > 1:
            line = line[3:].strip()
            tokens = tokens[1:]
            tok = last = tokens[0]
            is_obsolete = True
        if tok in ("msgid", "msgstr", "msgctxt") and len(tokens) > 1:
            symbol = "mi" if tok == "msgid" else "ms" if tok == "msgstr" else "ct"
            value = _po_string(line[len(tok):].lstrip(), True)
        elif tok == "#:" or tok == "#," or tok == "#.":
            if len(tokens) <= 1:
                continue
            symbol = "oc" if tok == "#:" else "fl" if tok == "#," else "gc"
            value = ""
        elif line[0] == '"':
            value = _po_string(line, True)
            if value is None:
                return None
            if state == "mi":
                msgid += value
            elif state == "ms":
                msgstr += value
            elif state == "pm" and prev is not None:
                prev += value
            elif state == "ct" and ctxt is not None:
                ctxt += value
            elif state != "pc":
                return None
            continue
        elif tok == "#|":
            if len(tokens) <= 1:
                return None
            rest = line[2:].lstrip()
            if tokens[1].startswith('"'):
                value = _po_string(rest, False)
                if value is None:
                    return None
                if state == "pm" and prev is not None:
                    prev += value
                elif state not in ("pc", "pp"):
                    return None
                continue
            if len(tokens) == 2 or tokens[1] not in _PREVIOUS:
                return None
            symbol = _PREVIOUS[tokens[1]]
            value = _po_string(rest[len(tokens[1]):].lstrip(), False)
            if symbol == "pp":
                return None
        elif tok == "#" or tok.startswith("##"):
            if state in ("st", "he"):
                state = "he"
                continue
            symbol = "tc"
            value = ""
        else:
            return None
        if value is None:
            return None
        allowed = _AFTER.get(symbol)
        if symbol == "tc":
            unusual = state in ("mi", "ct")  # a comment inside an entry: rare, polib decides
        else:
            unusual = state == "mi" if allowed is None else state not in allowed
        if unusual:
            return None
        if state == "ms" and symbol != "ms":
            out.append(Message(msgid, msgstr, "fuzzy" in flags, ctxt, line0,
                               tuple("\n".join(comments).split("\n")) if comments else (), prev, obsolete,
                               tuple(flags), tuple(refs)))
            line0, ctxt, msgid, msgstr, prev = n, None, "", "", None
            comments, flags, refs, obsolete = [], [], [], False
        if symbol == "gc":
            comments.append(line[3:])
        elif symbol == "fl":
            flags += [c.strip() for c in line[3:].split(",")]
        elif symbol == "oc":
            refs += line[3:].split()
        elif symbol == "pm":
            prev = value
        elif symbol == "ct":
            ctxt = value
        elif symbol == "mi":
            msgid = value
            obsolete = is_obsolete
        elif symbol == "ms":
            msgstr = value
        state = symbol
    if last and not last.startswith("#"):
        out.append(Message(msgid, msgstr, "fuzzy" in flags, ctxt, line0,
                           tuple("\n".join(comments).split("\n")) if comments else (), prev, obsolete,
                           tuple(flags), tuple(refs)))
    return out


# -- writing ------------------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M+0000")


def _header(lang: str, project: str, created: str, revised: str, old: dict[str, str] | None) -> dict[str, str]:
    meta = {
        "Project-Id-Version": project,
        "Report-Msgid-Bugs-To": "",
        "POT-Creation-Date": created,
        "PO-Revision-Date": revised,
        "Last-Translator": "",
        "Language-Team": LANGUAGE_NAMES.get(lang, lang),
        "Language": lang,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Plural-Forms": PLURAL_FORMS.get(lang, DEFAULT_PLURAL),
        "X-Generator": f"kbtrans {__version__}",
    }
    if old:
        # Translators' tools own these fields; keep what they wrote.
        for key in ("PO-Revision-Date", "Last-Translator", "Language-Team", "Report-Msgid-Bugs-To"):
            if old.get(key):
                meta[key] = old[key]
        for key, value in old.items():
            if key not in meta:
                meta[key] = value
    return meta


def _occurrence_file(path: str) -> str:
    # GNU gettext ≥ 0.20 wraps file names containing spaces in Unicode isolates.
    return f"\u2068{path}\u2069" if any(c.isspace() for c in path) else path


def _group(segments: Sequence[Segment]) -> list[tuple[str, list[Segment]]]:
    """Entries in document order: identical text in one note is one entry."""
    groups: dict[str, list[Segment]] = {}
    for seg in segments:
        groups.setdefault(seg.text, []).append(seg)
    return list(groups.items())


def _kept_comments(old: polib.POEntry | None) -> list[str]:
    if old is None or not old.comment:
        return []
    return [c for c in old.comment.split("\n") if c.startswith(KEEP_PREFIX)]


@dataclass(frozen=True)
class Merged:
    """What updating one catalog would do; :func:`write` applies it."""

    path: Path
    """The catalog."""
    lang: str
    """Its language."""
    text: str | None
    """The new content of the file, or None when it stays as it is."""
    new: int = 0
    """Entries with no previous translation."""
    fuzzy: int = 0
    """Entries that carried an older translation over (fuzzy, with ``#|``)."""
    obsolete: int = 0
    """Entries that became obsolete in this update."""
    created: bool = False
    """The catalog did not exist before."""


def render(po: polib.POFile) -> str:
    """``str(po)``: polib's rendering, byte for byte (done here, about 1.5x faster, when unwrapped)."""
    if po.wrapwidth > 0:
        return str(po)
    head = "".join("#\n" if not h else f"#{h}\n" if h[:1] in (",", ":") else f"# {h}\n"
                   for h in po.header.split("\n"))
    out = []
    for e in [po.metadata_as_entry(), *(e for e in po if not e.obsolete), *(e for e in po if e.obsolete)]:
        text = _render_entry(e)
        if text is None:
            return str(po)
        out.append(text)
    return head + "\n".join(out)


def _render_field(name: str, prefix: str, value: str) -> list[str]:
    # polib's _BaseEntry._str_field without wrapping
    lines = value.splitlines(True)
    lines = ["", *lines] if len(lines) > 1 else [value]
    return [f'{prefix}{name} "{polib.escape(lines[0])}"', *(f'{prefix}"{polib.escape(x)}"' for x in lines[1:])]


def _render_entry(e: polib.POEntry) -> str | None:
    """polib's ``POEntry.__unicode__(wrapwidth=0)``; None for plural entries (polib renders those)."""
    if e.msgid_plural or e.msgstr_plural or e.previous_msgid_plural is not None:
        return None
    ret = []
    for value, prefix in ((e.tcomment, "# "),) if e.obsolete else ((e.tcomment, "# "), (e.comment, "#. ")):
        if value:
            ret += [prefix + c for c in value.split("\n")]
    if not e.obsolete and e.occurrences:
        ret.append("#: " + " ".join(f"{path}:{line}" if line else path for path, line in e.occurrences))
    if e.flags:
        ret.append("#, " + ", ".join(e.flags))
    previous = "#~| " if e.obsolete else "#| "
    if e.previous_msgctxt is not None:
        ret += _render_field("msgctxt", previous, e.previous_msgctxt)
    if e.previous_msgid is not None:
        ret += _render_field("msgid", previous, e.previous_msgid)
    flag = "#~ " if e.obsolete else ""
    body = _render_field("msgctxt", flag, e.msgctxt) if e.msgctxt is not None else []
    body += _render_field("msgid", flag, e.msgid)
    body += _render_field("msgstr", flag, e.msgstr)
    body.append("")
    ret.append("\n".join(body))
    return "\n".join(ret)


def _match_key(e: polib.POEntry) -> tuple[bool, bool]:
    """Which of several entries with one msgid a segment takes (smallest first): a translated one, then one
    without a context (translators add a ``msgctxt``; the segment keeps it)."""
    return not e.msgstr, e.msgctxt is not None


def merge(path: Path, note: Note, lang: str, *, source_ref: str, project: str = "", no_obsolete: bool = False,
          base: Path | None = None, wrap: int = 0, folder: str = "kbtrans") -> Merged:
    """The catalog at ``path`` for ``note`` translated into ``lang``, merged with what it holds.

    ``base`` is an older catalog to merge from instead of ``path`` (a renamed note's). ``source_ref`` is
    the note's path as written in ``#:`` references (``content/x.md``). ``project`` is the header's
    ``Project-Id-Version`` ("" keeps the catalog's own, or ``folder`` for a new catalog). Nothing is written
    here (see :func:`write`), so a bad input elsewhere leaves every file untouched.

    An entry matches a segment by its msgid, whatever its ``msgctxt`` (which it keeps). ``text`` is None
    when only what a translator's tool may change would differ (header, wrapping, entry order, flag order,
    extra or missing ``md-text`` flags, comment wrapping); otherwise the catalog keeps its entry order (new
    entries go after the entry that precedes them in the note) and each entry its flags.
    """
    old_text = _read_text(path) if path.exists() else None
    origin = base if base is not None else path
    if origin == path:
        old_po = _load(path, old_text) if old_text is not None else None
    else:
        old_po = _load(origin) if origin.exists() else None
    old_meta = dict(old_po.metadata) if old_po is not None else None

    current: dict[str, polib.POEntry] = {}
    retired: dict[str, polib.POEntry] = {}
    position: dict[int, int] = {}
    old_entries = [e for e in old_po if e.msgid] if old_po is not None else []
    for i, e in enumerate(old_entries):
        position[id(e)] = i
        group = retired if e.obsolete else current
        best = group.get(e.msgid)
        if best is None or _match_key(e) < _match_key(best):
            group[e.msgid] = e

    po = polib.POFile(wrapwidth=wrap, check_for_duplicates=False)
    po.header = (f"Translation of {source_ref} into {LANGUAGE_NAMES.get(lang, lang)}.\n"
                 "Generated by kbtrans; edit msgstr only.")
    used: set[int] = set()
    n_new = n_fuzzy = 0
    pending_fuzzy: list[tuple[polib.POEntry, str]] = []
    origins: list[polib.POEntry | None] = []  # per new entry: the old entry it continues
    occurrence_file = _occurrence_file(source_ref)
    for text, segs in _group(note.entries):
        old = current.get(text) or retired.get(text)
        comments = list(dict.fromkeys(s.comment for s in segs))
        entry = polib.POEntry(
            msgid=text,
            msgstr="",
            occurrences=[(occurrence_file, str(s.line)) for s in segs],
            flags=[MD_FLAG],
        )
        if old is not None:
            used.add(id(old))
            entry.msgctxt = old.msgctxt
            entry.msgstr = old.msgstr
            entry.tcomment = old.tcomment
            entry.flags = _flags(old.flags)
            entry.previous_msgid = old.previous_msgid if "fuzzy" in old.flags else None
            if not old.msgstr and "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
        else:
            pending_fuzzy.append((entry, text))
        entry.comment = "\n".join(comments + _kept_comments(old))
        po.append(entry)
        origins.append(old if old is not None and not old.obsolete else None)

    if pending_fuzzy:
        candidates = {e.msgid: e for e in [*current.values(), *retired.values()]
                      if id(e) not in used and e.msgstr and e.msgctxt is None}
        names = list(candidates)
        index = {id(e): i for i, e in enumerate(po)}
        for entry, text in pending_fuzzy:
            match = difflib.get_close_matches(text, names, 1, FUZZY_CUTOFF) if names else []
            if match:
                old = candidates[match[0]]
                used.add(id(old))
                entry.msgstr = old.msgstr
                entry.tcomment = old.tcomment
                entry.flags = ["fuzzy", *[f for f in old.flags if f not in ("fuzzy", MD_FLAG)], MD_FLAG]
                entry.previous_msgid = old.msgid
                entry.comment = "\n".join([*entry.comment.split("\n"), *_kept_comments(old)])
                if not old.obsolete:
                    origins[index[id(entry)]] = old
                n_fuzzy += 1
            else:
                n_new += 1
    _keep_order(po, origins, position)

    n_obsolete = 0
    if not no_obsolete:
        for e in old_entries:
            if id(e) in used or not (e.msgstr or e.tcomment):
                continue  # an untranslated entry without comments carries no work
            if e.obsolete:
                used.add(id(e))
            elif e.occurrences:  # an entry without references is already unattached (see _fingerprint)
                n_obsolete += 1
            e = copy.copy(e)  # old_po stays as it was read: _same_entries compares against it
            e.obsolete = True
            e.occurrences = []
            po.append(e)

    # Render with the old header values first: if nothing but the header would change, leave the file alone.
    created_date = (old_meta or {}).get("POT-Creation-Date") or _now()
    name = project or ((old_meta or {}).get("Project-Id-Version") or "").strip() or folder
    po.metadata = _header(lang, name, created_date, (old_meta or {}).get("PO-Revision-Date") or created_date,
                          old_meta)
    text_out = render(po) + "\n"
    if old_text is not None and text_out == old_text and base is None:
        return Merged(path, lang, None)
    if old_text is not None and base is None and _same_entries(old_po, po):
        # Only what a translator's tool changes differs (wrapping, order, flags): keep the file as it is.
        return Merged(path, lang, None)
    if old_po is not None:
        po.metadata["POT-Creation-Date"] = _now()
        text_out = render(po) + "\n"
    return Merged(path, lang, text_out, n_new, n_fuzzy, n_obsolete, created=old_text is None)


def _flags(old: Sequence[str]) -> list[str]:
    """An entry's flags as the translator's tool left them (order, extra flags), ``md-text`` added if missing."""
    flags = list(dict.fromkeys(old))
    return flags if MD_FLAG in flags else [*flags, MD_FLAG]


def _keep_order(po: polib.POFile, origins: list[polib.POEntry | None], position: dict[int, int]) -> None:
    """Reorder the entries of ``po`` (in the note's order) as the old catalog had them: an entry that continues
    an old one takes its place; a new entry follows the entry that precedes it in the note."""
    if not any(o is not None for o in origins):
        return
    keys: list[tuple[int, int]] = []
    last = -1
    for i, old in enumerate(origins):
        if old is not None:
            last = position[id(old)]
        keys.append((last, i) if old is None else (last, -1))
    order = sorted(range(len(origins)), key=lambda i: keys[i])
    if order != list(range(len(origins))):
        entries = list(po)
        po[:] = [entries[i] for i in order]


def write(merged: Merged) -> bool:
    """Write a merged catalog atomically; True if the file changed."""
    if merged.text is None:
        return False
    return write_if_changed(merged.path, merged.text.encode("utf-8"))


def _squeeze(text: str | None) -> str:
    # a comment as a tool may re-wrap it: polib and Babel wrap `#.` lines, at spaces and after hyphens
    # ("СМД-" / "методологии"), so no whitespace is compared
    return "".join(text.split()) if text else ""


def _fingerprint(po: polib.POFile) -> Counter[tuple[object, ...]]:
    """What makes two catalogs different to kbtrans: not the order of entries or flags, wrapping, or
    ``md-text``; a ``#|`` previous msgid only on a fuzzy entry (where editors show it). A current entry without
    ``#:`` references is attached to no segment: it counts as the obsolete entry it was (po2xliff → xliff2po
    turns ``#~`` entries into current ones without references)."""
    return Counter(
        (e.msgctxt, e.msgid, e.msgstr, frozenset(e.flags) - {MD_FLAG}, _squeeze(e.comment), _squeeze(e.tcomment),
         e.previous_msgid if "fuzzy" in e.flags else None, bool(e.obsolete) or not e.occurrences,
         _ref_lines(_occurrences_key(e.occurrences).split()))
        for e in po if e.msgid
    )


_REF_LINE = re.compile(r":(\d+)$")


def _ref_lines(references: Iterable[str]) -> tuple[int, ...]:
    """The note lines of an entry's ``#:`` references, sorted, each once: what staleness compares. A catalog
    is one note's, so the file part is not compared: GNU gettext 0.21 rewrites ``⁨a b.md⁩:17 ⁨a b.md⁩:26`` (a
    name with a space, in Unicode isolates) as ``⁨a b.md⁩:17 b.md⁩:26``; and it writes a reference once, where
    kbtrans writes ``x.md:80 x.md:80`` for a text twice on line 80 (two table cells)."""
    return tuple(sorted({int(m.group(1)) for r in references if (m := _REF_LINE.search(r))}))


def _occurrences_key(occurrences: list[tuple[str, str]]) -> str:
    # polib splits "#: ⁨content/a b.md⁩:3" at the space: compare the references as written.
    return " ".join(f"{name}:{line}" if line else name for name, line in occurrences)


def _same_entries(old: polib.POFile | None, new: polib.POFile) -> bool:
    if old is None:
        return False
    return _fingerprint(old) == _fingerprint(new)


# -- staleness (used by `check`) ---------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """How a catalog's entries differ from its note's segments."""

    message: str
    """What differs, with note and PO lines (e.g. ``2 segments of the note are not in the catalog: …``)."""
    empty: bool = False
    """The catalog has no entries at all (the file was emptied or truncated) while the note has segments."""


def _listing(items: Sequence[tuple[str, str]], most: int = 3) -> str:
    shown = ", ".join(f"{where} «{_short(text)}»" for where, text in items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def difference(path: Path, note: Note, *, source_ref: str) -> Difference | None:
    """How the catalog at ``path`` differs from ``note``'s segments (msgids and their ``#:`` references), or
    None when it does not: formatting, wrapping, flags, comments, context and entry order are not staleness.
    Raises CatalogError when the catalog cannot be read."""
    messages = read(path)
    groups = _group(note.entries)
    if not messages and groups:
        return Difference(f"the catalog has no entries (the file was emptied or truncated), while the note has "
                          f"{_count(len(groups), 'segment', 'segments')}", empty=True)
    have: dict[str, Message] = {}
    for m in messages:
        if not m.obsolete:
            have.setdefault(m.msgid, m)
    texts = {text for text, _ in groups}
    missing = [(f"line {segs[0].line}", text) for text, segs in groups if text not in have]
    # an entry without references is attached to no segment: obsolete in all but its `#~` (see _fingerprint)
    extra = [(f"PO line {m.line}", m.msgid) for m in have.values() if m.msgid not in texts and m.references]
    moved = []
    for text, segs in groups:
        entry = have.get(text)
        if entry is None:
            continue
        lines = tuple(sorted({s.line for s in segs}))
        if lines != _ref_lines(entry.references):
            moved.append((f"PO line {entry.line} (the note has {', '.join(map(str, lines))})", text))
    parts = []
    if missing:
        parts.append(f"{_count(len(missing), 'segment of the note is', 'segments of the note are')} not in the "
                     f"catalog: {_listing(missing)}")
    if extra:
        parts.append(f"{_count(len(extra), 'entry of the catalog is', 'entries of the catalog are')} no longer in "
                     f"the note: {_listing(extra)}")
    if moved:
        parts.append(f"{_count(len(moved), 'entry has', 'entries have')} out-of-date line references: "
                     f"{_listing(moved)}")
    return Difference("; ".join(parts)) if parts else None


# -- editing (used by `translate`) -----------------------------------------------------------------

@dataclass(frozen=True)
class Fill:
    """A translation to put into a catalog entry."""

    msgid: str
    msgstr: str
    fuzzy: bool
    comment: str = ""
    """An extracted comment line to add (e.g. ``kbtrans-mt: argos translate-ru_en 1.9``)."""
    replace_prefix: str = KEEP_PREFIX
    """Existing comment lines starting with this are replaced by ``comment``."""
    drop_previous: bool = False
    """Remove the ``#|`` previous msgid (the translation now matches the current msgid)."""
    expect: str | None = None
    """The msgstr the entry held when this fill was decided: if it changed since, or the entry is now a
    reviewed translation, the fill is skipped (a translator's work always wins). None: fill regardless."""


def fill(path: Path, fills: Iterable[Fill], *, wrap: int = 0) -> int:
    """Write translations into the catalog at ``path`` atomically (PO lines wrapped at ``wrap``, 0 = never).
    Returns how many entries changed."""
    po = _load(path)
    po.wrapwidth = wrap
    by_id = {e.msgid: e for e in po if not e.obsolete and e.msgid}
    changed = 0
    for f in fills:
        e = by_id.get(f.msgid)
        if e is None:
            continue
        if f.expect is not None and (e.msgstr != f.expect or (e.msgstr and "fuzzy" not in e.flags)):
            continue
        e.msgstr = f.msgstr
        if f.fuzzy and "fuzzy" not in e.flags:
            e.flags.insert(0, "fuzzy")
        if not f.fuzzy and "fuzzy" in e.flags:
            e.flags.remove("fuzzy")
            e.previous_msgid = None
        if f.drop_previous:
            e.previous_msgid = None
        if f.comment:
            lines = [c for c in (e.comment.split("\n") if e.comment else []) if not c.startswith(f.replace_prefix)]
            e.comment = "\n".join([*lines, f.comment])
        changed += 1
    if changed:
        write_if_changed(path, (render(po) + "\n").encode("utf-8"))
    return changed


def orphan_catalogs(locales_dir: Path, lang: str, stems: set[str]) -> list[Path]:
    """Catalogs of ``lang`` whose note does not exist (deleted or renamed)."""
    root = locales_dir / lang / "LC_MESSAGES"
    if not root.is_dir():
        return []
    out = []
    base = str(root)
    for folder, _, files in os.walk(base):  # strings, not Paths: this sees every catalog on every run
        prefix = folder[len(base) + 1:].replace(os.sep, "/")
        for name in files:
            if name.endswith(".po") and (f"{prefix}/{name[:-3]}" if prefix else name[:-3]) not in stems:
                out.append(Path(folder, name))
    return sorted(out)


# -- editing single entries (used by `review`) -------------------------------------------------------

@dataclass(frozen=True)
class EntryState:
    """One current entry of a catalog as an editor sees it (what a later edit is compared against)."""

    msgid: str
    """The source text."""
    msgctxt: str | None
    """gettext context."""
    msgstr: str
    """The translation ("" when untranslated)."""
    flags: tuple[str, ...]
    """All flags, ``fuzzy`` included."""
    tcomment: str
    """The translator comment (``# `` lines), "" when none."""
    comments: tuple[str, ...]
    """Extracted ``#.`` comment lines (what the entry is, MT provenance and repairs)."""
    previous_msgid: str | None
    """The ``#|`` previous msgid."""
    line: int
    """1-based line where the entry starts."""

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def key(self) -> tuple[str | None, str]:
        return self.msgctxt, self.msgid

    def same_content(self, other: EntryState) -> bool:
        """The same translation, flags, comments and previous msgid (the line may differ)."""
        return (self.msgstr, self.flags, self.tcomment, self.comments, self.previous_msgid) == (
            other.msgstr, other.flags, other.tcomment, other.comments, other.previous_msgid)


@dataclass(frozen=True)
class Edit:
    """A change to one current entry; None fields stay as they are."""

    msgid: str
    """The entry's msgid."""
    msgctxt: str | None = None
    """The entry's context."""
    msgstr: str | None = None
    """The new translation."""
    fuzzy: bool | None = None
    """Set or clear ``fuzzy`` (clearing it also removes the ``#|`` previous msgid)."""
    tcomment: str | None = None
    """The new translator comment ("" removes it)."""
    expect: EntryState | None = None
    """The entry as the editor loaded it: if the file holds something else now, nothing is written
    (:class:`~kbtrans.errors.CatalogConflict`). None: no comparison."""


def content_hash(data: bytes) -> str:
    """The hash an editor keeps of a catalog file's bytes, to see whether it changed."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _state(e: polib.POEntry) -> EntryState:
    return EntryState(e.msgid, e.msgctxt, e.msgstr, tuple(e.flags), e.tcomment or "",
                      tuple(e.comment.split("\n")) if e.comment else (), e.previous_msgid, e.linenum)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog ({exc.strerror}).", path=path) from None


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"cannot decode the catalog ({exc}). Save it as UTF-8.", path=path) from None


def entry_states(path: Path) -> tuple[str, list[EntryState]]:
    """(:func:`content_hash` of the file, its current entries in file order) for an editor."""
    data = _read_bytes(path)
    po = _load(path, _decode(path, data))
    return content_hash(data), [_state(e) for e in po if e.msgid and not e.obsolete]


_MSGSTR_LINE = re.compile(r"[ \t]*msgstr(?:\[\d+\])?[ \t]")


def _entry_lines(lines: list[str], start: int) -> int:
    """Index just past the entry whose first line is ``lines[start]`` (its last msgstr continuation)."""
    i = start
    while i < len(lines) and not _MSGSTR_LINE.match(lines[i]):
        i += 1
    if i == len(lines):
        raise ValueError("no msgstr")
    i += 1
    while i < len(lines) and (lines[i].lstrip().startswith('"') or _MSGSTR_LINE.match(lines[i])):
        i += 1
    return i


def update_entries(path: Path, edits: Sequence[Edit], *, wrap: int = 0) -> tuple[str, list[EntryState]]:
    """Apply ``edits`` to the catalog at ``path`` atomically, changing nothing but the edited entries.

    Every other line of the file (header, other entries, comments, flags, obsolete entries, order,
    wrapping) stays byte for byte: each edited entry's lines are replaced by its new rendering (wrapped
    at ``wrap``, 0 = never). An edit whose ``expect`` differs from the entry on disk (someone else
    changed it since it was loaded), or whose entry is gone, raises
    :class:`~kbtrans.errors.CatalogConflict` and nothing is written. Returns the file's new
    :func:`content_hash` and the edited entries as now written.
    """
    from kbtrans.errors import CatalogConflict

    data = _read_bytes(path)
    text = _decode(path, data)
    po = _load(path, text)
    by_key = {(e.msgctxt, e.msgid): e for e in po if e.msgid and not e.obsolete}
    before = {k: _state(e) for k, e in by_key.items()}
    bom = data.startswith(b"\xef\xbb\xbf")
    lines = text.split("\n")
    replaced: dict[int, tuple[int, list[str]]] = {}
    done: list[tuple[str | None, str]] = []
    for edit in edits:
        key = (edit.msgctxt, edit.msgid)
        e = by_key.get(key)
        if e is None:
            raise CatalogConflict(f"the entry {_excerpt(edit.msgid)!r} is no longer in the catalog (it was "
                                  "changed on disk, e.g. by `kbtrans extract`). Reload the page.",
                                  path=path, current=None)
        if edit.expect is not None and not before[key].same_content(edit.expect):
            raise CatalogConflict(f"the entry {_excerpt(edit.msgid)!r} changed on disk since it was loaded "
                                  "(another editor or a kbtrans run); nothing was written. Compare both "
                                  "versions, reload, and save again.", path=path, line=e.linenum,
                                  current=before[key])
        if edit.msgstr is not None:
            e.msgstr = edit.msgstr
        if edit.fuzzy is True and "fuzzy" not in e.flags:
            e.flags.insert(0, "fuzzy")
        elif edit.fuzzy is False and "fuzzy" in e.flags:
            e.flags.remove("fuzzy")
            e.previous_msgid = None
        if edit.tcomment is not None:
            e.tcomment = edit.tcomment
        start = e.linenum - 1
        try:
            end = _entry_lines(lines, start)
        except ValueError:
            raise CatalogError("cannot find this entry's msgstr. Fix the file by hand.", path=path,
                               line=e.linenum) from None
        cr = lines[end - 1].endswith("\r")
        rendered = (_render_entry(e) if wrap <= 0 else None) or e.__unicode__(wrapwidth=wrap if wrap > 0 else 0)
        new = rendered.rstrip("\n").split("\n")
        replaced[start] = (end, [x + "\r" if cr else x for x in new])
        done.append(key)
    out: list[str] = []
    i = 0
    for start in sorted(replaced):
        end, new = replaced[start]
        out += lines[i:start] + new
        i = end
    out += lines[i:]
    new_text = "\n".join(out)
    # The safety net: the new file must read back as the old one with exactly these entries changed.
    check = _load(path, new_text)
    after = {(e.msgctxt, e.msgid): e for e in check if e.msgid and not e.obsolete}
    old_rest = [f for e, f in zip(po, _fingerprint(po), strict=True) if (e.msgctxt, e.msgid) not in done or e.obsolete]
    new_rest = [f for e, f in zip(check, _fingerprint(check), strict=True)
                if (e.msgctxt, e.msgid) not in done or e.obsolete]
    if old_rest != new_rest or any(_fingerprint_one(after[k]) != _fingerprint_one(by_key[k]) for k in done):
        raise CatalogError("kbtrans could not update this catalog without changing other entries; nothing was "
                           "written. Edit the entry in a PO editor.", path=path)
    payload = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
    write_if_changed(path, payload)
    return content_hash(payload), [_state(after[k]) for k in done]


def _fingerprint_one(e: polib.POEntry) -> tuple[object, ...]:
    return (e.msgctxt, e.msgid, e.msgstr, tuple(e.flags), e.comment, e.tcomment, e.previous_msgid,
            bool(e.obsolete), _occurrences_key(e.occurrences))


def _excerpt(text: str, n: int = 50) -> str:
    text = text.replace("\n", "⏎")
    return text if len(text) <= n else text[: n - 1] + "…"
