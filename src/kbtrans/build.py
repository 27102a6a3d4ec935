"""Stage 4, build: every note rebuilt per locale by splicing translations into its source.

A translation is used only if it keeps the msgid's markup and passes the safety checks
(:func:`kbtrans.check.blocking`) and
cannot change the block structure (:func:`kbtrans.splice.fit`); otherwise the source text is used and a
warning names the PO file and line. Outputs are written atomically and only when they change.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, overload

# check and splice (and the Markdown parser behind them) load only when a note is planned or rendered:
# an up-to-date build does not need them.
from kbtrans import anchors, catalog, lock, parallel, project, state
from kbtrans.config import Config
from kbtrans.errors import ConfigError, KbtransError
from kbtrans.fsutil import write_if_changed
from kbtrans.model import Note


@dataclass(frozen=True)
class Options:
    """How to build."""

    languages: tuple[str, ...] = ()
    """Locales to build; empty means every configured language."""
    reviewed_only: bool = False
    """Ignore fuzzy entries (machine translation and carried-over texts)."""
    min_translated: float = 0.0
    """Skip (and report) a note whose share of translated segments, in percent, is below this."""


@dataclass(frozen=True)
class Problem:
    """A warning about one catalog entry or note."""

    path: str
    """The PO file (or note) concerned."""
    line: int | None
    """Its line, where there is one."""
    message: str
    """What is wrong and what to do."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass(frozen=True)
class BuildReport:
    """What ``build`` did."""

    notes: int
    """Notes in the knowledge base."""
    written: Sequence[Path] = ()
    """Files created or changed under the output folder."""
    removed: tuple[Path, ...] = ()
    """Files removed because their note or attachment is gone (or the note was skipped)."""
    skipped: tuple[tuple[str, str, float], ...] = ()
    """(note, language, percent translated) of notes below ``--min-translated``."""
    warnings: tuple[Problem, ...] = ()
    """Translations not used, missing catalogs, …"""
    translated: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per language: (segments translated, segments) over the notes built from catalogs. A segment is a distinct
    text of a note (one catalog entry), as ``kbtrans stats`` counts them; translated means its translation was used
    (so, for catalogs that pass ``check``, ``stats``' reviewed + machine + fuzzy)."""


class OutputPaths(Sequence[Path]):
    """Files under an output folder, held as ``lang/path`` strings (a cold build of a large KB writes
    hundreds of thousands): each is a :class:`~pathlib.Path` when read."""

    def __init__(self, root: Path, rels: list[str]) -> None:
        self.root, self._rels = root, rels

    @overload
    def __getitem__(self, i: int) -> Path: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Path]: ...

    def __getitem__(self, i: int | slice) -> Path | Sequence[Path]:
        if isinstance(i, slice):
            return [self.root / r for r in self._rels[i]]
        return self.root / self._rels[i]

    def __len__(self) -> int:
        return len(self._rels)

    def __iter__(self) -> Iterator[Path]:
        return (self.root / r for r in self._rels)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"OutputPaths({list(self)!r})"


@dataclass
class _Plan:
    """One note in one locale, ready to render (without anchors)."""

    lang: str
    texts: dict[int, str]
    headings: dict[str, str]
    warnings: list[Problem]
    done: int
    total: int
    copy: bool = False


