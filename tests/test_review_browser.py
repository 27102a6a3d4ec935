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
