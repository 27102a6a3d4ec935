"""The argos engine on real (tiny) Argos packages built by tests/support/argos_models.py.

The "copy" model translates every sentence into itself, so exact expectations are known; the
"random" model produces gibberish, which is compared with ``argostranslate.translate.translate()``
on the same package (same decoding options must give the same output).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kbtrans.config import Config
from kbtrans.engines import argos
from kbtrans.errors import EngineError
from tests.conftest import Result
from tests.support.argos_fixtures import *  # noqa: F403  (the argos_* fixtures)

pytestmark = pytest.mark.slow

PLAIN_RU = [
    "Привет, мир.",
    "Это простая заметка о переводе базы знаний.",
    "Список: яблоки, груши, сливы; всё на кухне.",
    "Ёжик в тумане съел 3,5 яблока.",
    "Щука, шёлк, объём, подъезд, цыплёнок, юла, эхо.",
    "Модель обучена на большом корпусе текстов",
    "Как измерить качество перевода?",
    "Цена 100 рублей (или 5 долларов).",
]
PLAIN_EN = [
    "Hello, world.",
    "This is a simple note about translating a knowledge base.",
    "A list: apples, pears, plums; all of it in the kitchen.",
    "The quick brown fox jumps over the lazy dog 3.5 times.",
    "Jackdaws love my big sphinx of quartz!",
    "The model was trained on a large corpus of text",
    "How do we measure translation quality?",
    "It costs 100 RUB (or 5 dollars).",
]


def _cfg(tmp_path: Path, **kw: Any) -> Config:
    return Config(root=tmp_path, threads=2, device="cpu", **kw)


def _run(engine: argos.ArgosEngine, texts: list[str], source: str, target: str) -> list[str]:
    got: dict[int, str] = {}
    for i, text in engine.translate(texts, source, target):
        assert i not in got, f"index {i} yielded twice"
        got[i] = text
    assert sorted(got) == list(range(len(texts)))
    return [got[i] for i in range(len(texts))]


# -- (a) same output as argostranslate -------------------------------------------------------


def _argos_translate(text: str, source: str, target: str) -> str:
    import argostranslate.translate

    return str(argostranslate.translate.translate(text, source, target))


@pytest.mark.parametrize(("source", "target", "texts"), [("ru", "en", PLAIN_RU), ("en", "ru", PLAIN_EN)])
def test_copy_model_equals_argostranslate(
    argos_copy_packages: Path, tmp_path: Path, source: str, target: str, texts: list[str]
) -> None:
    engine = argos.create(_cfg(tmp_path))
    ours = _run(engine, texts, source, target)
    theirs = [_argos_translate(t, source, target) for t in texts]
    assert ours == theirs == texts


def _near_tie(engine: argos.ArgosEngine, source: str, target: str, sentence: str) -> float:
    """Score gap between the two best beam hypotheses of ``sentence`` translated alone."""
    model = engine.model(source, target)
    tokens = model.encode([sentence])
    result = model.translator.translate_batch(
        tokens, **{**model.options.translate_kwargs(), "num_hypotheses": 2}, max_decoding_length=256
    )[0]
    return abs(result.scores[0] - result.scores[1])


@pytest.mark.parametrize(("source", "target", "texts"), [("ru", "en", PLAIN_RU), ("en", "ru", PLAIN_EN)])
def test_random_model_equals_argostranslate(
    argos_random_packages: Path, tmp_path: Path, source: str, target: str, texts: list[str]
) -> None:
    """Gibberish, but the same gibberish: same model, same decoding options, sentence by sentence.

    argostranslate's decoder turns every ``_`` into a space (a bug kbtrans does not copy), so
    outputs are compared with ``_`` read as a space.  Any other difference must be a near-tie
    between the two best beam hypotheses, shifted by batching (shown by the scores).
    """
    engine = argos.create(_cfg(tmp_path))
    ours = _run(engine, texts, source, target)
    theirs = [_argos_translate(t, source, target) for t in texts]
    assert any(o != t for o, t in zip(ours, texts, strict=True)), "the random model should not copy"
    for text, mine, ref in zip(texts, ours, theirs, strict=True):
        if mine.replace("_", " ") != ref:
            gap = _near_tie(engine, source, target, text)
            assert gap < 1e-3, f"{text!r}: {mine!r} != {ref!r} and not a near-tie (score gap {gap})"
    # Each sentence alone (batch of one, like argostranslate) gives exactly argostranslate's output.
    alone = [_run(argos.ArgosEngine(_cfg(tmp_path / f"a{i}")), [t], source, target)[0] for i, t in enumerate(texts)]
    assert [a.replace("_", " ") for a in alone] == theirs


def test_fast_preset_is_greedy_and_still_copies(argos_copy_packages: Path, tmp_path: Path) -> None:
    engine = argos.create(_cfg(tmp_path), fast=True)
    assert engine.options.beam_size == 1
    assert engine.options.max_batch_tokens == 1024 and engine.options.intra_threads == 1
    assert _run(engine, PLAIN_RU, "ru", "en") == PLAIN_RU
    assert engine.provenance("ru", "en") == "argos translate-ru_en 1.9 fast"


# -- exact round trips through the copy model -------------------------------------------------

TRICKY = [
    "Переменная snake_case_name и __init__ в Python.",  # argostranslate's decode turns _ into spaces
    "Сноска⟦0⟧ и ещё одна ⟦1⟧ остаются на месте.",
    "Многоточие… и ещё одно…",  # NFKC: … → ...
    "Цена — 100\u00a0₽, т.\u00a0е. недорого.",  # non-breaking spaces
    "Ｆｕｌｌ－ｗｉｄｔｈ （ＡＢ） and x² + y²",  # full-width forms, superscripts
    "Two  spaces   inside.  Two sentences after two spaces.",
    "  Leading and trailing whitespace  ",
    "Snowman ☃ and emoji 😀 are not in the vocabulary.",
    "[^ref_1] and `code_span` stay.",
    "⟦3⟧",
    "",
    "1. 2. 3.",
]


def test_copy_model_round_trips_tricky_text(argos_copy_packages: Path, tmp_path: Path) -> None:
    engine = argos.create(_cfg(tmp_path))
    assert _run(engine, TRICKY, "ru", "en") == TRICKY
    # ... which argostranslate itself does not: it loses "_" and normalises "…" and NBSP.
    assert _argos_translate(TRICKY[0], "ru", "en") == "Переменная snake case name и   init   в Python."
    assert "..." in _argos_translate(TRICKY[2], "ru", "en")


def test_sentences_without_letters_skip_the_model(argos_copy_packages: Path, tmp_path: Path) -> None:
    engine = argos.create(_cfg(tmp_path))
    assert _run(engine, ["⟦0⟧", "42.", "⟦1⟧ — ⟦2⟧", ""], "ru", "en") == ["⟦0⟧", "42.", "⟦1⟧ — ⟦2⟧", ""]
    assert engine.model_sentences == 0


def test_duplicates_are_translated_once(argos_copy_packages: Path, tmp_path: Path) -> None:
    engine = argos.create(_cfg(tmp_path))
    texts = ["Привет, мир. Это тест.", "Это тест.", "Привет, мир.", "Это тест. Привет, мир."]
    assert _run(engine, texts, "ru", "en") == texts
    assert engine.model_sentences == 2


# -- (b) the sentence cache ---------------------------------------------------------------------


class _Spy:
    """Wraps a ctranslate2.Translator and records every source sentence it is given."""

    def __init__(self, translator: Any) -> None:
        self.translator = translator
        self.seen: list[list[str]] = []

    def translate_batch(self, source: list[list[str]], **kw: Any) -> Any:
        self.seen.extend(source)
        return self.translator.translate_batch(source, **kw)


def test_edited_sentence_is_the_only_one_retranslated(argos_copy_packages: Path, tmp_path: Path) -> None:
    paragraph = ("Первое предложение абзаца. Второе предложение, т. е. пример. "
                 "Третье предложение! И четвёртое, последнее?")
    cfg = _cfg(tmp_path)
    first = argos.create(cfg)
    assert _run(first, [paragraph], "ru", "en") == [paragraph]
    assert first.model_sentences == 4

    edited = paragraph.replace("Третье предложение!", "Третье, изменённое предложение!")
    second = argos.create(cfg)  # a new process: the cache comes from disk
    model = second.model("ru", "en")
    spy = _Spy(model.translator)
    model.translator = spy
    assert _run(second, [edited], "ru", "en") == [edited]
    assert second.model_sentences == 1 and second.cached_sentences == 3
    assert [model.sp.decode_pieces(s) for s in spy.seen] == ["Третье, изменённое предложение!"]

    cache_files = list((tmp_path / ".kbtrans" / "mt-cache").glob("*.jsonl"))
    assert len(cache_files) == 1
    header = json.loads(cache_files[0].read_text(encoding="utf-8").splitlines()[0])
    assert header["package"] == "translate-ru_en" and header["version"] == "1.9"


def test_cache_survives_a_torn_line_and_is_per_preset(argos_copy_packages: Path, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    engine = argos.create(cfg)
    _run(engine, ["Раз. Два."], "ru", "en")
    (cache_file,) = (tmp_path / ".kbtrans" / "mt-cache").glob("*.jsonl")
    with cache_file.open("ab") as fh:
        fh.write(b'{"s": "\xd0\xa2\xd1\x80')  # a crash in the middle of a write
    with cache_file.open("ab") as fh:
        fh.write(b"\n" + b"[" * 100_000 + b"\n")  # a damaged line too deep for the JSON parser
    again = argos.create(cfg)
    assert _run(again, ["Раз. Два. Три."], "ru", "en") == ["Раз. Два. Три."]
    assert again.model_sentences == 1
    # The sentence written after the torn line is a record of its own: the next run finds it.
    with cache_file.open("ab") as fh:
        fh.write(b'{"s": "torn')
    third = argos.create(cfg)
    _run(third, ["Четыре."], "ru", "en")
    fourth = argos.create(cfg)
    assert _run(fourth, ["Четыре."], "ru", "en") == ["Четыре."] and fourth.model_sentences == 0
    # Greedy drafts are cached separately: the beam-search cache does not answer them.
    fast = argos.create(cfg, fast=True)
    _run(fast, ["Раз."], "ru", "en")
    assert fast.model_sentences == 1
    assert len(list((tmp_path / ".kbtrans" / "mt-cache").glob("*.jsonl"))) == 2


# -- (c) missing model ----------------------------------------------------------------------------


@pytest.fixture
def no_models(install_argos_models: Callable[..., Path], tmp_path: Path) -> Iterator[Path]:
    from tests.support.argos_models import argos_packages_dir

    with argos_packages_dir(tmp_path / "empty-packages") as d:
        yield d


def test_missing_model_names_the_install_command(no_models: Path, tmp_path: Path) -> None:
    engine = argos.create(_cfg(tmp_path))
    with pytest.raises(EngineError) as info:
        list(engine.translate(["Привет."], "ru", "en"))
    message = str(info.value)
    assert "kbtrans models install ru en" in message
    assert "kbtrans models install --file PATH.argosmodel" in message
    assert str(no_models) in message
    with pytest.raises(EngineError, match="kbtrans models install en ru"):
        engine.provenance("en", "ru")


def test_damaged_model_is_named_with_what_to_do(no_models: Path, kb: Path, cli: Callable[..., Result]) -> None:
    """A package folder argostranslate cannot read is skipped by `models list`, and named when it is the
    pair a translation needs (not "no model is installed")."""
    damaged = no_models / "translate-ru_en-1_9"
    damaged.mkdir(parents=True)
    (damaged / "metadata.json").write_text("{not json", encoding="utf-8")
    assert argos.list_models() == []
    (kb / "content" / "note.md").write_text("# Заголовок\n\nПривет, мир.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    result = cli("-C", kb, "translate", "--engine", "argos")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"{damaged} looks like ru → en but cannot be read" in result.stderr
    assert "Delete that folder and reinstall the model with `kbtrans models install ru en`" in result.stderr


def test_missing_model_cli_translate_exits_1(no_models: Path, kb: Path, cli: Callable[..., Result]) -> None:
    (kb / "content" / "note.md").write_text("# Заголовок\n\nПривет, мир.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    result = cli("-C", kb, "translate", "--engine", "argos")
    assert result.exit_code == 1, result.output
    assert "kbtrans models install ru en" in result.stderr
    assert "Traceback" not in result.output


def test_install_without_network_is_a_clear_error(
    no_models: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result], tmp_path: Path
) -> None:
    settings = argos._settings()
    monkeypatch.setattr(settings, "remote_package_index", "http://127.0.0.1:9/index.json")
    with pytest.raises(EngineError, match=r"--file PATH\.argosmodel"):
        argos.install("ru", "en")
    result = cli("-C", tmp_path, "models", "install", "ru", "en")
    assert result.exit_code == 1
    assert "cannot download the Argos package index" in result.stderr
    assert "kbtrans models install --file" in result.stderr


# -- (d) models list / install --file ----------------------------------------------------------------


def test_models_install_file_and_list(
    no_models: Path, argos_model_cache: Any, cli: Callable[..., Result], tmp_path: Path
) -> None:
    result = cli("models", "list")
    assert result.exit_code == 0
    assert "No Argos Translate models installed" in result.stdout and str(no_models) in result.stdout

    ru_en, en_ru = argos_model_cache.argosmodels("copy")
    result = cli("models", "install", "--file", ru_en)
    assert result.exit_code == 0, result.output
    assert f"installed translate-ru_en 1.9 (ru → en) in {no_models / 'translate-ru_en-copy'}" in result.stdout
    result = cli("models", "install", "en", "ru", "--file", en_ru)
    assert result.exit_code == 0, result.output

    result = cli("models", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:3] == ["en", "→", "ru"] and "translate-en_ru" in lines[0] and "1.9" in lines[0]
    assert lines[1].endswith(str(no_models / "translate-ru_en-copy"))
    # The installed model works: through the engine, and through argostranslate itself.
    engine = argos.create(_cfg(tmp_path))
    assert _run(engine, ["Привет, мир."], "ru", "en") == ["Привет, мир."]
    assert _argos_translate("Привет, мир.", "ru", "en") == "Привет, мир."


def test_models_install_rejects_bad_input(no_models: Path, cli: Callable[..., Result], tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.argosmodel"
    bogus.write_text("not a zip", encoding="utf-8")
    result = cli("models", "install", "--file", bogus)
    assert result.exit_code == 1 and "is not an Argos package" in result.stderr
    result = cli("models", "install", "--file", tmp_path / "missing.argosmodel")
    assert result.exit_code == 1 and "no such file" in result.stderr
    result = cli("models", "install", "ru")
    assert result.exit_code == 2
    import zipfile

    for name, meta in (("list", b"[1, 2]"), ("nocodes", b'{"package_version": "1.0"}'), ("json", b"{no")):
        pkg = tmp_path / f"{name}.argosmodel"
        with zipfile.ZipFile(pkg, "w") as zf:
            zf.writestr("translate-x/metadata.json", meta)
        result = cli("models", "install", "--file", pkg)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert str(pkg) in result.stderr and "Download" in result.stderr
    assert cli("models", "list").exit_code == 0  # nothing half-installed breaks the listing


def test_argos_packages_dir_is_read_at_call_time(
    argos_copy_packages: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert [m.name for m in argos.list_models()] == ["translate-en_ru", "translate-ru_en"]
    monkeypatch.setenv("ARGOS_PACKAGES_DIR", str(tmp_path / "elsewhere"))
    assert argos.list_models() == []
    assert argos.packages_dirs() == [tmp_path / "elsewhere"]


# -- the throughput benchmark runs (tiny model, a few segments) -------------------------------------


def test_mt_throughput_bench_smoke(
    argos_model_cache: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import runpy

    from tests.support.argos_models import argos_packages_dir

    settings = argos._settings()
    for name in ("beam_size", "intra_threads", "inter_threads"):  # the bench sets them; undo afterwards
        monkeypatch.setattr(settings, name, getattr(settings, name))
    monkeypatch.setenv("ARGOS_BEAM_SIZE", str(settings.beam_size))
    bench = runpy.run_path(str(Path(__file__).resolve().parent.parent / "bench" / "mt_throughput.py"))
    with argos_packages_dir(argos_model_cache.root / "bench-packages"):
        assert bench["main"](["--tiny", "--segments", "12", "--repeats", "1", "--naive-sample", "4",
                              "--models", str(argos_model_cache.root)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) >= {"segments", "beam", "naive_seg_s", "kbtrans_seg_s", "fast_seg_s", "raw_seg_s", "ratio",
                           "fast_ratio", "overhead", "identical"}
    assert result["segments"] == 12 and result["beam"] == 4 and result["kbtrans_copies"] == 1.0
