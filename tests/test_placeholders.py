"""Placeholders around MT: protect/restore round trips, repairs, and the by-construction guarantee.

The guarantee is tested independently of :func:`kbtrans.placeholders.valid`: every restored text is
checked with ``kbtrans.check.blocking`` and ``kbtrans.splice.fit`` — exactly what ``build`` applies.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it.common.utils import normalizeReference

from kbtrans import check, config, markup, project, splice
from kbtrans.engines.pseudo import pseudo
from kbtrans.model import Segment
from kbtrans.placeholders import PLACEHOLDER_RE, protect, restore, token

from .conftest import REPO
from .support.mt_engines import MARKUP_JUNK, garble, mangle


@lru_cache(maxsize=1)
def sample_entries() -> tuple[tuple[Segment, str, str], ...]:
    """(segment, source language, target language) of every entry of the sample knowledge base."""
    cfg = config.load(REPO)
    out = []
    for rel in project.inventory(cfg).notes:
        note = project.load_note(cfg, rel)
        target = next(lang for lang in cfg.languages if lang != note.lang)
        out.extend((seg, note.lang, target) for seg in note.entries)
    return tuple(out)


def with_elements() -> list[tuple[Segment, str, str]]:
    return [e for e in sample_entries() if PLACEHOLDER_RE.search(protect(e[0].text).text)]


def build_problems(seg: Segment, text: str, src: str, tgt: str) -> list[str]:
    """What ``build`` would object to (independent of placeholders.valid)."""
    if text == seg.text:
        return []
    found = check.blocking(seg, text, src, tgt)
    if not found and splice.fit(seg, text) is None:
        found = ["fit() rejects it"]
    return found


def joined(text: str) -> str:
    """``text`` with soft line breaks outside protected elements joined (what MT round-trips)."""
    m = protect(text)
    parts = PLACEHOLDER_RE.split(m.text)
    out = [parts[0]]
    for n, part in enumerate(parts[1:]):
        out.append(m.originals[n])
        out.append(part)
    return "".join(out)


# -- protect ---------------------------------------------------------------------------------------

def test_protect_keeps_readable_text_visible() -> None:
    m = protect("См. [[tokenization|токенизация кода]] и [Дедупликация](a.md#d), `x = 1`, $x^2$ и [^1].")
    assert m.text == "См. ⟦0⟧токенизация кода⟦1⟧ и ⟦2⟧Дедупликация⟦3⟧, ⟦4⟧, ⟦5⟧ и ⟦6⟧."
    assert m.originals == ("[[tokenization|", "]]", "[", "](a.md#d)", "`x = 1`", "$x^2$", "[^1]")
    assert m.partners[:4] == (1, 0, 3, 2)


def test_protect_wikilink_without_alias_and_embed_are_one_piece_image_alt_and_titles_are_text() -> None:
    m = protect("Смотри [[pretraining-data]], ![схема](img/p.svg) и ![[pipeline.svg]].")
    assert m.originals == ("[[pretraining-data]]", "![", "](img/p.svg)", "![[pipeline.svg]]")
    assert m.text == "Смотри ⟦0⟧, ⟦1⟧схема⟦2⟧ и ⟦3⟧."
    assert m.partners[1:3] == (2, 1)
    m = protect('См. ![схема *данных*](p.svg "Конвейер данных") и [статью](a.md \'Статья\').')
    assert m.text == "См. ⟦0⟧схема ⟦1⟧данных⟦2⟧⟦3⟧Конвейер данных⟦4⟧ и ⟦5⟧статью⟦6⟧Статья⟦7⟧."
    assert m.originals == ("![", "*", "*", '](p.svg "', '")', "[", "](a.md '", "')")
    restored = restore("See ⟦0⟧ *data* diagram ⟦3⟧ The \"data\" pipeline ⟦4⟧ and ⟦5⟧ the article ⟦6⟧ Jim's ⟦7⟧.",
                       m, target_lang="en")
    # (the model lost the emphasis placeholders and typed "*" itself: neutralised; quotes kept out of titles)
    assert restored.text.startswith('See ![') and '](p.svg "The ”data” pipeline")' in restored.text
    assert "[the article](a.md 'Jim’s')" in restored.text


def test_protect_emphasis_escapes_tags_html_keep_terms_and_brackets() -> None:
    m = protect("**Данные** и _курсив_ \\* <b>StarCoder</b> #llm &amp; ⟦x⟧ ==важно==", keep_terms=["StarCoder"])
    assert "Данные" in m.text and "курсив" in m.text and "важно" in m.text
    for original in ("**", "_", "\\*", "<b>", "StarCoder", "</b>", "#llm", "&amp;", "⟦", "⟧", "=="):
        assert original in m.originals
    assert "StarCoder" not in m.text and "⟦x⟧" not in m.text
    # emphasis delimiters are paired like brackets
    first, second = (i for i, o in enumerate(m.originals) if o == "**")
    assert m.partners[first] == second


def test_protect_joins_soft_line_breaks_but_keeps_them_inside_elements() -> None:
    text = "Первая строка `code\nspan`\nвторая строка"
    m = protect(text)
    assert "\n" not in m.text
    assert restore("First line ⟦0⟧ second line", m).text == "First line `code\nspan` second line"
    assert restore(m.text, m).text == text  # copied unchanged: the source itself, line breaks and all


def test_inline_footnote_and_reference_link_pairs() -> None:
    m = protect("Текст^[сноска с [[x|y]]] и [ссылка][ref].")
    assert m.originals[0] == "^[" and m.partners[0] == m.originals.index("]")
    assert "][ref]" in m.originals


def test_shortcut_reference_link_is_kept_whole_when_defined() -> None:
    """``[label]`` is its own label: translated, it would no longer link (its definition keeps the label)."""
    text = "См. [Руководство] и [не ссылка], а также [текст][Руководство]."
    refs = frozenset({normalizeReference("Руководство")})  # as Note.references holds them
    m = protect(text, references=refs)
    assert "[Руководство]" in m.originals and "[не ссылка]" not in "".join(m.originals)
    assert "не ссылка" in m.text  # undefined: ordinary text, translated
    pseudo_output = m.text.replace("См.", "See").replace("и", "and")
    r = restore(pseudo_output, m, references=refs)
    assert "[Руководство]" in r.text and not r.fallback
    assert protect(text).originals.count("[Руководство]") == 0  # without definitions: plain brackets


def test_comments_translatable_only_their_markers_protected() -> None:
    m = protect("Текст %%комментарий%% конец", comments=False)
    assert m.text == "Текст ⟦0⟧комментарий⟦1⟧ конец"
    assert protect("Текст %%комментарий%% конец").originals == ("%%комментарий%%",)


def test_every_sample_entry_round_trips_through_an_identity_engine() -> None:
    entries = sample_entries()
    assert len(entries) > 100
    for seg, _src, _tgt in entries:
        m = protect(seg.text)
        assert "\n" not in m.text
        r = restore(m.text, m, segments=[seg])
        assert r.repairs == () and r.text == seg.text, seg.text
        # a real translation changes the text: line breaks joined, elements exactly as they were
        changed = restore(m.text + "!", m, segments=[seg])
        assert changed.repairs == () and changed.text == joined(seg.text) + "!", seg.text


# -- restore: repairs --------------------------------------------------------------------------------

def test_garbled_placeholders_are_normalised() -> None:
    m = protect("Код `a` и `b` и `c` и `d`.")
    r = restore("Code ⟦ 0 ⟧ and [1] and ⟦2 and 3⟧.", m)
    assert r.text == "Code `a` and `b` and `c` and `d`."
    assert any("garbled" in x for x in r.repairs)


def test_bracketed_number_in_the_source_is_not_taken_for_a_placeholder() -> None:
    m = protect("См. [1] и `x`.")
    r = restore("See [1] and ⟦0⟧.", m)
    assert r.text == "See [1] and `x`." and r.repairs == ()


def test_missing_placeholder_goes_back_once_near_its_source_position() -> None:
    m = protect("Начало `a` середина текста и конец `b`")
    r = restore("Start middle of the text and end ⟦1⟧", m)
    assert r.text.count("`a`") == 1 and r.text.endswith("`b`")
    assert r.text.index("`a`") < len(r.text) // 2
    assert any("missing" in x and "`a`" in x for x in r.repairs)


def test_glued_element_goes_back_next_to_its_neighbour() -> None:
    m = protect("Читай [[x|заметку]][^1] дальше")
    r = restore("Read ⟦0⟧the note⟦1⟧ further", m)
    assert "[[x|the note]][^1]" in r.text


def test_duplicates_and_unknown_placeholders_are_removed() -> None:
    m = protect("Один `a` два")
    r = restore("One ⟦0⟧ ⟦0⟧ two ⟦0⟧ ⟦7⟧", m)
    assert r.text.count("`a`") == 1 and "⟦" not in r.text
    assert any("duplicate" in x for x in r.repairs) and any("unknown" in x for x in r.repairs)


def test_swapped_pair_is_put_back_in_order() -> None:
    m = protect("См. [[target|алиас]] тут")
    r = restore("See ⟦1⟧alias⟦0⟧ here", m)
    assert r.text == "See [[target|alias]] here"
    assert any("order" in x for x in r.repairs)


def test_invented_markup_is_neutralised() -> None:
    seg_text = "Обычный текст без разметки."
    m = protect(seg_text)
    r = restore("Plain `text [[with]] $x$ <b>junk</b> http://e.x #tag [^9] ](y) **", m)
    assert markup.structure_diff(seg_text, r.text) == []
    assert not r.fallback and any("neutralised" in x for x in r.repairs)


def test_unusable_output_keeps_the_source_text() -> None:
    m = protect("Текст `a`.")
    r = restore("", m)
    assert r.fallback and r.text == "Текст `a`." and "source text kept" in r.comment
    assert restore("⟦0⟧ .", m).fallback


def test_repair_comment_is_one_line() -> None:
    m = protect("Строка `a`\nи `b\nc` тут")
    r = restore("Line and here", m)
    assert "\n" not in r.comment and r.comment


# -- the guarantee, property-tested -----------------------------------------------------------------

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_garbled_output_always_passes_builds_validation(data: st.DataObject) -> None:
    seg, src, tgt = data.draw(st.sampled_from(with_elements()))
    m = protect(seg.text)
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1)))
    mode = data.draw(st.sampled_from(["drop", "duplicate", "reorder", "corrupt", "invent", "gibberish", "chaos"]))
    output = mangle(m.text, mode, rng)
    r = restore(output, m, segments=[seg], source_lang=src, target_lang=tgt)
    assert build_problems(seg, r.text, src, tgt) == [], (seg.text, output, r)
    assert "⟦" not in r.text or "⟦" in seg.text


_junk = st.sampled_from([*MARKUP_JUNK, "a", "б", " ", ".", "(", ")", ":", "!", "#", "'", '"', "1", "x_y", "\\"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_model_gibberish_with_markup_characters_always_passes(data: st.DataObject) -> None:
    seg, src, tgt = data.draw(st.sampled_from(sample_entries()))
    m = protect(seg.text)
    pieces = data.draw(st.lists(st.one_of(_junk, st.integers(0, m.count + 2).map(token),
                                          st.integers(0, m.count + 2).map(lambda n: garble(str(n), random.Random(n))),
                                          st.text(max_size=4)), max_size=25))
    output = "".join(pieces)
    r = restore(output, m, segments=[seg], source_lang=src, target_lang=tgt)
    assert build_problems(seg, r.text, src, tgt) == [], (seg.text, output, r)


def test_placeholder_damage_alone_is_repaired_without_touching_the_text() -> None:
    """Dropped, repeated, moved and garbled placeholders are repaired; the model's words stay as they are."""
    rng = random.Random(7)
    for seg, src, tgt in with_elements():
        m = protect(seg.text)
        translated = pseudo(m.text, tgt)
        for mode in ("drop", "duplicate", "reorder", "corrupt"):
            r = restore(mangle(translated, mode, rng), m, segments=[seg], source_lang=src, target_lang=tgt)
            assert not r.fallback and not any("neutralised" in x for x in r.repairs), (mode, seg.text, r)
            assert build_problems(seg, r.text, src, tgt) == []
            assert markup.signature(r.text) == markup.signature(seg.text)


