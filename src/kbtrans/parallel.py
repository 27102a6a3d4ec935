"""Run a function over many items on all cores, in order, with errors returned as values."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Below this many items the work runs in this process: starting workers costs more than it saves.
MIN_PARALLEL = 48


def jobs_default() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def pmap(fn: Callable[[T], R], items: Sequence[T], *, jobs: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` on ``jobs`` processes (default: all cores), results in input order."""
    jobs = jobs or jobs_default()
    if jobs <= 1 or len(items) < MIN_PARALLEL:
        yield from map(fn, items)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        yield from pool.map(fn, items, chunksize=chunk)
