"""The pseudo engine: deterministic, target-script look-alikes, ~30 % longer, bracketed, placeholders kept."""

from __future__ import annotations

import re

import pytest

from kbtrans.config import Config
from kbtrans.engines import create, names
from kbtrans.engines.pseudo import CLOSE, OPEN, pseudo
from kbtrans.placeholders import PLACEHOLDER_RE


def test_placeholders_survive_exactly() -> None:
    text = "См. ⟦0⟧заметку⟦1⟧ и ⟦12⟧, ⟦3⟧⟦4⟧."
    out = pseudo(text, "en")
    assert PLACEHOLDER_RE.findall(out) == PLACEHOLDER_RE.findall(text)


def test_deterministic_bracketed_and_about_thirty_percent_longer() -> None:
    text = "This is a fairly ordinary English sentence about language models for code."
    out = pseudo(text, "ru")
    assert out == pseudo(text, "ru")
    assert out.startswith(OPEN) and out.endswith(CLOSE + ".")  # the end punctuation stays at the end
    assert 1.25 * len(text) <= len(out) <= 1.4 * len(text)


def test_into_english_has_no_cyrillic_into_russian_no_latin() -> None:
    en = pseudo("Языковые модели для кода: Python и HumanEval", "en")
    ru = pseudo("Language models for code: Python and HumanEval", "ru")
    assert not re.search(r"[А-Яа-яЁё]", en)
    assert re.search(r"[^\W\d_]", en)
    assert not re.search(r"[A-Za-z]", ru)
    # look-alikes, not plain letters: the text visibly went through "translation"
    assert "Python" not in en and "Language" not in ru


def test_engine_protocol_and_registry() -> None:
    assert {"argos", "pseudo"} <= set(names())
    engine = create("pseudo", Config(), fast=True)
    assert engine.name == "pseudo"
    assert engine.provenance("ru", "en") == "pseudo ru→en"
    results = dict(engine.translate(["один ⟦0⟧", "два"], "ru", "en"))
    assert sorted(results) == [0, 1]
    assert results[0].count("⟦0⟧") == 1


def test_env_registered_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBTRANS_ENGINE_MYTEST", "tests.support.mt_engines:counting")
    assert "mytest" in names()
    assert create("mytest", Config()).name == "logging"
