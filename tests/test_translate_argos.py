"""`kbtrans translate --engine argos` end to end on the sample KB, through real (tiny) Argos packages.

* copy model: every msgstr equals its msgid (soft line breaks joined), markup and all;
* random model (gibberish): every entry translated, fuzzy, with provenance; `msgfmt --check` passes;
  the built notes keep every link target, wikilink target, footnote label, code and math of the
  source (count and value); a reviewed entry is never changed;
* `--refresh` after editing one sentence of a paragraph sends only that sentence to the model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kbtrans import catalog, config
from kbtrans.engines import argos
from tests.conftest import Result
from tests.helpers import assert_msgfmt_ok, messages
from tests.support.argos_fixtures import *  # noqa: F403  (the argos_* fixtures)

pytestmark = pytest.mark.slow


def msgfmt_check(root: Path) -> None:
    assert_msgfmt_ok(root / "locales")


def mt_comment(m: catalog.Message) -> str:
    return next(c for c in m.comments if c.startswith("kbtrans-mt:"))


_WIKILINK = re.compile(r"!?\[\[([^\[\]|#]*)(?:[#|][^\[\]]*)?\]\]")


def _parser() -> Any:
    """kbtrans' Markdown dialect (segment.parser) with inline parsing on."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.use(front_matter_plugin).use(footnote_plugin)
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    return md


def inventory(text: str) -> Counter[tuple[str, str]]:
    """What must survive translation, as markdown-it parses it: link and image targets (without
    the #fragment, which build rewrites to the translated heading), wikilink and embed targets,
    footnote labels, code (spans and blocks) and math."""
    found: Counter[tuple[str, str]] = Counter()

    def walk(tokens: Any) -> None:
        for t in tokens:
            if t.type in ("fence", "code_block", "code_inline"):
                found["code", t.content] += 1
            elif t.type.startswith("math"):
                found["math", t.content] += 1
            elif t.type == "link_open":
                found["link", str(t.attrGet("href")).split("#")[0]] += 1
            elif t.type == "image":
                found["image", str(t.attrGet("src"))] += 1
            elif t.type in ("footnote_ref", "footnote_open"):
                found[t.type, str(t.meta.get("label", "(inline)"))] += 1
            elif t.type == "text":
                for m in _WIKILINK.finditer(t.content):
                    found["wikilink", m.group(1)] += 1
            if t.children:
                walk(t.children)

    walk(_parser().parse(text))
    return found


def test_copy_model_end_to_end(argos_copy_packages: Path, sample_kb: Path, cli: Callable[..., Result]) -> None:
    before = messages(sample_kb)
    assert before and all(not m.msgstr for m in before.values())
    r = cli("-C", sample_kb, "translate", "--engine", "argos")
    assert r.exit_code == 0, r.output
    assert "entries machine-translated with argos" in r.stdout and "repaired" not in r.stdout
    after = messages(sample_kb)
    assert after.keys() == before.keys()
    for (path, msgid), m in after.items():
        lang = path.split("/")[1]
        other = "en" if lang == "ru" else "ru"
        assert m.fuzzy, m
        assert m.msgstr in (msgid, msgid.replace("\n", " ")), m
        assert mt_comment(m) in (f"kbtrans-mt: argos translate-{other}_{lang} 1.9",
                                 "kbtrans-mt: copied (nothing to translate)")
        assert not any(c.startswith("kbtrans-mt-repair") for c in m.comments), m
    msgfmt_check(sample_kb)
    b = cli("-C", sample_kb, "build", "--strict")
    assert b.exit_code == 0, b.output
    for lang in ("en", "ru"):
        for built in sorted((sample_kb / "build" / lang).rglob("*.md")):
            source = sample_kb / "content" / built.relative_to(sample_kb / "build" / lang)
            src_text, out_text = source.read_text(encoding="utf-8"), built.read_text(encoding="utf-8")
            if src_text != out_text:  # only soft line breaks may differ (and the lang key)
                assert inventory(out_text) == inventory(src_text), built
                norm = [re.sub(r"\s+", " ", re.sub(r"(?m)^lang:.*$", "", t)) for t in (src_text, out_text)]
                assert norm[0] == norm[1], built


