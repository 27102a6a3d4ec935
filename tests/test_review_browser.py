"""The review page in a real browser: Playwright driving Debian's Chromium (never a downloaded one)."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the review extra is not installed (pip install 'kbtrans[review]')")
pytest.importorskip("playwright", reason="playwright is not installed (pip install 'kbtrans[review,test]')")

from kbtrans import catalog, config

CHROMIUM = os.environ.get("KBTRANS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set KBTRANS_CHROMIUM)",
                allow_module_level=True)

#: The README's screenshots are retaken with KBTRANS_SCREENSHOTS=1 (else they go to a temporary folder, so
#: a test run leaves the checkout as it was).
DOCS = (Path(__file__).resolve().parent.parent / "docs" if os.environ.get("KBTRANS_SCREENSHOTS") == "1"
        else Path(tempfile.gettempdir()) / "kbtrans-screenshots")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def served(sample_kb: Path, cli):
    from kbtrans.review import load_server

    r = cli("-C", sample_kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0, r.output

    def start(root: Path = sample_kb):
        server = load_server(config.load(root), (), (), "127.0.0.1", 0)
        server.start()
        servers.append(server)
        return server

    servers: list = []
    yield sample_kb, start
    for s in servers:
        s.stop()


def _page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, dialogs, errors


def _changed_lines(before: bytes, after: bytes) -> list[str]:
    return [x for x in difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), n=0,
                                            lineterm="") if x[:1] in "+-" and x[:3] not in ("+++", "---")]


def test_reviewer_accepts_and_edits_with_the_keyboard(browser, served, cli) -> None:
    root, start = served
    server = start()
    page, dialogs, errors = _page(browser)
    page.goto(server.url)
    assert page.locator("#notes tr.row").count() > 0
    page.select_option("#status", "machine")
    page.click("#apply")
    page.wait_for_url("**status=machine**")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "review-notes.png"))
    row = page.locator("#notes tr.row").first
    note, lang = row.get_attribute("data-note"), row.get_attribute("data-lang")
    assert note and lang
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    before = po.read_bytes()
    row.locator("a.note-link").click()
    page.wait_for_selector(".entry")
    machine = page.locator(".entry.machine")
    # an entry without check errors and without protected markup, for the edit
    plain = [i for i in range(machine.count()) if machine.nth(i).locator(".placeables").count() == 0
             and machine.nth(i).locator(".findings li.error").count() == 0]
    assert len(plain) >= 2
    first, second = machine.nth(plain[0]), machine.nth(plain[1])
    first_id, second_id = first.get_attribute("id"), second.get_attribute("id")
    page.locator(f"#{first_id} .editor").focus()
    page.keyboard.press("Control+Shift+Enter")
    page.wait_for_selector(f"#{first_id} .message.ok")
    assert page.locator(f"#{first_id} .badge").inner_text() == "reviewed"
    editor = page.locator(f"#{second_id} .editor")
    editor.fill("Edited in the review page")
    editor.focus()
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"#{second_id} .message.ok")
    page.screenshot(path=str(DOCS / "review-note.png"), full_page=False)
    changed = _changed_lines(before, po.read_bytes())
    assert [x for x in changed if x.startswith("+") and not x.startswith("+#,")] == [
        '+msgstr "Edited in the review page"'], changed
    assert sum("fuzzy" in x for x in changed if x.startswith("-")) == 2, changed
    assert not dialogs and not errors
    page.close()
    r = cli("-C", root, "check", "--to", lang)
    assert r.exit_code == 0, r.output
    r = cli("-C", root, "build", "--to", lang)
    assert r.exit_code == 0, r.output
    built = config.load(root).output_dir / lang / note
    assert "Edited in the review page" in built.read_text(encoding="utf-8")


XSS = '<script>alert("s")</script> <img src=x onerror=alert("i")> [x](javascript:alert("j"))'


def test_markup_in_notes_and_translations_is_inert(browser, served, cli) -> None:
    root, start = served
    (root / "content" / "xss.md").write_text(f"---\nlang: en\n---\n# Evil\n\nHello {XSS} bye.\n", encoding="utf-8")
    r = cli("-C", root, "extract")
    assert r.exit_code == 0, r.output
    server = start()
    page, dialogs, errors = _page(browser)
    page.goto(server.url)
    page.goto(server.url.split("/?")[0] + "/note?path=xss.md&lang=ru")
    entry = page.locator(".entry").filter(has_text="onerror").first
    editor = entry.locator(".editor")
    editor.fill(XSS)
    editor.focus()
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".entry .message:not(:empty)")
    page.reload()
    page.wait_for_selector(".entry")
    page.click("#preview-button")
    page.wait_for_selector("#preview:not(:empty)")  # (wait_for_function would need 'unsafe-eval': the CSP says no)
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('script:not([src]):not([type=\"application/json\"])').length") == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('a[href^=\"javascript\"]').length") == 0
    assert page.evaluate("[...document.querySelectorAll('*')].filter(e => e.hasAttribute('onerror')).length") == 0
    # shown as text: the source, the editor and the preview
    shown = page.locator(".entry").filter(has_text="onerror").first
    assert '<script>alert("s")</script>' in shown.locator(".source").inner_text()
    assert shown.locator(".editor").input_value() == XSS
    assert "onerror=" in page.locator("#preview").inner_text()
    assert not errors


def test_conflict_flow(browser, served) -> None:
    root, start = served
    server = start()
    page, _, _ = _page(browser)
    page.goto(server.url)
    row = page.locator("#notes tr.row").first
    note, lang = row.get_attribute("data-note"), row.get_attribute("data-lang")
    assert note and lang
    row.locator("a.note-link").click()
    page.wait_for_selector(".entry")
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    sec = page.locator(".entry").filter(has=page.locator(".revert:not([disabled])")).first
    sid = sec.get_attribute("id")
    old = page.locator(f"#{sid} .editor").input_value()
    text = po.read_text(encoding="utf-8")
    assert f'msgstr "{old}"' in text
    po.write_text(text.replace(f'msgstr "{old}"', 'msgstr "Changed on disk"', 1), encoding="utf-8")
    on_disk = po.read_bytes()
    page.locator(f"#{sid} .editor").fill("My review text")
    page.locator(f"#{sid} .save").click()
    page.wait_for_selector(f"#{sid} .conflict:not([hidden])")
    assert page.locator(f"#{sid} .conflict .theirs").inner_text() == "Changed on disk"
    assert page.locator(f"#{sid} .conflict .yours").inner_text() == "My review text"
    assert page.locator(f"#{sid} .editor").input_value() == "My review text"
    assert po.read_bytes() == on_disk
    page.reload()
    page.wait_for_selector(".entry")
    page.locator(f"#{sid} .editor").fill("My review text")
    page.locator(f"#{sid} .save").click()
    page.wait_for_selector(f"#{sid} .message.ok")
    assert next(m for m in catalog.read(po) if m.msgstr == "My review text")


NOTE, LANG = "training/fill-in-the-middle.md", "en"


def _open_note(page, server, note: str = NOTE, lang: str = LANG) -> None:
    from urllib.parse import urlencode

    page.goto(server.url)
    page.goto(server.url.split("/?")[0] + "/note?" + urlencode({"path": note, "lang": lang}))
    page.wait_for_selector(".entry")


def _entry_where(page, test: str) -> str:
    """The id of the first entry for which the page script's JSON data passes ``test`` (a JS expression of e)."""
    import json

    entries = json.loads(page.locator("#page-data").text_content() or "{}")["entries"]
    return page.evaluate(f"(es) => {{ const e = es.find(e => {test}); return e ? 'entry-' + e.index : null; }}",
                         entries)


