"""kbtrans stats: disjoint categories that add up (checked against polib), bars, JSON and charts."""

from __future__ import annotations

import json
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import polib
import pytest

from kbtrans import config
from kbtrans import stats as stats_mod

NOTES = {
    "a.md": "# Первая заметка\n\nАбзац один про модели.\n\nАбзац два про данные.\n\nАбзац три.\n",
    "sub/b.md": "# Вторая\n\nТекст второй заметки.\n\nЕщё один абзац.\n",
    "sub/c.md": "---\nlang: en\n---\n\n# English note\n\nSome text here.\n",
}


def _set(po_path: Path, values: dict[str, tuple[str, bool, str]]) -> None:
    """msgid → (msgstr, fuzzy, extracted comment to add)."""
    po = polib.pofile(str(po_path), wrapwidth=0)
    for e in po:
        if e.msgid in values:
            msgstr, fuzzy, comment = values[e.msgid]
            e.msgstr = msgstr
            if fuzzy and "fuzzy" not in e.flags:
                e.flags.insert(0, "fuzzy")
            if comment:
                e.comment = (e.comment + "\n" if e.comment else "") + comment
    po.save()


@pytest.fixture
def kb_states(cli, kb: Path) -> Path:
    """A KB whose catalogs hold every category: reviewed, machine, fuzzy, untranslated, obsolete."""
    for rel, text in NOTES.items():
        (kb / "content" / rel).parent.mkdir(parents=True, exist_ok=True)
        (kb / "content" / rel).write_text(text, encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    en = kb / "locales" / "en" / "LC_MESSAGES"
    _set(en / "a.po", {
        "Первая заметка": ("First note", False, ""),
        "Абзац один про модели.": ("Paragraph one about models.", True, "kbtrans-mt: argos translate-ru_en 1.9"),
        "Абзац два про данные.": ("Paragraph two about data.", False, ""),
        "Абзац три.": ("Paragraph three.", False, ""),
    })
    _set(en / "sub" / "b.po", {"Вторая": ("Second", True, "kbtrans-mt: pseudo")})
    _set(kb / "locales" / "ru" / "LC_MESSAGES" / "sub" / "c.po", {"English note": ("Английская заметка", False, "")})
    # Edit the sources: one changed paragraph (→ fuzzy with #|), one removed (→ obsolete).
    (kb / "content" / "a.md").write_text(
        "# Первая заметка\n\nАбзац один про модели.\n\nАбзац два про данные и код.\n\nНовый абзац.\n",
        encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    return kb


def _independent(locales: Path) -> dict[tuple[str, str], dict[str, list[int]]]:
    """(lang, catalog) → category → [entries, words], straight from polib."""
    out: dict[tuple[str, str], dict[str, list[int]]] = {}
    for po_path in sorted(locales.rglob("*.po")):
        lang = po_path.relative_to(locales).parts[0]
        counts = {c: [0, 0] for c in stats_mod.CATEGORIES}
        for e in polib.pofile(str(po_path)):
            if not e.msgid:
                continue
            if e.obsolete:
                c = "obsolete"
            elif not e.msgstr:
                c = "untranslated"
            elif "fuzzy" not in e.flags:
                c = "reviewed"
            elif "kbtrans-mt:" in (e.comment or ""):
                c = "machine"
            else:
                c = "fuzzy"
            counts[c][0] += 1
            counts[c][1] += len(e.msgid.split())
        out[(lang, po_path.as_posix())] = counts
    return out


def test_json_numbers_add_up(cli, kb_states: Path) -> None:
    r = cli("-C", kb_states, "stats", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    expected = _independent(kb_states / "locales")
    assert len(data["notes"]) == len(expected) == 3
    for row in data["notes"]:
        want = expected[(row["locale"], (kb_states / row["catalog"]).as_posix())]
        for c in stats_mod.CATEGORIES:
            assert row["segments"][c] == want[c][0], (row["note"], c)
            assert row["words"][c] == want[c][1], (row["note"], c)
        seg = row["segments"]
        assert seg["segments"] == sum(seg[c] for c in ("reviewed", "machine", "fuzzy", "untranslated"))
        assert seg["total"] == seg["segments"] + seg["obsolete"]
    # every category occurs somewhere, so the test can tell them apart
    en = data["locales"]["en"]["segments"]
    assert all(en[c] > 0 for c in stats_mod.CATEGORIES), en
    assert en == {"reviewed": 1, "machine": 2, "fuzzy": 1, "untranslated": 3, "obsolete": 1, "segments": 7, "total": 8}
    for lang in ("en", "ru"):
        for kind in ("segments", "words"):
            total = data["locales"][lang][kind]
            for c in stats_mod.CATEGORIES:
                assert total[c] == sum(n[kind][c] for n in data["notes"] if n["locale"] == lang)
    assert data["locales"]["en"]["notes"] == 2 and data["locales"]["ru"]["notes"] == 1
    assert set(data["definitions"]) >= set(stats_mod.CATEGORIES)


def test_stats_api_and_folders(kb_states: Path) -> None:
    report = stats_mod.stats(config.load(kb_states), ["en"])
    assert {n.note for n in report.notes} == {"a.md", "sub/b.md"}
    folders = report.folders("en")
    assert list(folders) == [".", "sub"]
    assert folders["sub"].segments.machine == 1 and folders["sub"].segments.untranslated == 2
    assert report.locale("en").segments.percent("reviewed") == pytest.approx(100 / 7)


def test_json_is_written_a_note_at_a_time_as_one_document(cli, kb_states: Path) -> None:
    """``stats --json`` streams its notes (flat memory) and prints exactly ``json.dumps(as_dict(), indent=2)``."""
    report = stats_mod.stats(config.load(kb_states))
    assert len(report.notes) == 3
    for r in (report, stats_mod.StatsReport((), report.languages)):
        assert "".join(r.json_chunks()) == json.dumps(r.as_dict(), ensure_ascii=False, indent=2)
    assert cli("-C", kb_states, "stats", "--json").stdout == "".join(report.json_chunks()) + "\n"


def test_terminal_bars(cli, kb_states: Path) -> None:
    r = cli("-C", kb_states, "stats")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ru ") and lines[1].startswith("en ")
    assert "14.3% reviewed · 29% machine · 14% fuzzy · 43% untranslated  (7 segments, 21 words" in lines[1]
    assert "1 obsolete" in lines[1]
    assert "█" in lines[1] and "░" in lines[1]
    r = cli("-C", kb_states, "stats", "--by-note", "--to", "en")
    assert r.exit_code == 0, r.output
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["en", "a.md", "sub/b.md"]


def test_svg_chart(cli, kb_states: Path, tmp_path: Path) -> None:
    out = tmp_path / "charts" / "progress.svg"
    r = cli("-C", kb_states, "stats", "--chart", out)
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 1000
    root = ET.parse(out).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert int(root.get("width", "0")) >= 600 and int(root.get("height", "0")) >= 150
    bars = {g.get("data-label"): g for g in root.iter(f"{ns}g") if g.get("class") == "bar"}
    assert set(bars) == {"ru (all)", "ru  sub/", "en (all)", "en  (top)", "en  sub/"}
    en = bars["en (all)"]
    widths = {r.get("class"): float(r.get("width", "0")) for r in en.iter(f"{ns}rect") if r.get("class")}
    words = stats_mod.stats(config.load(kb_states)).locale("en").words
    assert set(widths) == {"reviewed", "machine", "fuzzy", "untranslated"}
    total = sum(widths.values())
    assert total == pytest.approx(480, abs=0.1)
    assert widths["reviewed"] / total == pytest.approx(words.reviewed / words.segments, abs=0.01)
    texts = "".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "Translation progress" in texts and "untranslated" in texts


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_chart(cli, kb_states: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "progress.png"
    r = cli("-C", kb_states, "stats", "--chart", out)
    assert r.exit_code == 0, r.output
    width, height = _png_size(out)
    assert width >= 600 and height >= 200
    assert out.stat().st_size > 5000
    # Content: the reviewed green and the untranslated grey are both drawn.
    import matplotlib.image as mpimg
    import numpy as np

    img = (mpimg.imread(out)[..., :3] * 255).round().astype(int)
    colours = {tuple(int(v) for v in px) for px in img.reshape(-1, 3)[::7]}

    def present(hex_colour: str) -> bool:
        rgb = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return any(np.abs(np.array(c) - rgb).max() <= 2 for c in colours)

    assert present(stats_mod.COLOURS["reviewed"]) and present(stats_mod.COLOURS["untranslated"])
    assert present(stats_mod.COLOURS["machine"]) and present(stats_mod.COLOURS["fuzzy"])


def test_png_without_matplotlib_says_how_to_install(cli, kb_states: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = cli("-C", kb_states, "stats", "--chart", tmp_path / "x.png")
    assert r.exit_code == 1
    assert "pip install 'kbtrans[chart]'" in r.stderr


def test_unknown_chart_format(cli, kb_states: Path, tmp_path: Path) -> None:
    r = cli("-C", kb_states, "stats", "--chart", tmp_path / "x.gif")
    assert r.exit_code == 1 and "Name the file *.svg or *.png" in r.stderr


def test_catalog_without_a_note_is_not_progress(cli, kb_states: Path, tmp_path: Path) -> None:
    before = json.loads(cli("-C", kb_states, "stats", "--json").stdout)
    en = kb_states / "locales" / "en" / "LC_MESSAGES"
    shutil.copy(next(en.rglob("*.po")), en / "deleted-note.po")
    after = json.loads(cli("-C", kb_states, "stats", "--json").stdout)
    assert after == before


def test_unwritable_chart_is_an_error(cli, kb_states: Path, tmp_path: Path) -> None:
    (tmp_path / "d.svg").mkdir()
    r = cli("-C", kb_states, "stats", "--chart", tmp_path / "d.svg")
    assert r.exit_code == 1 and str(tmp_path / "d.svg") in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("recorded", [True, False], ids=["after-extract", "no-cache"])
def test_catalog_in_the_notes_own_language_is_not_progress(cli, kb_states: Path, recorded: bool) -> None:
    """A Russian note's ru catalog is never used by build: it is not counted (check reports it)."""
    before = json.loads(cli("-C", kb_states, "stats", "--json").stdout)
    en, ru = kb_states / "locales" / "en" / "LC_MESSAGES", kb_states / "locales" / "ru" / "LC_MESSAGES"
    shutil.copy(en / "a.po", ru / "a.po")  # a.md is Russian
    if not recorded:
        shutil.rmtree(kb_states / ".kbtrans")
    after = json.loads(cli("-C", kb_states, "stats", "--json").stdout)
    assert after == before
    r = cli("-C", kb_states, "check")
    assert "catalog in the note's own language (ru)" in r.stderr
