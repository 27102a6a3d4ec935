"""What the last run saw, so a re-run skips notes whose inputs did not change (``.kbtrans/state.db``).

One SQLite database with a table per stage: a run that changes one note rewrites that note's rows, not
the whole state, and reads only the columns it compares (a re-run after editing one note of 2,000 is a
small fraction of a cold run). It is a cache only: a missing, damaged or foreign database, or one written
with other settings or another kbtrans version, reads as empty and is rebuilt; a row of the wrong shape
counts as missing; a database that cannot be written leaves the run successful, just not faster next time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Self

from kbtrans import __version__

try:
    import sqlite3

    _HAVE_SQLITE = True
except ImportError:  # a Python built without SQLite: no state is kept, nothing else changes
    _HAVE_SQLITE = False

DB_NAME = "state.db"

#: Table definitions per stage; a change here resets that stage's tables (the schema is in the fingerprint).
_TABLES = {
    "extract": (
        "CREATE TABLE extract(note TEXT PRIMARY KEY, stamp TEXT NOT NULL, lang TEXT NOT NULL,"
        " catalogs TEXT NOT NULL)",
    ),
    "build": (
        "CREATE TABLE build(key TEXT PRIMARY KEY, stamp TEXT NOT NULL, lang TEXT NOT NULL,"
        " done INTEGER NOT NULL, total INTEGER NOT NULL, skipped REAL, warnings TEXT NOT NULL,"
        " headings TEXT NOT NULL, hd TEXT NOT NULL, deps_digest TEXT NOT NULL)",
        "CREATE TABLE build_deps(key TEXT NOT NULL, dep TEXT NOT NULL, PRIMARY KEY(key, dep)) WITHOUT ROWID",
        "CREATE INDEX build_deps_dep ON build_deps(dep)",
        # Heading maps of the notes a build is planning, read by its workers while they render (then dropped).
        "CREATE TABLE build_pending(key TEXT PRIMARY KEY, lang TEXT NOT NULL, headings TEXT NOT NULL)",
    ),
    "output": (
        "CREATE TABLE output(dir TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY(dir, path)) WITHOUT ROWID",
    ),
    "check": (
        "CREATE TABLE checked(key TEXT PRIMARY KEY, stamp TEXT NOT NULL, issues TEXT NOT NULL,"
        " catalogs INTEGER NOT NULL, entries INTEGER NOT NULL)",
    ),
}
_DROP = {"extract": ("extract",), "build": ("build_pending", "build_deps", "build"), "output": ("output",),
         "check": ("checked",)}
#: Stages whose rows stay true whatever kbtrans version or settings wrote them (what build wrote is a fact).
_DURABLE = {"output"}


def stamp(path: str | os.PathLike[str]) -> str:
    """``mtime_ns:size`` of ``path``, or "" when it does not exist: an equal stamp means unchanged."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return ""
    return f"{st.st_mtime_ns}:{st.st_size}"