def test_filters_and_search_in_the_browser(browser, served) -> None:
    _root, start = served
    server = start()
    page, dialogs, errors = _page(browser)
    page.goto(server.url)
    everything = page.locator("#notes tr.row").count()
    page.select_option("select[name=folder]", "training")
    page.click("#apply")
    page.wait_for_url("**folder=training**")
    notes = [page.locator("#notes tr.row").nth(i).get_attribute("data-note") for i in
             range(page.locator("#notes tr.row").count())]
    assert notes and all(n and n.startswith("training/") for n in notes) and len(notes) < everything
    page.select_option("select[name=folder]", "")
    page.fill("input[name=q]", "инфиллинг")
    page.click("#apply")
    page.wait_for_url("**q=**")
    assert [page.locator("#notes tr.row").nth(i).get_attribute("data-note")
            for i in range(page.locator("#notes tr.row").count())] == [NOTE]
    page.fill("input[name=q]", "")
    page.check("input[name=errors]")
    page.click("#apply")
    page.wait_for_url("**errors=1**")
    assert page.locator("#notes tr.row").count() == 0 and "No note matches" in page.inner_text("#notes")
    assert not dialogs and not errors


def test_keyboard_moves_between_unreviewed_entries_and_notes(browser, served) -> None:
    _root, start = served
    server = start()
    page, dialogs, errors = _page(browser)
    _open_note(page, server)
    # entry 1 reviewed (accepted with the keyboard): Alt+Down from entry 0 skips it
    page.locator("#entry-1 .editor").focus()
    page.keyboard.press("Control+Shift+Enter")
    page.wait_for_selector("#entry-1 .message.ok")
    assert page.locator("#entry-1 .badge").inner_text() == "reviewed"
    page.locator("#entry-0 .editor").focus()
    page.keyboard.press("Alt+ArrowDown")
    assert page.evaluate("document.activeElement.closest('.entry').id") == "entry-2"
    page.keyboard.press("Alt+ArrowUp")
    assert page.evaluate("document.activeElement.closest('.entry').id") == "entry-0"
    page.keyboard.press("Alt+ArrowUp")  # wraps round to the last unreviewed entry
    last = page.locator(".entry").count() - 1
    assert page.evaluate("document.activeElement.closest('.entry').id") == f"entry-{last}"
    following = page.get_attribute("#next-note", "href")
    assert following
    page.keyboard.press("Alt+KeyN")
    page.wait_for_url("**" + following.split("?")[1].replace("%2F", "*") + "**")
    page.wait_for_selector(".entry")
    assert page.locator(".crumb").inner_text().split(" →")[0] != NOTE
    assert not dialogs and not errors


