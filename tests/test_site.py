"""``kbtrans build --site mkdocs|hugo``: the real generators (MkDocs + Material + mkdocs-static-i18n, Debian's
Hugo) build the site, and its HTML is parsed: both languages of every note, the language switcher, and every
internal link and anchor resolve to a file and an element id of the output."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import REPO

HUGO = shutil.which("hugo") or "/usr/bin/hugo"
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}


def _have_mkdocs() -> bool:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocs_static_i18n  # noqa: F401
    except ImportError:
        return False
    return True


needs_mkdocs = pytest.mark.skipif(not _have_mkdocs(), reason="mkdocs, mkdocs-material or mkdocs-static-i18n "
                                  "is not installed (pip install -e '.[test]')")
needs_hugo = pytest.mark.skipif(not Path(HUGO).is_file(), reason="no hugo (apt-get install hugo)")


def run_mkdocs(site: Path) -> str:
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(site / "mkdocs.yml")],
                       capture_output=True, text=True, env=ENV, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    return out


def run_hugo(site: Path) -> str:
    r = subprocess.run([HUGO, "-s", str(site)], capture_output=True, text=True, env=ENV, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    return out


def hugo_warnings(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("WARN", "ERROR"))]


def mkdocs_warnings(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("WARNING", "ERROR"))]


# --- the HTML -----------------------------------------------------------------------------------------------


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, dict[str, str]]] = []  # (url, attributes)
        self.lang = ""
        self.classes: set[str] = set()
        self.text: list[str] = []
        self.heading_ids: list[str] = []  # ids of the headings of the page's article, in order
        self._article = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        if tag == "article":
            self._article += 1
        if self._article and tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading_ids.append(a.get("id", ""))
        if tag == "html":
            self.lang = a.get("lang", "")
        self.classes.update(a.get("class", "").split())
        for key in ("href", "src"):
            if key in a and tag in ("a", "img", "link", "script"):
                self.links.append((a[key], {**a, "tag": tag}))

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._article -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_site(public: Path) -> dict[str, _Html]:
    """Every HTML page of ``public``, by its path relative to it."""
    pages = {}
    for path in sorted(public.rglob("*.html")):
        p = _Html()
        p.feed(path.read_text("utf-8"))
        pages[path.relative_to(public).as_posix()] = p
    return pages


def resolve(page: str, url: str) -> tuple[str, str] | None:
    """(file relative to the site root, fragment) a link of ``page`` points at; None for an external link."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:", "data:")):
        return None
    path = unquote(parts.path)
    if not path:
        target = page
    else:
        base = posixpath.dirname(page)
        joined = path.lstrip("/") if path.startswith("/") else posixpath.join(base, path)
        target = posixpath.normpath(joined)
        if target == ".":
            target = ""
        if path.endswith("/") or not posixpath.splitext(target)[1]:
            target = posixpath.join(target, "index.html")
    return target, unquote(parts.fragment)


def broken_links(public: Path, pages: dict[str, _Html]) -> list[str]:
    broken = []
    for name, page in pages.items():
        if name == "404.html":
            continue  # MkDocs writes it for the site's root URL, with links from there
        for url, _ in page.links:
            found = resolve(name, url)
            if found is None:
                continue
            target, frag = found
            if not (public / target).is_file():
                broken.append(f"{name}: {url} → no file {target}")
            elif frag and target.endswith(".html") and frag not in pages[target].ids:
                broken.append(f"{name}: {url} → no id {frag!r} in {target}")
    return broken


def page_of(rel: str, lang: str, default: str = "ru") -> str:
    """Where both generators put the page of note ``rel`` in ``lang`` (directory URLs)."""
    stem = rel[:-3]
    prefix = "" if lang == default else f"{lang}/"
    if posixpath.basename(stem) == "index":
        stem = posixpath.dirname(stem)
    return posixpath.join(prefix + stem, "index.html") if stem else prefix + "index.html"


