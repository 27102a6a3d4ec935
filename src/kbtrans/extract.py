"""Stage 1, extract: notes → one PO catalog per note per target language, merged with past work."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import NamedTuple

from kbtrans import catalog, lock, parallel, project, state
from kbtrans.config import Config
from kbtrans.errors import KbtransError
from kbtrans.model import Note

_NO_BASES: dict[str, str] = {}
#: Records saved per transaction while the catalogs are written.
SAVE_BATCH = 1000
#: A renamed note is recognised when at least this share of its texts is in an orphaned catalog.
RENAME_OVERLAP = 0.5


@dataclass(frozen=True)
class ExtractReport:
    """What ``extract`` did."""

    notes: int
    """Notes in the knowledge base."""
    written: tuple[Path, ...] = ()
    """Catalogs created or changed."""
    created: int = 0
    """Catalogs that did not exist before."""
    new: int = 0
    """Entries without any previous translation."""
    fuzzy: int = 0
    """Entries that carried an older translation over (fuzzy)."""
    obsolete: int = 0
    """Entries that became obsolete."""
    renamed: tuple[tuple[Path, Path], ...] = ()
    """(old catalog, new catalog) of notes recognised as renamed; the old catalog was removed."""
    orphans: tuple[Path, ...] = ()
    """Catalogs whose note no longer exists (kept: delete them yourself if the note is gone for good)."""
    unchanged: int = 0
    """Notes skipped because neither they nor their catalogs changed since the last extract."""


@dataclass(frozen=True)
class _Done:
    rel: str
    lang: str
    digest: str
    merged: list[catalog.Merged] = field(default_factory=list)


def _settings(cfg: Config, no_obsolete: bool) -> tuple[object, ...]:
    """What extract's records depend on besides the files they stamp."""
    return cfg.settings(), no_obsolete


def recorded(cfg: Config) -> dict[str, state.Extracted]:
    """What the last ``extract`` recorded per note (language, stamps of the note and its catalogs), or {}.

    For commands that read the KB without extracting (``check``, ``stats``): they trust a note's recorded
    language only while its stamp still matches.
    """
    for no_obsolete in (False, True):
        with state.ExtractState(cfg.cache_dir, _settings(cfg, no_obsolete), write=False) as store:
            if not store.empty:
                return store.load()
    return {}


def recorded_language(seen: state.Extracted | None, note_stamp: str) -> str | None:
    """The language extract recorded for a note, while the note (its :func:`kbtrans.state.stamp`) is the same."""
    return seen.lang if seen is not None and seen.stamp == note_stamp else None


def _one(cfg: Config, no_obsolete: bool, job: tuple[str, dict[str, str]]) -> _Done | KbtransError:
    rel, bases = job
    try:
        source, digest = project.read_source(cfg, rel)
        note = project.segment_cached(cfg, rel, source, digest)
        merged = []
        for lang in project.targets(cfg, note):
            path = catalog.catalog_path(cfg.locales_dir, lang, note.stem)
            base = Path(bases[lang]) if lang in bases else None
            merged.append(catalog.merge(path, note, lang, source_ref=project.source_ref(cfg, rel),
                                        project=cfg.project, no_obsolete=no_obsolete, base=base,
                                        wrap=cfg.wrap, folder=cfg.root.name or "kbtrans"))
        return _Done(rel, note.lang, digest, merged)
    except KbtransError as exc:
        return exc


#: Catalogs merged in this process (a sticky worker, or the only process), with their note's language,
#: waiting to be written.
_STASH: parallel.Stash[tuple[str, list[catalog.Merged]]] = parallel.Stash()


def _merge_and_stash(cfg: Config, no_obsolete: bool, job: tuple[str, dict[str, str]]) -> KbtransError | None:
    """Merge the note's catalogs and keep them in this process; only an error goes back to the parent."""
    done = _one(cfg, no_obsolete, job)
    if isinstance(done, KbtransError):
        return done
    # A catalog's text in memory: up to 2 bytes a character (Cyrillic), plus the objects around it.
    _STASH.put(done.rel, (done.lang, done.merged), sum(2 * len(m.text or "") + 512 for m in done.merged))
    return None


class _Wrote(NamedTuple):
    """What the parent gets back of a written note: its language and stamp, and per catalog what it did."""

    lang: str
    note_stamp: str
    catalogs: list[tuple[catalog.Merged, bool, str]]
    """(the merge without its text, written?, stamp of the catalog as written)."""


def _write_stashed(cfg: Config, rel: str) -> _Wrote:
    """Write the note's merged catalogs."""
    lang, merged = _STASH.pop(rel)
    return _Wrote(lang, state.stamp(cfg.content_dir / rel),
                  [(replace(m, text=None), catalog.write(m), state.stamp(m.path)) for m in merged])


