"""SIGTERM (CI cancellation, ``timeout``) treated like Ctrl-C, and worker processes that die with their parent."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

#: Exit status of a command ended by SIGTERM (128 + 15, what a shell reports).
TERMINATED_EXIT = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised like KeyboardInterrupt, so the same code saves what is finished."""


_received = False


def _on_term(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut short the saving
    raise Terminated


def install() -> None:
    """Turn SIGTERM into :class:`Terminated` (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_term)


def terminated() -> bool:
    """Whether SIGTERM arrived in this process."""
    return _received


def exit_code(exc: BaseException) -> int:
    """143 for SIGTERM, 130 for Ctrl-C."""
    return TERMINATED_EXIT if isinstance(exc, Terminated) or _received else 130


def what(exc: BaseException) -> str:
    """``terminated (SIGTERM)`` or ``interrupted``."""
    return "terminated (SIGTERM)" if isinstance(exc, Terminated) or _received else "interrupted"


def worker_init(parent: int) -> None:
    """In a worker process: die with the parent (``kill -9`` of it, the OOM killer), and on SIGTERM at once.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; elsewhere a thread that polls the parent's pid.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="kbtrans-parent-watch", daemon=True).start()
