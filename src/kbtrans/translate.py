"""Stage 2, translate: fill the catalogs with machine translation, markup kept by construction.

For every catalog of the selected notes and languages, the entries to do are the untranslated ones
(and, with ``refresh``, machine translations — fuzzy, with a ``kbtrans-mt:`` comment — whose msgid
changed since, i.e. that carry a ``#|`` previous msgid). A reviewed translation (non-fuzzy, non-empty)
is never touched.

1. Translation memory: a msgid already reviewed (non-fuzzy) in another catalog of the same locale is
   reused, marked fuzzy (its context may differ) with ``#. kbtrans-mt: memory <that catalog>``.
2. A text with nothing to translate (only markup, numbers or do-not-translate terms) is copied.
3. Everything else is grouped by direction (source → target), de-duplicated (by masked text), its markup
   protected (:mod:`kbtrans.placeholders`, soft line breaks joined), and sent to the engine as one stream
   per direction. As results arrive they are restored, repaired and validated, and written into their
   catalogs (fuzzy, ``#. kbtrans-mt: <engine provenance>``, plus ``#. kbtrans-mt-repair: …`` when
   placeholders were repaired).

Notes are taken :data:`CHUNK_NOTES` at a time, so a run holds a bounded number of notes and catalogs
however large the knowledge base is; what must span the run (the translation memory, each distinct text's
engine output) lives in a temporary SQLite database, so a text is sent to the engine once per run.

Catalogs are written atomically at least every :data:`FLUSH_SECONDS` of work and at the end — also
when the run is interrupted or the engine fails — so a re-run resumes where this one stopped.
"""

from __future__ import annotations

import contextlib
import fnmatch
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kbtrans import catalog, engines, glossary, lock, markup, placeholders, project
from kbtrans.config import Config
from kbtrans.errors import KbtransError
from kbtrans.model import Segment

#: Notes read, translated and saved together (what a run holds at a time).
CHUNK_NOTES = 500
#: Dirty catalogs are written at least this often (seconds of work).
FLUSH_SECONDS = 3.0
#: Extracted-comment prefix of machine-translation provenance.
MT_PREFIX = "kbtrans-mt:"
#: Extracted-comment prefix of the placeholder-repair note.
REPAIR_PREFIX = catalog.MT_REPAIR_PREFIX
#: Existing comment lines starting with this are replaced when an entry is (re)translated.
_REPLACE_PREFIX = "kbtrans-mt"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Options:
    """What to translate, and with what."""

    languages: tuple[str, ...] = ()
    """Target languages (``--to``); empty means every configured language."""
    engine: str | None = None
    """Engine name (``--engine``); None means the config's ``engine``."""
    notes: tuple[str, ...] = ()
    """Globs (``--note``) over content-relative note paths, with or without ``.md``; empty means all notes."""
    refresh: bool = False
    """Also re-translate machine translations whose msgid changed (fuzzy, MT provenance, ``#|``)."""
    fast: bool = False
    """The engine's draft preset (argos: greedy decoding, more workers)."""


@dataclass(frozen=True)
class TranslateReport:
    """What ``translate`` did."""

    notes: int
    """Notes selected."""
    catalogs: int
    """Catalogs read (of the selected notes and languages)."""
    todo: int = 0
    """Entries that needed a translation."""
    memory: int = 0
    """Entries filled from translation memory."""
    copied: int = 0
    """Entries with nothing to translate (only markup, numbers, do-not-translate terms), copied as they are."""
    translated: int = 0
    """Entries filled by the engine."""
    unique: int = 0
    """Distinct (masked) texts sent to the engine, all directions together."""
    repaired: int = 0
    """Distinct msgids (per direction) whose placeholders or markup had to be repaired."""
    fallbacks: int = 0
    """Distinct msgids (per direction) whose engine output was unusable (the source text was kept, fuzzy)."""
    directions: dict[str, int] = field(default_factory=dict)
    """Distinct texts per direction ("ru→en")."""
    written: tuple[Path, ...] = ()
    """Catalogs changed."""
    missing: tuple[Path, ...] = ()
    """Catalogs that do not exist (run ``kbtrans extract``)."""
    engine: str = ""
    """Name of the engine used ("" when nothing needed one)."""
    seconds: float = 0.0
    """Wall time of the run."""


