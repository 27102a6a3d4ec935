"""Stage 2, translate: fill the catalogs with machine translation, markup kept by construction.

For every catalog of the selected notes and languages, the entries to do are the untranslated ones
(and, with ``refresh``, machine translations — fuzzy, with a ``kbtrans-mt:`` comment — whose msgid
changed since, i.e. that carry a ``#|`` previous msgid). A reviewed translation (non-fuzzy, non-empty)
is never touched.

1. Translation memory: a msgid already reviewed (non-fuzzy) in another catalog of the same locale is
   reused, marked fuzzy (its context may differ) with ``#. kbtrans-mt: memory <that catalog>``.
2. A text with nothing to translate (only markup, numbers or do-not-translate terms) is copied.
3. Everything else is grouped by direction (source → target) across the whole knowledge base,
   de-duplicated (by masked text), its markup protected (:mod:`kbtrans.placeholders`, soft line breaks joined), and sent
   to the engine as one stream per direction. As results arrive they are restored, repaired and
   validated, and written into their catalogs (fuzzy, ``#. kbtrans-mt: <engine provenance>``, plus
   ``#. kbtrans-mt-repair: …`` when placeholders were repaired).

Catalogs are written atomically at least every :data:`FLUSH_SECONDS` of work and at the end — also
when the run is interrupted or the engine fails — so a re-run resumes where this one stopped.
"""

from __future__ import annotations

import contextlib
import fnmatch
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kbtrans import catalog, engines, glossary, lock, markup, placeholders, project
from kbtrans.config import Config
from kbtrans.errors import KbtransError
from kbtrans.model import Segment

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


def _memory(cfg: Config, lang: str, wanted: set[str]) -> dict[str, tuple[str, Path]]:
    """msgid → (reviewed translation, catalog) over every catalog of ``lang`` (most frequent wins), for the
    msgids ``wanted`` only (what is held grows with the work to do, not with the KB)."""
    root = cfg.locales_dir / lang / "LC_MESSAGES"
    seen: dict[str, Counter[str]] = {}
    where: dict[tuple[str, str], Path] = {}
    if not root.is_dir():
        return {}
    for path in sorted(root.rglob("*.po")):
        for m in catalog.read(path):
            if m.obsolete or m.fuzzy or not m.msgstr or m.msgctxt is not None or m.msgid not in wanted:
                continue
            seen.setdefault(m.msgid, Counter())[m.msgstr] += 1
            where.setdefault((m.msgid, m.msgstr), path)
    out = {}
    for msgid, counts in seen.items():
        msgstr = counts.most_common(1)[0][0]
        out[msgid] = (msgstr, where[(msgid, msgstr)])
    return out


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


