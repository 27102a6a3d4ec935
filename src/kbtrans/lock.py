"""One lock per knowledge base (``.kbtrans/lock``), held by every command while it writes catalogs or output.

``fcntl.flock`` on an open file: the kernel releases it when the holder exits in any way, ``kill -9``
included, so a stale lock cannot outlive its process. The holder writes ``<pid> <command>`` into the
file, so a second command can say whom it waits for. The lock is re-entrant within a process (a nested
``with`` is free), and the file descriptor is closed in forked worker processes (they do not hold it).

Where ``fcntl`` is missing (Windows), the lock is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kbtrans.errors import LockedError

try:
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # pragma: no cover - not on POSIX
    _HAVE_FLOCK = False

LOCK_NAME = "lock"
#: How often a waiting command tries again (seconds).
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Holder:
    """The process that holds the lock, as it wrote itself into the lock file."""

    pid: int | None
    """Its process id (None when it had not written it yet)."""
    command: str
    """Its kbtrans command (``extract``, ``translate``, ``build``), or "" when unknown."""

    def __str__(self) -> str:
        if self.pid is None:
            return "another kbtrans command"
        return f"another kbtrans command (pid {self.pid}, {self.command or 'unknown'})"


#: Locks open in this process (their descriptors are closed in a forked child).
_OPEN: set[KbLock] = set()


def _after_fork_in_child() -> None:
    for lk in list(_OPEN):
        lk._forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class KbLock:
    """The lock of the knowledge base whose cache folder is ``cache_dir``; use as a context manager.

    ``wait``: block until it is free (calling ``on_wait(holder)`` once, when it is not free at once);
    otherwise raise :class:`~kbtrans.errors.LockedError` naming the holder.
    """

    def __init__(self, cache_dir: Path, command: str, *, wait: bool = True,
                 on_wait: Callable[[Holder], None] | None = None) -> None:
        self.path = cache_dir / LOCK_NAME
        self.command = command
        self.wait = wait
        self.on_wait = on_wait
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> KbLock:
        if self._depth == 0:
            self._acquire()
        self._depth += 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._release()

    @property
    def held(self) -> bool:
        """Whether this process holds the lock through this object."""
        return self._fd is not None

    def _acquire(self) -> None:
        if not _HAVE_FLOCK:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _ignore(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            tries, told = 0, False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = read_holder(self.path)
                    if not self.wait:
                        raise LockedError(
                            f"{holder} is writing this knowledge base's catalogs or output. Wait for it to "
                            "finish and run the command again (or leave out --no-wait to wait for it).",
                            path=self.path) from None
                    # the holder writes its name just after taking the lock: give it a moment to
                    if not told and self.on_wait is not None and (holder.pid is not None or tries >= 10):
                        self.on_wait(holder)
                        told = True
                    tries += 1
                    # Blocking in flock would not let Ctrl-C or SIGTERM through at once; polling does.
                    time.sleep(POLL_SECONDS)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {self.command}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _OPEN.add(self)

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        _OPEN.discard(self)
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor of the open file releases the flock

    def _forget(self) -> None:
        """In a forked child: drop the inherited descriptor (the parent still holds the lock)."""
        fd, self._fd = self._fd, None
        self._depth = 0
        _OPEN.discard(self)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def read_holder(path: Path) -> Holder:
    """Who wrote itself into the lock file at ``path`` (pid None when it is empty or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Holder(None, "")
    pid, _, command = text.strip().partition(" ")
    return Holder(int(pid), command) if pid.isdigit() else Holder(None, "")


def _ignore(folder: Path) -> None:
    """The cache folder keeps itself out of version control (as :mod:`kbtrans.state` does)."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(OSError):
            ignore.write_text("# kbtrans' caches: safe to delete, not worth committing\n*\n", encoding="utf-8")


def for_command(cache_dir: Path, command: str, lock: KbLock | None) -> KbLock:
    """``lock`` when given (the CLI's, with its --no-wait and message), else a lock that waits silently."""
    return lock if lock is not None else KbLock(cache_dir, command)
