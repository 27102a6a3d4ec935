"""The files of a knowledge base: which notes and attachments there are, and reading a note safely."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from kbtrans.config import Config
from kbtrans.errors import NoteError
from kbtrans.model import Note, Source
from kbtrans.segment import segment

__all__ = ["Inventory", "inventory", "load_note", "read_source", "segment", "source_ref", "targets"]


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
    seen: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        real = here.resolve()
        if real in seen:  # a link loop
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        for d in dirnames:
            if (here / d).is_symlink():
                _check_inside(here / d, real_root, root)
        for name in filenames:
            if _is_hidden(name):
                continue
            path = here / name
            if path.is_symlink():
                _check_inside(path, real_root, root)
            rel = path.relative_to(root).as_posix()
            (notes if name.lower().endswith(".md") else others).append(rel)
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
    """Read and segment the note ``rel`` (content-relative)."""
    source, _ = read_source(cfg, rel)
    return segment(
        rel,
        source,
        front_matter_keys=cfg.front_matter_keys,
        languages=cfg.languages,
        source_language=cfg.source_language,
        translate_comments=cfg.translate_comments,
    )


def source_ref(cfg: Config, rel: str) -> str:
    """How a note is named in ``#:`` references: its path relative to the project root."""
    return (Path(cfg.content) / rel).as_posix()


def targets(cfg: Config, note: Note) -> list[str]:
    """The languages ``note`` is translated into."""
    return [lang for lang in cfg.languages if lang != note.lang]