def plan_note(cfg: Config, note: Note, lang: str, reviewed_only: bool) -> _Plan:
    """Choose, for every segment of ``note``, the text it gets in ``lang``."""
    if note.lang == lang:
        heads = {s.text: s.text for s in note.segments if s.is_heading}
        return _Plan(lang, {}, heads, [], 0, 0, copy=True)
    po = catalog.catalog_path(cfg.locales_dir, lang, note.stem)
    po_name = cfg.display(po)
    warnings: list[Problem] = []
    if po.exists():
        messages = catalog.translations(po, include_fuzzy=not reviewed_only)
    else:
        messages = {}
        if note.entries:
            warnings.append(Problem(cfg.display(cfg.content_dir / note.path), None,
                                    f"no {lang} catalog ({po_name}); the note is built untranslated. "
                                    "Run `kbtrans extract`."))
    texts: dict[int, str] = {}
    headings: dict[str, str] = {}
    done = total = 0
    comments = not cfg.translate_comments
    counted: set[str] = set()
    for i, seg in enumerate(note.segments):
        if not seg.translatable:
            continue
        # Counted per distinct text, as the catalog holds it and `kbtrans stats` counts it (a text that
        # occurs twice in the note is one entry, one segment).
        first = seg.text not in counted
        counted.add(seg.text)
        total += first
        msg = messages.get(seg.text)
        chosen = seg.text
        if msg is not None and msg.fallback:
            if first:
                warnings.append(Problem(po_name, msg.line, "machine translation kept the source text (the model's "
                                        "output was unusable); the source text is used. Translate the entry (or "
                                        "run `kbtrans translate` again)."))
        elif msg is not None and msg.msgstr == seg.text:
            done += first  # identical: nothing to check, and the source is reproduced byte for byte
        elif msg is not None:
            from kbtrans import check, splice

            problems = check.blocking(seg, msg.msgstr, note.lang, lang, comments=comments,
                                      references=note.references)
            fitted = None if problems else splice.fit(seg, msg.msgstr)
            if problems:
                warnings.append(Problem(po_name, msg.line, "translation changes the markup ("
                                        + "; ".join(problems) + "); the source text is used. Fix the msgstr."))
            elif fitted is None:
                warnings.append(Problem(po_name, msg.line, "translation would change the block structure "
                                        "(empty, or a line that starts a list/heading/quote); the source "
                                        "text is used. Fix the msgstr."))
            else:
                chosen = fitted
                done += first
        if chosen != seg.text:
            texts[i] = chosen
        if seg.is_heading:
            headings[seg.text] = chosen
    return _Plan(lang, texts, headings, warnings, done, total)


@dataclass
class _NoteWork:
    rel: str
    note: Note
    plans: list[_Plan]


def _work(cfg: Config, langs: tuple[str, ...], reviewed_only: bool, rel: str) -> _NoteWork | KbtransError:
    try:
        note = project.load_note(cfg, rel)
        return _NoteWork(rel, note, [plan_note(cfg, note, lang, reviewed_only) for lang in langs])
    except KbtransError as exc:
        return exc


def _digest(obj: Any) -> str:
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode(), digest_size=8).hexdigest()


#: Notes planned in this process (a sticky worker, or the only process), waiting to be rendered.
_STASH: parallel.Stash[_NoteWork] = parallel.Stash()


@dataclass(frozen=True)
class _Planned:
    """What the parent needs of a planned note: its language and each plan without its texts."""

    rel: str
    lang: str
    plans: list[_Plan]


def _plan_and_stash(cfg: Config, langs: tuple[str, ...], reviewed_only: bool,
                    rel: str) -> _Planned | KbtransError:
    work = _work(cfg, langs, reviewed_only, rel)
    if isinstance(work, KbtransError):
        return work
    # About five times the text's size in memory (its lines, segments and spans), measured on the bench KB.
    _STASH.put(rel, work, 5 * sum(map(len, work.note.source.lines)) + 4096)
    return _Planned(rel, work.note.lang, [_Plan(p.lang, {}, p.headings, p.warnings, p.done, p.total, p.copy)
                                          for p in work.plans])


#: Heading maps (and digests) a process keeps at a time: looked up again in the build state beyond that.
LINK_CACHE = 4096