def test_an_error_blocks_accept_a_warning_does_not(browser, served) -> None:
    root, start = served
    server = start()
    page, dialogs, errors = _page(browser)
    _open_note(page, server)
    po = catalog.catalog_path(root / "locales", LANG, NOTE[:-3])
    before = po.read_bytes()
    marked = _entry_where(page, "e.source_placeables.length > 0 && e.findings.every(f => f.severity !== 'error')")
    editor = page.locator(f"#{marked} .editor")
    editor.fill("All of the markup is gone")
    # the live check (the checker functions of `kbtrans check`) reports the error as the reviewer types
    page.wait_for_selector(f"#{marked} .findings li.error")
    editor.focus()
    page.keyboard.press("Control+Shift+Enter")
    page.wait_for_selector(f"#{marked} .message.error")
    assert "cannot be accepted" in page.inner_text(f"#{marked} .message")
    assert page.locator(f"#{marked} .badge").inner_text() == "machine"
    assert po.read_bytes() == before
    warned = _entry_where(page, "e.findings.length > 0 && e.findings.every(f => f.severity === 'warning')")
    assert page.locator(f"#{warned} .findings li.warning").count() > 0
    page.locator(f"#{warned} .editor").focus()
    page.keyboard.press("Control+Shift+Enter")
    page.wait_for_selector(f"#{warned} .message.ok")
    assert page.locator(f"#{warned} .badge").inner_text() == "reviewed"
    changed = _changed_lines(before, po.read_bytes())
    assert len(changed) == 2 and "fuzzy" in changed[0] and "fuzzy" not in changed[1], changed
    assert not dialogs and not errors