def _find_renames(cfg: Config, todo: list[str], orphans: dict[str, list[Path]]) -> dict[str, dict[str, str]]:
    """For notes without any catalog, the orphaned catalog (per language) they were renamed from."""
    bases: dict[str, dict[str, str]] = {}
    orphan_ids: dict[Path, set[str]] = {}
    for rel in todo:
        stem = rel[:-3]
        if any(catalog.catalog_path(cfg.locales_dir, lang, stem).exists() for lang in cfg.languages):
            continue
        note: Note = project.load_note(cfg, rel)
        texts = {s.text for s in note.entries}
        if not texts:
            continue
        for lang in project.targets(cfg, note):
            best, best_share = None, RENAME_OVERLAP
            for orphan in orphans.get(lang, []):
                if orphan not in orphan_ids:
                    orphan_ids[orphan] = catalog.msgids(orphan)
                share = len(texts & orphan_ids[orphan]) / len(texts)
                if share >= best_share:
                    best, best_share = orphan, share
            if best is not None:
                bases.setdefault(rel, {})[lang] = str(best)
                orphans[lang].remove(best)
    return bases


def extract(cfg: Config, *, no_obsolete: bool = False, jobs: int | None = None,
            kb_lock: lock.KbLock | None = None) -> ExtractReport:
    """Create or update the catalogs of every note of ``cfg``'s knowledge base.

    Nothing is written unless every note and catalog could be read: a bad input raises before any file
    changes. Catalogs are written atomically and only when their content changes, so a write that fails
    (disk full) leaves each catalog either as it was or fully updated, never half-written.

    The knowledge base's lock (``kb_lock``, by default one that waits) is held from the first catalog read
    to the last write, so a ``translate`` running meanwhile saves its work before or after, never between.
    """
    with lock.for_command(cfg.cache_dir, "extract", kb_lock):
        inv = project.inventory(cfg)
        with state.ExtractState(cfg.cache_dir, _settings(cfg, no_obsolete)) as store:
            return _extract(cfg, inv, store, no_obsolete, jobs)


def _extract(cfg: Config, inv: project.Inventory, store: state.ExtractState, no_obsolete: bool,
             jobs: int | None) -> ExtractReport:
    stems = {rel[:-3] for rel in inv.notes}
    previous = store.load()
    todo: list[str] = []
    content, locales = str(cfg.content_dir), str(cfg.locales_dir)  # string paths: this loop sees every note
    for rel in inv.notes:
        seen = previous.get(rel)
        if not (seen is not None and seen.stamp == state.stamp(f"{content}/{rel}") and all(
                state.stamp(catalog.catalog_file(locales, lang, rel[:-3])) == st
                for lang, st in seen.catalogs.items())):
            todo.append(rel)
    notes = set(inv.notes)
    gone = [rel for rel in previous if rel not in notes]
    orphans = {lang: catalog.orphan_catalogs(cfg.locales_dir, lang, stems) for lang in cfg.languages}
    bases = _find_renames(cfg, todo, orphans) if any(orphans.values()) and todo else {}
    # The workers are forked below: what the parent holds then counts once more in each of them.
    del previous, notes, stems

    # Each note's catalogs are merged and written by the same worker process (they stay there in
    # between), and only once every note and catalog could be read. The parent keeps a few counts and
    # saves the records in batches as the catalogs are written.
    jobs_in = list(enumerate(todo))
    written: list[Path] = []
    created = new = fuzzy = obsolete = 0
    changed: dict[str, state.Extracted] = {}
    renamed_now: dict[str, state.Extracted] = {}
    with parallel.StickyPool(jobs, parallel=len(todo) >= parallel.MIN_PARALLEL) as pool:
        try:
            for error in pool.stream(partial(_merge_and_stash, cfg, no_obsolete),
                                     [(i, (rel, bases.get(rel, _NO_BASES))) for i, rel in jobs_in]):
                if error is not None:
                    raise error
            for rel, wrote in zip(todo, pool.stream(partial(_write_stashed, cfg), jobs_in), strict=True):
                for m, w, _ in wrote.catalogs:
                    if w:
                        written.append(m.path)
                        created += m.created
                        new += m.new
                        fuzzy += m.fuzzy
                        obsolete += m.obsolete
                # (a renamed note is recorded at the end, once its old catalog is removed)
                (renamed_now if rel in bases else changed)[rel] = state.Extracted(
                    wrote.note_stamp, wrote.lang, {m.lang: st for m, _, st in wrote.catalogs})
                if len(changed) >= SAVE_BATCH:
                    store.save(changed)
                    changed = {}
        finally:
            _STASH.clear()
    renamed = []
    for rel, by_lang in bases.items():
        for lang, old in by_lang.items():
            Path(old).unlink(missing_ok=True)
            renamed.append((Path(old), catalog.catalog_path(cfg.locales_dir, lang, rel[:-3])))
    store.save({**changed, **renamed_now}, gone)
    project.forget(cfg, gone)  # deleted notes: drop their segmentation cache too
    return ExtractReport(
        notes=len(inv.notes), written=tuple(written), created=created, new=new, fuzzy=fuzzy, obsolete=obsolete,
        renamed=tuple(renamed), orphans=tuple(p for ps in orphans.values() for p in ps),
        unchanged=len(inv.notes) - len(todo),
    )
