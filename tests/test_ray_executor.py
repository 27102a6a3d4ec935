"""`kbtrans translate --ray`: the argos engine decoding on a real local Ray cluster (2 CPUs), with the tests' real
tiny CTranslate2 models installed through argostranslate.

* the Ray executor writes the same catalogs, byte for byte, as the local one: copy model (msgstr = msgid) and
  random model (gibberish) on the sample KB, copy model on a generated 300-note KB;
* an actor killed midway is restarted by Ray Data and the run still writes every entry; Ctrl-C midway keeps every
  finished entry and a re-run sends only the rest;
* a bad address, a missing Ray and `--ray` with another engine are clear errors.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kbtrans import config
from tests.conftest import REPO, Result
from tests.helpers import assert_msgfmt_ok, messages
from tests.support.argos_fixtures import *  # noqa: F403  (the argos_* fixtures)

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local Ray cluster (2 CPUs) for the module; kbtrans joins it (ray is initialised)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _catalogs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "locales").rglob("*.po"))}


def _twins(kb: Path) -> tuple[Path, Path]:
    local, on_ray = kb.parent / "local", kb.parent / "ray"
    shutil.copytree(kb, local)
    shutil.copytree(kb, on_ray)
    return local, on_ray


def _generated_kb(root: Path, notes: int) -> Path:
    spec = importlib.util.spec_from_file_location("kbtrans_bench_extract_build", REPO / "bench" / "extract_build.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.generate(root, notes)
    from kbtrans import extract

    extract.extract(config.load(root))
    return root


def _same_as_local(kb: Path, cli: Callable[..., Result], *args: str) -> dict[str, bytes]:
    local, on_ray = _twins(kb)
    a = cli("-C", local, "translate", "--engine", "argos", *args)
    assert a.exit_code == 0, a.output
    b = cli("-C", on_ray, "translate", "--ray", *args)
    assert b.exit_code == 0, b.output
    assert b.stdout.split(" in ")[0] == a.stdout.split(" in ")[0]  # the same counts (timing aside)
    expected, got = _catalogs(local), _catalogs(on_ray)
    assert got.keys() == expected.keys()
    differ = [k for k in expected if got[k] != expected[k]]
    assert not differ, f"{len(differ)} catalogs differ, e.g. {differ[0]}"
    assert_msgfmt_ok(on_ray / "locales")
    return got


def test_copy_model_on_ray_writes_what_local_writes(ray_cluster: None, argos_copy_packages: Path, sample_kb: Path,
                                                    cli: Callable[..., Result]) -> None:
    _same_as_local(sample_kb, cli)
    for (path, msgid), m in messages(sample_kb.parent / "ray").items():
        assert m.fuzzy and m.msgstr in (msgid, msgid.replace("\n", " ")), (path, m)


def test_random_model_on_ray_writes_what_local_writes(ray_cluster: None, argos_random_packages: Path,
                                                      sample_kb: Path, cli: Callable[..., Result]) -> None:
    _same_as_local(sample_kb, cli, "--fast")
    after = messages(sample_kb.parent / "ray")
    assert sum(m.msgstr != m.msgid for m in after.values()) > len(after) // 2  # gibberish, not copies


def test_copy_model_on_ray_on_a_generated_kb_of_300_notes(ray_cluster: None, argos_copy_packages: Path,
                                                          tmp_path: Path, cli: Callable[..., Result]) -> None:
    kb = _generated_kb(tmp_path / "kb", 300)
    got = _same_as_local(kb, cli)
    assert len(got) == 300  # one catalog a note, in the other language
    after = messages(kb.parent / "ray")
    assert len(after) > 5000 and all(m.msgstr in (k[1], k[1].replace("\n", " ")) for k, m in after.items())


def _actor_pids() -> list[int]:
    """PIDs of the running Ray Data actors of kbtrans (their process title names the callable class)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                title = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"SentenceDecoder" in title and b"pytest" not in title:
                found.append(int(proc.name))
    return found


def test_an_actor_killed_midway_is_restarted_and_every_entry_is_written(
        ray_cluster: None, argos_copy_packages: Path, tmp_path: Path, cli: Callable[..., Result]) -> None:
    kb = _generated_kb(tmp_path / "kb", 120)
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set() and not killed:
            pids = _actor_pids()
            if pids:
                time.sleep(0.5)  # let it take rows first
                with contextlib.suppress(ProcessLookupError):  # it may be gone already
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        r = cli("-C", kb, "translate", "--ray")
    finally:
        stop.set()
        thread.join()
    assert killed, "no actor was seen running"
    assert r.exit_code == 0, r.output
    after = messages(kb)
    assert after and all(m.fuzzy and m.msgstr in (k[1], k[1].replace("\n", " ")) for k, m in after.items())
    assert "Nothing to translate" in cli("-C", kb, "translate", "--ray").stdout


def _filled(root: Path) -> int:
    return sum(1 for m in messages(root).values() if m.msgstr)


