"""Run a function over many items on all cores, in order, with errors returned as values."""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import tempfile
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar, cast

from kbtrans import signals
from kbtrans.errors import InternalError

if TYPE_CHECKING:  # multiprocessing loads only when workers start: most re-runs never need them
    import multiprocessing.process
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.connection import Connection

T = TypeVar("T")
R = TypeVar("R")

#: Below this many items the work runs in this process: starting workers costs more than it saves.
MIN_PARALLEL = 48


def jobs_default() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def pmap(fn: Callable[[T], R], items: Sequence[T], *, jobs: int | None = None,
         pool: ProcessPoolExecutor | None = None) -> Iterator[R]:
    """``map(fn, items)`` on ``jobs`` processes (default: all cores), results in input order; on ``pool``
    (from :func:`early_pool`) when given."""
    jobs = jobs or jobs_default()
    if jobs <= 1 or len(items) < MIN_PARALLEL:
        yield from map(fn, items)
        return
    if pool is not None:
        yield from _pmap_on(pool, fn, items, jobs)
        return
    with _executor(jobs) as own:
        yield from _pmap_on(own, fn, items, jobs)


@contextlib.contextmanager
def _forking() -> Iterator[None]:
    """Fork workers with this process' objects frozen out of the garbage collector.

    A worker then never collects an object it inherited: garbage not yet collected here (an object in a
    reference cycle) is not destroyed in the worker, where a destructor can hang. A CTranslate2
    ``Translator`` does: it waits for its threads, which a forked process does not have. Nor does a worker's
    collector touch (and so copy) the memory pages of the parent's objects.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _executor(jobs: int) -> ProcessPoolExecutor:
    """A process pool with its ``jobs`` workers started (forked, where the system can)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=signals.worker_init,
                               initargs=(os.getpid(),))
    with _forking():
        pool.submit(int).result()  # with fork, the first task starts every worker
    return pool


