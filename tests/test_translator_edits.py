"""What translators and their tools do to a catalog (issue 8, items 1-3, 6, 14): re-ordered or extra flags, a
dropped `md-text`, swapped entries, an added msgctxt, an emptied file, another checkout folder, and PO that
GNU msgfmt rejects. Each test asserts the exact message and exit code."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polib

from tests.helpers import assert_msgfmt_ok, fill_catalogs

NOTE = "# Заголовок\n\nПервый абзац.\n\nВторой абзац.\n\nТретий абзац.\n"
EN = {"Заголовок": "Heading", "Первый абзац.": "First paragraph.", "Второй абзац.": "Second paragraph.",
      "Третий абзац.": "Third paragraph.", "Новый абзац.": "New paragraph."}


def _kb(cli, root: Path) -> Path:
    """A one-note KB at ``root``, extracted and translated; returns its English catalog."""
    (root / "content").mkdir(parents=True)
    (root / "content" / "n.md").write_text(NOTE, encoding="utf-8")
    assert cli("-C", root, "extract").exit_code == 0
    fill_catalogs(root / "locales", EN.__getitem__)
    return root / "locales" / "en" / "LC_MESSAGES" / "n.po"


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted((root / "locales").rglob("*.po"))}


def _build(cli, root: Path) -> dict[str, bytes]:
    r = cli("-C", root, "build", "--strict")
    assert r.exit_code == 0, r.output
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "build").rglob("*.md"))}


def _msgids(path: Path) -> list[str]:
    return [e.msgid for e in polib.pofile(str(path), wrapwidth=0) if not e.obsolete]


def test_reordered_extra_and_missing_flags_and_swapped_entries_are_not_stale(cli, tmp_path: Path) -> None:
    po_path = _kb(cli, tmp_path / "kb")
    kb = tmp_path / "kb"
    built = _build(cli, kb)
    po = polib.pofile(str(po_path), wrapwidth=0)
    heading, first, second, _third = po
    heading.flags = ["md-text", "fuzzy"]  # flags re-ordered (Poedit, Weblate)
    first.flags = ["md-text", "python-format"]  # a flag Babel adds
    second.flags = []  # a tool that drops the non-standard md-text flag
    po[1], po[2] = second, first  # two entries swapped
    po.save()
    tool = po_path.read_bytes()
    r = cli("-C", kb, "check")
    assert r.exit_code == 0, r.output
    assert "catalog-stale" not in r.output
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    assert "1 notes: 0 catalogs written (0 new), 0 new entries, 0 fuzzy, 0 obsolete" in r.stdout
    assert po_path.read_bytes() == tool
    assert _build(cli, kb) == built
    # The note changes: the message names what changed, with the note's line.
    (kb / "content" / "n.md").write_text(NOTE + "\nНовый абзац.\n", encoding="utf-8")
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert ("locales/en/LC_MESSAGES/n.po: error: out of date with content/n.md: 1 segment of the note is not in "
            "the catalog: line 9 «Новый абзац.» (catalog-stale)") in r.stderr
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0, r.output
    assert "1 catalogs written (0 new), 1 new entries" in r.stdout
    # The rewrite keeps the translator's order (the new entry after its predecessor in the note) and flags.
    assert _msgids(po_path) == ["Заголовок", "Второй абзац.", "Первый абзац.", "Третий абзац.", "Новый абзац."]
    flags = {e.msgid: e.flags for e in polib.pofile(str(po_path), wrapwidth=0)}
    assert flags == {"Заголовок": ["md-text", "fuzzy"], "Первый абзац.": ["md-text", "python-format"],
                     "Второй абзац.": ["md-text"], "Третий абзац.": ["md-text"], "Новый абзац.": ["md-text"]}
    assert_msgfmt_ok(po_path)
    assert cli("-C", kb, "check").exit_code == 0


def test_stale_message_names_removed_entries_and_moved_references(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    _kb(cli, kb)
    (kb / "content" / "n.md").write_text("# Заголовок\n\n\nПервый абзац.\n\nТретий абзац.\n", encoding="utf-8")
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert ("locales/en/LC_MESSAGES/n.po: error: out of date with content/n.md: 1 entry of the catalog is no "
            "longer in the note: PO line 30 «Второй абзац.»; 2 entries have out-of-date line references: PO line "
            "24 (the note has 4) «Первый абзац.», PO line 36 (the note has 6) «Третий абзац.» (catalog-stale)"
            ) in r.stderr


def test_emptied_catalog_says_so(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    po_path = _kb(cli, kb)
    po_path.write_bytes(b"")
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert ("locales/en/LC_MESSAGES/n.po: error: the catalog has no entries (the file was emptied or truncated), "
            "while the note has 4 segments (catalog-empty)\n"
            "    fix: restore the file from version control (`git checkout -- FILE`), or run `kbtrans extract` to "
            "start it again untranslated") in r.stderr
    assert "out of date" not in r.stderr
    r = cli("-C", kb, "build", "--strict")
    assert r.exit_code == 1 and "(catalog-empty)" in r.stderr


def _project_id(path: Path) -> str:
    m = re.search(r'^"Project-Id-Version: (.*)\\n"$', path.read_text(encoding="utf-8"), re.MULTILINE)
    assert m is not None
    return m.group(1)


def test_project_id_version_does_not_follow_the_checkout_folder(cli, tmp_path: Path) -> None:
    po_path = _kb(cli, tmp_path / "main")
    assert _project_id(po_path) == "main"
    shutil.move(tmp_path / "main", tmp_path / "m1")  # a clone under another name
    kb = tmp_path / "m1"
    po_path = kb / "locales" / "en" / "LC_MESSAGES" / "n.po"
    (kb / "content" / "n.md").write_text(NOTE + "\nНовый абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    assert "Новый абзац." in _msgids(po_path)
    assert _project_id(po_path) == "main"
    # A new catalog in the clone takes the folder's name; pyproject's [project] name wins over both.
    (kb / "content" / "other.md").write_text("Другая заметка.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    assert _project_id(kb / "locales" / "en" / "LC_MESSAGES" / "other.po") == "m1"
    (kb / "pyproject.toml").write_text('[project]\nname = "code-llm-kb"\n', encoding="utf-8")
    (kb / "content" / "n.md").write_text(NOTE, encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    assert _project_id(po_path) == "code-llm-kb"
    # The `project` key wins over pyproject; an empty one is what not setting it means.
    (kb / "kbtrans.toml").write_text('project = "Code LLM notes"\n', encoding="utf-8")
    (kb / "content" / "n.md").write_text(NOTE + "\nНовый абзац.\n", encoding="utf-8")
    assert cli("-C", kb, "extract").exit_code == 0
    assert _project_id(po_path) == "Code LLM notes"
    (kb / "kbtrans.toml").write_text("project = 1\n", encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1
    assert "kbtrans.toml: key 'project' must be a non-empty string, got 1." in r.stderr


def test_msgctxt_added_by_a_translator_keeps_the_translation(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    po_path = _kb(cli, kb)
    po = polib.pofile(str(po_path), wrapwidth=0)
    po[1].msgctxt = "paragraph 1"  # Weblate and translators disambiguate with a context
    po.save()
    tool = po_path.read_bytes()
    assert cli("-C", kb, "check").exit_code == 0
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0 and "0 catalogs written" in r.stdout, r.output
    assert po_path.read_bytes() == tool
    assert "First paragraph." in _build(cli, kb)["build/en/n.md"].decode()
    # A rewrite keeps the context and the translation; nothing becomes obsolete or empty.
    (kb / "content" / "n.md").write_text(NOTE + "\nНовый абзац.\n", encoding="utf-8")
    r = cli("-C", kb, "extract")
    assert r.exit_code == 0 and "1 new entries, 0 fuzzy, 0 obsolete" in r.stdout, r.output
    entry = next(e for e in polib.pofile(str(po_path), wrapwidth=0) if e.msgid == "Первый абзац.")
    assert (entry.msgctxt, entry.msgstr, entry.obsolete, "fuzzy" in entry.flags) == (
        "paragraph 1", "First paragraph.", 0, False)
    assert "#~" not in po_path.read_text(encoding="utf-8")
    assert "First paragraph." in _build(cli, kb)["build/en/n.md"].decode()


def _set_msgstr(path: Path, msgid: str, raw: str) -> int:
    """Replace the msgstr line after ``msgid "<msgid>"`` with ``raw``; return its line number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    i = lines.index(f'msgid "{msgid}"') + 1
    lines[i] = raw
    path.write_text("\n".join(lines), encoding="utf-8")
    return i + 1


