#!/usr/bin/env python3
"""Compare this checkout's kbtrans with an earlier revision on one generated KB: cold extract, cold build.

    .venv/bin/python bench/revisions.py [--baseline f6020fa] [--notes 2000] [--rounds 5] [--jobs 2]
                                        [--no-instructions]

The baseline is checked out with ``git worktree`` into a temporary folder and run by this venv's Python
with ``PYTHONPATH=<worktree>/src`` (same interpreter, same dependencies, both sides byte-compiled first:
only kbtrans differs). The KB is
``bench/extract_build.py``'s generated one. Each round runs both sides, in alternating order, as
subprocesses: a cold ``extract`` on a fresh copy of the notes, identity catalogs (every msgstr set to its
msgid, not timed), a cold ``build``. Wall and CPU time (user + system, of the whole process tree) are
recorded; the ratios new ÷ baseline are printed as the median of each round's pair and of the minimums.

Run as root, the kernel's caches are dropped before each timed command: the file churn of the rounds
otherwise makes the system time of the same command grow run after run (0.5 s to 6 s over eight builds
here). With ``valgrind`` on the PATH one more run per side counts the instructions executed by every
process of each command (``cachegrind --cache-sim=no``, user space only), a ratio that does not depend on
the machine's load. The build outputs of both sides are compared byte for byte. The last line is one
JSON object.

The default baseline, f6020fa, is main before the work on translators' tools (issue 8).
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ("extract", "build")


def _kb_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extract_build", REPO / "bench" / "extract_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src)}


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def _drop_caches() -> bool:
    """Empty the kernel's page, dentry and inode caches (root only); whether it was done.

    Here the system time of the same command grew by about 1 s per run as the rounds' file churn filled
    the caches (0.5 s to 6 s over eight builds, for both sides): every timed run starts from empty caches."""
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
    except OSError:
        return False
    return True


def _run(src: Path, kb: Path, command: str, jobs: int, prefix: list[str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of ``kbtrans -C kb command -j jobs`` run from ``src``."""
    if prefix is None:
        _drop_caches()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*(prefix or []), sys.executable, "-m", "kbtrans", "-C", str(kb), command, "-j", str(jobs)],
                          env=_env(src), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"kbtrans {command} from {src} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _instructions(src: Path, kb: Path, command: str, jobs: int, out: Path) -> int:
    """Instructions executed by every process of one command (valgrind's cachegrind)."""
    out.mkdir(parents=True)
    _run(src, kb, command, jobs, ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
                                  f"--cachegrind-out-file={out}/cg.%p", "--log-file=/dev/null"])
    total = 0
    for part in out.iterdir():
        for line in part.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("summary:"):
                total += int(line.split()[1])
    return total


def _round(bench: ModuleType, src: Path, notes: Path, kb: Path, jobs: int,
           count: Path | None = None) -> dict[str, float]:
    shutil.rmtree(kb, ignore_errors=True)
    shutil.copytree(notes, kb / "content")
    result: dict[str, float] = {}
    for command in COMMANDS:
        if command == "build":
            bench.fill_identity(kb / "locales")
        if count is not None:
            result[command] = _instructions(src, kb, command, jobs, count / command)
        else:
            result[f"{command}_wall"], result[f"{command}_cpu"] = _run(src, kb, command, jobs)
    return result


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default="f6020fa", help="git revision to compare with (default f6020fa)")
    ap.add_argument("--notes", type=int, default=2000, help="notes in the generated KB (default 2000)")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per side (default 5)")
    ap.add_argument("--jobs", type=int, default=2, help="kbtrans -j (default 2)")
    ap.add_argument("--no-instructions", action="store_true", help="do not count instructions with valgrind")
    args = ap.parse_args()
    bench = _kb_bench()
    with tempfile.TemporaryDirectory(prefix="kbtrans-revisions-") as tmp:
        work = Path(tmp)
        tree = work / "baseline"
        added = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.baseline],
                               capture_output=True, text=True)
        if added.returncode != 0:
            sys.exit(f"cannot check out {args.baseline!r} (a shallow clone? run `git fetch --unshallow`):\n"
                     f"{added.stderr.strip()}")
        try:
            sides = {"baseline": tree / "src", "new": REPO / "src"}
            for src in sides.values():  # neither side pays for compiling its modules in the timed runs
                subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
            bench.generate(work / "kb", args.notes)
            notes = work / "kb" / "content"
            times: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
            for r in range(args.rounds):
                order = list(sides) if r % 2 == 0 else list(reversed(sides))
                for side in order:
                    times[side].append(_round(bench, sides[side], notes, work / side, args.jobs))
                    row = times[side][-1]
                    print(f"round {r + 1} {side:8}: " + ", ".join(
                        f"{c} {row[f'{c}_wall']:.2f} s ({row[f'{c}_cpu']:.2f} s CPU)" for c in COMMANDS), flush=True)
            same = _same_tree(work / "baseline" / "build", work / "new" / "build")
            out: dict[str, object] = {"baseline": args.baseline, "notes": args.notes, "rounds": args.rounds,
                                      "jobs": args.jobs, "caches_dropped": _drop_caches(),
                                      "build_output_identical": same}
            for key in times["new"][0]:
                new = [t[key] for t in times["new"]]
                old = [t[key] for t in times["baseline"]]
                out[f"{key}_pair_ratio"] = round(statistics.median(n / o for n, o in zip(new, old, strict=True)), 4)
                out[f"{key}_min_ratio"] = round(min(new) / min(old), 4)
            if not args.no_instructions and shutil.which("valgrind"):
                counts = {side: _round(bench, src, notes, work / side, args.jobs, count=work / f"cg-{side}")
                          for side, src in sides.items()}
                for command in COMMANDS:
                    old_n, new_n = counts["baseline"][command], counts["new"][command]
                    out[f"{command}_instructions_ratio"] = round(new_n / old_n, 4)
                    print(f"{command}: {old_n:,.0f} → {new_n:,.0f} instructions")
            print(json.dumps(out))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
            subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], capture_output=True)


if __name__ == "__main__":
    main()