@dataclass(frozen=True)
class _Item:
    path: Path
    source: str
    target: str
    msgid: str
    segments: tuple[Segment, ...]
    references: frozenset[str] = frozenset()
    msgstr: str = ""
    """The translation the entry held when it was chosen (a fill is skipped if a translator changed it since)."""


def _select(notes: Sequence[str], globs: Sequence[str]) -> list[str]:
    if not globs:
        return list(notes)
    chosen = []
    for rel in notes:
        stem = rel[:-3] if rel.lower().endswith(".md") else rel
        if any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(stem, g) for g in globs):
            chosen.append(rel)
    if not chosen:
        raise KbtransError(f"--note {' '.join(globs)}: no note matches. Globs match note paths relative to the "
                           "content folder, e.g. --note 'training/*' or --note index.md.")
    return chosen


def _wanted(m: catalog.Message, refresh: bool) -> bool:
    if m.obsolete:
        return False
    if not m.msgstr:
        return True
    if m.fallback:
        return True  # the model's output was unusable last time and the source text still stands in: try again
    return (refresh and m.fuzzy and m.previous_msgid is not None
            and any(c.startswith(MT_PREFIX) for c in m.comments))


class _Scratch:
    """What a run keeps across its chunks of notes, in a private temporary SQLite database (on disk, deleted
    when closed, even after ``kill -9``), so that memory stays flat however large the knowledge base is:

    * the translation memory: every reviewed (non-fuzzy) translation of a language, read once, on the first
      chunk that needs it;
    * each distinct masked text's engine output per direction, so a text met again in a later chunk is neither
      sent nor counted twice;
    * the variants (msgid, reference labels) whose repair or fallback was counted already.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.db = sqlite3.connect("")  # "": a private temporary database that SQLite deletes itself
        self.db.executescript(
            "CREATE TABLE memory (lang TEXT, msgid TEXT, msgstr TEXT, path TEXT);"
            "CREATE TABLE outputs (direction TEXT, text TEXT, output TEXT, PRIMARY KEY (direction, text));"
            "CREATE TABLE counted (direction TEXT, msgid TEXT, refs TEXT, PRIMARY KEY (direction, msgid, refs));")
        self.loaded: set[str] = set()

    def close(self) -> None:
        self.db.close()

    def _load_memory(self, lang: str) -> None:
        self.loaded.add(lang)
        root = self.cfg.locales_dir / lang / "LC_MESSAGES"
        if not root.is_dir():
            return
        for path in sorted(root.rglob("*.po")):
            rows = [(lang, m.msgid, m.msgstr, str(path)) for m in catalog.read(path)
                    if not (m.obsolete or m.fuzzy or not m.msgstr or m.msgctxt is not None)]
            self.db.executemany("INSERT INTO memory VALUES (?, ?, ?, ?)", rows)
        self.db.execute(f"CREATE INDEX IF NOT EXISTS memory_{len(self.loaded)} ON memory (lang, msgid)")

    def memory(self, lang: str, msgid: str) -> tuple[str, Path] | None:
        """The reviewed translation of ``msgid`` in ``lang`` (most frequent wins, then the first catalog in
        path order) and the catalog it was found in."""
        if lang not in self.loaded:
            self._load_memory(lang)
        row = self.db.execute(
            "SELECT msgstr, path, MIN(rowid) AS first, COUNT(*) AS n FROM memory WHERE lang = ? AND msgid = ? "
            "GROUP BY msgstr ORDER BY n DESC, first LIMIT 1", (lang, msgid)).fetchone()
        return None if row is None else (row[0], Path(row[1]))

    def output(self, direction: str, text: str) -> str | None:
        row = self.db.execute("SELECT output FROM outputs WHERE direction = ? AND text = ?",
                              (direction, text)).fetchone()
        return None if row is None else str(row[0])

    def put_output(self, direction: str, text: str, output: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", (direction, text, output))

    def first_count(self, direction: str, key: tuple[str, frozenset[str]]) -> bool:
        """True the first time the variant ``key`` is counted in ``direction``."""
        cur = self.db.execute("INSERT OR IGNORE INTO counted VALUES (?, ?, ?)",
                              (direction, key[0], "\n".join(sorted(key[1]))))
        return cur.rowcount == 1


class _Writer:
    """Pending fills per catalog, written atomically every few seconds and at the end."""

    def __init__(self, wrap: int, kb_lock: lock.KbLock) -> None:
        self.wrap = wrap
        self.lock = kb_lock
        self.pending: dict[Path, list[catalog.Fill]] = {}
        self.written: set[Path] = set()
        self.last = time.monotonic()

    def add(self, it: _Item, msgstr: str, comment: str) -> None:
        """Queue a machine translation (fuzzy, with ``comment``) of ``it``."""
        fill = catalog.Fill(it.msgid, msgstr, True, comment, _REPLACE_PREFIX, drop_previous=True, expect=it.msgstr)
        self.pending.setdefault(it.path, []).append(fill)

    def maybe_flush(self) -> None:
        if time.monotonic() - self.last >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write every pending catalog; one that cannot be written does not stop the others (raised after)."""
        failed: list[str] = []
        if not self.pending:
            self.last = time.monotonic()
            return
        pending, self.pending = self.pending, {}
        # Under the knowledge base's lock, each catalog is read again and the fills merged into what it
        # holds now: an `extract` that ran meanwhile (it holds the lock from read to write) loses nothing.
        with self.lock:
            for path, fills in pending.items():
                try:
                    if catalog.fill(path, fills, wrap=self.wrap):
                        self.written.add(path)
                except KbtransError as exc:
                    failed.append(str(exc))
                except OSError as exc:  # disk full, read-only, …
                    failed.append(f"{exc.filename or path}: {exc.strerror or exc}")
        self.last = time.monotonic()
        if len(failed) == 1:
            raise KbtransError(f"{failed[0]} (every other catalog was saved).")
        if failed:
            raise KbtransError(f"{len(failed)} catalogs could not be saved (every other one was):\n"
                               + "\n".join(f"  {f}" for f in failed)
                               + "\nFix them and run `kbtrans translate` again.")