class _Db:
    """The connection, opened on first use; every SQLite error turns the cache off (or resets it)."""

    def __init__(self, cache_dir: Path, stage: str, settings: object, *, write: bool) -> None:
        self.path = cache_dir / DB_NAME
        self.stage = stage
        # Rows are trusted only when written by this code, with this schema and these settings.
        self.fingerprint = hash_text(repr((_TABLES[stage], settings) if stage in _DURABLE
                                          else (__version__, _code(), _TABLES[stage], settings)))
        self.write = write
        self.con: sqlite3.Connection | None = None
        self.fresh = False  # the stage's tables were (re)created empty: nothing to read
        if not _HAVE_SQLITE:  # a Python built without SQLite: every run does the full work
            self.fresh = True
            return
        try:
            self._open()
        except (sqlite3.Error, OSError):
            self.close()
            if write:  # a damaged file: start again from an empty one
                with contextlib.suppress(sqlite3.Error, OSError):
                    self.path.unlink(missing_ok=True)
                    self._open()

    def _open(self) -> None:
        if not self.write and not self.path.exists():
            self.fresh = True
            return
        if self.write and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.path.parent / ".gitignore"
            if not ignore.exists():  # the folder keeps itself out of version control, as .pytest_cache does
                ignore.write_text("# kbtrans' caches: safe to delete, not worth committing\n*\n", encoding="utf-8")
        self.con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.con.execute("PRAGMA synchronous=OFF")  # a cache: no fsync (a torn file reads as damaged and is rebuilt)
        self.con.execute("CREATE TABLE IF NOT EXISTS meta(stage TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)")
        row = self.con.execute("SELECT fingerprint FROM meta WHERE stage=?", (self.stage,)).fetchone()
        if row is not None and row[0] == self.fingerprint:
            return
        self.fresh = True
        if self.write:
            with self.transaction() as con:
                for table in _DROP[self.stage]:
                    con.execute(f"DROP TABLE IF EXISTS {table}")
                for sql in _TABLES[self.stage]:
                    con.execute(sql)
                con.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (self.stage, self.fingerprint))

    def close(self) -> None:
        if self.con is not None:
            with contextlib.suppress(sqlite3.Error):
                self.con.close()
        self.con = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        assert self.con is not None
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def query(self, sql: str, params: Iterable[Any] = (), *, written: bool = False) -> list[Any]:
        """Rows of ``sql``; [] when there is no usable database (``written``: rows this run wrote are read
        even from tables it created)."""
        if self.con is None or (self.fresh and not written):
            return []
        try:
            return self.con.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error:
            self.fresh = True  # damaged: read nothing more from it
            return []

    def change(self, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> bool:
        """Run ``(sql, rows)`` pairs in one transaction; a failure leaves the cache as it was (or resets it).
        Whether the rows were written."""
        if self.con is None:
            return False
        if not any(rows for _, rows in statements):
            return True
        try:
            with self.transaction() as con:
                for sql, rows in statements:
                    con.executemany(sql, rows)
        except sqlite3.DatabaseError:
            self.close()
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)  # a damaged file is not worth keeping
            return False
        except sqlite3.Error:
            return False  # locked by another run for too long, read-only, …: this run just does not record
        return True


@functools.lru_cache(maxsize=1)
def _code() -> str:
    """Hash of kbtrans' own modules: what another version (or a development edit) recorded is not trusted."""
    h = hashlib.blake2b(digest_size=8)
    here = os.path.dirname(__file__)
    try:
        for folder in (here, os.path.join(here, "engines")):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".py"):
                    with open(os.path.join(folder, name), "rb") as fh:
                        h.update(fh.read())
    except OSError:
        return "?"
    return h.hexdigest()