def test_random_model_end_to_end(argos_random_packages: Path, sample_kb: Path, cli: Callable[..., Result]) -> None:
    """Gibberish from a random model never breaks markup (greedy `--fast`: the random model rarely
    stops before 256 tokens, and beam search is covered by the copy model and the parity tests)."""
    before = messages(sample_kb)
    # A reviewed translation (non-fuzzy) and a human draft (fuzzy, no kbtrans-mt comment) stay as they are.
    (reviewed_key, reviewed_msgid), (draft_key, draft_msgid) = [k for k in before if k[0].startswith("locales/en")][:2]
    reviewed_path, draft_path = sample_kb / reviewed_key, sample_kb / draft_key
    catalog.fill(reviewed_path, [catalog.Fill(reviewed_msgid, "Reviewed by a human.", False, "", "kbtrans-mt")])
    catalog.fill(draft_path, [catalog.Fill(draft_msgid, "A human draft.", True, "", "kbtrans-mt")])
    reviewed = messages(sample_kb)[reviewed_key, reviewed_msgid]
    draft = messages(sample_kb)[draft_key, draft_msgid]

    r = cli("-C", sample_kb, "translate", "--engine", "argos", "--fast")
    assert r.exit_code == 0, r.output
    after = messages(sample_kb)
    assert after[reviewed_key, reviewed_msgid].msgstr == reviewed.msgstr == "Reviewed by a human."
    assert not after[reviewed_key, reviewed_msgid].fuzzy
    assert after[draft_key, draft_msgid].msgstr == draft.msgstr == "A human draft."
    changed = 0
    for key, m in after.items():
        if key in ((reviewed_key, reviewed_msgid), (draft_key, draft_msgid)):
            continue
        lang = key[0].split("/")[1]
        other = "en" if lang == "ru" else "ru"
        assert m.msgstr and m.fuzzy, m
        assert mt_comment(m) in (f"kbtrans-mt: argos translate-{other}_{lang} 1.9 fast",
                                 "kbtrans-mt: copied (nothing to translate)"), m
        changed += m.msgstr != m.msgid
    assert changed > len(after) // 2, "the random model should produce gibberish, not copies"
    msgfmt_check(sample_kb)

    b = cli("-C", sample_kb, "build")
    assert b.exit_code == 0, b.output
    n = 0
    for lang in ("en", "ru"):
        for built in sorted((sample_kb / "build" / lang).rglob("*.md")):
            source = sample_kb / "content" / built.relative_to(sample_kb / "build" / lang)
            expected = inventory(source.read_text(encoding="utf-8"))
            assert inventory(built.read_text(encoding="utf-8")) == expected, built
            n += sum(expected.values())
    assert n > 200


def test_refresh_after_editing_one_sentence_sends_only_it(
    argos_copy_packages: Path, sample_kb: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("-C", sample_kb, "translate", "--engine", "argos").exit_code == 0
    note = sample_kb / "content" / "training" / "pretraining-data.md"
    text = note.read_text(encoding="utf-8")
    old = "Беру случайную выборку в тысячу файлов, удалённых как дубликаты, и просматриваю их глазами."
    new = "Беру случайную выборку в сто файлов, удалённых как дубликаты, и читаю их."
    assert text.count(old) == 1
    note.write_text(text.replace(old, new), encoding="utf-8")
    assert cli("-C", sample_kb, "extract").exit_code == 0

    engines: list[argos.ArgosEngine] = []
    sent: list[str] = []
    original = argos.create

    class Spy:
        def __init__(self, translator: Any, sp: Any) -> None:
            self.translator, self.sp = translator, sp

        def translate_batch(self, source: list[list[str]], **kw: Any) -> Any:
            sent.extend(self.sp.decode_pieces(tokens) for tokens in source)
            return self.translator.translate_batch(source, **kw)

    def spy(cfg: config.Config, *, fast: bool = False) -> argos.ArgosEngine:
        engine = original(cfg, fast=fast)
        engines.append(engine)
        model = engine.model("ru", "en")
        model.translator = Spy(model.translator, model.sp)
        return engine

    monkeypatch.setattr(argos, "create", spy)
    r = cli("-C", sample_kb, "translate", "--engine", "argos")
    assert r.exit_code == 0, r.output
    assert cli("-C", sample_kb, "translate", "--engine", "argos", "--refresh").exit_code == 0
    (engine,) = engines  # the plain run had nothing to do and needed no engine
    assert engine.model_sentences == 1 and sent == [new]
    assert engine.cached_sentences >= 1  # the paragraph's other sentence(s) came from the sentence cache
    entry = next(m for (path, msgid), m in messages(sample_kb).items() if new in msgid and "/en/" in path)
    assert entry.msgstr in (entry.msgid, entry.msgid.replace("\n", " ")) and entry.fuzzy
