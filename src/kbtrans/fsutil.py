"""Small file-system helpers: atomic writes that only touch changed files."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

#: kbtrans' temporary files: ``.<name>.<pid>.<random>.kbtrans.tmp`` (the pid tells a live writer from a dead one).
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]{8}\.kbtrans\.tmp$")
#: What kbtrans 0.1 wrote before the pid was in the name: ``.<name>.<random>.tmp``.
_LEGACY_TEMP = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def _new_mode() -> int:
    """Permission bits of a new file: what the umask gives (read per file, two system calls: a process may
    change its umask between writes)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``.

    A reader (or a crash) never sees a half-written file. A rewritten file keeps its permission bits;
    a new one gets what the umask gives (not ``mkstemp``'s 0600), so a web server or another CI user can read it.
    ``mode``: the file's permission bits when the caller has just read them.
    """
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = _new_mode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".kbtrans.tmp", dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` naming the file the user asked for (not a temporary file, not nothing: a full disk names none)."""
    if exc.filename == str(path) or exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, str(path))


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly it. Return True if written."""
    try:
        st = path.stat()
    except FileNotFoundError:
        write_atomic(path, data, mode=_new_mode())
        return True
    if st.st_size == len(data) and path.read_bytes() == data:
        return False
    write_atomic(path, data, mode=stat.S_IMODE(st.st_mode))
    return True


def remove_stale_temps(folders: Iterable[Path]) -> list[Path]:
    """Remove the temporary files that a killed kbtrans run left under ``folders``; return them.

    Only files of kbtrans' own naming are touched, and only when the process that made them is gone.
    """
    removed: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                m = _TEMP.match(name)
                if m is not None:
                    if _alive(int(m["pid"])):
                        continue
                elif _LEGACY_TEMP.match(name) is None:
                    continue
                target = Path(dirpath, name)
                with contextlib.suppress(OSError):
                    target.unlink()
                    removed.append(target)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True
