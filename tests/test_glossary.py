"""The glossary file: required pairs, do-not-translate terms, errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbtrans import config, glossary
from kbtrans.errors import GlossaryError, KbtransError


def _load(root: Path, text: str, name: str = "glossary.csv") -> glossary.Glossary:
    (root / name).write_text(text, encoding="utf-8")
    return glossary.load(config.load(root))


def test_no_file_is_an_empty_glossary(tmp_path: Path) -> None:
    g = glossary.load(config.load(tmp_path))
    assert g.pairs == () and g.keep == ()
    assert g.required("ru", "en", "предобучение") == []


def test_pairs_and_keep_terms(tmp_path: Path) -> None:
    g = _load(tmp_path, 'ru,en,note\n'
                        'предобучение,pretraining,\n'
                        '"токенизатор",tokenizer,"splits text, into tokens"\n'
                        ',StarCoder,model name\n'
                        'RLHF,,\n'
                        'HumanEval,HumanEval,benchmark\n'
                        '\n'
                        '# a comment row\n')
    assert g.pairs == (glossary.Term("предобучение", "pretraining", "", 2),
                       glossary.Term("токенизатор", "tokenizer", "splits text, into tokens", 3))
    assert g.keep == ("StarCoder", "RLHF", "HumanEval")
    assert issubclass(GlossaryError, KbtransError)


def test_required_matches_inflected_forms(tmp_path: Path) -> None:
    g = _load(tmp_path, "ru,en,note\nпредобучение,pretraining,\nтокенизатор,tokenizer,\n"
                        "дообучение,fine-tuning,\n")
    assert g.required("ru", "en", "Данные для предобучения модели") == [("предобучение", "pretraining")]
    assert g.required("ru", "en", "Токенизаторы и дообучением") == [("токенизатор", "tokenizer"),
                                                                   ("дообучение", "fine-tuning")]
    assert g.required("en", "ru", "Two tokenizers after Pretraining") == [
        ("pretraining", "предобучение"), ("tokenizer", "токенизатор")]
    assert g.required("en", "ru", "fine tuning") == [("fine-tuning", "дообучение")]
    # whole words only
    assert g.required("ru", "en", "непредобучение") == []
    assert g.required("en", "en", "tokenizer") == []
    term = g.pairs[0]
    assert g.has(term, "en", "the pretraining corpus") and not g.has(term, "en", "the training corpus")


def test_keep_terms_are_whole_word_case_sensitive(tmp_path: Path) -> None:
    g = _load(tmp_path, "ru,en,note\n,StarCoder,\n,RLHF,\n")
    assert g.kept("StarCoder2 и RLHF-этап") == ["RLHF"]
    assert g.kept("StarCoder: модель") == ["StarCoder"]
    assert g.kept("starcoder") == []
    assert "starcoder" in g.words


def test_tsv(tmp_path: Path) -> None:
    g = _load(tmp_path, "en\tru\tnote\npretraining\tпредобучение\tx, y\nCodex\t\t\n", "glossary.tsv")
    assert g.pairs == (glossary.Term("предобучение", "pretraining", "x, y", 2),)
    assert g.keep == ("Codex",)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("russian,english\nа,b\n", 1, "header row"),
    ("ru,en,note\nа,b,c,d\n", 2, "4 cells"),
    ("ru,en,note\nпредобучение,pretraining,\n\nпредобучение,pre-training,\n", 4, "already defined on line 2"),
    ("ru,en,note\n,,just a note\n", 2, "neither a ru nor an en"),
    ('ru,en,note\nа,b,ok\nа2,"b2\n', 3, "malformed row"),
    ("ru,en,note\n,Codex,\nкодекс,Codex,\n", 2, "both a do-not-translate term"),
])
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    with pytest.raises(GlossaryError) as exc:
        _load(tmp_path, text)
    assert exc.value.line == line
    assert exc.value.path is not None and exc.value.path.endswith("glossary.csv")
    assert words in str(exc.value)
    assert f"glossary.csv:{line}:" in str(exc.value)


def test_both_csv_and_tsv_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "glossary.tsv").write_text("ru\ten\n", encoding="utf-8")
    with pytest.raises(GlossaryError, match="Keep one"):
        _load(tmp_path, "ru,en\n")


def test_invalid_utf8(tmp_path: Path) -> None:
    (tmp_path / "glossary.csv").write_bytes(b"ru,en\n\xff,b\n")
    with pytest.raises(GlossaryError, match="UTF-8") as exc:
        glossary.load(config.load(tmp_path))
    assert exc.value.line == 2
