"""Identity round-trip on real corpora: msgstr = msgid rebuilds every note byte for byte.

Runs the real pipeline (extract → fill catalogs → build) over the CommonMark 0.31.2 examples and every
Markdown file of ../shared/corpora. Exclusions: none.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import shared_corpus
from tests.helpers import fill_catalogs, strip_lang

CORPORA = ["ru-openbox", "en-obsidian-tasks", "parallel-rust-book", "parallel-diplodoc"]


def _roundtrip(cli, root: Path) -> list[str]:
    r = cli("-C", root, "extract")
    assert r.exit_code == 0, r.output
    fill_catalogs(root / "locales")
    r = cli("-C", root, "build", "--strict")
    assert r.exit_code == 0, r.output
    bad = []
    for note in sorted((root / "content").rglob("*.md")):
        rel = note.relative_to(root / "content")
        src = strip_lang(note.read_bytes())
        for lang in ("ru", "en"):
            built = root / "build" / lang / rel
            if strip_lang(built.read_bytes()) != src:
                bad.append(f"{lang}/{rel}")
    return bad


@pytest.mark.slow
def test_commonmark_examples_identity(cli, kb: Path) -> None:
    spec = json.loads((shared_corpus("commonmark") / "spec.json").read_text(encoding="utf-8"))
    assert len(spec) == 652
    for ex in spec:
        (kb / "content" / f"example-{ex['example']:03d}.md").write_text(ex["markdown"], encoding="utf-8",
                                                                         newline="")
    assert _roundtrip(cli, kb) == []


@pytest.mark.slow
@pytest.mark.parametrize("corpus", CORPORA)
def test_corpus_identity(cli, kb: Path, corpus: str) -> None:
    src = shared_corpus(corpus)
    shutil.rmtree(kb / "content")
    shutil.copytree(src, kb / "content", ignore=shutil.ignore_patterns("*.json", "README.md"))
    bad = _roundtrip(cli, kb)
    assert bad == []
    # every catalog written is accepted by GNU gettext
    if shutil.which("msgfmt"):
        for po in sorted((kb / "locales").rglob("*.po")):
            proc = subprocess.run(["msgfmt", "--check-format", "--check-header", "-o", "/dev/null", str(po)],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, f"{po}: {proc.stderr}"