class _Links:
    """Heading maps of the notes in every locale, for anchor rewriting and dependency digests.

    The maps of the notes planned in this run are staged in the build state (``build_pending``) as they
    are planned, and every map is read from there (or from the last build's records) on demand, by the
    process that needs it: a worker renders its notes without the parent sending it every note's map, and
    no process holds more than :data:`LINK_CACHE` of them. Only when the state cannot be written are the
    planned maps kept in memory (``maps``) and sent to the workers.
    """

    def __init__(self, index: anchors.NoteIndex, store: state.BuildState | None) -> None:
        self.index, self.store = index, store
        self.where = (store.cache_dir, store.settings) if store is not None else None
        self.maps: dict[tuple[str, str], tuple[str, dict[str, str]]] | None = None
        self._rows: dict[tuple[str, str], tuple[str | None, dict[str, str], str | None]] = {}
        self._hmaps: dict[tuple[str, str], anchors.HeadingMap | None] = {}
        self._digests: dict[tuple[str, str], str] = {}

    def __getstate__(self) -> dict[str, Any]:  # sent to worker processes: each opens the database itself
        return {**self.__dict__, "store": None, "_rows": {}, "_hmaps": {}, "_digests": {}}

    def _store(self) -> state.BuildState | None:
        if self.store is None and self.where is not None:
            self.store = state.BuildState(*self.where, write=False)
        return self.store

    def _row(self, note: str, lang: str) -> tuple[str | None, dict[str, str], str | None]:
        """(the note's own language, its heading map in ``lang``, the recorded digest of that map); for a
        note no longer in the KB (its recorded map is still in the state until this build saves) an
        empty map."""
        key = (note, lang)
        row = self._rows.get(key)
        if row is None:
            if note not in self.index.members:
                row = (None, {}, None)
            elif self.maps is not None and key in self.maps:
                row = (*self.maps[key], None)
            else:
                store = self._store()
                row = (store.lookup(f"{lang}/{note}") if store is not None else None) or (None, {}, None)
            _put(self._rows, key, row)
        return row

    def headings(self, note: str, lang: str) -> dict[str, str]:
        """The heading map of ``note`` in ``lang``."""
        return self._row(note, lang)[1]

    def lookup_for(self, lang: str) -> anchors.Lookup:
        def lookup(note: str) -> anchors.HeadingMap | None:
            key = (note, lang)
            if key not in self._hmaps:
                own, heads, _ = self._row(note, lang)
                _put(self._hmaps, key, None if own == lang else anchors.HeadingMap.of(heads))
            return self._hmaps[key]
        return lookup

    def heading_digest(self, note: str, lang: str) -> str:
        """Digest of the heading map of ``note`` in ``lang`` (stored with its build record)."""
        key = (note, lang)
        if key not in self._digests:
            _, heads, recorded = self._row(note, lang)
            _put(self._digests, key, recorded or _digest(heads))
        return self._digests[key]

    def deps_digest(self, deps: list[str], lang: str) -> str:
        """Digest of the heading maps of the notes ``deps`` in ``lang``."""
        text = "\n".join(f"{d}\t{self.heading_digest(d, lang)}" for d in sorted(deps))
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= LINK_CACHE:
        cache.clear()
    cache[key] = value


@dataclass(frozen=True)
class _Output:
    """One note in one locale, rendered (or skipped) by :func:`_render_stashed`."""

    lang: str
    record: state.Built
    headings: dict[str, str]
    deps: list[str]
    written: bool
    removed: bool


def _render_stashed(cfg: Config, links: _Links, min_translated: float, rel: str) -> list[_Output]:
    work = _STASH.pop(rel)
    outs = []
    for p in work.plans:
        target = cfg.output_dir / p.lang / rel
        pct = 100.0 * p.done / p.total if p.total else 100.0
        written = removed = False
        skipped = None
        deps: list[str] = []
        deps_digest = hd = ""
        if not p.copy and pct < min_translated:
            skipped = round(pct, 1)
            if target.exists():
                target.unlink()
                removed = True
        else:
            used: set[str] = set()
            data = _render(cfg, work.note, p, links.index, links.lookup_for(p.lang), used)
            deps = sorted(used)
            deps_digest = links.deps_digest(deps, p.lang)
            hd = links.heading_digest(rel, p.lang)
            written = write_if_changed(target, data)
        stamp = _stamp(state.stamp(cfg.content_dir / rel), str(cfg.locales_dir), str(cfg.output_dir), rel, p.lang,
                       p.copy)
        record = state.Built(stamp, work.note.lang, p.done, p.total, skipped, tuple(vars(w) for w in p.warnings),
                             hd, deps_digest)
        outs.append(_Output(p.lang, record, p.headings, deps, written, removed))
    return outs


