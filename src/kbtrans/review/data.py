"""What the review page shows and does, without any web framework (the app only turns it into HTTP).

Everything is computed by the functions the commands use: the categories and counts of
:mod:`kbtrans.stats`, the findings of :func:`kbtrans.check.entry_findings` and :func:`kbtrans.check.check`,
the placeables of :func:`kbtrans.markup.scan`, the built note of :func:`kbtrans.build.plan_note` and
:func:`kbtrans.splice.render`; every write goes through :func:`kbtrans.catalog.update_entries`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kbtrans import catalog, check, glossary, markup, project, stats
from kbtrans.config import Config
from kbtrans.errors import CatalogConflict, GlossaryError, KbtransError
from kbtrans.model import Note, Segment

#: The statuses of the notes-list filter: the categories of `kbtrans stats` (obsolete is not a segment).
STATUSES = ("reviewed", "machine", "fuzzy", "untranslated")
ACTIONS = ("save", "accept", "revert", "comment")


class ReviewError(KbtransError):
    """A request the review page cannot honour (a bad path, an unknown language, an action refused)."""

    def __init__(self, message: str, *, status: int = 400, findings: Sequence[check.Finding] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.findings = tuple(findings)


@dataclass(frozen=True)
class NoteRow:
    """One line of the notes list: a note's catalog in one locale."""

    note: str
    """The note, content-relative."""
    folder: str
    """Its folder (``.`` at the top)."""
    lang: str
    """The locale (target language)."""
    catalog: str
    """The PO file, project-relative."""
    segments: stats.Counts
    """Entries per category (as ``kbtrans stats``)."""
    words: stats.Counts
    """msgid words per category."""
    errors: int
    """``kbtrans check`` errors in this catalog."""
    warnings: int
    """``kbtrans check`` warnings in this catalog."""


@dataclass(frozen=True)
class Placeable:
    """A protected piece of markup, with UTF-16 offsets (what the browser's strings count)."""

    kind: str
    """The :mod:`kbtrans.markup` kind ("link target", "code span", …)."""
    text: str
    """The characters of the piece."""
    start: int
    """UTF-16 offset of its first character."""
    end: int
    """UTF-16 offset just past it."""


@dataclass(frozen=True)
class EntryView:
    """One entry of the note view."""

    index: int
    """Position on the page."""
    state: catalog.EntryState
    """The entry as the file holds it."""
    version: str
    """A hash of the entry's content: a save is refused when the file holds another version."""
    category: str
    """Its ``kbtrans stats`` category."""
    kind: str
    """What the segment is (``paragraph``, ``heading h2``, ``callout (note)``, …)."""
    section: str
    """The heading above it."""
    source_html: str
    """The msgid rendered as safe HTML."""
    source_placeables: tuple[Placeable, ...]
    """The msgid's protected markup."""
    placeables: tuple[Placeable, ...]
    """The msgstr's protected markup (highlighted in the editor)."""
    findings: tuple[check.Finding, ...]
    """What ``kbtrans check`` says about the msgstr."""
    diff: tuple[tuple[str, str], ...]
    """Word diff of the previous msgid against the current one (fuzzy entries with ``#|``)."""
    provenance: tuple[str, ...]
    """kbtrans' ``#.`` comments: MT provenance and repairs."""
    machine: str | None
    """The machine translation this run has seen for the entry (what "revert" restores)."""
    in_note: bool = True
    """False for an entry of a stale catalog whose text the note no longer has."""


@dataclass(frozen=True)
class NoteView:
    """The note view: every entry of one note's catalog in one locale, in note order."""

    note: str
    lang: str
    note_lang: str
    catalog: str
    hash: str
    """:func:`kbtrans.catalog.content_hash` of the catalog as loaded."""
    entries: tuple[EntryView, ...]
    stale: bool
    """The note changed after the last ``kbtrans extract``."""
    warnings: tuple[str, ...] = ()
    next_note: str | None = None
    prev_note: str | None = None


def utf16(text: str, index: int) -> int:
    """The UTF-16 offset of Python index ``index`` of ``text``."""
    head = text[:index]
    return index + sum(1 for c in head if ord(c) > 0xFFFF)


