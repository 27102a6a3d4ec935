"""The sentence splitter used by the argos engine: RU and EN fixtures, and its invariants."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbtrans.sentences import sentences, split

CASES: list[tuple[str, list[str]]] = [
    # Russian
    ("Привет, мир. Это тест.", ["Привет, мир.", "Это тест."]),
    ("Это, т. е. пример, работает. Дальше.", ["Это, т. е. пример, работает.", "Дальше."]),
    ("Это, т.е. пример. Дальше.", ["Это, т.е. пример.", "Дальше."]),
    ("Яблоки, груши и т. д. Потом сливы.", ["Яблоки, груши и т. д.", "Потом сливы."]),
    ("Яблоки, груши и т.д. и т.п. всё.", ["Яблоки, груши и т.д. и т.п. всё."]),
    ("Овощи, фрукты и т. п. Ещё хлеб.", ["Овощи, фрукты и т. п.", "Ещё хлеб."]),
    ("А. С. Пушкин родился в 1799 г. в Москве.", ["А. С. Пушкин родился в 1799 г. в Москве."]),
    ("Это было в 1799 г. Потом был 1800-й.", ["Это было в 1799 г.", "Потом был 1800-й."]),
    ("Смотри стр. 12. Или см. Главу 5.", ["Смотри стр. 12.", "Или см. Главу 5."]),
    ("Ёжик съел 3,5 яблока. И 2.5 груши.", ["Ёжик съел 3,5 яблока.", "И 2.5 груши."]),
    ("Ну… ладно. Ну... Да.", ["Ну… ладно.", "Ну...", "Да."]),
    ("Что? — спросил он. Ответ был прост.", ["Что? — спросил он.", "Ответ был прост."]),
    ("Он сказал: «Привет.» Она ушла.", ["Он сказал: «Привет.»", "Она ушла."]),
    ("Пример (см. рис. 3). Далее текст.", ["Пример (см. рис. 3).", "Далее текст."]),
    ("Проф. Иванов и акад. Петров пришли. Все рады.", ["Проф. Иванов и акад. Петров пришли.", "Все рады."]),
    ("Работает ли это? Да! Конечно!!! Ок.", ["Работает ли это?", "Да!", "Конечно!!!", "Ок."]),
    ("Модель GPT-4 вышла в 2023 г. и быстро стала популярной.",
     ["Модель GPT-4 вышла в 2023 г. и быстро стала популярной."]),
    # English
    ("Hello, world. This is a test.", ["Hello, world.", "This is a test."]),
    ("J. R. R. Tolkien wrote it. Then e.g. this one.", ["J. R. R. Tolkien wrote it.", "Then e.g. this one."]),
    ("See Dr. Smith. He is here.", ["See Dr. Smith.", "He is here."]),
    ("Mr. and Mrs. Brown came, i.e. both of them.", ["Mr. and Mrs. Brown came, i.e. both of them."]),
    ("The value is 3.5 today. Next one.", ["The value is 3.5 today.", "Next one."]),
    ("1. First item here.", ["1. First item here."]),
    ("It happened in 2024. Then 2025 came.", ["It happened in 2024.", "Then 2025 came."]),
    ("See p. 5 and fig. 3. Done.", ["See p. 5 and fig. 3.", "Done."]),
    ("Apples, pears, etc. And more.", ["Apples, pears, etc.", "And more."]),
    ("Apples, pears, etc. are fruit.", ["Apples, pears, etc. are fruit."]),
    ("Is it? Yes! Really?! OK.", ["Is it?", "Yes!", "Really?!", "OK."]),
    ("Yahoo! is a company.", ["Yahoo! is a company."]),
    ("Wait... what? Fine.", ["Wait... what?", "Fine."]),
    ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ("Open config.toml and file.md now. Done.", ["Open config.toml and file.md now.", "Done."]),
    ("The U.S. Army is big.", ["The U.S. Army is big."]),
    # Placeholders and markup
    ("A footnote.⟦0⟧ Next sentence.", ["A footnote.⟦0⟧", "Next sentence."]),
    ("Run ⟦0⟧. ⟦1⟧ is next.", ["Run ⟦0⟧.", "⟦1⟧ is next."]),
    ("Emphasis **ends here.** Then more.", ["Emphasis **ends here.**", "Then more."]),
    ("Сноска⟦12⟧. Дальше ⟦3⟧ текст.", ["Сноска⟦12⟧.", "Дальше ⟦3⟧ текст."]),
    # Whitespace
    ("  Hello  world.   Two spaces.  ", ["Hello  world.", "Two spaces."]),
    ("Line one.\nline two", ["Line one.", "line two"]),
    ("", []),
    ("   ", []),
    ("No terminator at all", ["No terminator at all"]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def _check_spans(text: str) -> None:
    spans = split(text)
    pos = 0
    for s, e in spans:
        assert s >= pos and e > s
        assert text[pos:s].strip() == ""  # only whitespace between sentences
        assert text[s:e] == text[s:e].strip()
        pos = e
    assert text[pos:].strip() == ""
    for m in re.finditer(r"⟦\d+⟧", text):  # no span boundary cuts a placeholder
        for s, e in spans:
            assert not (m.start() < s < m.end() or m.start() < e < m.end())


_ALPHABET = st.sampled_from(
    ["Привет", "мир", "Hello", "e.g.", "т. е.", "Dr.", "3.5", "А.", "J.", ".", "!", "?", "…", "...", " ", "  ",
     "\u00a0", "»", "«", ")", "(", "**", "⟦0⟧", "⟦17⟧", "etc.", "г.", "1.", "x", "\n"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=30).map("".join))
def test_span_invariants(text: str) -> None:
    _check_spans(text)