def _stamp(note_stamp: str, locales: str, output: str, rel: str, lang: str, copy: bool) -> str:
    """What a build record of ``rel`` in ``lang`` is valid for: the note, its catalog (none for a note
    copied as it is: no catalog of it is read) and the output."""
    po = "" if copy else state.stamp(catalog.catalog_file(locales, lang, rel[:-3]))
    return f"{note_stamp} {po} {state.stamp(f'{output}/{lang}/{rel}')}"


def check_output_folder(cfg: Config) -> None:
    """Refuse an output folder that is, holds or lies inside the notes or the catalogs: build prunes it."""
    out = cfg.output_dir.resolve()
    for key, folder in (("content", cfg.content_dir), ("locales", cfg.locales_dir)):
        theirs = folder.resolve()
        if out == theirs or out.is_relative_to(theirs) or theirs.is_relative_to(out):
            how = "is" if out == theirs else "lies inside" if out.is_relative_to(theirs) else "contains"
            raise ConfigError(
                f"the output folder {cfg.output} {how} the `{key}` folder {folder}: build removes what it did "
                "not write there, so it would delete your files. Choose another folder (`output` in kbtrans.toml "
                "or --output DIR), e.g. build.",
                path=cfg.output_dir,
            )


def build(cfg: Config, options: Options = Options(), *, jobs: int | None = None,
          kb_lock: lock.KbLock | None = None) -> BuildReport:
    """Write ``<output>/<lang>/<note>`` for every note and language, and copy attachments.

    The knowledge base's lock (``kb_lock``, by default one that waits) is held throughout.
    """
    check_output_folder(cfg)
    with lock.for_command(cfg.cache_dir, "build", kb_lock):
        return _build_locked(cfg, options, jobs)


def _build_locked(cfg: Config, options: Options, jobs: int | None) -> BuildReport:
    inv = project.inventory(cfg)
    langs = cfg.select_languages(options.languages)
    # A large KB's workers start before the last build's records are read (see parallel.early_pool); they
    # stop again if few notes need planning.
    pool = parallel.StickyPool(jobs, parallel=len(inv.notes) >= parallel.PREFORK_NOTES)
    try:
        with state.BuildState(cfg.cache_dir, (cfg.settings(), options.reviewed_only, options.min_translated)) as store:
            previous = store.load()
            # 1. Which notes need planning: inputs changed, or their output is not what we wrote.
            # (string paths: this loop runs for every note and locale on every build)
            content, locales, output = str(cfg.content_dir), str(cfg.locales_dir), str(cfg.output_dir)
            cached: dict[tuple[str, str], state.Built] = {}
            todo: list[str] = []
            for rel in inv.notes:
                note_stamp = state.stamp(f"{content}/{rel}")
                for lang in langs:
                    seen = previous.get(f"{lang}/{rel}")
                    if seen is None or seen.stamp != _stamp(note_stamp, locales, output, rel, lang, seen.lang == lang):
                        todo.append(rel)
                        break
                    cached[(rel, lang)] = seen

            # Each note is planned and rendered in the same worker process (it stays there in between), so
            # only heading maps and small records cross processes.
            if len(todo) < parallel.MIN_PARALLEL:
                pool.close()
            elif not pool.parallel:
                pool.start()
            return _build(cfg, options, inv, langs, todo, cached, pool, store, previous)
    finally:
        pool.close()
        _STASH.clear()


#: Planned notes whose heading maps are staged, and rendered notes whose records are saved, per transaction.
SAVE_BATCH = 1000

#: What the parent keeps of a planned note's plan: (language, done, total, warnings).
_Summary = tuple[str, int, int, tuple[Problem, ...]]