def _pmap_on(pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[R]:
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    # A bounded window of chunks in flight (``Executor.map`` would submit every item at once and keep
    # every result until it is consumed): the parent holds a few chunks' results, whatever the KB's size.
    window = jobs * 3
    pending: deque[Future[list[R]]] = deque()
    for start in range(0, len(items), chunk):
        pending.append(pool.submit(_chunk, fn, items[start:start + chunk]))
        if len(pending) >= window:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


#: From this many notes on, :func:`early_pool` starts the workers before the command reads the last run's
#: records and lists its work: a forked worker's memory counts what its parent held at the fork once more
#: (at 100,000 notes those records are ~100 MB). Below it, workers start when needed (a run with nothing
#: to do starts none).
PREFORK_NOTES = 5000


@contextlib.contextmanager
def early_pool(notes: int, jobs: int | None = None) -> Iterator[ProcessPoolExecutor | None]:
    """For a KB of ``notes`` notes: a process pool started now, for :func:`pmap`'s ``pool``, or None
    (small KB, one job)."""
    jobs = jobs or jobs_default()
    if jobs <= 1 or notes < PREFORK_NOTES:
        yield None
        return
    with _executor(jobs) as pool:
        yield pool


def _chunk(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    return [fn(x) for x in items]


#: Items a :class:`Stash` keeps in memory, over all worker processes (each keeps its share).
STASH_ITEMS = 4096
#: Estimated bytes a :class:`Stash` keeps in memory, over all worker processes (each keeps its share):
#: below this nothing is spilled, so a KB of a few thousand notes pays no pickling; above it the rest is.
STASH_BYTES = 96 * 2**20
#: How many processes share those budgets: 1 here, the pool's job count in a sticky worker (set by it).
_stash_share = 1


class Stash(Generic[R]):
    """Per-item results a process keeps between two rounds of a :class:`StickyPool`, bounded in memory.

    Items stay in memory while there are fewer than ``STASH_ITEMS`` and their estimated sizes (the
    ``size`` given to :meth:`put`) add up to less than ``STASH_BYTES`` (each process of ``jobs`` keeps its
    share); the rest are pickled to an anonymous temporary file (deleted by the system as soon as it is
    closed or the process ends, however it ends), so a worker holds a bounded amount of notes whatever the
    size of the knowledge base.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._mem: dict[str, tuple[R, int]] = {}
        self._bytes = 0
        self._spilled: dict[str, tuple[int, int]] = {}
        self._file: IO[bytes] | None = None
        self._pid = os.getpid()

    def _cap(self) -> int:
        return self.limit if self.limit is not None else max(64, STASH_ITEMS // _stash_share)

    def __setitem__(self, key: str, value: R) -> None:
        self.put(key, value, 0)

    def put(self, key: str, value: R, size: int) -> None:
        """Keep ``value`` under ``key``; ``size`` is its estimated size in memory, in bytes."""
        if self._pid != os.getpid():  # a forked worker: the parent's spill file is not ours
            self._mem, self._bytes, self._spilled, self._file, self._pid = {}, 0, {}, None, os.getpid()
        if len(self._mem) < self._cap() and self._bytes + size <= STASH_BYTES // _stash_share:
            self._mem[key] = (value, size)
            self._bytes += size
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="kbtrans-stash-")  # noqa: SIM115 (closed by clear)
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        offset = self._file.seek(0, os.SEEK_END)
        self._file.write(data)
        self._spilled[key] = (offset, len(data))

    def pop(self, key: str) -> R:
        if key in self._mem:
            kept, weight = self._mem.pop(key)
            self._bytes -= weight
            return kept
        offset, size = self._spilled.pop(key)
        assert self._file is not None
        self._file.seek(offset)
        value: R = pickle.loads(self._file.read(size))
        return value

    def __len__(self) -> int:
        return len(self._mem) + len(self._spilled)

    def clear(self) -> None:
        self._mem.clear()
        self._bytes = 0
        self._spilled.clear()
        if self._file is not None:
            self._file.close()
            self._file = None


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError carrying its traceback."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError("".join(traceback.format_exception(exc)))
    return exc


def _serve(conn: Connection, parent: int, jobs: int) -> None:
    """A sticky worker, one of ``jobs``: run batches until told to stop (None) or the parent goes away.

    A batch is ``(fn, items)``; ``fn`` None means the function of the previous batch (a round sends it once).
    """
    global _stash_share
    _stash_share = jobs  # its share of the stashes' budgets
    signals.worker_init(parent)
    last: Callable[[Any], Any] | None = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, batch = msg
        fn = last = fn if fn is not None else last
        try:
            assert fn is not None
            reply: tuple[str, Any] = ("ok", [fn(x) for x in batch])
        except BaseException as exc:  # the parent re-raises it
            reply = ("error", _portable(exc))
        conn.send(reply)


#: Items a sticky worker gets per message: the parent holds a few batches' results, whatever the KB's size.
BATCH = 64
#: Batches sent ahead to each worker, so that it never waits for the parent between two of them.
IN_FLIGHT = 2


class StickyPool:
    """Worker processes that keep state between rounds: item ``i`` always runs in worker ``i % jobs``.

    So a first round can leave per-item data (a parsed note) in a module-level dict of the worker that
    a later round uses, without sending it back and forth. With one job, or when ``parallel`` is False,
    everything runs in this process (the same code path). Use as a context manager.
    """

    def __init__(self, jobs: int | None = None, *, parallel: bool = True) -> None:
        self.jobs = jobs or jobs_default()
        self._conns: list[Connection] = []
        self._procs: list[multiprocessing.process.BaseProcess] = []
        if parallel:
            self.start()

    @property
    def parallel(self) -> bool:
        """Whether items run in worker processes."""
        return bool(self._conns)

    def start(self) -> None:
        """Start the worker processes (if there is more than one job and they are not running yet)."""
        if self.jobs > 1 and not self._conns:
            import multiprocessing

            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
            with _forking():
                for _ in range(self.jobs):
                    here, there = ctx.Pipe()
                    proc = ctx.Process(target=_serve, args=(there, os.getpid(), self.jobs), daemon=True)
                    proc.start()
                    there.close()
                    self._conns.append(here)
                    self._procs.append(proc)

    def run(self, fn: Callable[[T], R], items: Sequence[tuple[int, T]]) -> list[R]:
        """``[fn(item) for _, item in items]``, each in worker ``index % jobs``; results in order."""
        return list(self.stream(fn, items))

    def stream(self, fn: Callable[[T], R], items: Sequence[tuple[int, T]], *,
               batch: int | None = None) -> Iterator[R]:
        """Like :meth:`run`, yielding results in order as they come: each worker gets ``batch`` items at a
        time (its next batch as soon as it answers), so only a few batches' results are held, not all.

        A failing item raises (the first failure, once the batches in flight are answered); the items
        after it are not run.
        """
        if not self._conns:
            for _, item in items:
                yield fn(item)
            return
        from multiprocessing.connection import wait

        size = batch or BATCH
        n = len(self._conns)
        queues: list[list[tuple[int, T]]] = [[] for _ in range(n)]
        for pos, (index, item) in enumerate(items):
            queues[index % n].append((pos, item))
        sent = [0] * n
        # Per worker, the positions of each batch it has been sent and not yet answered, oldest first.
        flight: dict[Connection, deque[list[int]]] = {conn: deque() for conn in self._conns}
        worker = {conn: w for w, conn in enumerate(self._conns)}

        def send(w: int) -> None:
            start = sent[w]
            part = queues[w][start:start + size]
            if not part:
                return
            sent[w] = start + len(part)
            conn = self._conns[w]
            conn.send((fn if start == 0 else None, [x for _, x in part]))
            flight[conn].append([p for p, _ in part])

        results: dict[int, Any] = {}
        following = 0
        failure: BaseException | None = None
        try:
            for _ in range(IN_FLIGHT):
                for w in range(n):
                    send(w)
            while busy := [conn for conn, batches in flight.items() if batches]:
                for ready in wait(busy):
                    conn = cast("Connection", ready)
                    positions = flight[conn].popleft()
                    try:
                        status, value = conn.recv()
                    except (EOFError, OSError):
                        for batches in flight.values():
                            batches.clear()
                        self.close()
                        raise InternalError("a worker process died (out of memory?); run again with -j 1") from None
                    if status != "ok":
                        failure = failure or value
                        continue
                    results.update(zip(positions, value, strict=True))
                    if failure is None:
                        send(worker[conn])
                if failure is None:
                    while following in results:
                        yield results.pop(following)
                        following += 1
            if failure is not None:
                raise failure
        finally:
            # Stopped early (a failure, or the caller stopped reading): collect the answers in flight so
            # the workers are ready for the next round.
            for conn, batches in flight.items():
                while batches:
                    batches.popleft()
                    with contextlib.suppress(EOFError, OSError):
                        conn.recv()

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
                conn.close()
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self._conns, self._procs = [], []

    def __enter__(self) -> StickyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