def test_invalid_escape_is_a_syntax_error_like_msgfmt(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    po_path = _kb(cli, kb)
    line = _set_msgstr(po_path, "Второй абзац.", 'msgstr "Second \\q paragraph."')
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1
    assert (f"kbtrans: error: {po_path}:{line}: PO syntax error (invalid escape sequence `\\q` in a string, which "
            "msgfmt rejects; write `\\\\` for a backslash). Fix the entry by hand (or restore the file from version "
            "control) and run the command again.") in " ".join(r.stderr.split())
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert f"locales/en/LC_MESSAGES/n.po:{line}: error: PO syntax error (invalid escape sequence `\\q`" in r.stderr
    # An escaped backslash is fine.
    _set_msgstr(po_path, "Второй абзац.", 'msgstr "Second \\\\q paragraph."')
    assert cli("-C", kb, "check").exit_code == 0
    assert_msgfmt_ok(po_path)


def test_plural_msgstr_without_msgid_plural_is_an_error(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    po_path = _kb(cli, kb)
    line = _set_msgstr(po_path, "Второй абзац.", 'msgstr[0] "Second paragraph."') - 4  # where the entry starts
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert (f"locales/en/LC_MESSAGES/n.po:{line}: error: `msgstr[0]` without `msgid_plural` (msgfmt: missing "
            "'msgid_plural' section): the translation would be lost. Write it as `msgstr \"…\"`. (po-syntax)"
            ) in r.stderr
    r = cli("-C", kb, "build")
    assert r.exit_code == 1
    assert f"{po_path}:{line}: `msgstr[0]` without `msgid_plural`" in " ".join(r.stderr.split())


def test_decode_error_names_the_line(cli, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    po_path = _kb(cli, kb)
    data = po_path.read_bytes().replace(b"Third paragraph.", b"Third \xff paragraph.")
    po_path.write_bytes(data)
    line = data[:data.index(b"\xff")].count(b"\n") + 1
    r = cli("-C", kb, "check")
    assert r.exit_code == 1
    assert (f"locales/en/LC_MESSAGES/n.po:{line}: error: invalid UTF-8 (byte 0xff at column 15). Save the file as "
            "UTF-8 (in Poedit: Catalog → Properties → Charset). (po-syntax)") in r.stderr
    r = cli("-C", kb, "extract")
    assert r.exit_code == 1
    assert f"{po_path}:{line}: invalid UTF-8 (byte 0xff at column 15)" in " ".join(r.stderr.split())
