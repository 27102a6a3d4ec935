"""Bad input: one clear paragraph naming file/line and what to do, exit 1, nothing written half-way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".kbtrans" not in p.parts}


def _two_notes(kb: Path) -> None:
    (kb / "content" / "a.md").write_text("# Первая\n\nТекст первой заметки.\n", encoding="utf-8")
    (kb / "content" / "b.md").write_text("# Вторая\n\nТекст второй заметки.\n", encoding="utf-8")


def test_invalid_utf8_note(cli, kb: Path) -> None:
    _two_notes(kb)
    assert cli("-C", kb, "extract").exit_code == 0
    (kb / "content" / "a.md").write_text("# Первая\n\nНовый текст.\n", encoding="utf-8")
    (kb / "content" / "b.md").write_bytes("# Вторая\n\nТекст\n".encode() + b"\xff\xfe broken\n")
    before = _snapshot(kb)
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1
    assert f"{kb / 'content' / 'b.md'}:4: invalid UTF-8 (byte 0xff at offset" in r.stderr
    assert "Re-save the note as UTF-8." in r.stderr
    assert "Traceback" not in r.output
    assert _snapshot(kb) == before  # a.md's catalog was not updated half-way
    r = cli("-C", kb, "build")
    assert r.exit_code == 1 and "invalid UTF-8" in r.stderr
    assert not (kb / "build").exists()


def test_malformed_po_names_file_and_line(cli, kb: Path) -> None:
    _two_notes(kb)
    assert cli("-C", kb, "extract").exit_code == 0
    po = kb / "locales" / "en" / "LC_MESSAGES" / "b.po"
    lines = po.read_text(encoding="utf-8").splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if line.startswith('msgstr ""') and i > 5)
    lines[n] = 'msgstr "unterminated\n'
    po.write_text("".join(lines), encoding="utf-8")
    (kb / "content" / "a.md").write_text("# Первая\n\nИзменённый текст.\n", encoding="utf-8")
    before = _snapshot(kb)
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1
    assert f"b.po:{n + 1}: PO syntax error (a string is not closed with a quote)" in r.stderr
    assert "Fix the entry by hand" in r.stderr
    assert _snapshot(kb) == before
    r = cli("-C", kb, "build")
    assert r.exit_code == 1 and f"b.po:{n + 1}: PO syntax error" in r.stderr


def test_unknown_config_key(cli, kb: Path) -> None:
    (kb / "kbtrans.toml").write_text('content = "content"\nlanguage = ["ru", "en"]\n', encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1
    assert "kbtrans.toml: unknown key 'language'. Valid keys: content, locales, output, languages," in r.stderr
    (kb / "kbtrans.toml").write_text("wrap = -1\n", encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1 and "key 'wrap' must be a non-negative integer" in r.stderr
    (kb / "kbtrans.toml").write_text("wrap = \n", encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1 and "kbtrans.toml:1: invalid TOML" in r.stderr


def test_pyproject_table_and_cli_precedence(cli, kb: Path) -> None:
    (kb / "notes").mkdir()
    (kb / "notes" / "n.md").write_text("Текст.\n", encoding="utf-8")
    (kb / "pyproject.toml").write_text('[tool.kbtrans]\ncontent = "notes"\nbogus = 1\n', encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1 and "pyproject.toml: unknown key 'bogus'" in r.stderr
    (kb / "pyproject.toml").write_text('[tool.kbtrans]\ncontent = "notes"\nlocales = "po"\n', encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    assert (kb / "po" / "en" / "LC_MESSAGES" / "n.po").exists()
    r = cli("-C", kb, "--locales", "other", "extract")
    assert r.exit_code == 0, r.output
    assert (kb / "other" / "en" / "LC_MESSAGES" / "n.po").exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_note_or_symlink_outside_content(cli, kb: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("Секрет.\n", encoding="utf-8")
    (kb / "content" / "ok.md").write_text("Текст.\n", encoding="utf-8")
    (kb / "content" / "leak.md").symlink_to(secret)
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1
    assert f"{kb / 'content' / 'leak.md'}: is a link to {secret}, outside the content folder" in r.stderr
    assert "move the file into the content folder or remove the link" in r.stderr
    assert not (kb / "locales").exists()
    (kb / "content" / "leak.md").unlink()
    (kb / "content" / "dir").symlink_to(tmp_path, target_is_directory=True)
    r = cli("-C", kb, "build")
    assert r.exit_code == 1 and "outside the content folder" in r.stderr


def test_init_and_usage_errors(cli, tmp_path: Path) -> None:
    root = tmp_path / "new"
    r = cli("-C", root, "init")
    assert r.exit_code == 0, r.output
    text = (root / "kbtrans.toml").read_text(encoding="utf-8")
    assert 'languages = ["ru", "en"]' in text and "front_matter_keys" in text
    r = cli("-C", root, "init")
    assert r.exit_code == 1 and "already exists" in r.stderr and "--force" in r.stderr
    assert cli("-C", root, "init", "--force").exit_code == 0
    r = cli("-C", root, "extract")  # the template itself is a valid config
    assert r.exit_code == 0, r.output
    r = cli("-C", tmp_path / "missing", "extract")
    assert r.exit_code == 1 and "project directory does not exist" in r.stderr
    r = cli("-C", root, "build", "--to", "de")
    assert r.exit_code == 1 and "--to de: not one of the configured languages" in r.stderr
    r = cli("-C", root, "extract", "--no-such-option")
    assert r.exit_code == 2


def test_python_m_kbtrans_has_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "bad.md").write_bytes(b"\xc3\x28\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-m", "kbtrans", "-C", str(tmp_path), "extract"], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 1
    assert "bad.md:1: invalid UTF-8" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "kbtrans", "--version"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.startswith("kbtrans ")


def test_unwritable_output_is_an_error_not_a_traceback(cli, kb: Path) -> None:
    _two_notes(kb)
    (kb / "blocked").write_text("a file where the output folder should be\n", encoding="utf-8")
    r = cli("-C", kb, "--output", "blocked", "build")
    assert r.exit_code == 1
    assert f"{kb / 'blocked'}" in r.stderr and "Not a directory" in r.stderr
    assert "Check that the path is a writable folder" in r.stderr and "Traceback" not in r.output


def test_full_disk_names_the_file_and_keeps_the_old_one(cli, kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way (disk full: the error names no file) names the catalog, says what to do,
    and leaves the file as it was."""
    import errno
    import os

    _two_notes(kb)
    assert cli("-C", kb, "extract").exit_code == 0
    po = kb / "locales" / "en" / "LC_MESSAGES" / "a.po"
    before = po.read_bytes()
    (kb / "content" / "a.md").write_text("# Заметка\n\nДругой текст.\n", encoding="utf-8")
    real = os.fdopen

    class Full:
        def __init__(self, fd: int, mode: str) -> None:
            self.fh = real(fd, mode)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("kbtrans.fsutil.os.fdopen", Full)
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{po}: No space left on device. Free some disk space and run the command again" in r.stderr
    assert po.read_bytes() == before and not list(po.parent.glob(".*.tmp"))


