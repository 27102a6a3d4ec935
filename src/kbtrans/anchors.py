"""Cross-note anchors follow the translation: ``[[note#Заголовок]]`` → ``[[note#Heading]]`` in English.

Wikilinks name a heading by its text; Markdown links name it by a slug (``#этапы-обучения``) or by the
URL-encoded text (``#Этапы%20обучения``). Both are rewritten to the heading as it reads in the locale.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from kbtrans import markup

_WIKI = re.compile(r"(!?\[\[)([^\[\]|#\n]*)#([^\[\]|\n]+)(?=\||\]\])")
_MDLINK = re.compile(r"(\]\(<?)([^()\s<>#]*)#([^()\s<>]+)")
_EMPHASIS = re.compile(r"\*{1,3}|~~|==|(?<!\w)_{1,3}|_{1,3}(?!\w)")
_WIKI_TEXT = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_NOT_IN_WIKI_ANCHOR = re.compile(r"[#|\[\]^]")


def heading_plain(text: str) -> str:
    """A heading as Obsidian names it in links: inline markup reduced to its text."""
    text = _WIKI_TEXT.sub(r"\1", text)
    text = _LINK_TEXT.sub(r"\1", text)
    text = text.replace("`", "")
    return _EMPHASIS.sub("", text).strip()


def slug(text: str) -> str:
    """GitHub-style anchor slug: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading_plain(text).lower()).replace(" ", "-")


@dataclass
class HeadingMap:
    """One note's headings in one locale: source heading → heading as built."""

    by_text: dict[str, str] = field(default_factory=dict)
    by_slug: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Mapping[str, str]) -> HeadingMap:
        hm = cls()
        for src, dst in pairs.items():
            if src == dst:
                continue  # untranslated heading: links to it stay as they are
            plain_src, plain_dst = heading_plain(src), heading_plain(dst)
            hm.by_text.setdefault(src, plain_dst)
            hm.by_text.setdefault(plain_src, plain_dst)
            hm.by_text.setdefault(plain_src.casefold(), plain_dst)
            hm.by_slug.setdefault(slug(src), slug(dst))
        return hm


class NoteIndex:
    """Resolves link targets to notes, the way Obsidian does: by path, or by unique file name.

    The lookup tables are made on first use (a build that renders no link does not need them).
    """

    def __init__(self, notes: Sequence[str]) -> None:
        self.notes = notes

    @functools.cached_property
    def members(self) -> frozenset[str]:
        return frozenset(self.notes)

    @functools.cached_property
    def paths(self) -> dict[str, str]:
        return {answers_to(n)[0]: n for n in self.notes}

    @functools.cached_property
    def names(self) -> dict[str, str]:
        names: dict[str, list[str]] = {}
        for n in self.notes:
            names.setdefault(answers_to(n)[1], []).append(n)
        return {k: v[0] for k, v in names.items() if len(v) == 1}

    def wikilink(self, target: str, current: str) -> tuple[str | None, tuple[str, ...]]:
        """The note a wikilink ``target`` in ``current`` points to (None if none), and the keys a note added
        or removed later could change that by (none when found by its exact path)."""
        if not target:
            return current, ()
        key = target[:-3] if target.lower().endswith(".md") else target
        key = key.strip().casefold()
        note = self.paths.get(key)
        if note is not None:
            return note, ()
        relative = posixpath.normpath(posixpath.join(posixpath.dirname(current[:-3]), key))
        return self.names.get(key) or self.paths.get(relative), (key, relative)

    def mdlink(self, target: str, current: str) -> tuple[str | None, tuple[str, ...]]:
        """Like :meth:`wikilink` for a Markdown link's destination (a path relative to ``current``)."""
        if not target:
            return current, ()
        if "://" in target or target.startswith(("mailto:", "/")):
            return None, ()
        path = posixpath.normpath(posixpath.join(posixpath.dirname(current), unquote(target)))
        if not path.lower().endswith(".md"):
            return None, ()
        note = self.paths.get(path[:-3].casefold())
        return note, () if note is not None else (path[:-3].casefold(),)


def answers_to(note: str) -> tuple[str, str]:
    """The keys a note is found by: its path and its file name (case-folded, without ``.md``)."""
    return note[:-3].casefold(), posixpath.basename(note[:-3]).casefold()


#: Prefix of the lookup keys :func:`rewrite` records in ``used``, besides the notes it resolved: a note
#: added or removed later under such a key can change what the link resolves to.
KEY = "?"


Lookup = Callable[[str], HeadingMap | None]


def rewrite(text: str, current: str, index: NoteIndex, lookup: Lookup, used: set[str] | None = None) -> str:
    """Rewrite the heading anchors in ``text`` (a segment of note ``current``) for one locale.

    ``lookup(note)`` gives the heading map of a note in that locale, or None when the note is already
    in that language. Notes consulted, and the keys links were looked up by (prefixed with :data:`KEY`),
    are added to ``used`` (for incremental rebuilds).
    """
    if "#" not in text:
        return text
    shielded = [(e.start, e.end) for e in markup.scan(text) if e.kind in (markup.CODE, markup.MATH)]

    def inside(pos: int) -> bool:
        return any(s <= pos < e for s, e in shielded)

    def wiki(m: re.Match[str]) -> str:
        if inside(m.start()) or m.group(3).startswith("^"):
            return m.group()
        note, watch = index.wikilink(m.group(2), current)
        if used is not None:
            used.update(KEY + k for k in watch)
        if note is None:
            return m.group()
        if used is not None:
            used.add(note)
        hm = lookup(note)
        if hm is None:
            return m.group()
        parts = []
        for part in m.group(3).split("#"):
            new = hm.by_text.get(part) or hm.by_text.get(part.strip().casefold())
            parts.append(_NOT_IN_WIKI_ANCHOR.sub("", new) if new else part)
        return m.group(1) + m.group(2) + "#" + "#".join(parts)

    def md(m: re.Match[str]) -> str:
        if inside(m.start()):
            return m.group()
        note, watch = index.mdlink(m.group(2), current)
        if used is not None:
            used.update(KEY + k for k in watch)
        if note is None:
            return m.group()
        if used is not None:
            used.add(note)
        hm = lookup(note)
        if hm is None:
            return m.group()
        frag = m.group(3)
        text_form = unquote(frag)
        if text_form in hm.by_text and " " in text_form:
            new = quote(hm.by_text[text_form], safe="")
        elif frag in hm.by_slug:
            new = hm.by_slug[frag]
        elif text_form in hm.by_slug:
            new = quote(hm.by_slug[text_form], safe="-_")
        elif text_form in hm.by_text:
            new = quote(hm.by_text[text_form], safe="")
        else:
            return m.group()
        return m.group(1) + m.group(2) + "#" + new

    text = _WIKI.sub(wiki, text)
    return _MDLINK.sub(md, text)