def _distinct(segments: Iterable[Segment]) -> list[Segment]:
    """One segment of each shape: validation does not depend on where in the KB a segment is (the same
    heading in 5,000 notes is checked once), only on what it is."""
    seen: dict[tuple[object, ...], Segment] = {}
    for seg in segments:
        first = seg.spans[0].line if seg.spans else 0
        key = (seg.text, seg.kind, seg.section, seg.single_line, seg.translatable, seg.quote,
               tuple((sp.line - first, sp.start, sp.end) for sp in seg.spans))
        seen.setdefault(key, seg)
    return list(seen.values())


def _chunks(rels: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(rels), size):
        yield rels[i:i + size]


def translate(cfg: Config, options: Options = Options(), progress: Progress | None = None, *,
              kb_lock: lock.KbLock | None = None) -> TranslateReport:
    """Fill the catalogs of ``cfg``'s knowledge base with machine translation (see the module docstring).

    Notes are taken :data:`CHUNK_NOTES` at a time: their catalogs are read, translated and written before
    the next chunk is read, so memory does not grow with the knowledge base; a text met in an earlier chunk
    is not sent again. ``progress(done, total)`` is called with counts of distinct texts sent to the engine
    (``total`` grows as chunks are read). The knowledge base's lock (``kb_lock``, by default one that waits)
    is held only while catalogs are saved.
    """
    started = time.monotonic()
    kb = lock.for_command(cfg.cache_dir, "translate", kb_lock)
    if not kb.wait:  # --no-wait: fail now if another command holds the lock, not after the work is done
        with kb:
            pass
        kb.wait = True  # a later save waits for an extract or build that started meanwhile: the work is done
    langs = cfg.select_languages(options.languages)
    rels = _select(project.inventory(cfg).notes, options.notes)
    run = _Run(cfg, options, progress, kb)
    try:
        for chunk in _chunks(rels, CHUNK_NOTES):
            run.chunk(chunk, langs)
    except BaseException:
        with contextlib.suppress(KbtransError):  # save what can be saved; the first error is the one to report
            run.writer.flush()
        raise
    finally:
        run.scratch.close()
    run.writer.flush()
    return TranslateReport(
        notes=len(rels), catalogs=run.n_catalogs, todo=run.todo, memory=run.n_memory, copied=run.n_copied,
        translated=run.translated, unique=run.total, repaired=run.repaired, fallbacks=run.fallbacks,
        directions=dict(run.directions), written=tuple(sorted(run.writer.written)), missing=tuple(run.missing),
        engine=run.engine.name if run.engine is not None else "", seconds=time.monotonic() - started,
    )