@pytest.mark.parametrize("command", [["build"], ["check"], ["stats"], ["translate", "--engine", "pseudo"]])
def test_unknown_target_language(cli, kb: Path, command: list[str]) -> None:
    _two_notes(kb)
    assert cli("-C", kb, "extract").exit_code == 0
    r = cli("-C", kb, *command, "--to", "de")
    assert r.exit_code == 1
    assert "--to de: not one of the configured languages ['ru', 'en']" in r.stderr


def test_locales_outside_the_project(cli, kb: Path, tmp_path: Path) -> None:
    _two_notes(kb)
    outside = tmp_path / "elsewhere"
    for command in (["extract"], ["translate", "--engine", "pseudo"], ["check"], ["stats"], ["build"]):
        r = cli("-C", kb, "--locales", outside, *command)
        assert r.exit_code in (0, 1) and "Traceback" not in r.output, (command, r.output)
    assert (outside / "en" / "LC_MESSAGES" / "a.po").exists()
    (outside / "en" / "LC_MESSAGES" / "a.po").rename(outside / "en" / "LC_MESSAGES" / "gone.po")
    r = cli("-C", kb, "--locales", outside, "extract")
    assert r.exit_code == 0 and f"{outside}/en/LC_MESSAGES/gone.po" in r.output


@pytest.mark.parametrize("damage", ["rows", "file"])
def test_damaged_caches_are_rebuilt(cli, kb: Path, damage: str) -> None:
    """`.kbtrans/` holds caches only: a damaged record or file is ignored or replaced, never a traceback."""
    import json
    import sqlite3

    _two_notes(kb)
    assert cli("-C", kb, "extract").exit_code == 0
    assert cli("-C", kb, "build").exit_code == 0
    good = {p: p.read_bytes() for p in sorted((kb / "build").rglob("*.md"))}
    cache = kb / ".kbtrans"
    if damage == "rows":  # every column of the wrong type or shape
        con = sqlite3.connect(cache / "state.db")
        with con:
            con.execute("UPDATE extract SET lang=1, catalogs='[]'")
            con.execute("UPDATE build SET done='x', warnings='[{\"x\": 1}]', headings='null'")
            con.execute("UPDATE build_deps SET dep=7")
        con.close()
    else:
        (cache / "state.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    for note in (cache / "notes").rglob("*.json"):
        data = json.loads(note.read_text(encoding="utf-8"))
        for seg in data["segments"]:
            seg[3] = [["a", "b", "c"]]
        note.write_text(json.dumps(data), encoding="utf-8")
    for command in ("extract", "build", "check", "stats"):
        r = cli("-C", kb, command)
        assert r.exit_code == 0 and "Traceback" not in r.output, (command, r.output)
    assert {p: p.read_bytes() for p in sorted((kb / "build").rglob("*.md"))} == good
    r = cli("-C", kb, "build")  # the state was rewritten: nothing to do
    assert r.exit_code == 0 and "0 files written" in r.output, r.output


def test_python_without_sqlite_still_works(kb: Path) -> None:
    """The run state is only a speed-up: where Python has no sqlite3 module every command still works."""
    import subprocess
    import sys

    _two_notes(kb)
    block = ("import sys, runpy\n"
             "class NoSqlite:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name in ('sqlite3', '_sqlite3'):\n"
             "            raise ImportError('no sqlite here')\n"
             "sys.meta_path.insert(0, NoSqlite())\n"
             "sys.argv = ['kbtrans', *sys.argv[1:]]\n"
             "runpy.run_module('kbtrans', run_name='__main__')\n")
    for command in ("extract", "build", "build", "check", "stats"):
        r = subprocess.run([sys.executable, "-c", block, "-C", str(kb), command], capture_output=True, text=True)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (command, r.stdout + r.stderr)
    assert (kb / "build" / "en").is_dir() and not (kb / ".kbtrans" / "state.db").exists()