def switcher(page: _Html, kind: str) -> dict[str, str]:
    """hreflang → href of the page's language switcher."""
    mark = "md-select__link" if kind == "mkdocs" else "kbtrans-language"
    return {a["hreflang"]: url for url, a in page.links
            if a["tag"] == "a" and mark in a.get("class", "").split() and "hreflang" in a}


# --- the sample knowledge base ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample KB (content/ and its human translations) built once as an MkDocs site and a Hugo site."""
    from kbtrans.cli import app  # noqa: F401  (imported: the CLI is run in-process below)

    root = tmp_path_factory.mktemp("site") / "kb"
    shutil.copytree(REPO / "content", root / "content")
    shutil.copytree(REPO / "locales", root / "locales")
    shutil.copy(REPO / "glossary.csv", root / "glossary.csv")
    out = {}
    for kind in ("mkdocs", "hugo"):
        (root / "kbtrans.toml").write_text(f'site_output = "build/{kind}"\n', "utf-8")
        r = _cli("-C", root, "build", "--strict", "--site", kind, "-j", "1")
        assert r[0] == 0, r[1]
        assert "warning" not in r[1], r[1]
        out[kind] = root / "build" / kind
    out["root"] = root
    return out


def _cli(*args: str | Path) -> tuple[int, str]:
    """``kbtrans ARGS`` in a subprocess-free way (the module fixture cannot use the function-scoped ``cli``)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from kbtrans import cli as cli_mod

    out, err = io.StringIO(), io.StringIO()
    code = 0
    argv = sys.argv
    try:
        sys.argv = ["kbtrans", *map(str, args)]
        with redirect_stdout(out), redirect_stderr(err):
            cli_mod.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue() + err.getvalue()


SAMPLE_NOTES = sorted(p.relative_to(REPO / "content").as_posix() for p in (REPO / "content").rglob("*.md"))


@pytest.fixture(scope="module")
def mkdocs_public(sample_sites: dict[str, Path]) -> tuple[Path, dict[str, _Html]]:
    if not _have_mkdocs():
        pytest.skip("mkdocs, mkdocs-material or mkdocs-static-i18n is not installed (pip install -e '.[test]')")
    out = run_mkdocs(sample_sites["mkdocs"])
    assert not mkdocs_warnings(out), out
    public = sample_sites["mkdocs"] / "site"
    return public, parse_site(public)


@pytest.fixture(scope="module")
def hugo_public(sample_sites: dict[str, Path]) -> tuple[Path, dict[str, _Html]]:
    if not Path(HUGO).is_file():
        pytest.skip("no hugo (apt-get install hugo)")
    out = run_hugo(sample_sites["hugo"])
    assert not hugo_warnings(out), out
    public = sample_sites["hugo"] / "public"
    return public, parse_site(public)


@pytest.fixture(params=["mkdocs", "hugo"])
def public(request: pytest.FixtureRequest) -> tuple[str, Path, dict[str, _Html]]:
    return (request.param, *request.getfixturevalue(f"{request.param}_public"))


def test_layouts_and_configs(sample_sites: dict[str, Path]) -> None:
    mk, hugo = sample_sites["mkdocs"], sample_sites["hugo"]
    assert (mk / "docs/training/tokenization.en.md").is_file() and (mk / "docs/training/tokenization.ru.md").is_file()
    assert (mk / "docs/attachments/pipeline.svg").is_file()
    assert "docs_structure: suffix" in (mk / "mkdocs.yml").read_text("utf-8")
    assert (hugo / "content/en/training/tokenization.md").is_file()
    assert (hugo / "content/ru/_index.md").is_file()  # the vault's index.md is Hugo's home page
    assert (hugo / "static/attachments/pipeline.svg").is_file()
    assert not list(hugo.glob("content/*/attachments"))  # attachments once
    toml = (hugo / "hugo.toml").read_text("utf-8")
    assert 'contentDir = "content/en"' in toml and 'defaultContentLanguage = "ru"' in toml
    en = (hugo / "content/en/evaluation/humaneval-pass-at-k.md").read_text("utf-8")
    assert 'translationKey: "evaluation/humaneval-pass-at-k"' in en and 'title: "HumanEval and the pass@k metric"' in en
    # Obsidian syntax is gone: no wikilink, comment or block id is left outside code
    for path in [*mk.rglob("*.md"), *hugo.rglob("*.md")]:
        text = path.read_text("utf-8")
        assert "[[" not in text.replace("`[[glossary#^fim]]`", ""), path
        assert "%%" not in text and "[!tip]" not in text and " ^dedup" not in text, path


@needs_mkdocs
@needs_hugo
def test_every_note_in_both_languages(public: tuple[str, Path, dict[str, _Html]]) -> None:
    kind, _, pages = public
    for rel in SAMPLE_NOTES:
        for lang in ("ru", "en"):
            name = page_of(rel, lang)
            assert name in pages, f"{kind}: no {name} for {rel} ({lang})"
            assert pages[name].lang.split("-")[0] == lang, (kind, name, pages[name].lang)
    en = "".join(pages[page_of("training/pretraining-data.md", "en")].text)
    ru = "".join(pages[page_of("training/pretraining-data.md", "ru")].text)
    assert "Deduplication" in en and "Дедупликация" in ru


@needs_mkdocs
@needs_hugo
def test_language_switcher_points_at_the_same_page(public: tuple[str, Path, dict[str, _Html]]) -> None:
    kind, _, pages = public
    for rel in SAMPLE_NOTES:
        for lang, other in (("ru", "en"), ("en", "ru")):
            name = page_of(rel, lang)
            links = switcher(pages[name], kind)
            assert other in links, f"{kind}: {name} has no switcher link to {other}: {links}"
            target = resolve(name, links[other])
            assert target is not None and target[0] == page_of(rel, other), (kind, name, links[other])


@needs_mkdocs
@needs_hugo
def test_every_internal_link_and_anchor_resolves(public: tuple[str, Path, dict[str, _Html]]) -> None:
    _, root, pages = public
    assert broken_links(root, pages) == []
    # and the links that matter are there: a wikilink to a translated heading of another note
    en = pages[page_of("index.md", "en")]
    hrefs = [resolve("en/index.html", url) for url, a in en.links if a["tag"] == "a"]
    assert ("en/evaluation/humaneval-pass-at-k/index.html", "the-estimator") in hrefs, hrefs
    ru = pages[page_of("index.md", "ru")]
    hrefs = [resolve("index.html", url) for url, a in ru.links if a["tag"] == "a"]
    assert ("evaluation/humaneval-pass-at-k/index.html", "формула-оценки") in hrefs, hrefs
    assert ("glossary/index.html", "block-pass-at-k") in hrefs, hrefs
    imgs = [resolve("en/index.html", url) for url, a in en.links if a["tag"] == "img"]
    assert ("attachments/pipeline.svg", "") in imgs, imgs


@needs_mkdocs
@needs_hugo
def test_anchors_are_the_ids_the_generator_gave_the_headings(public: tuple[str, Path, dict[str, _Html]],
                                                             sample_sites: dict[str, Path]) -> None:
    """kbtrans' slugs of every heading of every page equal the ids in the generator's HTML, in order."""
    import dataclasses

    from kbtrans import config, site

    kind, _, pages = public
    cfg = dataclasses.replace(config.load(sample_sites["root"]), site_output=f"build/{kind}")
    s = site._Site(cfg, kind, "suffix", cfg.languages)
    s.load(False)
    compared = 0
    for (rel, lang), page in s.pages.items():
        html = pages[page_of(rel, lang)]
        assert [slug for _, slug in page.headings] == html.heading_ids, (kind, rel, lang)
        compared += len(page.headings)
    assert compared > 100


# --- notes written here ------------------------------------------------------------------------------------------

NOTES = {
    "topics/callouts.md": (
        "---\r\ntitle: Выноски и таблицы\r\nlang: ru\r\n---\r\n\r\n# Выноски и таблицы\r\n\r\n"
        "> [!note] Заметка со ссылкой\r\n> Текст со ссылкой на [[other#Раздел: два|другую заметку]] и `[[код]]`.\r\n"
        ">\r\n> ```python\r\n> x = 1  # %%не комментарий%%\r\n> ```\r\n\r\n"
        "> [!warning]- Свёрнутая\r\n> Внутри ==выделение== и сноска[^1].\r\n\r\n"
        "| Термин | Ссылка |\r\n|---|---|\r\n| первый | [[other\\|другая]] |\r\n"
        "| второй | [[#Раздел (с `кодом`)]] |\r\n"
        "\r\n## Раздел (с `кодом`)\r\n\r\nАбзац с блоком. ^blk1\r\n\r\n## Раздел (с `кодом`)\r\n\r\n"
        "Дубликат заголовка: [[#^blk1|блок]]. %%скрытый комментарий%%\r\n\r\n"
        "![[picture.svg|картинка]]\r\n\r\n![[other#Раздел: два]]\r\n\r\n"
        "[^1]: Сноска с [[other]].\r\n\r\n"
        "## Сайт [пример](https://example.com \"T\") и \\*звёзды\\* &copy; <https://e.org/p> ==жёлтый==\r\n"),
    "topics/other.md": (
        "---\nlang: ru\n---\n# Другая заметка\n\n## Раздел: два\n\nСсылка назад: [[callouts#Раздел (с `кодом`)]] и "
        "[Markdown](callouts.md#раздел-с-кодом).\n\n%%\nмногострочный\nкомментарий\n%%\n\n"
        "## Клавиши <kbd>Ctrl</kbd> &amp; **жирный** [[callouts|ссылка]]\n\n"
        "> [!info] Заголовок выноски\n> ### Заголовок внутри выноски\n> Текст, [[picture.svg|файл]].\n\n"
        "Ссылки: [по ссылке][r] и [[#Заголовок внутри выноски]].\n\n"
        "[r]: callouts.md#раздел-с-кодом \"Выноски\"\n"),
}


@pytest.fixture(scope="module")
def own_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KB of notes written here: other.md is machine-translated (the pseudo engine: fuzzy, with provenance),
    callouts.md is not translated, so its English page falls back to Russian."""
    from kbtrans import config, extract

    root = tmp_path_factory.mktemp("own") / "kb"
    for rel, text in NOTES.items():
        (root / "content" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "content" / rel).write_bytes(text.encode("utf-8"))
    (root / "content/topics/picture.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "utf-8")
    extract.extract(config.load(root))
    code, out = _cli("-C", root, "translate", "--engine", "pseudo", "--note", "topics/other.md")
    assert code == 0, out
    return root


@needs_mkdocs
@needs_hugo
@pytest.mark.parametrize("kind,layout", [("mkdocs", "suffix"), ("mkdocs", "folder"), ("hugo", "suffix")])
def test_unseen_notes_build_without_a_warning(own_kb: Path, kind: str, layout: str) -> None:
    (own_kb / "kbtrans.toml").write_text(f'site = "{kind}"\nsite_output = "build/{kind}-{layout}"\n'
                                         f'site_layout = "{layout}"\n', "utf-8")
    code, out = _cli("-C", own_kb, "build", "-j", "1")
    assert code == 0, out
    assert "link" not in out, out  # no link warning (build warns that the catalogs are untranslated: not here)
    site = own_kb / "build" / f"{kind}-{layout}"
    if kind == "mkdocs":
        log = run_mkdocs(site)
        assert not mkdocs_warnings(log), log
        public = site / "site"
    else:
        log = run_hugo(site)
        assert not hugo_warnings(log), log
        public = site / "public"
    pages = parse_site(public)
    assert broken_links(public, pages) == []
    ru, en = pages["topics/callouts/index.html"], pages["en/topics/callouts/index.html"]
    # every link of the note is there and lands on an element: the duplicate heading, the block, the other note
    targets = {resolve("topics/callouts/index.html", url) for url, a in ru.links if a["tag"] == "a"}
    assert ("topics/callouts/index.html", "раздел-с-кодом") in targets, targets  # the first of the two
    assert {"раздел-с-кодом", "раздел-с-кодом_1" if kind == "mkdocs" else "раздел-с-кодом-1"} <= set(ru.heading_ids)
    assert ("topics/callouts/index.html", "block-blk1") in targets, targets
    assert ("topics/other/index.html", "раздел-два") in targets, targets
    other_ru = pages["topics/other/index.html"]
    targets = {resolve("topics/other/index.html", url) for url, a in other_ru.links if a["tag"] == "a"}
    assert ("topics/callouts/index.html", "раздел-с-кодом") in targets, targets  # by a reference definition
    assert ("topics/other/index.html", "заголовок-внутри-выноски") in targets, targets
    assert ("topics/picture.svg", "") in targets, targets  # a wikilink to an attachment
    assert any(a["tag"] == "img" and resolve("topics/callouts/index.html", u) == ("topics/picture.svg", "")
               for u, a in ru.links) or kind == "mkdocs"
    text = "".join(ru.text)
    assert "скрытый комментарий" not in text and "многострочный" not in "".join(
        pages["topics/other/index.html"].text)
    assert "%%не комментарий%%" in text  # code is code
    assert "выделение" in text and "==выделение==" not in text
    html = (public / "topics/callouts/index.html").read_text("utf-8")
    assert "<mark>выделение</mark>" in html
    assert ("admonition" in ru.classes) if kind == "mkdocs" else ("<blockquote>" in html)
    # the banner: English pages fell back to the source (nothing is translated); Russian ones did not
    assert "kbtrans-banner" in en.classes and "Not fully translated" in "".join(en.text)
    assert "kbtrans-banner" not in ru.classes
    other = pages["en/topics/other/index.html"]
    assert "kbtrans-banner" in other.classes and "Machine translation" in "".join(other.text)
    assert "kbtrans-banner" not in pages["topics/other/index.html"].classes
    name = {"mkdocs-suffix": "docs/topics/callouts.en.md", "mkdocs-folder": "docs/en/topics/callouts.md",
            "hugo-suffix": "content/en/topics/callouts.md"}[f"{kind}-{layout}"]
    md = (site / name).read_text("utf-8")
    assert "fallback: true" in md and "machine_translated" not in md and "\r" not in md
    md = (site / name.replace("callouts", "other")).read_text("utf-8")
    assert "machine_translated: true" in md and "fallback" not in md
    # the anchors kbtrans wrote are the ids the generator gave the headings
    import dataclasses

    from kbtrans import config
    from kbtrans import site as site_mod

    cfg = dataclasses.replace(config.load(own_kb), site_output=f"build/{kind}-{layout}")
    s = site_mod._Site(cfg, kind, layout, cfg.languages)
    s.load(False)
    for (rel, lang), page in s.pages.items():
        assert [slug for _, slug in page.headings] == pages[page_of(rel, lang)].heading_ids, (rel, lang)


def test_slugs_match_the_generators_on_tricky_headings() -> None:
    from kbtrans.site import hugo_slug, mkdocs_slug

    assert mkdocs_slug("Раздел (с кодом)") == "раздел-с-кодом"
    assert mkdocs_slug("A -- B  c") == "a-b-c"
    assert hugo_slug("A -- B  c") == "a----b--c"
    assert hugo_slug("Раздел: два") == "раздел-два"


def test_broken_links_are_warnings_naming_file_and_line_and_errors_with_strict(kb: Path) -> None:
    from kbtrans import config, extract

    (kb / "content/a.md").write_text("---\nlang: en\n---\n# A\n\nSee [[missing]].\n\nAnd [[b#Nowhere]] "
                                     "and [x](b.md#nope).\n", "utf-8")
    (kb / "content/b.md").write_text("---\nlang: en\n---\n# B\n\n## Here\n", "utf-8")
    extract.extract(config.load(kb))
    code, out = _cli("-C", kb, "build", "--site", "hugo", "-j", "1")
    assert code == 0, out
    assert "content/a.md:6: link [[missing]]: no note 'missing'" in out, out
    assert "content/a.md:8: link [[b#Nowhere]]: no heading 'Nowhere' in b.md (en)" in out, out
    assert "content/a.md:8: link ](b.md#nope): no heading #nope in b.md (en)" in out, out
    code, out = _cli("-C", kb, "build", "--site", "hugo", "--strict", "-j", "1")
    assert code == 1, out
    assert "site warnings (broken links or anchors) and --strict is set" in out, out
    code, out = _cli("-C", kb, "build", "--site", "hugo", "--format", "github", "-j", "1")
    assert code == 0, out
    assert "::warning file=content/a.md,line=6,title=kbtrans build --site::link [[missing]]: no note" in out, out


def test_a_config_of_the_user_is_left_alone_and_missing_keys_named(kb: Path) -> None:
    from kbtrans import config, extract

    (kb / "content/a.md").write_text("# A\n\nText.\n", "utf-8")
    extract.extract(config.load(kb))
    code, out = _cli("-C", kb, "build", "--site", "mkdocs", "-j", "1")
    assert code == 0, out
    yml = kb / "build/site/mkdocs.yml"
    generated = yml.read_text("utf-8")
    code, out = _cli("-C", kb, "build", "--site", "mkdocs", "-j", "1")  # ours: rewritten, no warning
    assert code == 0 and "warning" not in out, out
    yml.write_text("site_name: mine\ntheme:\n  name: material\n", "utf-8")
    code, out = _cli("-C", kb, "build", "--site", "mkdocs", "-j", "1")
    assert code == 0, out
    assert yml.read_text("utf-8") == "site_name: mine\ntheme:\n  name: material\n"
    assert "build/site/mkdocs.yml: is yours, so kbtrans left it alone, but the site needs: docs_dir: docs;" in out
    assert "plugins: - i18n" in out and "theme: name: material" not in out
    assert generated.startswith("# Generated by `kbtrans build --site mkdocs`")


def test_a_hugo_config_of_the_user_names_what_it_lacks(kb: Path) -> None:
    from kbtrans import config, extract

    (kb / "content/a.md").write_text("# A\n\nText.\n", "utf-8")
    extract.extract(config.load(kb))
    (kb / "build/site").mkdir(parents=True)
    (kb / "build/site/hugo.toml").write_text('title = "mine"\n[languages.en]\ncontentDir = "content/en"\n', "utf-8")
    code, out = _cli("-C", kb, "build", "--site", "hugo", "-j", "1")
    assert code == 0, out
    assert (kb / "build/site/hugo.toml").read_text("utf-8").startswith('title = "mine"')
    assert ('build/site/hugo.toml: is yours, so kbtrans left it alone, but the site needs: defaultContentLanguage = '
            '"ru"; [languages.ru] contentDir = "content/ru"; theme = "kbtrans" (or layouts of your own); '
            "[markup.goldmark.renderer] unsafe = true.") in out, out


@needs_hugo
def test_pages_of_a_removed_note_go_and_shortcodes_in_notes_stay_text(kb: Path) -> None:
    from kbtrans import config, extract

    (kb / "content/a.md").write_text("---\nlang: en\n---\n# A\n\nWrite `{{< ref \"x\" >}}` in Hugo.\n\n"
                                     "```go\n{{< figure src=\"y\" >}}\n```\n", "utf-8")
    (kb / "content/b.md").write_text("---\nlang: en\n---\n# B\n", "utf-8")
    extract.extract(config.load(kb))
    code, out = _cli("-C", kb, "build", "--site", "hugo", "-j", "1")
    assert code == 0, out
    assert (kb / "build/site/content/ru/b.md").is_file()
    log = run_hugo(kb / "build/site")
    assert not hugo_warnings(log), log
    html = (kb / "build/site/public/a/index.html").read_text("utf-8")
    assert "<code>{{&lt; ref &quot;x&quot; &gt;}}</code>" in html, html
    assert re.sub(r"<[^>]+>", "", html).count("{{&lt; figure src=&#34;y&#34; &gt;}}") == 1, html
    (kb / "content/b.md").unlink()
    code, out = _cli("-C", kb, "build", "--site", "hugo", "-j", "1")
    assert code == 0, out
    assert not (kb / "build/site/content/ru/b.md").exists() and not (kb / "build/site/content/en/b.md").exists()
    assert "2 removed" in out.splitlines()[-1], out


def test_bad_site_values_are_config_errors(kb: Path) -> None:
    (kb / "kbtrans.toml").write_text('site = "jekyll"\n', "utf-8")
    code, out = _cli("-C", kb, "build")
    assert code == 1 and "'site' must be vault, mkdocs or hugo, got 'jekyll'" in out, out
    (kb / "kbtrans.toml").write_text('site = "hugo"\nsite_output = "content"\n', "utf-8")
    code, out = _cli("-C", kb, "build")
    assert code == 1 and "the site folder content overlaps the `content` folder" in out, out


# --- in the browser (and the README's screenshots) ------------------------------------------------------------

CHROMIUM = os.environ.get("KBTRANS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: The README's screenshots are retaken with KBTRANS_SCREENSHOTS=1 (else they go to a temporary folder).
DOCS = (REPO / "docs" if os.environ.get("KBTRANS_SCREENSHOTS") == "1"
        else Path(__import__("tempfile").gettempdir()) / "kbtrans-screenshots")


@needs_mkdocs
def test_site_in_the_browser_switches_language(mkdocs_public: tuple[Path, dict[str, _Html]]) -> None:
    """Chromium (Debian's, via Playwright) opens a page of the MkDocs site over HTTP, follows the language
    switcher to the same page in English, and the README's screenshots are taken of both."""
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[review-test]')")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set KBTRANS_CHROMIUM)")
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    root, _ = mkdocs_public
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    DOCS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(base + "training/fill-in-the-middle/")
            assert page.locator("html").get_attribute("lang") == "ru"
            assert page.locator("h1").first.inner_text().startswith("Fill-in-the-middle")
            page.screenshot(path=str(DOCS / "site-ru.png"))
            link = page.locator('a.md-select__link[hreflang="en"]')
            assert link.count() == 1
            link.evaluate("a => a.click()")
            page.wait_for_url(base + "en/training/fill-in-the-middle/")
            assert page.locator("html").get_attribute("lang") == "en"
            page.screenshot(path=str(DOCS / "site-en.png"))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (DOCS / "site-ru.png").stat().st_size > 10_000 and (DOCS / "site-en.png").stat().st_size > 10_000


@needs_hugo
@pytest.mark.slow
def test_a_real_obsidian_vault_publishes_with_hugo(tmp_path: Path) -> None:
    """The Obsidian Tasks vault of ../shared (205 notes: callouts, embeds, wikilinks to headings in folders, file
    names with spaces, quotes and commas): every internal link kbtrans wrote resolves in Hugo's HTML, except the
    images the corpus does not ship, and kbtrans warned about each of those."""
    from tests.conftest import shared_corpus

    corpus = shared_corpus("en-obsidian-tasks")
    root = tmp_path / "kb"
    shutil.copytree(corpus, root / "content", ignore=shutil.ignore_patterns("*.json"))
    (root / "kbtrans.toml").write_text('source_language = "en"\nsite = "hugo"\n', "utf-8")
    from kbtrans import config, extract

    extract.extract(config.load(root), jobs=1)
    code, out = _cli("-C", root, "build", "-j", "1")
    assert code == 0, out
    site = root / "build/site"
    serial = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    shutil.rmtree(site)
    code, out2 = _cli("-C", root, "build", "-j", "2")  # the pages converted in worker processes: the same site
    assert code == 0, out2
    assert {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()} == serial
    assert [w for w in out2.splitlines() if "link" in w] == [w for w in out.splitlines() if "link" in w]
    log = run_hugo(root / "build/site")
    assert not hugo_warnings(log), log
    public = root / "build/site/public"
    pages = parse_site(public)
    assert len(pages) > 400
    broken = broken_links(public, pages)
    targets = [b.rsplit(" → no file ", 1)[1] for b in broken]
    assert [t for t in targets if not t.lower().endswith((".png", ".svg", ".gif", ".jpg"))] == []
    assert len(targets) > 50
    for target in targets:  # each missing image was a build warning
        assert posixpath.basename(target) in out, target
