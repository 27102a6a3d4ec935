"""The sticky worker pool and parallel builds: same results as one process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kbtrans import config, parallel

_STATE: dict[int, int] = {}


def _remember(x: int) -> int:
    _STATE[x] = os.getpid()
    return x * x


def _recall(x: int) -> tuple[int, bool]:
    return x, _STATE.get(x) == os.getpid()


def _fail(x: int) -> int:
    if x == 7:
        raise ValueError("seven")
    return x


@pytest.mark.parametrize("workers", [True, False])
def test_sticky_pool_keeps_items_in_their_worker(workers: bool) -> None:
    items = [(i, i) for i in range(100)]
    with parallel.StickyPool(2, parallel=workers) as pool:
        assert pool.run(_remember, items) == [i * i for i in range(100)]
        assert pool.run(_recall, items[::-1]) == [(i, True) for i in range(99, -1, -1)]
    _STATE.clear()


def test_sticky_pool_reraises_a_worker_error() -> None:
    with parallel.StickyPool(2) as pool, pytest.raises(ValueError, match="seven"):
        pool.run(_fail, [(i, i) for i in range(60)])


def test_parallel_build_equals_serial_build(tmp_path: Path) -> None:
    from kbtrans.build import build
    from kbtrans.extract import extract
    from tests.conftest import copy_corpus
    from tests.helpers import fill_catalogs

    roots = []
    for jobs in (1, 2):
        root = tmp_path / f"j{jobs}"
        copy_corpus("en-obsidian-tasks", root / "content")
        cfg = config.load(root)
        extract(cfg, jobs=jobs)
        fill_catalogs(root / "locales", lambda s: s.upper() if "[[" not in s else s)
        report = build(cfg, jobs=jobs)
        assert report.written
        roots.append((root, report))
    (a, ra), (b, rb) = roots
    files_a = sorted(p.relative_to(a / "build") for p in (a / "build").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b / "build") for p in (b / "build").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / "build" / rel).read_bytes() == (b / "build" / rel).read_bytes(), rel
    assert [str(w) for w in ra.warnings] == [str(w).replace("/j2/", "/j1/") for w in rb.warnings]
    assert ra.translated == rb.translated


def _die(x: int) -> int:
    if x == 3:
        os._exit(1)
    return x


def test_sticky_pool_reports_a_dead_worker() -> None:
    from kbtrans.errors import InternalError

    with parallel.StickyPool(2) as pool, pytest.raises(InternalError, match="worker process died"):
        pool.run(_die, [(i, i) for i in range(10)])


def test_serial_build_plans_each_note_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kbtrans import project
    from kbtrans.build import build

    (tmp_path / "content").mkdir()
    for i in range(parallel.MIN_PARALLEL + 2):
        (tmp_path / "content" / f"n{i}.md").write_text(f"# Заметка {i}\n\nТекст.\n", encoding="utf-8")
    calls: list[str] = []
    real = project.load_note

    def counting(cfg: config.Config, rel: str) -> object:
        calls.append(rel)
        return real(cfg, rel)

    monkeypatch.setattr(project, "load_note", counting)
    build(config.load(tmp_path), jobs=1)
    assert sorted(calls) == sorted(f"n{i}.md" for i in range(parallel.MIN_PARALLEL + 2))


def test_a_spilled_segment_comes_back_equal() -> None:
    """Segments and spans pickle as plain tuples (``__reduce__``): every field, defaults or not, survives."""
    from kbtrans.model import Segment, Span

    items = [Segment("a\nb", "front matter: title", "§", (Span(3, 2, 5), Span(4, 0, 1)), single_line=True,
                     translatable=False, quote="'"),
             Segment("c", "paragraph", "", (Span(0, 0, 1),))]
    stash: parallel.Stash[list[Segment]] = parallel.Stash(limit=0)
    stash.put("x", items, 10)
    assert stash.pop("x") == items


def test_early_pool_starts_its_workers_at_once_and_maps_in_order() -> None:
    with parallel.early_pool(parallel.PREFORK_NOTES, 2) as pool:
        assert pool is not None and len(pool._processes) == 2  # forked before any item is known
        items = list(range(200))
        assert list(parallel.pmap(_fail, items[8:], jobs=2, pool=pool)) == items[8:]
    with parallel.early_pool(parallel.PREFORK_NOTES - 1, 2) as small:
        assert small is None


def test_check_and_stats_on_an_early_pool_report_what_they_report_without(
        sample_kb: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    def run(prefork: int) -> tuple[str, str]:
        monkeypatch.setattr(parallel, "PREFORK_NOTES", prefork)
        monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
        shutil.rmtree(sample_kb / ".kbtrans", ignore_errors=True)
        return (cli("-C", sample_kb, "check", "--format", "json", "-j", "2").stdout,
                cli("-C", sample_kb, "stats", "--json", "-j", "2").stdout)

    early, late = run(1), run(10**9)
    assert early == late and '"issues"' in early[0] and '"notes"' in early[1]


def test_build_on_workers_started_early_writes_what_it_writes_without(
        sample_kb: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large KB's build starts its workers before it reads its records, and stops them when few notes
    need planning (the re-run): the same files either way."""
    import shutil

    def run(prefork: int) -> dict[str, bytes]:
        monkeypatch.setattr(parallel, "PREFORK_NOTES", prefork)
        monkeypatch.setattr(parallel, "MIN_PARALLEL", 2)
        shutil.rmtree(sample_kb / ".kbtrans", ignore_errors=True)
        shutil.rmtree(sample_kb / "build", ignore_errors=True)
        for _ in range(2):  # cold, then nothing to do
            assert cli("-C", sample_kb, "build", "-j", "2").exit_code == 0
        return {p.relative_to(sample_kb).as_posix(): p.read_bytes()
                for p in sorted((sample_kb / "build").rglob("*")) if p.is_file()}

    early, late = run(1), run(10**9)
    assert early == late and len(early) > 4


