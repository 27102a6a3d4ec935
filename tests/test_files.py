"""What kbtrans leaves on disk: file modes, temporary files of killed runs, an output folder that would eat sources."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kbtrans import fsutil


def _two_notes(kb: Path) -> None:
    (kb / "content" / "a.md").write_text("# Первая\n\nТекст первой заметки.\n", encoding="utf-8")
    (kb / "content" / "b.md").write_text("# Вторая\n\nТекст второй заметки.\n", encoding="utf-8")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_get_the_umask_mode_and_rewritten_files_keep_theirs(cli, kb: Path) -> None:
    _two_notes(kb)
    old = os.umask(0o027)
    try:
        assert cli("-C", kb, "extract").exit_code == 0
        assert cli("-C", kb, "build").exit_code == 0
        po = kb / "locales" / "en" / "LC_MESSAGES" / "a.po"
        built = kb / "build" / "en" / "a.md"
        assert _mode(po) == 0o640 and _mode(built) == 0o640  # not mkstemp's 0600
        os.chmod(po, 0o644)
        (kb / "content" / "a.md").write_text("# Первая\n\nДругой текст.\n", encoding="utf-8")
        assert cli("-C", kb, "extract").exit_code == 0
        assert "Другой текст." in po.read_text(encoding="utf-8")
        assert _mode(po) == 0o644
    finally:
        os.umask(old)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporary_files_of_a_killed_run_are_removed_by_the_next(cli, kb: Path) -> None:
    _two_notes(kb)
    assert cli("-C", kb, "extract").exit_code == 0
    en = kb / "locales" / "en" / "LC_MESSAGES"
    dead = en / f".a.po.{_dead_pid()}.abcd1234.kbtrans.tmp"
    legacy = en / ".b.po.x1y2z3w4.tmp"
    live = en / f".a.po.{os.getppid()}.abcd1234.kbtrans.tmp"  # a running process: another kbtrans mid-write
    mine = kb / "content" / ".draft.md.x1y2z3w4.tmp"  # not in a folder kbtrans writes: never touched
    for path in (dead, legacy, live, mine):
        path.write_bytes(b"half a catalog")
    r = cli("-C", kb, "check")
    assert r.exit_code == 0, r.output
    assert not dead.exists() and not legacy.exists()
    assert live.exists() and mine.exists()
    assert sorted(p.name for p in en.iterdir()) == sorted([live.name, "a.po", "b.po"])


def test_remove_stale_temps_ignores_other_files(tmp_path: Path) -> None:
    keep = [tmp_path / "a.po", tmp_path / ".a.po.swp", tmp_path / ".hidden.tmp", tmp_path / "x.tmp"]
    for path in keep:
        path.write_text("x", encoding="utf-8")
    assert fsutil.remove_stale_temps([tmp_path, tmp_path / "missing"]) == []
    assert all(p.exists() for p in keep)


@pytest.mark.parametrize(("output", "key", "how"), [
    ("locales", "locales", "is"),
    ("content", "content", "is"),
    ("content/site", "content", "lies inside"),
    (".", "content", "contains"),
])
def test_an_output_folder_overlapping_notes_or_catalogs_is_refused(cli, kb: Path, output: str, key: str,
                                                                   how: str) -> None:
    _two_notes(kb)
    assert cli("-C", kb, "extract").exit_code == 0
    before = {p: p.read_bytes() for p in sorted(kb.rglob("*")) if p.is_file() and ".kbtrans" not in p.parts}
    r = cli("-C", kb, "--output", output, "build")
    assert r.exit_code == 1
    assert f"the output folder {output} {how} the `{key}` folder" in r.stderr
    assert "so it would delete your files. Choose another folder" in r.stderr and "Traceback" not in r.output
    after = {p: p.read_bytes() for p in sorted(kb.rglob("*")) if p.is_file() and ".kbtrans" not in p.parts}
    assert after == before


def test_build_removes_only_what_it_wrote(cli, kb: Path) -> None:
    _two_notes(kb)
    (kb / "content" / "sub").mkdir()
    (kb / "content" / "sub" / "c.md").write_text("Текст третьей заметки.\n", encoding="utf-8")
    (kb / "content" / "sub" / "pic.png").write_bytes(b"\x89PNG")
    assert cli("-C", kb, "extract").exit_code == 0
    assert cli("-C", kb, "build").exit_code == 0
    en = kb / "build" / "en"
    mine = [en / "notes.txt", en / "sub" / "mine.md", en / "own" / "x.md"]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the user's own file\n", encoding="utf-8")
    (kb / "content" / "b.md").unlink()
    (kb / "content" / "sub" / "c.md").unlink()
    (kb / "content" / "sub" / "pic.png").unlink()
    assert cli("-C", kb, "extract").exit_code == 0
    r = cli("-C", kb, "build")
    assert r.exit_code == 0, r.output
    assert "6 removed" in r.stdout  # in en and ru (a copy)
    assert not (en / "b.md").exists() and not (en / "sub" / "c.md").exists() and not (en / "sub" / "pic.png").exists()
    assert (en / "a.md").exists()
    assert all(p.read_text(encoding="utf-8") == "the user's own file\n" for p in mine)
    # a folder that only held what kbtrans wrote goes with it
    (en / "sub" / "mine.md").unlink()
    (kb / "content" / "d").mkdir()
    (kb / "content" / "d" / "e.md").write_text("Текст.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0 and cli("-C", kb, "build").exit_code == 0
    (kb / "content" / "d" / "e.md").unlink()
    assert cli("-C", kb, "build").exit_code == 0
    assert not (en / "d").exists() and (en / "sub").is_dir()
