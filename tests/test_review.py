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
    app = create_app(Review(config.load(translated_kb)), sec)
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
