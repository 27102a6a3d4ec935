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
from functools import partial
from pathlib import Path

from kbtrans import catalog, check, glossary, markup, parallel, project, state, stats
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
    errors: int | None
    """``kbtrans check`` errors in this catalog (None: not counted yet, the page is still checking the KB)."""
    warnings: int | None
    """``kbtrans check`` warnings in this catalog (None: not counted yet)."""


@dataclass(frozen=True)
class NotesPage:
    """One page of the notes list."""

    rows: tuple[NoteRow, ...]
    """The rows of this page (those that pass the filters, sorted by language and note)."""
    total: int
    """Rows that pass the filters, on every page."""
    page: int
    """This page's number (from 1)."""
    pages: int
    """How many pages the filtered list has (at least 1)."""
    folders: tuple[str, ...]
    """Every folder of the notes shown (the folder filter's choices)."""
    checking: bool
    """``kbtrans check`` has not yet been run over the whole KB by this session (some counts are pending)."""


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


#: Rows on one page of the notes list.
PAGE_SIZE = 100
#: How long a filtered list waits for the background pass before it counts what is left itself.
_WAIT_S = 120.0


@dataclass(frozen=True)
class _Counts:
    """What the notes list keeps of one catalog."""

    segments: stats.Counts
    words: stats.Counts
    text: bytes
    """Every current msgid and msgstr, casefolded, NUL-separated, UTF-8 (what search looks in)."""


def _read_counts(path: Path) -> _Counts:
    messages = catalog.read(path)
    segments, words = stats.count(messages)
    text = "\0".join(t.casefold() for m in messages if not m.obsolete for t in (m.msgid, m.msgstr))
    return _Counts(segments, words, text.encode("utf-8"))


