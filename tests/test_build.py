"""build: translations spliced into the source, byte-for-byte faithful everywhere else."""

from __future__ import annotations

import shutil
from pathlib import Path

import polib

from tests.helpers import fill_catalogs


def _po(kb: Path, stem: str, lang: str = "en") -> polib.POFile:
    return polib.pofile(str(kb / "locales" / lang / "LC_MESSAGES" / f"{stem}.po"), wrapwidth=0)


def _translate(kb: Path, stem: str, table: dict[str, str], lang: str = "en", *, fuzzy: bool = False) -> None:
    po = _po(kb, stem, lang)
    for e in po:
        if e.msgid in table:
            e.msgstr = table[e.msgid]
            if fuzzy:
                e.flags.append("fuzzy")
    po.save()


def _built(kb: Path, rel: str, lang: str = "en") -> bytes:
    return (kb / "build" / lang / rel).read_bytes()


CONTAINERS = (
    "\ufeff---\r\ntitle: 'Контейнеры: ''тест'''\r\nlang: ru\r\n---\r\n\r\n"
    "> [!note] Заголовок выноски\r\n> Первая строка выноски\r\n> вторая строка выноски.\r\n\r\n"
    "- пункт списка\r\n  продолжение пункта\r\n\t- вложенный пункт\r\n\r\n"
    "| Колонка | Другая |\r\n|---|---|\r\n| ячейка | `код` и слово |\r\n\r\n"
    "Абзац со сноской[^n].\r\n\r\n"
    "[^n]: Текст сноски.\r\n\r\n"
    "[ссылка]: https://example.org 'Заголовок ссылки'\r\n"
    "Последняя строка без перевода строки"
)


def test_splice_keeps_containers_line_endings_bom_and_tabs(cli, kb: Path) -> None:
    (kb / "content" / "c.md").write_bytes(CONTAINERS.encode("utf-8"))
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "c", {
        "Контейнеры: 'тест'": "Containers: 'test'",
        "Заголовок выноски": "Callout title",
        "Первая строка выноски\nвторая строка выноски.": "First line of the callout,\nsecond line,\nand a third.",
        "пункт списка\nпродолжение пункта": "list item\ncontinued",
        "вложенный пункт": "nested item",
        "Колонка": "Column",
        "Другая": "Other | one",
        "`код` и слово": "`код` and a word",
        "Абзац со сноской[^n].": "Paragraph with a footnote[^n].",
        "Текст сноски.": "Footnote text.",
        "Заголовок ссылки": "Link 'title'",
        "Последняя строка без перевода строки": "Last line without a newline",
    })
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 0, r.output
    expected = (
        "\ufeff---\r\ntitle: 'Containers: ''test'''\r\nlang: en\r\n---\r\n\r\n"
        "> [!note] Callout title\r\n> First line of the callout,\r\n> second line,\r\n> and a third.\r\n\r\n"
        "- list item\r\n  continued\r\n\t- nested item\r\n\r\n"
        "| Column | Other \\| one |\r\n|---|---|\r\n| ячейка | `код` and a word |\r\n\r\n"
        "Paragraph with a footnote[^n].\r\n\r\n"
        "[^n]: Footnote text.\r\n\r\n"
        "[ссылка]: https://example.org 'Link \\'title\\''\r\n"
        "Last line without a newline"
    )
    assert _built(kb, "c.md").decode("utf-8") == expected
    # The Russian locale is the source, byte for byte.
    assert _built(kb, "c.md", "ru") == CONTAINERS.encode("utf-8")
    assert "en: 12/13 segments translated" in r.stdout