@pytest.mark.parametrize("text", ["$5 и $10", "C# и F#", "a_b_c", "2 * 3 = 6", "[не ссылка]", "50% и 60%"])
def test_plain_punctuation_in_the_source_survives_identity(text: str) -> None:
    m = protect(text)
    r = restore(m.text, m)
    assert r.text == text and not r.repairs


def test_placeholder_regex_matches_protect_tokens() -> None:
    m = protect("`a` `b` `c` `d` `e` `f` `g` `h` `i` `j` `k`")
    assert [int(x[1:-1]) for x in PLACEHOLDER_RE.findall(m.text)] == list(range(11))
    assert re.fullmatch(r"(⟦\d+⟧ ?)+", m.text)


def test_problems_names_each_problem_once() -> None:
    """``problems`` = build's blocking reasons + the other errors of ``check``, none reported twice."""
    from kbtrans.placeholders import problems

    seg = Segment("См. [статью](https://a.org) и **жирный** текст.", "paragraph", "", (), False, True, "")
    bad = "See the article <script>x</script> and **bold text."
    found = problems(seg.text, bad, [seg], source_lang="ru", target_lang="en")
    assert found and len(found) == len(set(found)), found
    assert any("https://a.org" in p for p in found) and any("emphasis" in p for p in found)
    assert sum("emphasis" in p for p in found) == 1