def _count_catalogs(cfg: Config, job: tuple[str, tuple[str, ...]]) -> list[tuple[str, str, _Counts]] | KbtransError:
    """The counts of note ``rel``'s catalogs in ``langs`` with the stamps they were read under (a worker)."""
    rel, langs = job
    try:
        note_stamp = state.stamp(cfg.content_dir / rel)
        out = []
        for lang in langs:
            path = catalog.catalog_path(cfg.locales_dir, lang, rel[:-3])
            stamp = f"{note_stamp} {state.stamp(path)}"
            out.append((lang, stamp, _read_counts(path)))
        return out
    except KbtransError as exc:
        return exc


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
    counted: threading.Event = field(default_factory=threading.Event)
    """Set when the background pass has counted every catalog."""
    checked: threading.Event = field(default_factory=threading.Event)
    """Set when the background pass has run ``kbtrans check`` over the KB."""
    background_error: str | None = None
    """Why the background pass stopped, if it failed (the list then counts row by row)."""
    _background: threading.Thread | None = None
    _counts: dict[tuple[str, str], tuple[str, _Counts]] = field(default_factory=dict)
    _found: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)
    _langs: dict[str, tuple[str, str]] = field(default_factory=dict)
    _recorded: dict[str, state.Extracted] | None = None
    _notes: list[str] | None = None
    _glossary_cache: tuple[object, glossary.Glossary, tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        self.languages = self.cfg.select_languages(self.languages)

    def warm(self) -> None:
        """Do once, before the URL is printed, what the first page would otherwise pay for: the imports, the
        Markdown parser, the note inventory and the glossary."""
        from kbtrans import build, splice  # noqa: F401
        from kbtrans.review import render

        render.markdown("*warm* [[up]] `code` $x$")
        self.notes(fresh=True)
        self._glossary([])

    # -- validation -------------------------------------------------------------------------------

    def _matches(self, rel: str) -> bool:
        stem = rel[:-3] if rel.lower().endswith(".md") else rel
        return not self.globs or any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(stem, g)
                                     for g in self.globs)

    def notes(self, *, fresh: bool = False) -> list[str]:
        """The notes shown (content-relative, sorted): the KB's inventory, taken again when ``fresh`` (the
        notes list does) and otherwise kept from the last time."""
        if fresh or self._notes is None:
            self._notes = [rel for rel in project.inventory(self.cfg).notes if self._matches(rel)]
        return self._notes

    def valid_note(self, rel: str) -> str:
        """``rel`` if it names a note of the KB shown here; a path that leaves ``content/`` never does."""
        bad = (not rel or "\\" in rel or "\0" in rel or rel.startswith("/") or ":" in rel.split("/", 1)[0]
               or any(part in ("", ".", "..") for part in rel.split("/")))
        if not bad and rel not in self.notes():
            self.notes(fresh=True)  # a note added since the inventory was taken
        if bad or not rel.lower().endswith(".md") or rel not in self.notes():
            raise ReviewError(f"no note {rel!r} in {self.cfg.display(self.cfg.content_dir)}/.", status=404)
        return rel

    def valid_lang(self, lang: str) -> str:
        if lang not in self.languages:
            raise ReviewError(f"unknown language {lang!r}: one of {', '.join(self.languages)}.", status=404)
        return lang

    # -- the notes list ---------------------------------------------------------------------------
    #
    # Per catalog the list needs the counts of `kbtrans stats`, the errors and warnings of `kbtrans check`
    # and (for search) its text. They are kept in memory, each under the stamps (mtime and size) of the
    # note and the catalog it came from, and computed again only for a catalog whose stamps changed.
    # A background pass (started with the server, or by the first list) fills them for the whole KB:
    # counts first (every catalog read once, on all cores), then `kbtrans check` itself, which reuses
    # what earlier checks recorded. Until it ends, an unfiltered page counts its own rows and shows their
    # check counts as pending; a filter that needs every row waits for it.

    def start_background(self) -> None:
        """Count and check the whole KB in a background thread (once)."""
        with self.lock:
            if self._background is not None:
                return
            self._background = threading.Thread(target=self._prepare, name="kbtrans-review-counts", daemon=True)
        self._background.start()

    def _prepare(self) -> None:
        try:
            pairs = self._pairs(self.notes(fresh=True), self.languages)
            todo: dict[str, list[str]] = {}
            for rel, lang, stamp in pairs:
                if self._counts_of(rel, lang, stamp) is None:
                    todo.setdefault(rel, []).append(lang)
            work = [(rel, tuple(langs)) for rel, langs in todo.items()]
            stamps = {(rel, lang): stamp for rel, lang, stamp in pairs}
            for (rel, _), r in zip(work, parallel.pmap(partial(_count_catalogs, self.cfg), work), strict=True):
                if isinstance(r, KbtransError):
                    raise r
                for lang, stamp, counts in r:
                    if stamp == stamps.get((rel, lang)):
                        self._counts[(rel, lang)] = (stamp, counts)
            self.counted.set()
            found: dict[str, list[int]] = {}
            for issue in check.check_stream(self.cfg, self.languages).issues:
                tally = found.setdefault(issue.path, [0, 0])
                tally[0 if issue.severity == check.ERROR else 1] += 1
            for rel, lang, stamp in pairs:
                name = self.cfg.display(catalog.catalog_path(self.cfg.locales_dir, lang, rel[:-3]))
                e, w = found.get(name, [0, 0])
                known = self._found.get((rel, lang))
                if known is None or known[0] != stamp:
                    self._found[(rel, lang)] = (stamp, e, w)
        except KbtransError as exc:  # shown on the list page; the counts then come row by row
            self.background_error = str(exc)
        finally:
            self.counted.set()
            self.checked.set()

    def _note_lang(self, rel: str, note_stamp: str) -> str:
        known = self._langs.get(rel)
        if known is not None and known[0] == note_stamp:
            return known[1]
        from kbtrans.extract import recorded, recorded_language

        if self._recorded is None:
            self._recorded = recorded(self.cfg)
        lang = recorded_language(self._recorded.get(rel), note_stamp) or project.load_note(self.cfg, rel).lang
        self._langs[rel] = (note_stamp, lang)
        return lang

    def _pairs(self, notes: Sequence[str], langs: Sequence[str]) -> list[tuple[str, str, str]]:
        """(note, lang, stamps) of every catalog of ``notes`` the list shows (as ``kbtrans stats``: not one in
        the note's own language), sorted by language and note."""
        content, locales = str(self.cfg.content_dir), str(self.cfg.locales_dir)
        out = []
        for rel in notes:
            note_stamp = state.stamp(f"{content}/{rel}")
            own: str | None = None
            for lang in langs:
                po = state.stamp(catalog.catalog_file(locales, lang, rel[:-3]))
                if not po:
                    continue
                if own is None:
                    own = self._note_lang(rel, note_stamp)
                if lang != own:
                    out.append((rel, lang, f"{note_stamp} {po}"))
        order = {lang: i for i, lang in enumerate(self.languages)}
        out.sort(key=lambda x: (order.get(x[1], 0), x[0]))
        return out

    def _counts_of(self, rel: str, lang: str, stamp: str) -> _Counts | None:
        known = self._counts.get((rel, lang))
        return known[1] if known is not None and known[0] == stamp else None

    def _counts_now(self, rel: str, lang: str, stamp: str) -> _Counts:
        counts = self._counts_of(rel, lang, stamp)
        if counts is None:
            counts = _read_counts(catalog.catalog_path(self.cfg.locales_dir, lang, rel[:-3]))
            self._counts[(rel, lang)] = (stamp, counts)
        return counts

    def _found_now(self, rel: str, lang: str, stamp: str) -> tuple[int, int] | None:
        """(errors, warnings) of a catalog, checked again if it changed; None while the first pass runs."""
        known = self._found.get((rel, lang))
        if known is not None and known[0] == stamp:
            return known[1], known[2]
        if not self.checked.is_set():
            return None
        issues = check.check_catalog(self.cfg, rel, lang, self._glossary([]))
        errors = sum(i.severity == check.ERROR for i in issues)
        self._found[(rel, lang)] = (stamp, errors, len(issues) - errors)
        return errors, len(issues) - errors

    def _row(self, rel: str, lang: str, stamp: str) -> NoteRow:
        counts = self._counts_now(rel, lang, stamp)
        found = self._found_now(rel, lang, stamp)
        path = self.cfg.display(catalog.catalog_path(self.cfg.locales_dir, lang, rel[:-3]))
        folder = rel.rsplit("/", 1)[0] if "/" in rel else "."
        return NoteRow(rel, folder, lang, path, counts.segments, counts.words, *(found or (None, None)))

    def notes_list(self, *, lang: str = "", status: str = "", folder: str = "", has_errors: bool = False,
                   query: str = "", page: int = 1) -> NotesPage:
        """The page ``page`` of the rows that pass the filters (:data:`PAGE_SIZE` rows a page)."""
        langs = (self.valid_lang(lang),) if lang else self.languages
        if status and status not in STATUSES:
            raise ReviewError(f"unknown status {status!r}: one of {', '.join(STATUSES)}.")
        notes = self.notes(fresh=True)
        folders = tuple(sorted({rel.rsplit("/", 1)[0] if "/" in rel else "." for rel in notes}))
        if folder:
            notes = [rel for rel in notes if rel.startswith(folder + "/") or (folder == "." and "/" not in rel)]
        pairs = self._pairs(notes, langs)
        if status or query:
            self.counted.wait(_WAIT_S)
            q = query.casefold().encode("utf-8")
            kept = []
            for rel, lg, stamp in pairs:
                counts = self._counts_now(rel, lg, stamp)
                if (not status or getattr(counts.segments, status)) and (not q or q in counts.text):
                    kept.append((rel, lg, stamp))
            pairs = kept
        if has_errors:
            self.checked.wait(_WAIT_S)
            pairs = [p for p in pairs if (self._found_now(*p) or (0, 0))[0]]
        pages = max(1, -(-len(pairs) // PAGE_SIZE))
        page = min(max(1, page), pages)
        shown = pairs[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        rows = tuple(self._row(*p) for p in shown)
        return NotesPage(rows, len(pairs), page, pages, folders, not self.checked.is_set())

    # -- the note view ----------------------------------------------------------------------------

    def _glossary(self, warnings: list[str]) -> glossary.Glossary:
        """The glossary, loaded again only when one of its files changed."""
        key = tuple(state.stamp(self.cfg.root / n) for n in glossary.NAMES)
        if self._glossary_cache is not None and self._glossary_cache[0] == key:
            warnings.extend(self._glossary_cache[2])
            return self._glossary_cache[1]
        problems: tuple[str, ...] = ()
        try:
            g = glossary.load(self.cfg)
        except GlossaryError as exc:
            problems = (f"{exc} (glossary checks are off)",)
            g = glossary.Glossary()
        self._glossary_cache = (key, g, problems)
        warnings.extend(problems)
        return g

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
