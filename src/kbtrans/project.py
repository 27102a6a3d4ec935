"""The files of a knowledge base: which notes and attachments there are, and reading a note safely."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbtrans.config import Config
from kbtrans.errors import NoteError
from kbtrans.model import Note, Segment, Source, Span

__all__ = ["Inventory", "forget", "inventory", "load_note", "read_source", "segment", "segment_cached",
           "source_ref", "targets"]


@dataclass(frozen=True)
class Inventory:
    """The files under ``content/``."""

    notes: tuple[str, ...]
    """Markdown notes, content-relative POSIX paths, sorted."""
    attachments: tuple[str, ...]
    """Every other file (images, PDFs, …), copied unchanged to each locale."""


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def inventory(cfg: Config) -> Inventory:
    """List the notes and attachments of ``cfg.content_dir``.

    Hidden files and folders (``.obsidian``, ``.trash``) are skipped. A file or link that resolves
    outside the content folder is an error: kbtrans never reads or publishes what is not in the KB.
    """
    root = cfg.content_dir
    if not root.is_dir():
        raise NoteError(
            "content folder not found. Create it, or set `content` in kbtrans.toml (or pass -C DIR).",
            path=root,
        )
    real_root = root.resolve()
    notes: list[str] = []
    others: list[str] = []
    seen: set[str] = set()
    # os.scandir with string paths (DirEntry knows links and folders without a stat per file).
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        real = os.path.realpath(folder)
        if real in seen:  # a link loop
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                listing = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        folders = []
        for entry in listing:
            if _is_hidden(entry.name):
                continue
            rel = prefix + entry.name
            if entry.is_symlink():
                _check_inside(Path(entry.path), real_root, root)
            if entry.is_dir():
                folders.append((entry.path, rel + "/"))
            else:
                (notes if entry.name.lower().endswith(".md") else others).append(rel)
        pending.extend(reversed(folders))  # depth first in name order, like os.walk: the first path wins
    return Inventory(tuple(sorted(notes)), tuple(sorted(others)))


def _check_inside(path: Path, real_root: Path, root: Path) -> None:
    target = path.resolve()
    if not target.is_relative_to(real_root):
        raise NoteError(
            f"is a link to {target}, outside the content folder {root}. kbtrans only reads files inside "
            "it: move the file into the content folder or remove the link.",
            path=path,
        )


def read_source(cfg: Config, rel: str) -> tuple[Source, str]:
    """Read and decode the note ``rel``; return its Source and a content hash."""
    path = cfg.content_dir / rel
    if path.is_symlink():
        _check_inside(path, cfg.content_dir.resolve(), cfg.content_dir)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NoteError(f"cannot read the note ({exc.strerror}).", path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise NoteError(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}). Re-save the note as UTF-8.",
            path=path, line=line,
        ) from None
    return Source.from_text(text), hashlib.blake2b(data, digest_size=16).hexdigest()


def load_note(cfg: Config, rel: str) -> Note:
    """Read and segment the note ``rel`` (content-relative), reusing the segmentation cache."""
    source, digest = read_source(cfg, rel)
    return segment_cached(cfg, rel, source, digest)


def segment(path: str, source: Source, *, front_matter_keys: Iterable[str], languages: Iterable[str],
            source_language: str, translate_comments: bool = False) -> Note:
    """:func:`kbtrans.segment.segment` (imported on first use: the Markdown parser takes a while to load)."""
    from kbtrans.segment import segment as run

    return run(path, source, front_matter_keys=front_matter_keys, languages=languages,
               source_language=source_language, translate_comments=translate_comments)


def segment_cached(cfg: Config, rel: str, source: Source, digest: str) -> Note:
    """Segment ``source`` (the note ``rel`` whose content hash is ``digest``), or reuse a cached result.

    The cache (``.kbtrans/notes/<note>.json``) is only a speed-up: an entry is used when the note's
    content hash, the segmentation settings and kbtrans' segmentation code are all the same; anything
    unreadable or different is segmented again and the entry rewritten.
    """
    key = _cache_key(cfg)
    path = _cache_file(cfg, rel)
    if key:
        try:
            data = json.loads(path.read_bytes())
            if data["key"] == key and data["digest"] == digest:
                return _note_from_json(rel, source, data)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            pass
    note = segment(
        rel,
        source,
        front_matter_keys=cfg.front_matter_keys,
        languages=cfg.languages,
        source_language=cfg.source_language,
        translate_comments=cfg.translate_comments,
    )
    if key:
        data = {"key": key, "digest": digest, "lang": note.lang,
                "lang_span": [note.lang_span.line, note.lang_span.start, note.lang_span.end]
                if note.lang_span else None,
                "references": sorted(note.references),
                # A segment's text is stored only where it is not what its spans cover (front matter).
                "segments": [[None if s.text == _covered(source, s.spans) else s.text, s.kind, s.section,
                              [[sp.line, sp.start, sp.end] for sp in s.spans], s.single_line, s.translatable,
                              s.quote] for s in note.segments]}
        with contextlib.suppress(OSError):  # a cache that cannot be written is no error
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return note


def forget(cfg: Config, rels: Iterable[str]) -> None:
    """Drop the segmentation cache of the notes ``rels`` (deleted from the KB)."""
    for rel in rels:
        with contextlib.suppress(OSError):
            _cache_file(cfg, rel).unlink(missing_ok=True)


def _cache_file(cfg: Config, rel: str) -> Path:
    return cfg.cache_dir / "notes" / (rel + ".json")


def _covered(source: Source, spans: Iterable[Span]) -> str:
    """The source text ``spans`` cover, lines joined by newlines."""
    return "\n".join(source.lines[sp.line][sp.start:sp.end] for sp in spans)


def _note_from_json(rel: str, source: Source, data: dict[str, Any]) -> Note:
    segments = []
    for text, kind, section, spans, single, translatable, quote in data["segments"]:
        sps = tuple(_span(source, sp) for sp in spans)
        seg = Segment(_covered(source, sps) if text is None else text, kind, section, sps, single, translatable,
                      quote)
        # A damaged cache entry is re-segmented, never trusted (ValueError → cache miss).
        if not all(isinstance(v, str) for v in (seg.text, seg.kind, seg.section, seg.quote)):
            raise ValueError("segmentation cache entry is damaged")
        segments.append(seg)
    lang_span = _span(source, data["lang_span"]) if data["lang_span"] else None
    references = data["references"]
    if not isinstance(data["lang"], str) or not all(isinstance(r, str) for r in references):
        raise ValueError("segmentation cache entry is damaged")
    return Note(rel, data["lang"], source, tuple(segments), lang_span, frozenset(references))


def _span(source: Source, value: Any) -> Span:
    line, start, end = value
    if not (isinstance(line, int) and isinstance(start, int) and isinstance(end, int)
            and 0 <= line < len(source.lines) and 0 <= start <= end <= len(source.lines[line])):
        raise ValueError(f"bad span {value!r} in the segmentation cache")
    return Span(line, start, end)


#: The fields the cache stores; when the model changes, the cache is off until this is updated.
_CACHED_FIELDS = {
    Note: ("path", "lang", "source", "segments", "lang_span", "references"),
    Segment: ("text", "kind", "section", "spans", "single_line", "translatable", "quote"),
    Span: ("line", "start", "end"),
}


@functools.lru_cache(maxsize=8)
def _code_key() -> str:
    """Hash of the code segmentation depends on: kbtrans' segmentation modules and the parsers' versions.

    Read from the files, without importing them: a run that segments nothing never loads the parser.
    """
    from importlib.util import find_spec

    if any(tuple(f.name for f in dataclasses.fields(cls)) != names for cls, names in _CACHED_FIELDS.items()):
        return ""
    h = hashlib.blake2b(digest_size=8)
    here = Path(__file__).parent
    files = [here / "__init__.py", here / "markup.py", here / "model.py", here / "project.py", here / "segment.py"]
    for package in ("markdown_it", "mdit_py_plugins"):  # their __init__ holds __version__
        spec = find_spec(package)
        if spec is None or spec.origin is None:
            return ""
        files.append(Path(spec.origin))
    for file in files:
        h.update(file.read_bytes())
    return h.hexdigest()


def _cache_key(cfg: Config) -> str:
    """Empty when the cache cannot be used."""
    try:
        code = _code_key()
    except OSError:
        return ""
    if not code:
        return ""
    return f"{code}:" + hashlib.blake2b(repr((cfg.front_matter_keys, cfg.languages, cfg.source_language,
                                               cfg.translate_comments)).encode(), digest_size=8).hexdigest()


def source_ref(cfg: Config, rel: str) -> str:
    """How a note is named in ``#:`` references: its path relative to the project root."""
    return (Path(cfg.content) / rel).as_posix()


def targets(cfg: Config, note: Note) -> list[str]:
    """The languages ``note`` is translated into."""
    return [lang for lang in cfg.languages if lang != note.lang]