def test_placeables_are_highlighted_in_the_editor_and_copied_with_a_shortcut(browser, served) -> None:
    _root, start = served
    server = start()
    page, dialogs, errors = _page(browser)
    _open_note(page, server)
    sid = _entry_where(page, "e.source_placeables.length >= 3 && new Set(e.source_placeables.map(p => p.text)).size"
                             " === e.source_placeables.length")
    marks = [page.locator(f"#{sid} .placeables code").nth(i).inner_text()
             for i in range(page.locator(f"#{sid} .placeables code").count())]
    kinds = [page.locator(f"#{sid} button.place").nth(i).get_attribute("title") or "" for i in range(len(marks))]

    def spaced(k: int) -> str:  # a tag is inserted after a space (glued to a word it would be none)
        return (" " if kinds[k].startswith("tag:") else "") + marks[k]

    editor = page.locator(f"#{sid} .editor")
    # the machine translation's placeables are marked in the backdrop, under the text, where it is typed
    shown = [page.locator(f"#{sid} .highlights mark.placeable").nth(i).inner_text()
             for i in range(page.locator(f"#{sid} .highlights mark.placeable").count())]
    assert shown == [p for p in marks if p in editor.input_value()]
    editor.fill("Start ")
    editor.focus()
    page.keyboard.press("End")
    page.keyboard.press("Alt+Digit2")
    assert editor.input_value() == "Start " + marks[1]  # after a space: inserted as it is
    page.wait_for_selector(f"#{sid} .findings li.error")  # the other placeables are missing
    for _ in marks[:-1]:
        page.keyboard.press("Alt+KeyP")  # the next placeable the translation lacks
    value = editor.input_value()
    assert value == "Start " + marks[1] + spaced(0) + "".join(spaced(k) for k in range(2, len(marks))), value
    import json

    # the page marks an entry with the text its findings are for once the live check has answered
    page.wait_for_selector(f"#{sid}[data-checked={json.dumps(value)}]", state="attached")
    assert page.locator(f"#{sid} .findings li.error").count() == 0
    mark = page.locator(f"#{sid} .highlights mark.placeable").filter(has_text=marks[0]).first
    mark.wait_for()
    # the mark lies under the editor's own text: inside the textarea's box, on its first line
    box, ed = mark.bounding_box(), editor.bounding_box()
    assert box and ed and ed["x"] <= box["x"] and box["x"] + box["width"] <= ed["x"] + ed["width"] + 1
    assert ed["y"] <= box["y"] <= ed["y"] + ed["height"]
    assert page.evaluate("getComputedStyle(document.querySelector('.editor')).backgroundColor") == "rgba(0, 0, 0, 0)"
    # a click on a source placeable inserts it at the cursor too
    editor.fill("x")
    editor.focus()
    page.keyboard.press("End")
    page.locator(f"#{sid} button.place").nth(0).click()
    assert editor.input_value() == "x" + spaced(0)
    shots = Path(tempfile.gettempdir()) / "kbtrans-screenshots"  # for a look by hand; not in the README
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "review-placeables.png"))
    assert not dialogs and not errors


def test_revert_and_comment_in_the_browser(browser, served) -> None:
    root, start = served
    server = start()
    page, dialogs, errors = _page(browser)
    _open_note(page, server)
    po = catalog.catalog_path(root / "locales", LANG, NOTE[:-3])
    before = po.read_bytes()
    sid = _entry_where(page, "e.category === 'machine' && e.msgstr !== e.msgid && e.findings.length === 0")
    editor = page.locator(f"#{sid} .editor")
    machine = editor.input_value()
    editor.fill("A rewrite to be undone")
    page.locator(f"#{sid} .save").click()
    page.wait_for_selector(f"#{sid} .message.ok")
    assert page.locator(f"#{sid} .badge").inner_text() == "reviewed"
    page.locator(f"#{sid} .revert").click()
    page.wait_for_selector(f"#{sid} .message.ok:text('reverted')")
    assert editor.input_value() == machine and page.locator(f"#{sid} .badge").inner_text() == "machine"
    assert po.read_bytes() == before
    page.fill(f"#{sid} .tcomment", "ask the author about this term")
    page.locator(f"#{sid} .comment").click()
    page.wait_for_selector(f"#{sid} .message.ok:text('comment saved')")
    assert _changed_lines(before, po.read_bytes()) == ["+# ask the author about this term"]
    assert not dialogs and not errors
