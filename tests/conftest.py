"""Shared fixtures: a throw-away knowledge base, the shared corpora, running the CLI."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbtrans.cli import app

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "corpora"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_corpus(name: str) -> Path:
    """A corpus of ../shared/corpora, or skip the test when it is absent."""
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"../shared/corpora/{name} is not here")
    return path


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.output = stdout + stderr


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    """An empty knowledge base: tmp/kb with a content/ folder."""
    root = tmp_path / "kb"
    (root / "content").mkdir(parents=True)
    return root


@pytest.fixture
def sample_kb(tmp_path: Path) -> Path:
    """A copy of the sample knowledge base with freshly extracted (untranslated) catalogs."""
    from kbtrans import config, extract

    root = tmp_path / "kb"
    shutil.copytree(REPO / "content", root / "content")
    shutil.copy(REPO / "glossary.csv", root / "glossary.csv")
    extract.extract(config.load(root))
    return root


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run ``kbtrans ARGS`` in-process through ``kbtrans.cli.main`` (exit codes as a user sees them)."""
    import sys

    from kbtrans import cli as cli_mod

    def run(*args: str | Path) -> Result:
        runner = CliRunner()
        argv = [str(a) for a in args]

        def entry() -> None:
            sys.argv = ["kbtrans", *argv]
            cli_mod.main()

        import io
        from contextlib import redirect_stderr, redirect_stdout

        out, err = io.StringIO(), io.StringIO()
        code = 0
        try:
            with redirect_stdout(out), redirect_stderr(err):
                entry()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        del runner
        return Result(code, out.getvalue(), err.getvalue())

    return run


#: The note collections of ../shared/corpora (the CommonMark examples are separate: :func:`write_commonmark`).
CORPORA = ["ru-openbox", "en-obsidian-tasks", "parallel-rust-book", "parallel-diplodoc"]


def copy_corpus(name: str, content: Path) -> None:
    """Copy the notes of ../shared/corpora/NAME into ``content`` (replacing it), or skip when absent."""
    src = shared_corpus(name)
    shutil.rmtree(content, ignore_errors=True)
    shutil.copytree(src, content, ignore=shutil.ignore_patterns("*.json", "README.md"))


def write_commonmark(content: Path, exclude: Collection[int] = ()) -> int:
    """Write each CommonMark 0.31.2 spec example as ``content/example-NNN.md`` (or skip when absent)."""
    import json

    spec = json.loads((shared_corpus("commonmark") / "spec.json").read_text(encoding="utf-8"))
    assert len(spec) == 652
    for ex in spec:
        if ex["example"] not in exclude:
            (content / f"example-{ex['example']:03d}.md").write_text(ex["markdown"], encoding="utf-8", newline="")
    return len(spec) - len(exclude)


__all__ = ["CORPORA", "FIXTURES", "REPO", "SHARED", "Callable", "Result", "app", "copy_corpus", "shared_corpus",
           "write_commonmark"]