def hash_text(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class _Stage:
    """One stage's tables in the database; use as a context manager (it closes the connection)."""

    stage = ""

    def __init__(self, cache_dir: Path, settings: object, *, write: bool = True) -> None:
        """``settings`` are what the rows depend on besides the files they stamp (a change forgets them)."""
        self.cache_dir, self.settings = cache_dir, settings
        self._db = _Db(cache_dir, self.stage, settings, write=write)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Extracted(NamedTuple):
    """What ``extract`` recorded for one note (a NamedTuple: thousands are read on every run)."""

    stamp: str
    """The note's :func:`stamp`."""
    lang: str
    """The note's language."""
    catalogs: dict[str, str]
    """Target language → :func:`stamp` of the catalog as extract left it."""


class ExtractState(_Stage):
    """``extract``'s table: note → its stamp, language and the stamps of its catalogs."""

    stage = "extract"

    @property
    def empty(self) -> bool:
        return self._db.fresh or self._db.con is None

    def load(self) -> dict[str, Extracted]:
        out = {}
        for note, st, lang, catalogs in self._db.query(
                "SELECT note, stamp, lang, catalogs FROM extract"
                " WHERE typeof(note)='text' AND typeof(stamp)='text' AND typeof(lang)='text'"
                " AND typeof(catalogs)='text'"):
            pairs = [p.partition("=") for p in catalogs.split(" ") if p]
            if all(sep for _, sep, _ in pairs):
                out[note] = Extracted(st, lang, {k: v for k, _, v in pairs})
        return out

    def save(self, changed: dict[str, Extracted], gone: Iterable[str] = ()) -> None:
        """Record ``changed`` and forget the notes ``gone``."""
        self._db.change([
            ("INSERT OR REPLACE INTO extract VALUES(?, ?, ?, ?)",
             [(n, e.stamp, e.lang, " ".join(f"{k}={v}" for k, v in e.catalogs.items())) for n, e in changed.items()]),
            ("DELETE FROM extract WHERE note=?", [(n,) for n in gone]),
        ])


class Built(NamedTuple):
    """What ``build`` recorded for one note in one locale, the key ``lang/note`` (a NamedTuple: thousands
    are read on every run)."""

    stamp: str
    """Stamps of the note, its catalog and the output, joined by spaces."""
    lang: str
    """The note's own language."""
    done: int
    """Segments translated."""
    total: int
    """Translatable segments."""
    skipped: float | None
    """Percent translated, when the note was skipped by ``--min-translated``."""
    warnings: tuple[dict[str, Any], ...]
    """Build warnings (``path``, ``line``, ``message``)."""
    hd: str
    """Digest of the note's heading map in this locale."""
    deps_digest: str
    """Digest of the heading maps of the notes its anchors point into."""


_WARNING_KEYS = {"path", "line", "message"}


class BuildState(_Stage):
    """``build``'s tables: per note and locale a :class:`Built` row, its heading map (read on demand)
    and the notes it links into (``build_deps``, indexed by the linked note)."""

    stage = "build"

    def load(self) -> dict[str, Built]:
        out = {}
        for row in self._db.query(
                "SELECT key, stamp, lang, done, total, skipped, warnings, hd, deps_digest FROM build"
                " WHERE typeof(key)='text' AND typeof(stamp)='text' AND typeof(lang)='text'"
                " AND typeof(done)='integer' AND typeof(total)='integer' AND typeof(skipped) IN ('null', 'real')"
                " AND typeof(warnings)='text' AND typeof(hd)='text' AND typeof(deps_digest)='text'"):
            key, st, lang, done, total, skipped, warnings, hd, deps_digest = row
            found: Any = ()
            if warnings != "[]":
                try:
                    found = json.loads(warnings)
                except ValueError:
                    continue
                if not (isinstance(found, list) and all(isinstance(w, dict) and set(w) == _WARNING_KEYS
                                                        for w in found)):
                    continue
            out[key] = Built(st, lang, done, total, skipped, tuple(found), hd, deps_digest)
        return out

    def headings(self, key: str) -> dict[str, str] | None:
        """The heading map recorded for ``key``, or None."""
        rows = self._db.query("SELECT headings FROM build WHERE key=?", (key,))
        if not rows:
            return None
        try:
            value = json.loads(rows[0][0])
        except (TypeError, ValueError):
            return None
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return value
        return None

    def stage_headings(self, rows: list[tuple[str, str, dict[str, str]]]) -> bool:
        """Record (key, note's language, heading map) of notes being planned, for :meth:`lookup`; whether
        that worked (if not, the caller keeps them in memory)."""
        return self._db.change([("INSERT OR REPLACE INTO build_pending VALUES(?, ?, ?)",
                                 [(k, lang, json.dumps(h, ensure_ascii=False)) for k, lang, h in rows])])

    def unstage(self) -> None:
        """Forget every staged heading map."""
        if self._db.con is not None:
            self._db.change([("DELETE FROM build_pending", [()])])

    def lookup(self, key: str) -> tuple[str, dict[str, str], str | None] | None:
        """(note's language, heading map, recorded digest of it) of ``key``: staged by this build (no
        digest), else as last recorded; None when neither is known."""
        rows = self._db.query("SELECT 0, lang, headings, NULL FROM build_pending WHERE key=?1 UNION ALL "
                              "SELECT 1, lang, headings, hd FROM build WHERE key=?1 ORDER BY 1 LIMIT 1",
                              (key,), written=True)
        if not rows:
            return None
        _, lang, text, hd = rows[0]
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            return None
        if (isinstance(lang, str) and isinstance(value, dict) and (hd is None or isinstance(hd, str))
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            return lang, value, hd or None
        return None

    def deps(self, key: str) -> list[str] | None:
        """The notes ``key`` links into, or None when that is unknown."""
        rows = self._db.query("SELECT dep FROM build_deps WHERE key=?", (key,))
        deps = [d for (d,) in rows]
        return deps if all(isinstance(d, str) for d in deps) else None

    def dependents(self, notes: Iterable[str]) -> set[str]:
        """Keys whose recorded output links into any of ``notes``."""
        notes = list(notes)
        out: set[str] = set()
        for i in range(0, len(notes), 500):
            chunk = notes[i:i + 500]
            rows = self._db.query(f"SELECT DISTINCT key FROM build_deps WHERE dep IN ({','.join('?' * len(chunk))})",
                                  chunk)
            out.update(k for (k,) in rows if isinstance(k, str))
        return out

    def save(self, changed: dict[str, tuple[Built, dict[str, str], list[str]]], gone: Iterable[str] = ()) -> None:
        """Record ``changed`` (key → (row, heading map, deps)) and forget the keys ``gone`` (a build saves
        its records in batches as notes are rendered, and what is gone at the end)."""
        rows = [(k, b.stamp, b.lang, b.done, b.total, b.skipped, json.dumps(list(b.warnings), ensure_ascii=False),
                 json.dumps(h, ensure_ascii=False), b.hd, b.deps_digest) for k, (b, h, _) in changed.items()]
        forget = [(k,) for k in gone]
        self._db.change([
            ("INSERT OR REPLACE INTO build VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows),
            ("DELETE FROM build_deps WHERE key=?", [(k,) for k in changed] + forget),
            ("INSERT INTO build_deps VALUES(?, ?)", [(k, d) for k, (_, _, deps) in changed.items() for d in deps]),
            ("DELETE FROM build WHERE key=?", forget),
        ])


class OutputState(_Stage):
    """``build``'s record of the files it wrote under each output folder (``lang/path``): build removes
    only those. Kept across versions and settings; a lost record means build removes nothing it finds."""

    stage = "output"

    def load(self, folder: str) -> set[str]:
        return {p for (p,) in self._db.query("SELECT path FROM output WHERE dir=?", (folder,)) if isinstance(p, str)}

    def add(self, folder: str, paths: Iterable[str]) -> None:
        self._db.change([("INSERT OR IGNORE INTO output VALUES(?, ?)", [(folder, p) for p in paths])])

    def remove(self, folder: str, paths: Iterable[str]) -> None:
        self._db.change([("DELETE FROM output WHERE dir=? AND path=?", [(folder, p) for p in paths])])


class Checked(NamedTuple):
    """What ``check`` found in one note's catalog for one language, the key ``lang/note``."""

    stamp: str
    """Stamps of the note and the catalog, joined by a space."""
    issues: str
    """The issues found, as JSON (``check`` reads it back)."""
    catalogs: int
    """Catalogs examined (0 or 1)."""
    entries: int
    """Translated entries examined."""


class CheckState(_Stage):
    """``check``'s table: per note and language, the issues found while note and catalog stay the same."""

    stage = "check"

    def load(self) -> dict[str, Checked]:
        return {key: Checked(st, issues, catalogs, entries) for key, st, issues, catalogs, entries in self._db.query(
            "SELECT key, stamp, issues, catalogs, entries FROM checked WHERE typeof(key)='text'"
            " AND typeof(stamp)='text' AND typeof(issues)='text' AND typeof(catalogs)='integer'"
            " AND typeof(entries)='integer'")}

    def stamps(self) -> dict[str, str]:
        """Every recorded key's stamp (the issues stay in the database: :meth:`get` reads one row)."""
        return dict(self._db.query("SELECT key, stamp FROM checked WHERE typeof(key)='text'"
                                   " AND typeof(stamp)='text'"))

    def get(self, key: str) -> Checked | None:
        """The row of ``key``, or None."""
        rows = self._db.query(
            "SELECT stamp, issues, catalogs, entries FROM checked WHERE key=? AND typeof(stamp)='text'"
            " AND typeof(issues)='text' AND typeof(catalogs)='integer' AND typeof(entries)='integer'", (key,))
        return Checked(*rows[0]) if rows else None

    def save(self, changed: dict[str, Checked], gone: Iterable[str] = ()) -> None:
        """Record ``changed`` and forget the keys ``gone``."""
        self._db.change([
            ("INSERT OR REPLACE INTO checked VALUES(?, ?, ?, ?, ?)", [(k, *c) for k, c in changed.items()]),
            ("DELETE FROM checked WHERE key=?", [(k,) for k in gone]),
        ])
