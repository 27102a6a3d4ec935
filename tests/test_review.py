"""The review page over HTTP (Starlette's TestClient): security probes, writes and conflicts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the review extra is not installed (pip install 'kbtrans[review]')")
pytest.importorskip("jinja2", reason="the review extra is not installed (pip install 'kbtrans[review]')")

from starlette.testclient import TestClient

from kbtrans import catalog, config
from kbtrans.review.app import COOKIE, create_app, security
from kbtrans.review.data import Review

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def translated_kb(sample_kb: Path, cli) -> Path:
    r = cli("-C", sample_kb, "translate", "--engine", "pseudo")
    assert r.exit_code == 0, r.output
    return sample_kb


@pytest.fixture
def client(translated_kb: Path):
    sec = security(PORT)
    review = Review(config.load(translated_kb))
    review.start_background()  # as the server does; the list's check counts come when it is done
    assert review.checked.wait(120) and review.background_error is None
    app = create_app(review, sec)
    c = TestClient(app, base_url=BASE)
    c.cookies.set(COOKIE, sec.token)
    c.headers["X-CSRF-Token"] = sec.csrf
    return c, sec, translated_kb


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "locales").rglob("*.po"))}


def _first_note(c: TestClient) -> tuple[str, str]:
    page = c.get("/?status=machine")
    assert page.status_code == 200
    m = re.search(r'data-note="([^"]+)" data-lang="([^"]+)"', page.text)
    assert m, page.text[:500]
    return m.group(1), m.group(2)


def _entry(c: TestClient, note: str, lang: str) -> dict:
    import json

    page = c.get("/note", params={"path": note, "lang": lang})
    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page.text, re.S)
    assert data
    return json.loads(data.group(1))


def test_token_is_needed_and_becomes_a_cookie(translated_kb: Path) -> None:
    sec = security(PORT)
    c = TestClient(create_app(Review(config.load(translated_kb)), sec), base_url=BASE)
    r = c.get("/")
    assert r.status_code == 403 and "valid token" in r.text
    r = c.get("/", params={"token": "wrong"})
    assert r.status_code == 403
    r = c.get("/", params={"token": sec.token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    assert c.get("/").status_code == 200


def test_security_probes_are_refused_and_write_nothing(client) -> None:
    c, sec, root = client
    note, lang = _first_note(c)
    data = _entry(c, note, lang)
    e = data["entries"][0]
    body = {"path": note, "lang": lang, "action": "save", "msgid": e["msgid"], "msgctxt": e["msgctxt"],
            "version": e["version"], "text": "HACKED"}
    before = _snapshot(root)
    token_less = TestClient(c.app, base_url=BASE)
    probes = [
        token_less.post("/api/entry", json=body, headers={"X-CSRF-Token": sec.csrf}),
        c.post("/api/entry", json=body, headers={"X-CSRF-Token": "nope"}),
        c.post("/api/entry", json=body, headers={"Origin": "http://evil.example"}),
        c.post("/api/entry", json=body, headers={"Host": "evil.example:8765"}),
        c.post("/api/entry", json=body, headers={"Sec-Fetch-Site": "cross-site"}),
        c.post("/api/entry", content=b"action=save", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        c.post("/api/entry", json={**body, "path": "../kbtrans.toml"}),
        c.post("/api/entry", json={**body, "path": "../../etc/passwd.md"}),
        c.post("/api/entry", json={**body, "path": "/etc/passwd.md"}),
        c.post("/api/entry", json={**body, "lang": "../ru"}),
        c.get("/note", params={"path": "../locales/ru/index.po", "lang": lang}),
        c.get("/note", params={"path": f"{note.rsplit('/', 1)[0]}/../../{note}", "lang": lang}),
        c.get("/static/../templates/base.html"),
        c.get("/", headers={"Host": "attacker.example"}),
    ]
    for r in probes:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
    assert _snapshot(root) == before


def test_save_and_accept_change_only_those_entries(client, cli) -> None:
    c, _, root = client
    note, lang = _first_note(c)
    data = _entry(c, note, lang)
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    before = po.read_bytes()
    machine = [e for e in data["entries"] if e["category"] == "machine" and not any(
        f["severity"] == "error" for f in e["findings"])]
    assert len(machine) >= 2
    a, b = machine[0], machine[1]
    r = c.post("/api/entry", json={"path": note, "lang": lang, "action": "accept", "msgid": a["msgid"],
                                   "msgctxt": a["msgctxt"], "version": a["version"], "text": a["msgstr"]})
    assert r.status_code == 200, r.text
    assert r.json()["entry"]["category"] == "reviewed"
    r = c.post("/api/entry", json={"path": note, "lang": lang, "action": "save", "msgid": b["msgid"],
                                   "msgctxt": b["msgctxt"], "version": b["version"], "text": "Edited by review"})
    assert r.status_code == 200, r.text
    after = po.read_bytes()
    import difflib

    diff = [line for line in difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), n=0,
                                                  lineterm="") if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    # accepting removes the fuzzy flag (and its #| line); saving replaces the msgstr
    removed = [x[1:] for x in diff if x.startswith("-")]
    added = [x[1:] for x in diff if x.startswith("+")]
    assert [x for x in added if not x.startswith("#,")] == ['msgstr "Edited by review"'], diff
    assert all("fuzzy" not in x for x in added), diff
    assert sum("fuzzy" in x for x in removed) == 2, diff
    assert all(x.startswith(("#,", "#|", "msgstr", '"')) for x in removed), diff
    entries = {m.msgid: m for m in catalog.read(po)}
    assert not entries[a["msgid"]].fuzzy and entries[a["msgid"]].msgstr == a["msgstr"]
    assert not entries[b["msgid"]].fuzzy and entries[b["msgid"]].msgstr == "Edited by review"
    others = [m for m in catalog.read(po) if m.msgid not in (a["msgid"], b["msgid"])]
    assert all(m.fuzzy for m in others if m.msgstr)


def test_conflict_is_refused_shows_both_and_keeps_the_file(client) -> None:
    c, _, root = client
    note, lang = _first_note(c)
    data = _entry(c, note, lang)
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    e = next(x for x in data["entries"] if x["msgstr"])
    # another tool rewrites the entry after the page loaded it
    text = po.read_text(encoding="utf-8")
    edited = text.replace(f'msgstr "{e["msgstr"]}"', 'msgstr "Changed in Poedit"', 1)
    assert edited != text
    po.write_text(edited, encoding="utf-8")
    on_disk = po.read_bytes()
    r = c.post("/api/entry", json={"path": note, "lang": lang, "action": "save", "msgid": e["msgid"],
                                   "msgctxt": e["msgctxt"], "version": e["version"], "text": "Mine"})
    assert r.status_code == 409, r.text
    j = r.json()
    assert j["conflict"] and j["theirs"]["msgstr"] == "Changed in Poedit" and j["yours"] == "Mine"
    assert "changed on disk" in j["error"]
    assert po.read_bytes() == on_disk
    # after reloading, saving works
    fresh = next(x for x in _entry(c, note, lang)["entries"] if x["msgid"] == e["msgid"])
    r = c.post("/api/entry", json={"path": note, "lang": lang, "action": "save", "msgid": e["msgid"],
                                   "msgctxt": e["msgctxt"], "version": fresh["version"], "text": "Mine"})
    assert r.status_code == 200, r.text
    assert next(m for m in catalog.read(po) if m.msgid == e["msgid"]).msgstr == "Mine"


def test_accept_with_a_check_error_is_refused(client) -> None:
    c, _, root = client
    note, lang = _first_note(c)
    data = _entry(c, note, lang)
    e = next(x for x in data["entries"] if x["source_placeables"])
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    before = po.read_bytes()
    live = c.post("/api/check", json={"path": note, "lang": lang, "msgid": e["msgid"], "msgstr": "broken"})
    assert live.status_code == 200
    assert any(f["severity"] == "error" for f in live.json()["findings"]), live.json()
    r = c.post("/api/entry", json={"path": note, "lang": lang, "action": "accept", "msgid": e["msgid"],
                                   "msgctxt": e["msgctxt"], "version": e["version"], "text": "broken"})
    assert r.status_code == 422 and "cannot be accepted" in r.json()["error"]
    assert po.read_bytes() == before


def test_without_the_extra_the_command_names_it(cli, sample_kb: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "starlette", None)
    r = cli("-C", sample_kb, "review", "--port", "0")
    assert r.exit_code == 1
    assert "pip install 'kbtrans[review]'" in r.output


# -- the notes list: filters, search, and the numbers of `kbtrans stats` and `kbtrans check` -----------

_ROW = re.compile(r'<tr class="row" data-note="([^"]+)" data-lang="([^"]+)">(.*?)</tr>', re.S)
_CELL = re.compile(r'<td class="num (\w+)">([^<]*)</td>')


def _rows(c: TestClient, **params: str) -> dict[tuple[str, str], dict[str, str]]:
    r = c.get("/", params=params)
    assert r.status_code == 200, r.text
    return {(m.group(1), m.group(2)): dict(_CELL.findall(m.group(3))) for m in _ROW.finditer(r.text)}


def _post(c: TestClient, note: str, lang: str, e: dict, action: str, text: str):
    return c.post("/api/entry", json={"path": note, "lang": lang, "action": action, "msgid": e["msgid"],
                                      "msgctxt": e["msgctxt"], "version": e["version"], "text": text})


def _changed(before: bytes, after: bytes) -> list[str]:
    import difflib

    return [x for x in difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), n=0,
                                            lineterm="") if x[:1] in "+-" and x[:3] not in ("+++", "---")]


def test_list_numbers_are_those_of_stats_and_check(client) -> None:
    from kbtrans import check, stats

    c, _, root = client
    cfg = config.load(root)
    # a check error in one catalog: a translation that drops the source's markup, saved as a draft
    note, lang = "training/fill-in-the-middle.md", "en"
    e = next(x for x in _entry(c, note, lang)["entries"] if x["source_placeables"])
    assert _post(c, note, lang, e, "save", "dropped the markup").status_code == 200
    rows = _rows(c)
    report = stats.stats(cfg)
    assert set(rows) == {(n.note, n.lang) for n in report.notes}
    found: dict[str, list[int]] = {}
    for i in check.check(cfg).issues:
        found.setdefault(i.path, [0, 0])[i.severity != check.ERROR] += 1
    for n in report.notes:
        cells = rows[(n.note, n.lang)]
        assert {s: int(cells[s]) for s in ("reviewed", "machine", "fuzzy", "untranslated")} == {
            s: getattr(n.segments, s) for s in ("reviewed", "machine", "fuzzy", "untranslated")}, n
        assert [int(cells["errors"]), int(cells["warnings"])] == found.get(n.catalog, [0, 0]), n
    assert int(rows[(note, lang)]["errors"]) >= 1


def test_filters_by_status_folder_errors_and_search(client) -> None:
    c, _, root = client
    everything = _rows(c)
    assert len(everything) > 3 and all(int(v["machine"]) > 0 for v in everything.values())
    assert _rows(c, status="reviewed") == {}
    assert set(_rows(c, status="machine")) == set(everything)
    assert set(_rows(c, folder="training")) == {k for k in everything if k[0].startswith("training/")}
    assert set(_rows(c, folder=".")) == {k for k in everything if "/" not in k[0]}
    assert set(_rows(c, lang="ru")) == {k for k in everything if k[1] == "ru"}
    assert _rows(c, errors="1") == {}

    note, lang = "training/fill-in-the-middle.md", "en"
    entries = _entry(c, note, lang)["entries"]
    plain = next(x for x in entries if not x["source_placeables"] and not x["findings"] and x["msgstr"] != x["msgid"])
    marked = next(x for x in entries if x["source_placeables"])
    assert _post(c, note, lang, plain, "accept", "Zebra crossing in the review").status_code == 200
    assert _post(c, note, lang, marked, "save", "no markup left").status_code == 200
    assert set(_rows(c, status="reviewed")) == {(note, lang)}
    assert set(_rows(c, errors="1")) == {(note, lang)}
    assert set(_rows(c, errors="1", folder="evaluation")) == set()
    # search looks in the translations (case-insensitive) and in the sources
    assert set(_rows(c, q="zEBRA CROSSING")) == {(note, lang)}
    source_word = "Инфиллинг"
    assert (note, lang) in _rows(c, q=source_word.lower())
    assert all(source_word.casefold() in (root / "content" / n).read_text(encoding="utf-8").casefold()
               for n, _ in _rows(c, q=source_word))
    assert _rows(c, q="no such words anywhere in the kb") == {}
    r = c.get("/", params={"status": "bogus"})
    assert r.status_code == 400 and "unknown status" in r.text


def test_list_pages(client, monkeypatch) -> None:
    from kbtrans.review import data

    c, _, _ = client
    everything = list(_rows(c))
    monkeypatch.setattr(data, "PAGE_SIZE", 4)
    seen: list[tuple[str, str]] = []
    page = 1
    while True:
        r = c.get("/", params={"page": str(page)})
        rows = [(m.group(1), m.group(2)) for m in _ROW.finditer(r.text)]
        assert len(rows) <= 4
        seen += rows
        if 'id="next-page"' not in r.text:
            break
        page += 1
    assert seen == everything and page == -(-len(everything) // 4)
    assert c.get("/", params={"page": "x"}).status_code == 400


def test_revert_restores_the_machine_translation(client) -> None:
    c, _, root = client
    note, lang = _first_note(c)
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    before = po.read_bytes()
    e = next(x for x in _entry(c, note, lang)["entries"] if x["category"] == "machine" and x["msgstr"] != x["msgid"])
    assert e["machine"] == e["msgstr"]
    r = _post(c, note, lang, e, "save", "A reviewer's rewrite")
    assert r.status_code == 200 and r.json()["entry"]["category"] == "reviewed"
    assert po.read_bytes() != before
    r = _post(c, note, lang, r.json()["entry"], "revert", "")
    assert r.status_code == 200, r.text
    assert r.json()["entry"]["msgstr"] == e["msgstr"] and r.json()["entry"]["category"] == "machine"
    # the machine translation is back, fuzzy again: the file is as it was, byte for byte
    assert po.read_bytes() == before


def test_revert_without_a_machine_translation_is_refused(client) -> None:
    c, _, root = client
    note, lang = _first_note(c)
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    e = next(x for x in _entry(c, note, lang)["entries"] if x["category"] == "machine")
    assert _post(c, note, lang, e, "accept", e["msgstr"]).status_code == 200
    # a new session has seen only the reviewed text: nothing to revert to
    sec = security(PORT)
    fresh = TestClient(create_app(Review(config.load(root)), sec), base_url=BASE)
    fresh.cookies.set(COOKIE, sec.token)
    fresh.headers["X-CSRF-Token"] = sec.csrf
    e2 = next(x for x in _entry(fresh, note, lang)["entries"] if x["msgid"] == e["msgid"])
    assert e2["category"] == "reviewed" and e2["machine"] is None
    before = po.read_bytes()
    r = _post(fresh, note, lang, e2, "revert", "")
    assert r.status_code == 409 and "nothing to revert to" in r.json()["error"]
    assert po.read_bytes() == before


def test_translator_comment_is_written_and_only_it(client) -> None:
    c, _, root = client
    note, lang = _first_note(c)
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    before = po.read_bytes()
    e = _entry(c, note, lang)["entries"][3]
    r = _post(c, note, lang, e, "comment", "  check the term with the glossary  ")
    assert r.status_code == 200, r.text
    assert _changed(before, po.read_bytes()) == ["+# check the term with the glossary"]
    m = next(x for x in catalog.read(po) if x.msgid == e["msgid"])
    assert m.fuzzy and m.msgstr == e["msgstr"]
    page = _entry(c, note, lang)
    shown = next(x for x in page["entries"] if x["msgid"] == e["msgid"])
    assert shown["tcomment"] == "check the term with the glossary"


def test_a_warning_can_be_accepted(client) -> None:
    c, _, root = client
    note, lang = "training/fill-in-the-middle.md", "en"
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    before = po.read_bytes()
    e = next(x for x in _entry(c, note, lang)["entries"]
             if x["findings"] and all(f["severity"] == "warning" for f in x["findings"]))
    r = _post(c, note, lang, e, "accept", e["msgstr"])
    assert r.status_code == 200, r.text
    assert r.json()["entry"]["category"] == "reviewed" and r.json()["entry"]["findings"] == e["findings"]
    changed = _changed(before, po.read_bytes())
    # only the flag line of that entry: fuzzy is gone, the other flags stay
    assert len(changed) == 2 and changed[0].startswith("-#, ") and "fuzzy" in changed[0], changed
    assert changed[1] == "+" + changed[0][1:].replace("fuzzy, ", "").replace(", fuzzy", ""), changed


def test_live_findings_are_those_of_check(client) -> None:
    """What the page shows as the reviewer types is what `kbtrans check` reports once the text is saved."""
    from kbtrans import check

    c, _, root = client
    cfg = config.load(root)
    note, lang = "training/fill-in-the-middle.md", "en"
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    e = next(x for x in _entry(c, note, lang)["entries"] if len(x["source_placeables"]) >= 2)
    marks = [p["text"] for p in e["source_placeables"]]
    texts = ["no markup at all", " ".join(marks) + "  twice  spaced", e["msgstr"], "Plain. " + " ".join(marks),
             '<img src=x onerror=alert(1)> ' + " ".join(marks)]
    seen_codes: set[str] = set()
    for text in texts:
        live = c.post("/api/check", json={"path": note, "lang": lang, "msgid": e["msgid"], "msgstr": text})
        assert live.status_code == 200
        shown = sorted((f["severity"], f["code"], f["message"]) for f in live.json()["findings"])
        current = next(x for x in _entry(c, note, lang)["entries"] if x["msgid"] == e["msgid"])
        assert _post(c, note, lang, current, "save", text).status_code == 200
        line = next(m.line for m in catalog.read(po) if m.msgid == e["msgid"])
        reported = sorted((i.severity, i.code, i.message) for i in check.check(cfg, [lang]).issues
                          if i.path == cfg.display(po) and i.line == line)
        assert shown == reported, text
        seen_codes |= {code for _, code, _ in shown}
    assert len(seen_codes) >= 3, seen_codes  # the texts did exercise several checks


def test_list_follows_catalogs_changed_by_another_tool(client) -> None:
    """The list's counts are kept per catalog under its stamps: a catalog rewritten outside the page (Poedit,
    `kbtrans translate`) is counted and checked again, the others are not read."""
    c, _, root = client
    note, lang = "training/fill-in-the-middle.md", "en"
    before = _rows(c)[(note, lang)]
    assert before["errors"] == "0"
    po = catalog.catalog_path(root / "locales", lang, note[:-3])
    _, states = catalog.entry_states(po)
    cfg = config.load(root)
    seg = next(s for s in states if s.msgstr and s.fuzzy and "[[" in s.msgid)
    plain = next(s for s in states if s.msgstr and s.fuzzy and s is not seg)
    catalog.update_entries(po, [catalog.Edit(seg.msgid, seg.msgctxt, "links dropped", expect=seg),
                                catalog.Edit(plain.msgid, plain.msgctxt, fuzzy=False, expect=plain)], wrap=cfg.wrap)
    after = _rows(c)[(note, lang)]
    assert int(after["reviewed"]) == int(before["reviewed"]) + 1
    assert int(after["machine"]) == int(before["machine"]) - 1
    assert int(after["errors"]) >= 1
    assert set(_rows(c, errors="1")) == {(note, lang)}
    assert (note, lang) in _rows(c, q="links dropped")
