"""`kbtrans translate`: which entries, translation memory, one stream per direction, validation, resume.

Engines other than ``pseudo`` are test engines from ``tests/support/mt_engines.py``, registered through
``KBTRANS_ENGINE_<NAME>=module:factory``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from kbtrans import catalog, check, config, extract, glossary, placeholders, project, splice
from kbtrans.catalog import Message
from kbtrans.placeholders import protect
from kbtrans.translate import Options, translate

from .conftest import REPO, Result
from .helpers import assert_msgfmt_ok, messages
from .support.mt_engines import read_log

ENGINES = "tests.support.mt_engines"


# -- helpers ----------------------------------------------------------------------------------------

def make_kb(root: Path, notes: dict[str, str]) -> Path:
    for rel, text in notes.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    extract.extract(config.load(root))
    return root


def po_files(root: Path) -> list[Path]:
    return sorted((root / "locales").rglob("*.po"))


def msgfmt_check(root: Path) -> None:
    assert_msgfmt_ok(root / "locales")


def build_problems(root: Path) -> list[str]:
    """What build would reject, entry by entry (checked here independently of translate)."""
    cfg = config.load(root)
    found = []
    for rel in project.inventory(cfg).notes:
        note = project.load_note(cfg, rel)
        for lang in project.targets(cfg, note):
            msgs = catalog.translations(catalog.catalog_path(cfg.locales_dir, lang, note.stem))
            for seg in note.entries:
                msg = msgs.get(seg.text)
                if msg is None or msg.msgstr == seg.text:
                    continue
                problems = check.blocking(seg, msg.msgstr, note.lang, lang)
                if not problems and splice.fit(seg, msg.msgstr) is None:
                    problems = ["fit"]
                found.extend(f"{rel} → {lang}: {p}: {msg.msgstr!r}" for p in problems)
    return found


def mt_comment(m: Message) -> str:
    return next(c for c in m.comments if c.startswith("kbtrans-mt:"))


# -- end to end --------------------------------------------------------------------------------------

def test_pseudo_end_to_end_on_the_sample_kb(cli: Callable[..., Result], sample_kb: Path) -> None:
    before = messages(sample_kb)
    assert before and all(not m.msgstr for m in before.values())
    r = cli("-C", sample_kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0, r.output
    report = r.stdout
    assert "entries machine-translated with pseudo" in report and "0 from translation memory" in report
    after = messages(sample_kb)
    assert after.keys() == before.keys()
    for (path, _msgid), m in after.items():
        lang = path.split("/")[1]
        other = "en" if lang == "ru" else "ru"
        assert m.msgstr and m.fuzzy, m
        assert mt_comment(m) in (f"kbtrans-mt: pseudo {other}→{lang}", "kbtrans-mt: copied (nothing to translate)")
        assert (m.msgstr == m.msgid) == mt_comment(m).endswith("(nothing to translate)")
        assert "\n" not in m.msgstr
    msgfmt_check(sample_kb)
    assert build_problems(sample_kb) == []
    b = cli("-C", sample_kb, "build", "--strict")
    assert b.exit_code == 0, b.output
    again = cli("-C", sample_kb, "translate", "--engine", "pseudo")
    assert again.exit_code == 0 and "Nothing to translate" in again.stdout
    assert messages(sample_kb) == after


def test_reviewed_and_human_fuzzy_entries_are_never_touched(sample_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po = sample_kb / "locales/en/LC_MESSAGES/index.po"
    ids = [m.msgid for m in catalog.read(po)]
    catalog.fill(po, [catalog.Fill(ids[0], "Reviewed title", False),
                      catalog.Fill(ids[1], "A human draft", True, "kbtrans-note: by hand")])
    kept = {k: v for k, v in messages(sample_kb).items() if v.msgstr}
    translate(config.load(sample_kb), Options(engine="pseudo"))
    translate(config.load(sample_kb), Options(engine="pseudo", refresh=True))
    after = messages(sample_kb)
    for key, m in kept.items():
        assert after[key].msgstr == m.msgstr and after[key].fuzzy == m.fuzzy and after[key].comments == m.comments


@pytest.mark.parametrize("mode", ["drop", "duplicate", "reorder", "corrupt", "invent", "gibberish", "chaos"])
def test_adversarial_engines_never_yield_an_invalid_msgstr(
        mode: str, cli: Callable[..., Result], sample_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"KBTRANS_ENGINE_{mode.upper()}", f"{ENGINES}:{mode}")
    report = translate(config.load(sample_kb), Options(engine=mode))
    msgs = messages(sample_kb)
    assert report.translated + report.copied == len(msgs) and all(m.msgstr and m.fuzzy for m in msgs.values())
    assert build_problems(sample_kb) == []
    msgfmt_check(sample_kb)
    b = cli("-C", sample_kb, "build", "--strict")
    kept = [m for m in msgs.values() if m.fallback]  # the source text kept: untranslated, so --strict fails on them
    assert b.exit_code == (1 if kept else 0), b.output
    warned = [line for line in b.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == len(kept) and all("machine translation kept the source text" in w for w in warned)
    assert cli("-C", sample_kb, "build").exit_code == 0
    repaired = {(path.split("/")[1], msgid) for (path, msgid), m in msgs.items()
                if any(c.startswith("kbtrans-mt-repair:") for c in m.comments)}
    assert len(repaired) == report.repaired  # counted per distinct text and direction
    if mode in ("drop", "corrupt", "chaos", "gibberish"):
        assert repaired, "placeholder damage must be reported in a #. comment"


# -- what is sent ---------------------------------------------------------------------------------------

@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    log = tmp_path / "engine.log"
    monkeypatch.setenv("KBTRANS_ENGINE_COUNTING", f"{ENGINES}:counting")
    monkeypatch.setenv("KBTRANS_TEST_LOG", str(log))
    return log


def test_one_deduplicated_single_line_stream_per_direction(tmp_path: Path, counting: Path) -> None:
    kb = make_kb(tmp_path / "kb", {
        "a.md": "---\nlang: ru\n---\n# Заголовок\n\nОбщий абзац,\nна двух строках.\n\nТолько в a.\n",
        "b.md": "---\nlang: ru\n---\n# Другой\n\nОбщий абзац,\nна двух строках.\n",
        "c.md": "---\nlang: en\n---\n# English note\n\nA paragraph with `code`.\n",
    })
    report = translate(config.load(kb), Options(engine="counting"))
    sent = read_log(counting)
    assert len(sent) == len(set(sent)) == report.unique
    assert "Общий абзац, на двух строках." in sent
    assert "A paragraph with ⟦0⟧." in sent
    assert report.directions == {"ru→en": 4, "en→ru": 2}
    assert report.translated == 7  # the shared paragraph fills both catalogs
    assert messages(kb)[("locales/en/LC_MESSAGES/b.po", "Общий абзац,\nна двух строках.")].msgstr


def test_translation_memory_reuses_reviewed_translations(tmp_path: Path, counting: Path) -> None:
    kb = make_kb(tmp_path / "kb", {
        "a.md": "---\nlang: ru\n---\nОбщий абзац.\n\nТолько в a.\n",
        "b.md": "---\nlang: ru\n---\nОбщий абзац.\n\nТолько в b.\n",
    })
    catalog.fill(kb / "locales/en/LC_MESSAGES/a.po", [catalog.Fill("Общий абзац.", "A shared paragraph.", False)])
    report = translate(config.load(kb), Options(engine="counting"))
    assert report.memory == 1
    assert "Общий абзац." not in read_log(counting)
    m = messages(kb)[("locales/en/LC_MESSAGES/b.po", "Общий абзац.")]
    assert m.msgstr == "A shared paragraph." and m.fuzzy
    assert mt_comment(m) == "kbtrans-mt: memory locales/en/LC_MESSAGES/a.po"


def test_note_glob_and_target_language(cli: Callable[..., Result], tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb", {
        "training/x.md": "---\nlang: ru\n---\nПро обучение.\n",
        "inference/y.md": "---\nlang: ru\n---\nПро инференс.\n",
        "z.md": "---\nlang: en\n---\nIn English.\n",
    })
    r = cli("-C", kb, "translate", "--engine", "pseudo", "--note", "training/*", "--note", "z")
    assert r.exit_code == 0, r.output
    msgs = messages(kb)
    assert msgs[("locales/en/LC_MESSAGES/training/x.po", "Про обучение.")].msgstr
    assert msgs[("locales/ru/LC_MESSAGES/z.po", "In English.")].msgstr
    assert not msgs[("locales/en/LC_MESSAGES/inference/y.po", "Про инференс.")].msgstr
    r = cli("-C", kb, "translate", "--engine", "pseudo", "--to", "ru")
    assert r.exit_code == 0 and "Nothing to translate" in r.stdout
    assert not messages(kb)[("locales/en/LC_MESSAGES/inference/y.po", "Про инференс.")].msgstr
    bad = cli("-C", kb, "translate", "--engine", "pseudo", "--note", "nothing/*")
    assert bad.exit_code == 1 and "--note nothing/*: no note matches" in bad.stderr
    bad = cli("-C", kb, "translate", "--engine", "pseudo", "--to", "de")
    assert bad.exit_code == 1 and "--to de: not one of the configured languages" in bad.stderr


def test_refresh_retranslates_only_machine_output_whose_source_changed(tmp_path: Path, counting: Path) -> None:
    kb = make_kb(tmp_path / "kb", {"a.md": "---\nlang: ru\n---\n"
                                           "Первый абзац про модели для кода и их обучение.\n\n"
                                           "Второй абзац про оценку моделей на бенчмарках.\n\n"
                                           "Третий абзац, переведённый человеком вручную.\n"})
    cfg = config.load(kb)
    po = kb / "locales/en/LC_MESSAGES/a.po"
    catalog.fill(po, [catalog.Fill("Третий абзац, переведённый человеком вручную.", "Third, by a human.", False)])
    translate(cfg, Options(engine="counting"))
    assert len(read_log(counting)) == 2
    note = kb / "content/a.md"
    note.write_text(note.read_text(encoding="utf-8").replace("для кода", "для программ")
                    .replace("человеком вручную", "человеком аккуратно вручную"), encoding="utf-8")
    extract.extract(cfg)
    msgs = messages(kb)
    human = msgs[("locales/en/LC_MESSAGES/a.po", "Третий абзац, переведённый человеком аккуратно вручную.")]
    assert human.fuzzy and human.previous_msgid and human.msgstr == "Third, by a human."

    counting.unlink()
    translate(cfg, Options(engine="counting"))  # no --refresh: a fuzzy translation is not "untranslated"
    assert read_log(counting) == []
    translate(cfg, Options(engine="counting", refresh=True))
    assert read_log(counting) == ["Первый абзац про модели для программ и их обучение."]
    after = messages(kb)
    first = after[("locales/en/LC_MESSAGES/a.po", "Первый абзац про модели для программ и их обучение.")]
    assert first.previous_msgid is None and first.fuzzy and mt_comment(first) == "kbtrans-mt: test-log ru-en"
    assert replace(after[("locales/en/LC_MESSAGES/a.po", human.msgid)], line=0) == replace(human, line=0)
    counting.unlink()
    translate(cfg, Options(engine="counting", refresh=True))
    assert read_log(counting) == []


# -- errors -------------------------------------------------------------------------------------------

def test_engine_error_is_one_message_and_exit_1(cli: Callable[..., Result], sample_kb: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBTRANS_ENGINE_BROKEN", f"{ENGINES}:broken")
    before = {p: p.read_bytes() for p in po_files(sample_kb)}
    r = cli("-C", sample_kb, "translate", "--engine", "broken")
    assert r.exit_code == 1
    assert "kbtrans models install ru en" in r.stderr and "Traceback" not in r.output
    assert {p: p.read_bytes() for p in po_files(sample_kb)} == before
    unknown = cli("-C", sample_kb, "translate", "--engine", "nope")
    assert unknown.exit_code == 1 and "unknown engine 'nope'" in unknown.stderr and "pseudo" in unknown.stderr


def test_nothing_to_do_needs_no_engine(cli: Callable[..., Result], sample_kb: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("-C", sample_kb, "translate", "--engine", "pseudo").exit_code == 0
    monkeypatch.setenv("KBTRANS_ENGINE_BROKEN", f"{ENGINES}:broken")
    r = cli("-C", sample_kb, "translate", "--engine", "broken")
    assert r.exit_code == 0 and "Nothing to translate" in r.stdout


def test_default_engine_comes_from_the_config(cli: Callable[..., Result], tmp_path: Path) -> None:
    kb = make_kb(tmp_path / "kb", {"a.md": "---\nlang: ru\n---\nАбзац.\n"})
    (kb / "kbtrans.toml").write_text('engine = "pseudo"\n', encoding="utf-8")
    r = cli("-C", kb, "translate")
    assert r.exit_code == 0 and "with pseudo" in r.stdout


# -- interrupt and resume ------------------------------------------------------------------------------

def test_interrupt_keeps_finished_work_and_a_rerun_resumes(sample_kb: Path, tmp_path: Path) -> None:
    log1, log2 = tmp_path / "run1.log", tmp_path / "run2.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")]),
           "KBTRANS_ENGINE_SLOW": f"{ENGINES}:slow", "KBTRANS_ENGINE_COUNTING": f"{ENGINES}:counting",
           "KBTRANS_TEST_LOG": str(log1), "KBTRANS_TEST_DELAY": "0.02"}
    cmd = [sys.executable, "-m", "kbtrans", "-C", str(sample_kb), "translate", "--engine"]
    proc = subprocess.Popen([*cmd, "slow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(read_log(log1, "done")) < 40:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"translate ended or hung before the interrupt: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "run the same command again" in err and "Traceback" not in err

    msgfmt_check(sample_kb)  # no catalog is corrupt, and no temporary file is left behind
    assert not [p for p in (sample_kb / "locales").rglob("*") if p.name.endswith(".tmp")]
    first = messages(sample_kb)
    done = {k for k, m in first.items() if m.msgstr}
    answered = read_log(log1, "done")
    assert done and len(done) < len(first)
    # every answer the engine gave before the signal is in the catalogs (the last one may have been cut off)
    keep = glossary.load(config.load(sample_kb)).keep
    by_engine = {protect(k[1], keep_terms=keep).text for k in done if "test-log" in mt_comment(first[k])}
    assert set(answered[:-1]) <= by_engine <= set(answered)

    env["KBTRANS_TEST_LOG"] = str(log2)
    rerun = subprocess.run([*cmd, "counting"], env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    sent2 = read_log(log2, "sent")
    assert not set(sent2) & set(answered[:-1]), "a re-run must not re-send finished work"
    todo = {(path.split("/")[1], protect(msgid, keep_terms=keep).text)
            for (path, msgid), m in first.items() if not m.msgstr}
    assert len(sent2) == len(todo) and set(sent2) == {text for _lang, text in todo}
    final = messages(sample_kb)
    assert all(m.msgstr for m in final.values())
    assert all(replace(final[k], line=0) == replace(first[k], line=0) for k in done)



def test_a_translation_saved_during_the_run_wins(cli: Callable[..., Result], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    kb = make_kb(tmp_path / "kb", {"a.md": "Первый абзац.\n\nВторой абзац.\n", "b.md": "Третий абзац.\n"})
    a, b = (kb / "locales" / "en" / "LC_MESSAGES" / n for n in ("a.po", "b.po"))
    monkeypatch.setenv("KBTRANS_ENGINE_MEDDLING", f"{ENGINES}:meddling")
    monkeypatch.setenv("KBTRANS_TEST_MEDDLE", json.dumps({"review": [str(a), "Первый абзац.", "First (human)."]}))
    r = cli("-C", kb, "translate", "--engine", "meddling")
    assert r.exit_code == 0, r.output
    first = messages(kb)[("locales/en/LC_MESSAGES/a.po", "Первый абзац.")]
    assert first.msgstr == "First (human)." and not first.fuzzy
    assert messages(kb)[("locales/en/LC_MESSAGES/a.po", "Второй абзац.")].fuzzy
    # A catalog broken meanwhile is reported, and the other catalogs still get their translations.
    for e in (a, b):
        e.unlink()
    assert cli("-C", kb, "extract").exit_code == 0
    monkeypatch.setenv("KBTRANS_TEST_MEDDLE", json.dumps({"corrupt": str(a)}))
    r = cli("-C", kb, "translate", "--engine", "meddling")
    assert r.exit_code == 1 and "a.po" in r.stderr and "PO syntax error" in r.stderr
    assert "[‼" in b.read_text(encoding="utf-8")


def test_unusable_output_is_tried_again(cli: Callable[..., Result], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    kb = make_kb(tmp_path / "kb", {"a.md": "Первый абзац.\n"})
    monkeypatch.setenv("KBTRANS_ENGINE_EMPTY", f"{ENGINES}:empty")
    assert cli("-C", kb, "translate", "--engine", "empty").exit_code == 0
    kept = messages(kb)[("locales/en/LC_MESSAGES/a.po", "Первый абзац.")]
    assert kept.msgstr == "Первый абзац." and kept.fuzzy  # the source stands in, marked for review
    r = cli("-C", kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0 and "Nothing to translate" not in r.stdout
    assert messages(kb)[("locales/en/LC_MESSAGES/a.po", "Первый абзац.")].msgstr.startswith("[‼")


def test_a_translators_draft_over_a_kept_source_is_never_replaced(cli: Callable[..., Result], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry of an unusable output is for the source text standing in, not for what a translator wrote
    there (and left fuzzy, with kbtrans' comment still on it)."""
    import polib

    kb = make_kb(tmp_path / "kb", {"a.md": "Первый абзац.\n"})
    monkeypatch.setenv("KBTRANS_ENGINE_EMPTY", f"{ENGINES}:empty")
    assert cli("-C", kb, "translate", "--engine", "empty").exit_code == 0
    path = kb / "locales" / "en" / "LC_MESSAGES" / "a.po"
    po = polib.pofile(str(path), wrapwidth=0)
    po.find("Первый абзац.").msgstr = "First paragraph (my draft, still fuzzy)."
    po.save()
    r = cli("-C", kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0 and "Nothing to translate" in r.stdout, r.output
    kept = messages(kb)[("locales/en/LC_MESSAGES/a.po", "Первый абзац.")]
    assert kept.msgstr == "First paragraph (my draft, still fuzzy)." and kept.fuzzy


def test_shortcut_reference_links_survive_machine_translation(cli: Callable[..., Result], tmp_path: Path) -> None:
    """``[Руководство]`` links through its definition: MT must keep it whole, not fall back to the source."""
    note = ("Читайте [Руководство] перед началом работы.\n\nСкобки [без ссылки] переводятся.\n\n"
            "[Руководство]: https://example.org/guide\n")
    kb = make_kb(tmp_path / "kb", {"a.md": note})
    assert cli("-C", kb, "translate", "--engine", "pseudo").exit_code == 0
    msgs = messages(kb)
    linked = msgs[("locales/en/LC_MESSAGES/a.po", "Читайте [Руководство] перед началом работы.")]
    assert "[Руководство]" in linked.msgstr and linked.msgstr != linked.msgid
    assert not any(placeholders.KEPT_SOURCE in c for c in linked.comments)
    plain = msgs[("locales/en/LC_MESSAGES/a.po", "Скобки [без ссылки] переводятся.")]
    assert "[без ссылки]" not in plain.msgstr  # not a link: ordinary text, translated
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 0, r.output
    built = (kb / "build" / "en" / "a.md").read_text(encoding="utf-8")
    assert "[Руководство]" in built and built.count("[Руководство]") == 2
    msgfmt_check(kb)


def test_every_catalog_that_cannot_be_saved_is_named(cli: Callable[..., Result], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Two catalogs fail to save (disk full, a catalog damaged meanwhile): both are named in one message,
    exit 1, and the third catalog's translations are saved."""
    import errno

    kb = make_kb(tmp_path / "kb", {"a.md": "Первый абзац.\n", "b.md": "Второй абзац.\n", "c.md": "Третий абзац.\n"})
    real = catalog.fill

    def failing(path: Path, fills: object, **kw: object) -> bool:
        if path.name == "a.po":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        if path.name == "b.po":
            raise catalog.CatalogError("PO syntax error.", path=path, line=3)
        return real(path, fills, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog, "fill", failing)
    r = cli("-C", kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "2 catalogs could not be saved" in r.stderr
    assert "a.po: No space left on device" in r.stderr and "b.po:3: PO syntax error." in r.stderr
    assert messages(kb)[("locales/en/LC_MESSAGES/c.po", "Третий абзац.")].msgstr.startswith("[‼")