def _build(cfg: Config, options: Options, inv: project.Inventory, langs: tuple[str, ...], todo: list[str],
           cached: dict[tuple[str, str], state.Built], pool: parallel.StickyPool, store: state.BuildState,
           previous: dict[str, state.Built]) -> BuildReport:
    out_root = cfg.output_dir
    position = {rel: i for i, rel in enumerate(inv.notes)}
    # The parent keeps per planned note only its language and counts; heading maps go to the build state.
    planned: dict[str, tuple[str, tuple[_Summary, ...]]] = {}
    links = _Links(anchors.NoteIndex(inv.notes), store)
    store.unstage()  # left by a build that was interrupted
    # What this build may write is recorded before it writes anything: a file under the output folder
    # that kbtrans did not write (no record of it) is never removed.
    out_key = str(out_root.resolve())
    outputs = state.OutputState(cfg.cache_dir, ())
    recorded = outputs.load(out_key)
    attachments = set(inv.attachments)

    def expected(path: str) -> bool:
        lang, _, rel = path.partition("/")
        return lang in langs and (rel in links.index.members or rel in attachments)

    outputs.add(out_key, sorted(p for p in (f"{lang}/{rel}" for lang in langs for rel in (*inv.notes, *inv.attachments))
                                if p not in recorded))
    staged = [False]  # some maps were staged in the build state

    def stage(rows: list[tuple[str, str, dict[str, str]]]) -> bool:
        if links.maps is None and store.stage_headings(rows):
            staged[0] = True
            return True
        if links.maps is None:
            links.maps = {}
        links.maps.update({(k.split("/", 1)[1], k.split("/", 1)[0]): (lang, h) for k, lang, h in rows})
        return False

    def run(rels: list[str]) -> bool:
        """Plan ``rels``; False when staging their heading maps failed after some were staged."""
        rows: list[tuple[str, str, dict[str, str]]] = []
        ok = True
        for w in pool.stream(partial(_plan_and_stash, cfg, langs, options.reviewed_only),
                             [(position[rel], rel) for rel in rels]):
            if isinstance(w, KbtransError):
                raise w
            planned[w.rel] = (w.lang, tuple((p.lang, p.done, p.total, tuple(p.warnings)) for p in w.plans))
            rows.extend((f"{p.lang}/{w.rel}", w.lang, p.headings) for p in w.plans)
            if len(rows) >= SAVE_BATCH:
                ok = (stage(rows) or not staged[0]) and ok
                rows = []
        return (stage(rows) or not staged[0]) and ok

    def replan(rels: list[str]) -> None:
        if not run(rels):  # the state failed midway (maps staged before are lost): plan again, maps in memory
            _STASH.clear()
            links.maps = links.maps or {}
            run(list(planned))

    replan(todo)

    # 2. A fresh note still needs rebuilding when a note it links to changed its headings. Every
    # recorded output matches the recorded heading maps of the notes it links into, so only notes
    # linking to a re-planned or deleted note can be stale.
    # A note added or removed can also change what a link resolves to (a link written before its target
    # existed, a file name that became unique or ambiguous): notes that looked a link up by one of its
    # keys are rebuilt.
    notes = links.index.members
    gone = [key for key in previous if key.split("/", 1)[1] not in notes]
    known = {key.split("/", 1)[1] for key in previous}
    gone_notes = {key.split("/", 1)[1] for key in gone}
    stale: list[str] = []
    if (gone_notes or planned) and cached:
        changed = gone_notes | set(planned)
        linking = store.dependents(changed)
        relinked = store.dependents({anchors.KEY + k for rel in gone_notes | (set(planned) - known)
                                     for k in anchors.answers_to(rel)})

        def heading_changed(rel: str, lang: str) -> bool:
            deps = store.deps(f"{lang}/{rel}")
            return deps is None or cached[(rel, lang)].deps_digest != links.deps_digest(deps, lang)

        stale = [rel for rel in inv.notes if rel not in planned and any(
            f"{lang}/{rel}" in relinked or (f"{lang}/{rel}" in linking and heading_changed(rel, lang))
            for lang in langs)]
    if len(todo) + len(stale) >= parallel.MIN_PARALLEL and pool.jobs > 1 and not pool.parallel:
        # Few notes changed but many link to them: plan them all in workers after all.
        _STASH.clear()
        pool.start()
        replan(todo)
    replan(stale)

    # 3. Render and write (in the worker that planned the note), in the KB's order; the records are saved
    # as they come.
    order = [rel for rel in inv.notes if rel in planned]
    written: list[str] = []
    removed: list[Path] = []
    skipped_now: dict[tuple[str, str], float] = {}
    records: dict[str, tuple[state.Built, dict[str, str], list[str]]] = {}
    for rel, outs in zip(order, pool.stream(partial(_render_stashed, cfg, links, options.min_translated),
                                            [(position[rel], rel) for rel in order]), strict=True):
        for o in outs:
            if o.record.skipped is not None:
                skipped_now[(rel, o.lang)] = o.record.skipped
            if o.removed:
                removed.append(out_root / o.lang / rel)
            if o.written:
                written.append(f"{o.lang}/{rel}")
            records[f"{o.lang}/{rel}"] = (o.record, o.headings, o.deps)
        if len(records) >= SAVE_BATCH:
            store.save(records)
            records = {}
    store.save(records)
    records = {}
    pool.close()  # the workers' memory is given back before the summary below
    _STASH.clear()

    skipped: list[tuple[str, str, float]] = []
    warnings: list[Problem] = []
    counts: dict[str, list[int]] = {lang: [0, 0] for lang in langs}
    for rel in inv.notes:
        if rel not in planned:
            for lang in langs:
                seen = cached[(rel, lang)]
                warnings.extend(Problem(**w) for w in seen.warnings)
                counts[lang][0] += seen.done
                counts[lang][1] += seen.total
                if seen.skipped is not None:
                    skipped.append((rel, lang, seen.skipped))
            continue
        for lang, done, total, warned in planned[rel][1]:
            warnings.extend(warned)
            counts[lang][0] += done
            counts[lang][1] += total
            if (rel, lang) in skipped_now:
                skipped.append((rel, lang, skipped_now[(rel, lang)]))

    # 4. Attachments, and files whose source is gone.
    for lang in langs:
        for rel in inv.attachments:
            src, dst = cfg.content_dir / rel, out_root / lang / rel
            if _copy_if_changed(src, dst):
                written.append(f"{lang}/{rel}")
    # Stale: what was written before and is no longer expected, and the outputs of skipped notes.
    stale_out = sorted({p for p in recorded if not expected(p) and p.split("/", 1)[0] in langs}
                       | {f"{lang}/{rel}" for rel, lang, _ in skipped})
    removed.extend(_prune(str(out_root), stale_out))
    outputs.remove(out_key, stale_out)
    outputs.close()
    store.save({}, gone)
    store.unstage()
    return BuildReport(len(inv.notes), OutputPaths(out_root, written), tuple(removed), tuple(skipped), tuple(warnings),
                       {k: (v[0], v[1]) for k, v in counts.items()})