def translate(cfg: Config, options: Options = Options(), progress: Progress | None = None, *,
              kb_lock: lock.KbLock | None = None) -> TranslateReport:
    """Fill the catalogs of ``cfg``'s knowledge base with machine translation (see the module docstring).

    ``progress(done, total)`` is called with counts of distinct texts sent to the engine. The knowledge
    base's lock (``kb_lock``, by default one that waits) is held only while catalogs are saved.
    """
    started = time.monotonic()
    kb = lock.for_command(cfg.cache_dir, "translate", kb_lock)
    if not kb.wait:  # --no-wait: fail now if another command holds the lock, not after the work is done
        with kb:
            pass
        kb.wait = True  # a later save waits for an extract or build that started meanwhile: the work is done
    langs = cfg.select_languages(options.languages)
    rels = _select(project.inventory(cfg).notes, options.notes)
    keep = glossary.load(cfg).keep
    comments = not cfg.translate_comments

    items: list[_Item] = []
    missing: list[Path] = []
    n_catalogs = 0
    for rel in rels:
        note = project.load_note(cfg, rel)
        by_text: dict[str, list[Segment]] = {}
        for seg in note.entries:
            by_text.setdefault(seg.text, []).append(seg)
        for lang in project.targets(cfg, note):
            if lang not in langs:
                continue
            path = catalog.catalog_path(cfg.locales_dir, lang, note.stem)
            if not path.exists():
                if note.entries:
                    missing.append(path)
                continue
            n_catalogs += 1
            for m in catalog.read(path):
                if _wanted(m, options.refresh):
                    items.append(_Item(path, note.lang, lang, m.msgid, tuple(by_text.get(m.msgid, ())),
                                       note.references, m.msgstr))

    # 1. Translation memory.
    writer = _Writer(cfg.wrap, kb)
    memories = {lang: _memory(cfg, lang, {it.msgid for it in items if it.target == lang})
                for lang in sorted({it.target for it in items})}
    to_engine: list[_Item] = []
    n_memory = 0
    for it in items:
        hit = memories[it.target].get(it.msgid)
        if hit is not None and placeholders.valid(it.msgid, hit[0], it.segments, source_lang=it.source,
                                                  target_lang=it.target, comments=comments,
                                                  references=it.references):
            writer.add(it, hit[0], f"{MT_PREFIX} memory {cfg.display(hit[1])}")
            n_memory += 1
        else:
            to_engine.append(it)

    # 2. Texts with nothing to translate (only markup, numbers, do-not-translate terms) are copied;
    # 3. the rest goes to the engine: one stream per direction, de-duplicated by masked text.
    # (A msgid is masked once per set of shortcut reference links it holds: those depend on the note.)
    streams: dict[tuple[str, str], dict[str, dict[tuple[str, frozenset[str]],
                                                  tuple[placeholders.Masked, list[_Item]]]]] = {}
    masks: dict[tuple[str, frozenset[str]], placeholders.Masked] = {}
    n_copied = 0
    for it in to_engine:
        refs = frozenset(markup.shortcut_references(it.msgid, it.references))
        key = (it.msgid, refs)
        mask = masks.get(key)
        if mask is None:
            mask = masks[key] = placeholders.protect(it.msgid, keep_terms=keep, comments=comments,
                                                     references=it.references)
        if not mask.has_text:
            writer.add(it, it.msgid, f"{MT_PREFIX} copied (nothing to translate)")
            n_copied += 1
            continue
        variants = streams.setdefault((it.source, it.target), {}).setdefault(mask.text, {})
        variants.setdefault(key, (mask, []))[1].append(it)
    total = sum(len(g) for g in streams.values())
    # A missing model fails here, before anything is written.
    engine = engines.create(options.engine or cfg.engine, cfg, fast=options.fast) if streams else None

    done = repaired = fallbacks = translated = 0
    try:
        writer.flush()
        if progress is not None:
            progress(0, total)
        for (src, tgt), stream in streams.items():
            assert engine is not None
            texts = list(stream)
            provenance = f"{MT_PREFIX} {engine.provenance(src, tgt)}"
            answered: set[int] = set()
            for i, output in engine.translate(texts, src, tgt):
                if i in answered or not 0 <= i < len(texts):
                    continue
                answered.add(i)
                for masked, group in stream[texts[i]].values():
                    restored = placeholders.restore(output, masked, segments=[s for it in group for s in it.segments],
                                                    source_lang=src, target_lang=tgt,
                                                    references=frozenset().union(*(it.references for it in group)))
                    comment = provenance
                    if restored.repairs:
                        repaired += 1
                        comment += f"\n{REPAIR_PREFIX} {restored.comment}"
                    fallbacks += restored.fallback
                    for it in group:
                        writer.add(it, restored.text, comment)
                        translated += 1
                done += 1
                if progress is not None:
                    progress(done, total)
                writer.maybe_flush()
    except BaseException:
        with contextlib.suppress(KbtransError):  # save what can be saved; the first error is the one to report
            writer.flush()
        raise
    writer.flush()

    return TranslateReport(
        notes=len(rels), catalogs=n_catalogs, todo=len(items), memory=n_memory, copied=n_copied,
        translated=translated, unique=total, repaired=repaired, fallbacks=fallbacks,
        directions={f"{s}→{t}": len(g) for (s, t), g in streams.items()},
        written=tuple(sorted(writer.written)), missing=tuple(missing),
        engine=engine.name if engine is not None else "", seconds=time.monotonic() - started,
    )