class _Run:
    """One ``translate`` run, fed a chunk of notes at a time; counts add up over the chunks."""

    def __init__(self, cfg: Config, options: Options, progress: Progress | None, kb: lock.KbLock) -> None:
        self.cfg = cfg
        self.options = options
        self.progress = progress
        self.keep = glossary.load(cfg).keep
        self.comments = not cfg.translate_comments
        self.writer = _Writer(cfg.wrap, kb)
        self.scratch = _Scratch(cfg)
        self.engine: engines.Engine | None = None
        self.missing: list[Path] = []
        self.directions: Counter[str] = Counter()
        self.n_catalogs = self.todo = self.n_memory = self.n_copied = 0
        self.done = self.total = self.repaired = self.fallbacks = self.translated = 0

    def _items(self, rels: Sequence[str], langs: Sequence[str]) -> list[_Item]:
        items: list[_Item] = []
        for rel in rels:
            note = project.load_note(self.cfg, rel)
            by_text: dict[str, list[Segment]] = {}
            for seg in note.entries:
                by_text.setdefault(seg.text, []).append(seg)
            for lang in project.targets(self.cfg, note):
                if lang not in langs:
                    continue
                path = catalog.catalog_path(self.cfg.locales_dir, lang, note.stem)
                if not path.exists():
                    if note.entries:
                        self.missing.append(path)
                    continue
                self.n_catalogs += 1
                for m in catalog.read(path):
                    if _wanted(m, self.options.refresh):
                        items.append(_Item(path, note.lang, lang, m.msgid, tuple(by_text.get(m.msgid, ())),
                                           note.references, m.msgstr))
        return items

    def chunk(self, rels: Sequence[str], langs: Sequence[str]) -> None:
        """Translate the catalogs of the notes ``rels`` and save them."""
        items = self._items(rels, langs)
        self.todo += len(items)
        cfg, writer, scratch, comments = self.cfg, self.writer, self.scratch, self.comments

        # 1. Translation memory.
        to_engine: list[_Item] = []
        for it in items:
            hit = scratch.memory(it.target, it.msgid)
            if hit is not None and placeholders.valid(it.msgid, hit[0], it.segments, source_lang=it.source,
                                                      target_lang=it.target, comments=comments,
                                                      references=it.references):
                writer.add(it, hit[0], f"{MT_PREFIX} memory {cfg.display(hit[1])}")
                self.n_memory += 1
            else:
                to_engine.append(it)

        # 2. Texts with nothing to translate (only markup, numbers, do-not-translate terms) are copied;
        # 3. the rest goes to the engine: one stream per direction, de-duplicated by masked text.
        # (A msgid is masked once per set of shortcut reference links it holds: those depend on the note.)
        streams: dict[tuple[str, str], dict[str, dict[tuple[str, frozenset[str]],
                                                      tuple[placeholders.Masked, list[_Item]]]]] = {}
        masks: dict[tuple[str, frozenset[str]], placeholders.Masked] = {}
        for it in to_engine:
            refs = frozenset(markup.shortcut_references(it.msgid, it.references))
            key = (it.msgid, refs)
            mask = masks.get(key)
            if mask is None:
                mask = masks[key] = placeholders.protect(it.msgid, keep_terms=self.keep, comments=comments,
                                                         references=it.references)
            if not mask.has_text:
                writer.add(it, it.msgid, f"{MT_PREFIX} copied (nothing to translate)")
                self.n_copied += 1
                continue
            variants = streams.setdefault((it.source, it.target), {}).setdefault(mask.text, {})
            variants.setdefault(key, (mask, []))[1].append(it)
        del masks, to_engine, items

        # Texts sent in an earlier chunk are answered from what the engine said then.
        todo: dict[tuple[str, str], list[str]] = {}
        for (src, tgt), stream in streams.items():
            direction = f"{src}→{tgt}"
            texts = todo[(src, tgt)] = []
            for text in stream:
                output = scratch.output(direction, text)
                if output is None:
                    texts.append(text)
                else:
                    self._fill(src, tgt, stream[text], output, None)
            self.directions[direction] += len(texts)
            self.total += len(texts)
        if self.engine is None and any(todo.values()):
            # A missing model fails here, before anything of this chunk is written (a re-run redoes it).
            try:
                self.engine = engines.create(self.options.engine or cfg.engine, cfg, fast=self.options.fast)
            except BaseException:
                writer.pending.clear()
                raise
        writer.flush()
        if self.progress is not None:
            self.progress(self.done, self.total)
        for (src, tgt), texts in todo.items():
            if not texts:
                continue
            assert self.engine is not None
            stream = streams[(src, tgt)]
            direction = f"{src}→{tgt}"
            provenance = f"{MT_PREFIX} {self.engine.provenance(src, tgt)}"
            answered: set[int] = set()
            for i, output in self.engine.translate(texts, src, tgt):
                if i in answered or not 0 <= i < len(texts):
                    continue
                answered.add(i)
                scratch.put_output(direction, texts[i], output)
                self._fill(src, tgt, stream[texts[i]], output, provenance)
                self.done += 1
                if self.progress is not None:
                    self.progress(self.done, self.total)
                writer.maybe_flush()
        writer.flush()

    def _fill(self, src: str, tgt: str, variants: dict[tuple[str, frozenset[str]],
                                                        tuple[placeholders.Masked, list[_Item]]],
              output: str, provenance: str | None) -> None:
        """Restore the engine's ``output`` into every variant of one masked text and queue the fills."""
        assert self.engine is not None or provenance is None
        if provenance is None:  # answered in an earlier chunk: the engine exists
            assert self.engine is not None
            provenance = f"{MT_PREFIX} {self.engine.provenance(src, tgt)}"
        direction = f"{src}→{tgt}"
        for key, (masked, group) in variants.items():
            restored = placeholders.restore(output, masked, segments=_distinct(s for it in group for s in it.segments),
                                            source_lang=src, target_lang=tgt,
                                            references=frozenset().union(*(it.references for it in group)))
            comment = provenance
            first = self.scratch.first_count(direction, key)
            if restored.repairs:
                self.repaired += first
                comment += f"\n{REPAIR_PREFIX} {restored.comment}"
            self.fallbacks += int(first and restored.fallback)
            for it in group:
                self.writer.add(it, restored.text, comment)
                self.translated += 1
