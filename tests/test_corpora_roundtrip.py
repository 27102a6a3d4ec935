"""Identity round-trip on real corpora: msgstr = msgid rebuilds every note byte for byte.

Runs the real pipeline (extract → fill catalogs → build) over the CommonMark 0.31.2 examples and every
Markdown file of ../shared/corpora. Exclusions: none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CORPORA, copy_corpus, write_commonmark
from tests.helpers import assert_msgfmt_ok, fill_catalogs, strip_lang


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
    write_commonmark(kb / "content")
    assert _roundtrip(cli, kb) == []


@pytest.mark.slow
@pytest.mark.parametrize("corpus", CORPORA)
def test_corpus_identity(cli, kb: Path, corpus: str) -> None:
    copy_corpus(corpus, kb / "content")
    assert _roundtrip(cli, kb) == []
    assert_msgfmt_ok(kb / "locales")  # every catalog written is accepted by GNU gettext