class _Tripwire:
    """Garbage in a reference cycle whose destructor kills any process but the one that made it (like a
    CTranslate2 Translator, whose destructor hangs in a forked worker waiting for threads it lacks)."""

    def __init__(self, destroyed: list[int]) -> None:
        self.pid = os.getpid()
        self.destroyed = destroyed
        self.cycle = self

    def __del__(self) -> None:
        if os.getpid() != self.pid:
            os._exit(17)
        self.destroyed.append(self.pid)


def _collect(x: int) -> int:
    import gc

    gc.collect()
    return x


@pytest.mark.parametrize("pool", ["sticky", "pmap", "early"])
def test_workers_never_destroy_garbage_they_inherited(pool: str) -> None:
    """A worker's garbage collection leaves alone what the parent had not collected yet when it forked;
    the parent still collects it afterwards."""
    import gc

    destroyed: list[int] = []
    gc.disable()  # the garbage must still be there when the workers are forked
    try:
        _Tripwire(destroyed)
        items = list(range(2 * parallel.MIN_PARALLEL))
        if pool == "sticky":
            with parallel.StickyPool(2) as sticky:
                assert sticky.parallel
                got = sticky.run(_collect, list(enumerate(items)))
        elif pool == "pmap":
            got = list(parallel.pmap(_collect, items, jobs=2))
        else:
            with parallel.early_pool(parallel.PREFORK_NOTES, 2) as early:
                assert early is not None
                got = list(parallel.pmap(_collect, items, jobs=2, pool=early))
    finally:
        gc.enable()
    assert got == items
    assert not destroyed
    gc.collect()
    assert destroyed == [os.getpid()]


def _share(_: int) -> int:
    return parallel._stash_share


def test_stash_budget_is_shared_by_the_workers_that_run() -> None:
    """Items run in this process keep the whole stash budget (nothing spilled below ``STASH_ITEMS``); each of
    ``jobs`` sticky workers keeps its share."""
    stash: parallel.Stash[int] = parallel.Stash()
    with parallel.StickyPool(1) as inline:
        for i in inline.run(lambda x: x, [(i, i) for i in range(parallel.STASH_ITEMS)]):
            stash[str(i)] = i
    assert len(stash) == parallel.STASH_ITEMS and not stash._spilled
    stash[str(-1)] = -1
    assert stash._spilled  # over the budget: the rest is spilled
    stash.clear()
    with parallel.StickyPool(2) as pool:
        assert pool.run(_share, [(0, 0), (1, 1)]) == [2, 2]
    assert parallel._stash_share == 1