def test_ctrl_c_midway_keeps_finished_entries_and_a_rerun_sends_only_the_rest(
        argos_copy_packages: Path, tmp_path: Path) -> None:
    """The real command in its own process (its own one-node cluster), interrupted as a user would."""
    kb = _generated_kb(tmp_path / "kb", 300)
    total = len(messages(kb))
    env = {**os.environ, "ARGOS_PACKAGES_DIR": str(argos_copy_packages), "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "kbtrans", "-C", str(kb), "translate", "--ray"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and _filled(kb) == 0:
        time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be interrupted: " + proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err[-3000:])
    assert "Every translation finished so far is saved in the catalogs" in err and "Traceback" not in err, err
    done = _filled(kb)
    assert 0 < done < total
    kept = {k: m.msgstr for k, m in messages(kb).items() if m.msgstr}

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = messages(kb)
    assert all(after[k].msgstr == v for k, v in kept.items())  # nothing finished was lost or redone
    assert all(m.msgstr for m in after.values())
    counts = {what: int(m.group(1)) if (m := re.search(rf"(\d+) {what}", rerun.stdout)) else 0
              for what in ("entries machine-translated", "from translation memory", "copied")}
    assert sum(counts.values()) == total - done, rerun.stdout  # only the rest was done again


def test_a_bad_address_is_a_clear_error(argos_copy_packages: Path, sample_kb: Path) -> None:
    env = {**os.environ, "ARGOS_PACKAGES_DIR": str(argos_copy_packages), "PYTHONPATH": str(REPO / "src")}
    r = subprocess.run([sys.executable, "-m", "kbtrans", "-C", str(sample_kb), "translate",
                        "--ray-address", "no-such-host.invalid:6379"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert "cannot connect to the Ray cluster at 'no-such-host.invalid:6379'" in r.stderr, r.stderr
    assert "ray start --head" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert all(not m.msgstr for m in messages(sample_kb).values())
    r = subprocess.run([sys.executable, "-m", "kbtrans", "-C", str(sample_kb), "translate",
                        "--ray-address", "ray://localhost"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "the Ray address 'ray://localhost' is not HOST:PORT" in r.stderr, r.stderr


def test_ray_with_another_engine_is_a_usage_error(sample_kb: Path, cli: Callable[..., Result]) -> None:
    r = cli("-C", sample_kb, "translate", "--ray", "--engine", "pseudo")
    assert r.exit_code == 2
    assert "the Ray executor runs the argos engine, not 'pseudo'" in r.output


def test_without_ray_installed_the_error_names_the_install_command(
        argos_copy_packages: Path, sample_kb: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "no-ray"
    blocker.mkdir()
    (blocker / "ray.py").write_text("raise ImportError('No module named ray', name='ray')\n")
    env = {**os.environ, "ARGOS_PACKAGES_DIR": str(argos_copy_packages),
           "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO / "src")])}
    r = subprocess.run([sys.executable, "-m", "kbtrans", "-C", str(sample_kb), "translate", "--ray"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert "pip install 'kbtrans[ray]'" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_the_config_selects_the_executor(tmp_path: Path) -> None:
    (tmp_path / "kbtrans.toml").write_text('executor = "ray"\nray_address = "ray://head:10001"\nray_actor_cpus = 2\n')
    cfg = config.load(tmp_path)
    assert (cfg.executor, cfg.ray_address, cfg.ray_actor_cpus) == ("ray", "ray://head:10001", 2)
    (tmp_path / "kbtrans.toml").write_text('executor = "spark"\n')
    with pytest.raises(config.ConfigError, match="'executor' must be local or ray, got 'spark'"):
        config.load(tmp_path)


def test_placement_uses_gpus_when_the_cluster_has_them() -> None:
    from kbtrans.engines import argos, ray_executor

    cfg = config.Config()
    opts = argos.DecodeOptions(beam_size=4, inter_threads=2, intra_threads=1)
    gpu = ray_executor.placement({"CPU": 16, "GPU": 2}, cfg, opts)
    assert (gpu.actors, gpu.num_gpus, gpu.options.device, gpu.options.max_batch_tokens) == (2, 1, "cuda", 4096)
    cpu = ray_executor.placement({"CPU": 8}, config.Config(ray_actor_cpus=2), opts)
    assert (cpu.actors, cpu.num_cpus, cpu.num_gpus, cpu.options.intra_threads, cpu.options.inter_threads) \
        == (4, 2, 0, 2, 1)
    forced = ray_executor.placement({"CPU": 8, "GPU": 1}, config.Config(device="cpu"), opts)
    assert forced.options.device == "cpu" and forced.num_gpus == 0
    # Actors larger than the cluster could never start (Ray would wait forever): a clear error instead.
    with pytest.raises(ray_executor.EngineError, match=r"ray_actor_cpus = 4, but the Ray cluster has 2 CPUs"):
        ray_executor.placement({"CPU": 2}, config.Config(ray_actor_cpus=4), opts)


def test_actors_larger_than_the_cluster_are_a_clear_error(ray_cluster: None, argos_copy_packages: Path,
                                                          sample_kb: Path, cli: Callable[..., Result]) -> None:
    (sample_kb / "kbtrans.toml").write_text("ray_actor_cpus = 3\n")
    r = cli("-C", sample_kb, "translate", "--ray")
    assert r.exit_code == 1, r.output
    assert "ray_actor_cpus = 3, but the Ray cluster has 2 CPUs" in r.stderr and "Traceback" not in r.output
    # Nothing reached the model (only copies of texts with nothing to translate may have been written).
    assert not any(c.startswith("kbtrans-mt: argos") for m in messages(sample_kb).values() for c in m.comments)