def _render(cfg: Config, note: Note, plan: _Plan, index: anchors.NoteIndex, lookup: anchors.Lookup,
            used: set[str]) -> bytes:
    if plan.copy:
        texts: dict[int, str] = {}
        lang_value = None
    else:
        texts = dict(plan.texts)
        lang_value = plan.lang
    for i, seg in enumerate(note.segments):
        current = texts.get(i, seg.text)
        if "#" in current:
            new = anchors.rewrite(current, note.path, index, lookup, used)
            if new != current:
                texts[i] = new
    if plan.copy and not texts:
        return (cfg.content_dir / note.path).read_bytes()
    from kbtrans import splice

    return splice.render(note, texts, lang_value).encode("utf-8")


def _copy_if_changed(src: Path, dst: Path) -> bool:
    try:
        s, d = src.stat(), dst.stat()
        if s.st_size == d.st_size and s.st_mtime_ns == d.st_mtime_ns:
            return False
    except FileNotFoundError:
        pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)
    return True


def _prune(root: str, stale: list[str]) -> list[Path]:
    """Remove the files ``root/p`` of ``stale`` (files this build or an earlier one wrote), then the folders
    they leave empty (up to ``root/<lang>``); return the files removed."""
    removed: list[Path] = []
    for rel in stale:
        path = f"{root}/{rel}"
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                continue  # a folder where a file was written: not ours any more
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(Path(path))
        folder, top = os.path.dirname(path), f"{root}/{rel.split('/', 1)[0]}"
        while folder != top and len(folder) > len(top):
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)
    return sorted(removed, reverse=True)