def placeables(text: str, *, comments: bool = True) -> tuple[Placeable, ...]:
    """The protected markup of ``text`` (:func:`kbtrans.markup.scan`), entities left out."""
    return tuple(Placeable(e.kind, text[e.start:e.end], utf16(text, e.start), utf16(text, e.end))
                 for e in markup.scan(text, comments=comments) if e.kind != markup.ENTITY)


def version(state: catalog.EntryState) -> str:
    """A short hash of what an edit could conflict with in ``state``."""
    data = json.dumps([state.msgstr, state.flags, state.tcomment, state.comments, state.previous_msgid],
                      ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:24]


def _message(s: catalog.EntryState) -> catalog.Message:
    return catalog.Message(s.msgid, s.msgstr, s.fuzzy, s.msgctxt, s.line, s.comments, s.previous_msgid, False,
                           s.flags)


@dataclass
class Review:
    """One review session over a knowledge base (one ``kbtrans review`` run)."""

    cfg: Config
    languages: tuple[str, ...] = ()
    """Target languages shown (empty: every configured one)."""
    globs: tuple[str, ...] = ()
    """Only notes matching one of these (``--note``)."""
    machine: dict[tuple[str, str | None, str], str] = field(default_factory=dict)
    """(catalog, msgctxt, msgid) → the machine translation first seen in this run."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Writes happen one at a time."""

    def __post_init__(self) -> None:
        self.languages = self.cfg.select_languages(self.languages)

    def warm(self) -> None:
        """Do once, before the URL is printed, what the first page would otherwise pay for: the imports, the
        Markdown parser, the note inventory and the glossary."""
        from kbtrans import build, splice  # noqa: F401
        from kbtrans.review import render

        render.markdown("*warm* [[up]] `code` $x$")
        self.notes()
        self._glossary([])

    # -- validation -------------------------------------------------------------------------------

    def _matches(self, rel: str) -> bool:
        stem = rel[:-3] if rel.lower().endswith(".md") else rel
        return not self.globs or any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(stem, g)
                                     for g in self.globs)

    def notes(self) -> list[str]:
        """The notes shown (content-relative, sorted)."""
        return [rel for rel in project.inventory(self.cfg).notes if self._matches(rel)]

    def valid_note(self, rel: str) -> str:
        """``rel`` if it names a note of the KB shown here; a path that leaves ``content/`` never does."""
        bad = (not rel or "\\" in rel or "\0" in rel or rel.startswith("/") or ":" in rel.split("/", 1)[0]
               or any(part in ("", ".", "..") for part in rel.split("/")))
        if bad or not rel.lower().endswith(".md") or rel not in set(self.notes()):
            raise ReviewError(f"no note {rel!r} in {self.cfg.display(self.cfg.content_dir)}/.", status=404)
        return rel

    def valid_lang(self, lang: str) -> str:
        if lang not in self.languages:
            raise ReviewError(f"unknown language {lang!r}: one of {', '.join(self.languages)}.", status=404)
        return lang

    # -- the notes list ---------------------------------------------------------------------------

    def notes_list(self, *, lang: str = "", status: str = "", folder: str = "", has_errors: bool = False,
                   query: str = "") -> tuple[list[NoteRow], list[str]]:
        """The rows that pass the filters, and every folder (for the filter's choices)."""
        langs = (self.valid_lang(lang),) if lang else self.languages
        report = stats.stats(self.cfg, langs)
        checked = check.check(self.cfg, langs)
        found: dict[str, list[int]] = {}
        for issue in checked.issues:
            counts = found.setdefault(issue.path, [0, 0])
            counts[0 if issue.severity == check.ERROR else 1] += 1
        shown = set(self.notes())
        rows = []
        for n in report.notes:
            if n.note not in shown:
                continue
            e, w = found.get(n.catalog, [0, 0])
            rows.append(NoteRow(n.note, n.folder, n.lang, n.catalog, n.segments, n.words, e, w))
        folders = sorted({r.folder for r in rows})
        if status:
            if status not in STATUSES:
                raise ReviewError(f"unknown status {status!r}: one of {', '.join(STATUSES)}.")
            rows = [r for r in rows if getattr(r.segments, status)]
        if folder:
            rows = [r for r in rows if r.folder == folder or r.folder.startswith(folder + "/")]
        if has_errors:
            rows = [r for r in rows if r.errors]
        if query:
            q = query.casefold()
            rows = [r for r in rows if self._contains(r, q)]
        return rows, folders

    def _contains(self, row: NoteRow, q: str) -> bool:
        path = catalog.catalog_path(self.cfg.locales_dir, row.lang, row.note[:-3])
        return any(q in m.msgid.casefold() or q in m.msgstr.casefold() for m in catalog.read(path)
                   if not m.obsolete)

    # -- the note view ----------------------------------------------------------------------------

    def _glossary(self, warnings: list[str]) -> glossary.Glossary:
        try:
            return glossary.load(self.cfg)
        except GlossaryError as exc:
            warnings.append(f"{exc} (glossary checks are off)")
            return glossary.Glossary()

    def _catalog(self, note: Note, lang: str) -> Path:
        if note.lang == lang:
            raise ReviewError(f"{note.path} is written in {lang}: there is nothing to translate into {lang}.",
                              status=404)
        path = catalog.catalog_path(self.cfg.locales_dir, lang, note.stem)
        if not path.is_file():
            raise ReviewError(f"{self.cfg.display(path)} does not exist. Run `kbtrans extract`.", status=404)
        return path

    def note_view(self, rel: str, lang: str) -> NoteView:
        rel, lang = self.valid_note(rel), self.valid_lang(lang)
        note = project.load_note(self.cfg, rel)
        path = self._catalog(note, lang)
        digest, states = catalog.entry_states(path)
        name = self.cfg.display(path)
        warnings: list[str] = []
        g = self._glossary(warnings)
        comments = not self.cfg.translate_comments
        segs: dict[str, Segment] = {}
        for one in note.entries:
            segs.setdefault(one.text, one)
        by_id = {s.msgid: s for s in states if s.msgctxt is None}
        ordered = [by_id[t] for t in segs if t in by_id]
        seen = {s.msgid for s in ordered}
        ordered += [s for s in states if s.msgid not in seen or s.msgctxt is not None]
        entries = []
        for i, s in enumerate(ordered):
            seg = segs.get(s.msgid) if s.msgctxt is None else None
            entries.append(self._entry(i, name, note, lang, s, seg, g, comments))
        merged = catalog.merge(path, note, lang, source_ref=project.source_ref(self.cfg, rel),
                               project=self.cfg.root.name or "kbtrans", wrap=self.cfg.wrap)
        shown = self.notes()
        k = shown.index(rel)
        return NoteView(rel, lang, note.lang, name, digest, tuple(entries), merged.text is not None,
                        tuple(warnings), shown[k + 1] if k + 1 < len(shown) else None,
                        shown[k - 1] if k > 0 else None)

    def _entry(self, i: int, name: str, note: Note, lang: str, s: catalog.EntryState, seg: Segment | None,
               g: glossary.Glossary, comments: bool) -> EntryView:
        cat = stats.category(_message(s))
        key = (name, s.msgctxt, s.msgid)
        if cat == "machine":
            self.machine.setdefault(key, s.msgstr)
        if _message(s).fallback:  # the source text kept by machine translation: what `kbtrans check` says of it
            found = [check.Finding(check.WARNING, check.FALLBACK, check.FALLBACK_MESSAGE, check.FALLBACK_HINT)]
        else:
            found = (check.entry_findings(s.msgid, s.msgstr, s.comments, seg, note.lang, lang, g, comments=comments,
                                          references=note.references) if s.msgstr else [])
        from kbtrans.review import render

        diff = (tuple(render.word_diff(s.previous_msgid, s.msgid))
                if s.fuzzy and s.previous_msgid is not None else ())
        kind = seg.kind if seg is not None else next((c.split(" · ", 1)[0] for c in s.comments
                                                      if not c.startswith(catalog.KEEP_PREFIX)), "")
        return EntryView(i, s, version(s), cat, kind, seg.section if seg is not None else "",
                         render.markdown(s.msgid), placeables(s.msgid, comments=comments),
                         placeables(s.msgstr, comments=comments), tuple(found), diff,
                         tuple(c for c in s.comments if c.startswith(catalog.KEEP_PREFIX)),
                         self.machine.get(key), seg is not None)

    def live_check(self, rel: str, lang: str, msgid: str, msgstr: str) -> tuple[list[check.Finding],
                                                                                   tuple[Placeable, ...]]:
        """The findings and placeables of ``msgstr`` as the reviewer types it (nothing is written)."""
        rel, lang = self.valid_note(rel), self.valid_lang(lang)
        note = project.load_note(self.cfg, rel)
        path = self._catalog(note, lang)
        seg = next((s for s in note.entries if s.text == msgid), None)
        po_comments = next((m.comments for m in catalog.read(path) if m.msgid == msgid and not m.obsolete), ())
        comments = not self.cfg.translate_comments
        found = (check.entry_findings(msgid, msgstr, po_comments, seg, note.lang, lang, self._glossary([]),
                                      comments=comments, references=note.references) if msgstr else [])
        return found, placeables(msgstr, comments=comments)

    def preview(self, rel: str, lang: str) -> tuple[str, list[str]]:
        """The note as ``kbtrans build`` writes it into ``lang`` from the catalog on disk, and build's
        warnings (cross-note anchors are not rewritten here: that needs every note)."""
        from kbtrans import build, splice

        rel, lang = self.valid_note(rel), self.valid_lang(lang)
        note = project.load_note(self.cfg, rel)
        self._catalog(note, lang)
        plan = build.plan_note(self.cfg, note, lang, reviewed_only=False)
        return splice.render(note, plan.texts, lang), [str(w) for w in plan.warnings]

    # -- writes -----------------------------------------------------------------------------------

    def act(self, rel: str, lang: str, *, action: str, msgid: str, msgctxt: str | None, expect: str,
            text: str) -> tuple[str, EntryView]:
        """Apply ``action`` (save, accept, revert, comment) to one entry; return the new file hash and the
        entry as written. ``expect`` is the entry's :func:`version` as the page loaded it."""
        rel, lang = self.valid_note(rel), self.valid_lang(lang)
        if action not in ACTIONS:
            raise ReviewError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}.")
        note = project.load_note(self.cfg, rel)
        path = self._catalog(note, lang)
        name = self.cfg.display(path)
        comments = not self.cfg.translate_comments
        seg = next((s for s in note.entries if s.text == msgid), None)
        g = self._glossary([])
        with self.lock:
            _, states = catalog.entry_states(path)
            current = next((s for s in states if s.msgid == msgid and s.msgctxt == msgctxt), None)
            if current is None or version(current) != expect:
                raise CatalogConflict("this entry changed on disk since the page loaded it (another editor, or a "
                                      "kbtrans run); nothing was written. Compare both versions, then save "
                                      "again.", path=name, line=current.line if current else None,
                                      current=current)
            edit = self._edit(action, name, note, lang, current, seg, g, comments, text)
            digest, written = catalog.update_entries(path, [edit], wrap=self.cfg.wrap)
        return digest, self._entry(0, name, note, lang, written[0], seg, g, comments)

    def _edit(self, action: str, name: str, note: Note, lang: str, current: catalog.EntryState,
              seg: Segment | None, g: glossary.Glossary, comments: bool, text: str) -> catalog.Edit:
        def edit(*, msgstr: str | None = None, fuzzy: bool | None = None, tcomment: str | None = None) -> catalog.Edit:
            return catalog.Edit(current.msgid, current.msgctxt, msgstr, fuzzy, tcomment, expect=current)

        if action == "comment":
            return edit(tcomment=text.strip())
        if action == "revert":
            mt = self.machine.get((name, current.msgctxt, current.msgid))
            if mt is None:
                raise ReviewError("no machine translation of this entry was seen in this review session, so "
                                  "there is nothing to revert to. Run `kbtrans translate --refresh` for a new "
                                  "one.", status=409)
            return edit(msgstr=mt, fuzzy=True)
        found = (check.entry_findings(current.msgid, text, current.comments, seg, note.lang, lang, g,
                                      comments=comments, references=note.references) if text else [])
        errors = [f for f in found if f.severity == check.ERROR]
        if action == "accept":
            if not text:
                raise ReviewError("an empty translation cannot be accepted: write one first.", status=422)
            if errors:
                raise ReviewError("this translation has check errors and cannot be accepted: fix them first "
                                  "(warnings do not stop it).", status=422, findings=errors)
            return edit(msgstr=text, fuzzy=False)
        # save: the reviewer's text counts as reviewed unless it has errors (then it stays a fuzzy draft)
        return edit(msgstr=text, fuzzy=bool(errors))