def test_translation_that_breaks_markup_is_not_used(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text(
        "# Заметка\n\nСм. [статью](https://example.org/a) и `код`.\n\nВторой абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "n", {
        "Заметка": "Note",
        "См. [статью](https://example.org/a) и `код`.": "See [the paper](https://evil.example) and code.",
        "Второй абзац.": "Second\n# paragraph.",
    })
    r = cli("-C", kb, "build")
    assert r.exit_code == 0, r.output
    po_line = next(e.linenum for e in _po(kb, "n") if e.msgid.startswith("См."))
    assert f"locales/en/LC_MESSAGES/n.po:{po_line}: translation changes the markup" in r.stderr
    assert "lost link target 'https://example.org/a'" in r.stderr
    assert "added link target 'https://evil.example'" in r.stderr
    assert "lost code span '`код`'" in r.stderr
    built = _built(kb, "n.md").decode()
    assert "evil" not in built
    assert "См. [статью](https://example.org/a) и `код`." in built
    # A line that would start a heading is escaped, so the block structure cannot change.
    assert "Second\n\\# paragraph." in built
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 1
    assert "--strict" in r.stderr


def test_reviewed_only_and_min_translated(cli, kb: Path) -> None:
    (kb / "content" / "a.md").write_text("# Первая\n\nАбзац один.\n\nАбзац два.\n", encoding="utf-8")
    (kb / "content" / "b.md").write_text("# Вторая\n\nТекст.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "a", {"Первая": "First", "Абзац один.": "Paragraph one."})
    _translate(kb, "a", {"Абзац два.": "Paragraph two."}, fuzzy=True)
    _translate(kb, "b", {"Вторая": "Second"})
    r = cli("-C", kb, "build", "--reviewed-only")
    assert r.exit_code == 0, r.output
    assert b"Paragraph two." not in _built(kb, "a.md") and b"Paragraph one." in _built(kb, "a.md")
    r = cli("-C", kb, "build")
    assert b"Paragraph two." in _built(kb, "a.md")
    r = cli("-C", kb, "build", "--min-translated", "60")
    assert r.exit_code == 0, r.output
    assert "skipped: en/b.md is 50.0% translated (below --min-translated 60)" in r.stderr
    assert not (kb / "build" / "en" / "b.md").exists()
    assert (kb / "build" / "en" / "a.md").exists() and (kb / "build" / "ru" / "b.md").exists()


def test_anchors_follow_translated_headings(cli, kb: Path) -> None:
    (kb / "content" / "target.md").write_text("# Цель\n\n## Этапы обучения\n\nТекст.\n", encoding="utf-8")
    (kb / "content" / "src.md").write_text(
        "См. [[target#Этапы обучения]], [[target#Этапы обучения|этапы]] и "
        "[раздел](target.md#этапы-обучения).\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "target", {"Цель": "Goal", "Этапы обучения": "Training stages", "Текст.": "Text."})
    _translate(kb, "src", {
        "См. [[target#Этапы обучения]], [[target#Этапы обучения|этапы]] и [раздел](target.md#этапы-обучения).":
        "See [[target#Этапы обучения]], [[target#Этапы обучения|the stages]] and "
        "[the section](target.md#этапы-обучения).",
    })
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 0, r.output
    assert _built(kb, "src.md").decode() == (
        "See [[target#Training stages]], [[target#Training stages|the stages]] and "
        "[the section](target.md#training-stages).\n")
    assert _built(kb, "src.md", "ru").decode().startswith("См. [[target#Этапы обучения]]")


def test_attachments_pruning_and_no_rewrites(cli, kb: Path) -> None:
    (kb / "content" / "img").mkdir()
    (kb / "content" / "img" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (kb / "content" / "n.md").write_text("Текст ![схема](img/a.png).\n", encoding="utf-8")
    (kb / "content" / "old.md").write_text("Старая заметка.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    r = cli("-C", kb, "build")
    assert r.exit_code == 0, r.output
    for lang in ("ru", "en"):
        assert (kb / "build" / lang / "img" / "a.png").read_bytes() == b"\x89PNG\r\n\x1a\nfake"
    stamp = {p: p.stat().st_mtime_ns for p in (kb / "build").rglob("*") if p.is_file()}
    r = cli("-C", kb, "build")
    assert "0 files written" in r.stdout
    assert {p: p.stat().st_mtime_ns for p in (kb / "build").rglob("*") if p.is_file()} == stamp
    (kb / "content" / "old.md").unlink()
    r = cli("-C", kb, "build")
    assert "2 removed" in r.stdout
    assert not (kb / "build" / "en" / "old.md").exists()


def test_identity_catalogs_reproduce_sample_kb(cli, tmp_path: Path) -> None:
    import shutil

    from tests.conftest import REPO
    from tests.helpers import strip_lang

    kb = tmp_path / "kb"
    shutil.copytree(REPO / "content", kb / "content")
    assert cli("-C", kb, "extract").exit_code == 0
    fill_catalogs(kb / "locales")
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 0, r.output
    for note in (kb / "content").rglob("*"):
        if note.is_file():
            rel = note.relative_to(kb / "content")
            for lang in ("ru", "en"):
                assert strip_lang(_built(kb, str(rel), lang)) == strip_lang(note.read_bytes()), rel


def test_russian_mentions_in_english_are_kept_but_leftovers_are_not(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text(
        "Термин «предобучение» означает обучение на большом корпусе.\n\nВторой абзац остался на русском.\n",
        encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "n", {
        "Термин «предобучение» означает обучение на большом корпусе.":
            "The Russian term «предобучение» (*предобучение*) means training on a large corpus.",
        "Второй абзац остался на русском.": "The second абзац остался на русском.",
    })
    r = cli("-C", kb, "build")
    assert r.exit_code == 0, r.output
    built = _built(kb, "n.md").decode()
    assert "The Russian term «предобучение» (*предобучение*) means training" in built
    assert "Второй абзац остался на русском." in built
    assert "Russian words left in the English translation: 'абзац остался русском'" in r.stderr


REFS = "Доступна [печатная книга] и [версия онлайн][сайт].\n\n[печатная книга]: https://example.org/book\n" \
       "[сайт]: https://example.org/\n"


def test_links_to_reference_definitions_must_survive(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text(REFS, encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    msgid = "Доступна [печатная книга] и [версия онлайн][сайт]."
    _translate(kb, "n", {msgid: "A [printed book] and [an online version][сайт] are available."})
    r = cli("-C", kb, "build")
    assert "lost reference label 'печатная книга'" in r.stderr
    assert msgid in _built(kb, "n.md").decode()
    r = cli("-C", kb, "check")
    assert r.exit_code == 1 and "reference-label-lost" in r.output, r.output
    good = "A [printed book][печатная книга] and [an online version][сайт] are available."
    _translate(kb, "n", {msgid: good})
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 0, r.output
    assert good in _built(kb, "n.md").decode()


def test_machine_translation_keeps_links_to_reference_definitions(cli, kb: Path) -> None:
    (kb / "content" / "n.md").write_text(REFS, encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    r = cli("-C", kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0, r.output
    r = cli("-C", kb, "check")
    assert "reference-label-lost" not in r.output
    assert cli("-C", kb, "build", "--strict").exit_code == 0


def test_attachment_changed_within_the_same_second_is_copied(cli, kb: Path) -> None:
    import os

    img = kb / "content" / "a.png"
    img.write_bytes(b"one")
    (kb / "content" / "n.md").write_text("Текст.\n", encoding="utf-8")
    assert cli("-C", kb, "build").exit_code == 0
    st = img.stat()
    img.write_bytes(b"two")  # same size, same second
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert cli("-C", kb, "build").exit_code == 0
    assert (kb / "build" / "en" / "a.png").read_bytes() == b"two"


def test_incremental_build_follows_headings_of_linked_notes(cli, kb: Path) -> None:
    """A note whose own files did not change is rebuilt when a note it links into renames a heading in
    the locale (or disappears), and only then; the result equals a build from scratch."""
    (kb / "content" / "target.md").write_text("# Цель\n\n## Этапы обучения\n\nТекст.\n", encoding="utf-8")
    (kb / "content" / "src.md").write_text("См. [[target#Этапы обучения]].\n", encoding="utf-8")
    (kb / "content" / "other.md").write_text("Другая заметка.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "target", {"Цель": "Goal", "Этапы обучения": "Training stages", "Текст.": "Text."})
    assert cli("-C", kb, "build").exit_code == 0
    assert _built(kb, "src.md").decode() == "См. [[target#Training stages]].\n"

    def rebuilt() -> list[str]:
        r = cli("-C", kb, "build")
        assert r.exit_code == 0, r.output
        return sorted(str(p.relative_to(kb / "build")) for p in (kb / "build").rglob("*.md")
                      if p.stat().st_mtime_ns > mark)

    mark = max(p.stat().st_mtime_ns for p in (kb / "build").rglob("*.md"))
    _translate(kb, "target", {"Этапы обучения": "Stages of training"})
    assert rebuilt() == ["en/src.md", "en/target.md"]  # not other.md, not the ru copies
    assert _built(kb, "src.md").decode() == "См. [[target#Stages of training]].\n"
    mark = max(p.stat().st_mtime_ns for p in (kb / "build").rglob("*.md"))
    _translate(kb, "target", {"Текст.": "Some text."})  # headings unchanged: src stays as it is
    assert rebuilt() == ["en/target.md"]
    (kb / "content" / "target.md").unlink()
    assert cli("-C", kb, "build").exit_code == 0
    assert _built(kb, "src.md").decode() == "См. [[target#Этапы обучения]].\n"  # no target: link as written
    # A link written before its target existed follows the target's headings once it is added.
    (kb / "content" / "sub").mkdir()
    (kb / "content" / "sub" / "target.md").write_text("## Этапы обучения\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "sub/target", {"Этапы обучения": "Stages"})
    assert cli("-C", kb, "build").exit_code == 0
    assert _built(kb, "src.md").decode() == "См. [[target#Stages]].\n"  # found by its file name
    # ... and goes back when a second "target" makes the name ambiguous (Obsidian would ask).
    (kb / "content" / "target2").mkdir()
    (kb / "content" / "target2" / "target.md").write_text("Текст.\n", encoding="utf-8")
    assert cli("-C", kb, "build").exit_code == 0
    assert _built(kb, "src.md").decode() == "См. [[target#Этапы обучения]].\n"
    def files() -> dict[Path, bytes]:
        return {p.relative_to(kb / "build"): p.read_bytes() for p in (kb / "build").rglob("*") if p.is_file()}

    incremental = files()
    shutil.rmtree(kb / "build")
    shutil.rmtree(kb / ".kbtrans")
    assert cli("-C", kb, "build").exit_code == 0
    assert files() == incremental


def test_incremental_builds_equal_builds_from_scratch(tmp_path: Path) -> None:
    """Random edits, heading translations, deletions and additions: after each, the incremental build
    writes exactly what a build from scratch writes (the record of what the last run saw is only a speed-up).

    Links point into any note of a pool, present or not (a link written before its target exists), and the
    pool has names that become ambiguous (``a`` and ``k/a``)."""
    import random

    from kbtrans import config
    from kbtrans.build import build
    from kbtrans.extract import extract

    rnd = random.Random(20261126)
    heads = ["Введение", "Этапы обучения", "Итоги", "Данные", "Оценка"]
    pool = ["a", "b", "d/e", "d/f", "g", "h", "k/a", "k/e"]
    kb, scratch = tmp_path / "kb", tmp_path / "scratch"
    (kb / "content").mkdir(parents=True)
    present = ["a", "b", "d/e", "g"]

    def write(name: str) -> None:
        lines = [f"# Заметка {name}", ""]
        for h in rnd.sample(heads, 3):
            o = rnd.choice(pool)
            link = (f"[[{o.split('/')[-1] if rnd.random() < 0.6 else o}#{rnd.choice(heads)}]]" if rnd.random() < 0.6
                    else f"[раздел](/{o}.md#{rnd.choice(heads).lower().replace(' ', '-')})")
            lines += [f"## {h}", "", f"Текст со ссылкой {link} и словами.", ""]
        path = kb / "content" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines), encoding="utf-8")

    def retranslate(name: str) -> None:
        if (kb / "locales" / "en" / "LC_MESSAGES" / f"{name}.po").exists():
            cat = _po(kb, name)
            for e in cat:
                e.msgstr = e.msgid if "Текст" in e.msgid else f"Heading {rnd.randint(1, 3)}"
            cat.save()

    for name in present:
        write(name)
    cfg = config.load(kb)
    extract(cfg)
    for name in present:
        retranslate(name)
    ops = []
    for step in range(30):
        absent = [n for n in pool if n not in present]
        op = rnd.choice(["edit", "retranslate", "retranslate", "delete", "add", "add"])
        if op == "edit":
            write(rnd.choice(present))
        elif op == "retranslate":
            retranslate(rnd.choice(present))
        elif op == "delete" and len(present) > 2:
            gone = present.pop(rnd.randrange(len(present)))
            (kb / "content" / f"{gone}.md").unlink()
            shutil.rmtree(kb / "locales" / "en" / "LC_MESSAGES" / f"{gone}.po", ignore_errors=True)
        elif op == "add" and absent:
            present.append(rnd.choice(absent))
            write(present[-1])
        else:
            continue
        ops.append(op)
        extract(cfg)
        if op in ("add", "edit"):
            retranslate(present[-1] if op == "add" else rnd.choice(present))
        build(cfg, jobs=1)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(kb, scratch, ignore=shutil.ignore_patterns(".kbtrans", "build"))
        build(config.load(scratch), jobs=1)
        got = {p.relative_to(kb / "build"): p.read_bytes() for p in (kb / "build").rglob("*") if p.is_file()}
        want = {p.relative_to(scratch / "build"): p.read_bytes() for p in (scratch / "build").rglob("*")
                if p.is_file()}
        assert got == want, (step, ops)
    assert {"edit", "retranslate", "delete", "add"} <= set(ops)


def test_block_scalar_front_matter_values_are_not_quoted(cli, kb: Path) -> None:
    """In a ``>`` or ``|`` block scalar every character is the value: a translation keeps its lines,
    re-indented, and gets no quotes (a plain scalar with ': ' would need them)."""
    (kb / "content" / "n.md").write_text(
        "---\ntitle: \"Заголовок: с двоеточием\"\ndescription: >-\n  Длинное описание\n  на двух строках\n"
        "summary: |\n  Первая строка\n  Вторая строка\n---\n\nТекст.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    _translate(kb, "n", {"Заголовок: с двоеточием": "Title: with a colon",
                         "Длинное описание\nна двух строках": "Description: important,\nreally",
                         "Первая строка\nВторая строка": "- first line\n   second: line", "Текст.": "Text."})
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 0, r.output
    assert _built(kb, "n.md").decode() == (
        "---\ntitle: \"Title: with a colon\"\ndescription: >-\n  Description: important,\n  really\n"
        "summary: |\n  - first line\n  second: line\n---\n\nText.\n")


def test_extract_build_bench_smoke(tmp_path: Path) -> None:
    """The bench runs end to end on a small KB: its last line is the JSON the issue asks for, the identity
    rebuild is byte-exact and a re-run writes nothing (times are printed, never asserted)."""
    import json
    import subprocess
    import sys

    bench = Path(__file__).resolve().parent.parent / "bench" / "extract_build.py"
    proc = subprocess.run([sys.executable, str(bench), "--notes", "24", "--no-mdpo", "--keep", str(tmp_path / "kb")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"notes", "extract_s", "build_s", "rerun_s", "edit_one_s", "peak_mb"} <= set(result)
    assert result["notes"] == 24 and result["identical"] is True and result["rerun_writes"] == 0
