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
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeGuard

# check and splice (and the Markdown parser behind them) load only when a note is planned or rendered:
# an up-to-date build does not need them.
from kbtrans import anchors, catalog, parallel, project, state
from kbtrans.config import Config
from kbtrans.errors import KbtransError
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
    written: tuple[Path, ...] = ()
    """Files created or changed under the output folder."""
    removed: tuple[Path, ...] = ()
    """Files removed because their note or attachment is gone (or the note was skipped)."""
    skipped: tuple[tuple[str, str, float], ...] = ()
    """(note, language, percent translated) of notes below ``--min-translated``."""
    warnings: tuple[Problem, ...] = ()
    """Translations not used, missing catalogs, …"""
    translated: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per language: (segments translated, segments) over the notes built from catalogs."""


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
    for i, seg in enumerate(note.segments):
        if not seg.translatable:
            continue
        total += 1
        msg = messages.get(seg.text)
        chosen = seg.text
        if msg is not None and msg.msgstr == seg.text:
            done += 1  # identical: nothing to check, and the source is reproduced byte for byte
        elif msg is not None:
            from kbtrans import check, splice

            problems = check.blocking(seg, msg.msgstr, note.lang, lang, comments=comments,
                                      references=frozenset(note.references))
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
                done += 1
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
_STASH: dict[str, _NoteWork] = {}


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
    _STASH[rel] = work
    return _Planned(rel, work.note.lang, [_Plan(p.lang, {}, p.headings, p.warnings, p.done, p.total, p.copy)
                                          for p in work.plans])


class _Links:
    """Heading maps of every note in every locale, for anchor rewriting and dependency digests."""

    def __init__(self, maps: dict[tuple[str, str], dict[str, str]], langs_of: dict[str, str],
                 index: anchors.NoteIndex, known: dict[tuple[str, str], str] | None = None) -> None:
        self.maps, self.langs_of, self.index = maps, langs_of, index
        self._hmaps: dict[tuple[str, str], anchors.HeadingMap | None] = {}
        self._digests: dict[tuple[str, str], str] = dict(known or {})

    def lookup_for(self, lang: str) -> anchors.Lookup:
        def lookup(note: str) -> anchors.HeadingMap | None:
            key = (note, lang)
            if key not in self._hmaps:
                self._hmaps[key] = (None if self.langs_of.get(note) == lang
                                    else anchors.HeadingMap.of(self.maps.get(key, {})))
            return self._hmaps[key]
        return lookup

    def heading_digest(self, note: str, lang: str) -> str:
        """Digest of the heading map of ``note`` in ``lang`` (stored with its build record)."""
        key = (note, lang)
        if key not in self._digests:
            self._digests[key] = _digest(self.maps.get(key, {}))
        return self._digests[key]

    def deps_digest(self, deps: list[str], lang: str) -> str:
        """Digest of the heading maps of the notes ``deps`` in ``lang``."""
        text = "\n".join(f"{d}\t{self.heading_digest(d, lang)}" for d in sorted(deps))
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class _Output:
    """One note in one locale, rendered (or skipped) by :func:`_render_stashed`."""

    lang: str
    record: dict[str, Any]
    written: bool
    removed: bool
    skipped: float | None


def _render_stashed(cfg: Config, links: _Links, min_translated: float, rel: str) -> list[_Output]:
    work = _STASH.pop(rel)
    outs = []
    for p in work.plans:
        target = cfg.output_dir / p.lang / rel
        record: dict[str, Any] = {"lang": work.note.lang, "headings": p.headings, "done": p.done,
                                  "total": p.total, "warnings": [vars(w) for w in p.warnings]}
        pct = 100.0 * p.done / p.total if p.total else 100.0
        written = removed = False
        skipped = None
        if not p.copy and pct < min_translated:
            skipped = record["skipped"] = round(pct, 1)
            if target.exists():
                target.unlink()
                removed = True
        else:
            used: set[str] = set()
            data = _render(cfg, work.note, p, links.index, links.lookup_for(p.lang), used)
            record["deps"] = sorted(used)
            record["deps_digest"] = links.deps_digest(record["deps"], p.lang)
            record["hd"] = links.heading_digest(rel, p.lang)
            written = write_if_changed(target, data)
        record["in"] = [state.stat_key(cfg.content_dir / rel),
                        state.stat_key(catalog.catalog_path(cfg.locales_dir, p.lang, rel[:-3]))]
        record["out"] = state.stat_key(target)
        outs.append(_Output(p.lang, record, written, removed, skipped))
    return outs


def build(cfg: Config, options: Options = Options(), *, jobs: int | None = None) -> BuildReport:
    """Write ``<output>/<lang>/<note>`` for every note and language, and copy attachments."""
    inv = project.inventory(cfg)
    langs = cfg.select_languages(options.languages)
    out_root = cfg.output_dir
    state_path = cfg.cache_dir / "build.json"
    fingerprint = _digest([cfg.content, cfg.locales, cfg.output, list(cfg.languages), cfg.source_language,
                           list(cfg.front_matter_keys), cfg.translate_comments, options.reviewed_only,
                           options.min_translated, "deps-v2"])
    previous = state.load(state_path, fingerprint)
    index = anchors.NoteIndex(list(inv.notes))

    # (string paths: this loop runs for every note and locale on every build)
    content, locales, output = str(cfg.content_dir), str(cfg.locales_dir), str(out_root)

    # 1. Which notes need planning: inputs changed, or their output is not what we wrote.
    cached: dict[tuple[str, str], dict[str, Any]] = {}
    todo: list[str] = []
    for rel in inv.notes:
        fresh = True
        note_stat = state.stat_key(f"{content}/{rel}")
        for lang in langs:
            seen = previous.get(f"{lang}/{rel}")
            if not (_record_ok(seen)
                    and seen.get("in") == [note_stat, state.stat_key(f"{locales}/{lang}/LC_MESSAGES/{rel[:-3]}.po")]
                    and seen.get("out") == state.stat_key(f"{output}/{lang}/{rel}")):
                fresh = False
                break
            cached[(rel, lang)] = seen
        if not fresh:
            todo.append(rel)

    # Each note is planned and rendered in the same worker process (it stays there in between), so
    # only heading maps and small records cross processes.
    position = {rel: i for i, rel in enumerate(inv.notes)}
    pool = parallel.StickyPool(jobs, parallel=len(todo) >= parallel.MIN_PARALLEL)
    try:
        return _build(cfg, options, inv, langs, todo, cached, position, pool, index, state_path, fingerprint,
                      previous)
    finally:
        pool.close()
        _STASH.clear()


_PROBLEM_KEYS = {"path", "line", "message"}


def _record_ok(seen: Any) -> TypeGuard[dict[str, Any]]:
    """A build.json record has the shape this version writes (anything else means: build the note again)."""
    return (isinstance(seen, dict) and isinstance(seen.get("lang"), str) and isinstance(seen.get("headings"), dict)
            and isinstance(seen.get("warnings", []), list)
            and all(isinstance(w, dict) and set(w) == _PROBLEM_KEYS for w in seen.get("warnings", []))
            and isinstance(seen.get("done", 0), int) and isinstance(seen.get("total", 0), int)
            and isinstance(seen.get("deps", []), list))


def _build(cfg: Config, options: Options, inv: project.Inventory, langs: tuple[str, ...], todo: list[str],
           cached: dict[tuple[str, str], dict[str, Any]], position: dict[str, int], pool: parallel.StickyPool,
           index: anchors.NoteIndex, state_path: Path, fingerprint: str,
           previous: dict[str, Any]) -> BuildReport:
    out_root = cfg.output_dir

    def out_path(rel: str, lang: str) -> Path:
        return out_root / lang / rel

    works: dict[str, _Planned] = {}

    def run(rels: list[str]) -> None:
        results = pool.run(partial(_plan_and_stash, cfg, langs, options.reviewed_only),
                           [(position[rel], rel) for rel in rels])
        errors = [r for r in results if isinstance(r, KbtransError)]
        if errors:
            raise errors[0]
        for w in results:
            assert isinstance(w, _Planned)
            works[w.rel] = w

    run(todo)

    maps: dict[tuple[str, str], dict[str, str]] = {}
    langs_of: dict[str, str] = {}
    for rel in inv.notes:
        if rel in works:
            langs_of[rel] = works[rel].lang
            for p in works[rel].plans:
                maps[(rel, p.lang)] = p.headings
        else:
            langs_of[rel] = cached[(rel, langs[0])]["lang"]
            for lang in langs:
                maps[(rel, lang)] = cached[(rel, lang)]["headings"]

    # 2. A fresh note still needs rebuilding when a note it links to changed its headings.
    links = _Links(maps, langs_of, index, {key: seen["hd"] for key, seen in cached.items()
                                           if key[0] not in works and isinstance(seen.get("hd"), str)})
    # Every saved record matches the saved heading maps of its dependencies, so only notes linking to a
    # re-planned or deleted note can be stale.
    gone = {key.split("/", 1)[1] for key in previous} - set(inv.notes)
    changed = gone | set(works)
    stale = [rel for rel in inv.notes if rel not in works and any(
        not changed.isdisjoint(cached[(rel, lang)].get("deps", ()))
        and cached[(rel, lang)].get("deps_digest") != links.deps_digest(cached[(rel, lang)].get("deps", []), lang)
        for lang in langs)]
    if len(todo) + len(stale) >= parallel.MIN_PARALLEL and pool.jobs > 1 and not pool.parallel:
        # Few notes changed but many link to them: plan them all in workers after all.
        _STASH.clear()
        pool.start()
        run(todo)
    run(stale)

    # 3. Render and write (in the worker that planned the note).
    rendered = dict(zip(works, pool.run(partial(_render_stashed, cfg, links, options.min_translated),
                                        [(position[rel], rel) for rel in works]), strict=True))
    written: list[Path] = []
    removed: list[Path] = []
    skipped: list[tuple[str, str, float]] = []
    warnings: list[Problem] = []
    counts: dict[str, list[int]] = {lang: [0, 0] for lang in langs}
    entries: dict[str, Any] = {}
    for rel in inv.notes:
        if rel not in works:
            for lang in langs:
                seen = cached[(rel, lang)]
                entries[f"{lang}/{rel}"] = seen
                warnings.extend(Problem(**p) for p in seen.get("warnings", []))
                counts[lang][0] += seen.get("done", 0)
                counts[lang][1] += seen.get("total", 0)
                if seen.get("skipped") is not None:
                    skipped.append((rel, lang, seen["skipped"]))
            continue
        for p, o in zip(works[rel].plans, rendered[rel], strict=True):
            target = out_path(rel, p.lang)
            warnings.extend(p.warnings)
            counts[p.lang][0] += p.done
            counts[p.lang][1] += p.total
            if o.skipped is not None:
                skipped.append((rel, p.lang, o.skipped))
            if o.removed:
                removed.append(target)
            if o.written:
                written.append(target)
            entries[f"{p.lang}/{rel}"] = o.record

    # 4. Attachments, and files whose source is gone.
    skipped_keys = {(s[0], s[1]) for s in skipped}
    for lang in langs:
        for rel in inv.attachments:
            src, dst = cfg.content_dir / rel, out_path(rel, lang)
            if _copy_if_changed(src, dst):
                written.append(dst)
        root = os.path.join(out_root, lang)
        keep = {*(f"{root}/{r}" for r in inv.notes if (r, lang) not in skipped_keys),
                *(f"{root}/{r}" for r in inv.attachments)}
        removed.extend(_prune(root, keep))
    if entries != previous:
        state.save(state_path, fingerprint, entries)
    return BuildReport(len(inv.notes), tuple(written), tuple(removed), tuple(skipped), tuple(warnings),
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


def _prune(root: str, keep: set[str]) -> list[Path]:
    """Remove the files under ``root`` not in ``keep`` (``root/rel`` strings), then empty folders."""
    removed: list[str] = []

    def walk(folder: str) -> bool:
        """Prune ``folder``; True when it is empty afterwards."""
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return False
        left = len(entries)
        for entry in entries:
            path = f"{folder}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if walk(path):
                    os.rmdir(path)
                    left -= 1
            elif path not in keep and (entry.is_file() or entry.is_symlink()):
                os.unlink(path)
                removed.append(path)
                left -= 1
        return left == 0

    if os.path.isdir(root):
        walk(root)
    return [Path(p) for p in sorted(removed, reverse=True)]
