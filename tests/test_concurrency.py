"""Commands running at the same time on one knowledge base: the lock, and nothing lost (issue 8, items 5 and 9)."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kbtrans import config, extract
from kbtrans.lock import KbLock

from .conftest import REPO, Result
from .helpers import messages

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
KBTRANS = [sys.executable, "-m", "kbtrans"]


def _kb(root: Path, notes: int = 30, paragraphs: int = 5) -> Path:
    for n in range(notes):
        body = "\n\n".join(f"Заметка {n}, абзац {p}: текст о проекте номер {n * 100 + p}." for p in range(paragraphs))
        path = root / "content" / f"note-{n:02d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\nlang: ru\n---\n{body}\n", encoding="utf-8")
    extract.extract(config.load(root))
    return root


def test_a_second_command_with_no_wait_names_the_holder(cli: Callable[..., Result], tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb", notes=2)
    with KbLock(kb / ".kbtrans", "translate"):
        for command in ("extract", "build", "translate"):
            r = cli("-C", kb, command, "--no-wait", *(["--engine", "pseudo"] if command == "translate" else []))
            assert r.exit_code == 1, r.output
            assert r.stderr == (
                f"kbtrans: error: {kb / '.kbtrans' / 'lock'}: another kbtrans command (pid {os.getpid()}, "
                "translate) is writing this knowledge base's catalogs or output. Wait for it to finish and run "
                "the command again (or leave out --no-wait to wait for it).\n")
    assert cli("-C", kb, "extract", "--no-wait").exit_code == 0


def test_a_second_command_waits_with_a_message(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb", notes=2)
    (kb / "content" / "new.md").write_text("---\nlang: ru\n---\nНовый абзац.\n", encoding="utf-8")
    lock = KbLock(kb / ".kbtrans", "build")
    with lock:
        proc = subprocess.Popen([*KBTRANS, "-C", str(kb), "extract"], env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line == f"kbtrans: waiting for another kbtrans command (pid {os.getpid()}, build) to finish…\n"
        assert proc.poll() is None and not (kb / "locales" / "en" / "LC_MESSAGES" / "new.po").exists()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert (kb / "locales" / "en" / "LC_MESSAGES" / "new.po").exists()


def test_a_killed_holder_releases_the_lock(cli: Callable[..., Result], tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb", notes=1)
    code = ("import sys, time; from pathlib import Path; from kbtrans.lock import KbLock\n"
            f"with KbLock(Path({str(kb / '.kbtrans')!r}), 'extract'):\n    print('held', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    assert cli("-C", kb, "extract", "--no-wait").exit_code == 1
    holder.kill()
    holder.wait(timeout=60)
    r = cli("-C", kb, "extract", "--no-wait")
    assert r.exit_code == 0, r.output


_REPORTED = re.compile(r"^(\d+) entries machine-translated.*?; (\d+) from translation memory(?:; (\d+) copied)?")


def test_translate_and_extract_at_the_same_time_lose_nothing(tmp_path: Path) -> None:
    """Many timings of `translate` and an `extract` of edited notes: every entry translate reported is in
    the catalogs afterwards, and every paragraph extract added is there too."""
    template = _kb(tmp_path / "template")
    rng = random.Random(8)
    for round_ in range(10):
        kb = tmp_path / f"kb{round_}"
        shutil.copytree(template, kb)
        before = messages(kb)
        assert before and not any(m.msgstr for m in before.values())
        translate = [*KBTRANS, "-C", str(kb), "translate", "--engine", "pseudo"]
        first_translate = round_ % 3 != 2
        delay = rng.uniform(0.0, 1.5)
        procs = []
        if first_translate:
            procs.append(subprocess.Popen(translate, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        time.sleep(delay)
        added = []
        for n in range(0, 30, 2):  # an editor saves half the notes with one paragraph more
            path = kb / "content" / f"note-{n:02d}.md"
            text = f"Добавленный абзац {round_}-{n}."
            path.write_text(path.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")
            added.append((f"locales/en/LC_MESSAGES/note-{n:02d}.po", text))
        procs.append(subprocess.Popen([*KBTRANS, "-C", str(kb), "extract"], env=ENV, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
        if not first_translate:
            time.sleep(delay / 5)
            procs.append(subprocess.Popen(translate, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        outs = {}
        for p in procs:
            out, err = p.communicate(timeout=300)
            outs["translate" if "translate" in p.args else "extract"] = (p.returncode, out, err)
        for name, (rc, out, err) in outs.items():
            assert rc == 0, (name, out, err)
        m = _REPORTED.match(outs["translate"][1])
        assert m, outs["translate"][1]
        reported = int(m[1]) + int(m[2]) + int(m[3] or 0)
        after = messages(kb)
        machine = {k for k, v in after.items() if v.msgstr and any(c.startswith("kbtrans-mt:") for c in v.comments)}
        assert len(machine) == reported, f"round {round_}: {reported} reported, {len(machine)} in the catalogs"
        lost = [k for k in before if not after.get(k) or not after[k].msgstr]
        assert not lost, f"round {round_}: {len(lost)} translations lost, e.g. {lost[:3]}"
        assert all(k in after for k in added), f"round {round_}: extract's new entries lost"


# -- SIGTERM and the death of the parent (item 9) ----------------------------------------------------

def test_sigterm_saves_finished_work_and_exits_143(sample_kb: Path, tmp_path: Path) -> None:
    from .support.mt_engines import read_log

    log = tmp_path / "run.log"
    env = {**ENV, "KBTRANS_ENGINE_SLOW": "tests.support.mt_engines:slow", "KBTRANS_TEST_LOG": str(log),
           "KBTRANS_TEST_DELAY": "0.02"}
    proc = subprocess.Popen([*KBTRANS, "-C", str(sample_kb), "translate", "--engine", "slow"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(read_log(log, "done")) < 40:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"translate ended or hung before SIGTERM: {proc.communicate()}")
        time.sleep(0.05)
    proc.terminate()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (out, err)
    assert err == ("kbtrans: terminated (SIGTERM). Every translation finished so far is saved in the catalogs; "
                   "run the same command again to translate the rest.\n")
    done = [m for m in messages(sample_kb).values() if m.msgstr]
    assert len(done) >= len(read_log(log, "done")[:-1]) >= 39


def test_sigterm_outside_translate_exits_143_with_a_message(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "kb", notes=1)
    code = ("import os, signal, sys; sys.argv = ['kbtrans', '-C', sys.argv[1], 'extract']\n"
            "from kbtrans import extract\n"
            "def run(*a, **k): os.kill(os.getpid(), signal.SIGTERM)\n"
            "extract.extract = run\nfrom kbtrans.cli import main\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code, str(kb)], env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 143, r.stderr
    assert r.stderr == "kbtrans: terminated (SIGTERM); everything written so far is complete.\n"


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone, only not yet reaped


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    if not Path("/proc/self/task").exists():
        import pytest

        pytest.skip("needs /proc (Linux) to find the worker processes")
    for how in ("sticky", "pmap"):
        code = ("import sys, time; from kbtrans import parallel\n"
                "print('ready', flush=True)\n"
                "if sys.argv[1] == 'sticky':\n"
                "    parallel.StickyPool(2).run(time.sleep, [(0, 600), (1, 600)])\n"
                "else:\n"
                "    list(parallel.pmap(time.sleep, [600] * parallel.MIN_PARALLEL, jobs=2))\n")
        parent = subprocess.Popen([sys.executable, "-c", code, how], env=ENV, stdout=subprocess.PIPE, text=True)
        assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 60
        while len(workers := _children(parent.pid)) < 2:
            assert time.monotonic() < deadline, f"{how}: no workers started"
            time.sleep(0.1)
        parent.kill()
        parent.wait(timeout=60)
        deadline = time.monotonic() + 60
        try:
            while [w for w in workers if _running(w)]:
                assert time.monotonic() < deadline, f"{how}: workers {workers} outlived their parent by a minute"
                time.sleep(0.1)
        finally:
            for w in workers:  # leave nothing behind when the test fails
                if _running(w):
                    os.kill(w, 9)
