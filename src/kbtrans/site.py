"""``kbtrans build --site mkdocs|hugo``: the built locales as one bilingual website.

The built vaults (``build/<lang>/``) are turned into what a site generator renders, under ``site_output``:

- MkDocs (Material + mkdocs-static-i18n): ``docs/<note>.<lang>.md`` (``suffix``) or ``docs/<lang>/<note>.md``
  (``folder``), attachments once, and ``mkdocs.yml``;
- Hugo: ``content/<lang>/<note>.md`` (a ``contentDir`` per language), attachments once in ``static/``,
  ``hugo.toml`` and a minimal theme with a language switcher.

Obsidian syntax becomes what the generator renders: wikilinks become relative Markdown links to the same note
in the same language, their heading anchors the slug that generator computes; embeds of images become images,
embeds of notes links; callouts become admonitions (MkDocs) or blockquotes (Hugo); ``%%comments%%`` are
removed, ``==highlights==`` become ``<mark>``, block ids ``^id`` anchors (``id="block-id"``). A link to a note
or anchor that is not there is a warning naming the file and line. kbtrans does not import the generators.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import json
import posixpath
import re
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from kbtrans import anchors, build, catalog, lock, parallel, project
from kbtrans.config import Config
from kbtrans.errors import ConfigError, InternalError
from kbtrans.fsutil import write_if_changed

KINDS = ("mkdocs", "hugo")
LAYOUTS = ("suffix", "folder")
MANIFEST = ".kbtrans-site.json"

_LANGUAGE_NAMES = {"ru": "Русский", "en": "English", "de": "Deutsch", "fr": "Français", "es": "Español",
                   "uk": "Українська", "zh": "中文", "ja": "日本語", "it": "Italiano", "pt": "Português"}

#: Banner titles and texts per page language (English for the others).
_BANNERS = {
    "machine": {"en": ("Machine translation", "This page was machine-translated and is not fully reviewed yet."),
                "ru": ("Машинный перевод", "Эта страница переведена машинным переводом и ещё не вычитана.")},
    "fallback": {"en": ("Not fully translated", "Parts of this page are not translated yet and are shown in "
                                                "the original language."),
                 "ru": ("Перевод не завершён", "Часть этой страницы ещё не переведена и показана на языке "
                                               "оригинала.")},
}

#: Material admonition types (Obsidian callout types are mapped onto them; Material knows the aliases too).
_MATERIAL_TYPES = frozenset({"note", "abstract", "summary", "tldr", "info", "todo", "tip", "hint", "important",
                             "success", "check", "done", "question", "help", "faq", "warning", "caution",
                             "attention", "failure", "fail", "missing", "danger", "error", "bug", "example",
                             "quote", "cite"})


@dataclass(frozen=True)
class Page:
    """One note in one language, as the site gets it."""

    rel: str
    """The note's content-relative path."""
    lang: str
    """The page's language."""
    source: Path
    """The file it is converted from (the note, or its build in ``build/<lang>/``)."""
    text: str
    """Its text (LF line ends, no BOM)."""
    title: str
    """Front-matter title, else the first heading, else the file name."""
    description: str
    """Front-matter description (or summary), "" when none."""
    machine: bool = False
    """Some of its text is an unreviewed (fuzzy) translation."""
    fallback: bool = False
    """Some of its segments fell back to the source language."""
    headings: tuple[tuple[str, str], ...] = ()
    """(plain text of each heading, its anchor in the generator), in order."""
    heading_sources: tuple[str, ...] = ()
    """The inline Markdown of each heading, as the vault has it."""
    blocks: frozenset[str] = frozenset()
    """Block ids (``^id``) of the page."""


@dataclass(frozen=True)
class SiteReport:
    """What :func:`publish` did."""

    kind: str
    """``mkdocs`` or ``hugo``."""
    root: Path
    """The site folder."""
    pages: int
    """Pages written (notes × languages)."""
    written: tuple[Path, ...] = ()
    """Files created or changed."""
    removed: tuple[Path, ...] = ()
    """Files of an earlier site build that are gone now."""
    warnings: tuple[build.Problem, ...] = ()
    """Broken links and anchors (file and line), and a user config missing needed keys."""
    config: Path | None = None
    """The generator's config file, when kbtrans wrote it (None when it is the user's and was left alone)."""
    command: str = ""
    """The command that builds the site."""


# --- anchors as the generators compute them ----------------------------------------------------------------


def mkdocs_slug(text: str) -> str:
    """Python-Markdown's ``toc.slugify_unicode`` (the ``slugify`` the generated mkdocs.yml sets)."""
    value = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def hugo_slug(text: str) -> str:
    """Hugo's default ``autoHeadingIDType = "github"``: letters, digits and ``_`` lower-cased, spaces and
    hyphens to ``-``, everything else dropped."""
    out = []
    for ch in text.strip():
        if ch in "- ":
            out.append("-")
        elif ch == "_" or ch.isalpha() or ch.isdigit() or unicodedata.category(ch) == "Nd":
            out.append(ch.lower())
    return "".join(out)


def _hugo_path(name: str) -> str:
    """A file name as a Hugo 0.111 URL path segment: lower case, characters other than letters, digits, marks and
    ``._~+@#`` dropped, each run of spaces and hyphens one hyphen."""
    out: list[str] = []
    hyphen = False
    for ch in name:
        if ch.isalnum() or ch in "._~+@#" or unicodedata.category(ch).startswith("M"):
            if hyphen and out:
                out.append("-")
            hyphen = False
            out.append(ch.lower())
        elif ch == "-" or ch.isspace():
            hyphen = True
    return "".join(out)


def _unique_mkdocs(slug: str, used: set[str]) -> str:
    if slug and slug not in used:
        used.add(slug)
        return slug
    n = 1
    while f"{slug}_{n}" in used:
        n += 1
    used.add(f"{slug}_{n}")
    return f"{slug}_{n}"


def _unique_hugo(slug: str, used: dict[str, int]) -> str:
    if slug not in used:
        used[slug] = 0
        return slug
    while True:
        used[slug] += 1
        new = f"{slug}-{used[slug]}"
        if new not in used:
            used[new] = 0
            return new


# --- Markdown scanning ---------------------------------------------------------------------------------------

_FRONT = re.compile(r"\A---\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
_WIKI = re.compile(r"(!?)\[\[([^\[\]\n]*?)\]\]")
_MDLINK = re.compile(r"(!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\()(<[^<>\n]*>|[^()\s<>]+)((?:\s+\"[^\"\n]*\")?\))")
_HIGHLIGHT = re.compile(r"(?<![=\\])==(?![=\s])(.+?)(?<![=\s\\])==(?!=)")
_BLOCK_ID = re.compile(r"(^|\s)\^([A-Za-z0-9-]+)[ \t]*$")
_CALLOUT = re.compile(r"^((?:[ ]{0,3}))>[ ]?\[!([A-Za-z][\w-]*)\]([+-]?)[ \t]*(.*)$")
_REFDEF = re.compile(r"^( {0,3}\[(?!\^)[^\]]+\]:[ \t]*)(<[^<>\n]*>|\S+)(.*)$")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
_MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$\w])\$(?![\s$])[^$\n]+?(?<![\s\\])\$(?!\d)")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_TITLE = re.compile(r"^(title|description|summary)[ \t]*:[ \t]*(.*?)[ \t]*$", re.M)


def _front_matter(text: str) -> tuple[str, str, int]:
    """(front matter, body, lines before the body)."""
    m = _FRONT.match(text)
    if not m:
        return "", text, 0
    return m.group(1) or "", text[m.end():], m.group().count("\n")


def _yaml_scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if value[0] == '"':
            try:
                loaded = json.loads(value)
                return loaded if isinstance(loaded, str) else inner
            except ValueError:
                return inner
        return inner.replace("''", "'")
    return value


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    """A plain markdown-it parser with the plugins of kbtrans' segmenter (without its span recording)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.footnote import footnote_plugin

    from kbtrans.segment import MAX_NESTING

    md = MarkdownIt("commonmark", {"html": True, "maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
    md.use(footnote_plugin).use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    md.core.ruler.enableOnly(["normalize", "block"])  # blocks only: headings keep their inline source
    return md


@functools.lru_cache(maxsize=64)
def _scan(body: str) -> tuple[frozenset[int], tuple[tuple[str, str], ...]]:
    """(0-based lines of code, HTML and math blocks: never converted; (plain text, inline source) of every
    heading, ATX or setext, in quotes and lists too), from one parse of ``body``."""
    tokens = _parser().parse(body)
    lines: set[int] = set()
    heads = []
    for i, tok in enumerate(tokens):
        if tok.type in ("fence", "code_block", "html_block", "math_block", "math_block_label") and tok.map:
            lines.update(range(tok.map[0], tok.map[1]))
        elif tok.type == "heading_open":
            heads.append((_plain_heading(tokens[i + 1].content), tokens[i + 1].content))
    return frozenset(lines), tuple(heads)


def _protected_lines(body: str) -> frozenset[int]:
    return _scan(body)[0]


def _mask(line: str) -> tuple[str, list[str]]:
    """``line`` with code spans and math replaced by ``\\x00N\\x00`` (restored by :func:`_unmask`)."""
    kept: list[str] = []

    def hide(m: re.Match[str]) -> str:
        kept.append(m.group())
        return f"\x00{len(kept) - 1}\x00"

    return _MATH.sub(hide, _CODE_SPAN.sub(hide, line)), kept


def _unmask(line: str, kept: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], line)


def _plain_heading(text: str) -> str:
    """A heading's text as Obsidian names it in links: wikilinks as their text, markup and tags dropped."""
    text = _WIKI.sub(lambda m: _split_wiki(m.group(2))[2] or _split_wiki(m.group(2))[0].rsplit("#", 1)[-1], text)
    text = re.sub(r"%%.*?%%", "", text)
    text = _BLOCK_ID.sub("", text)
    return anchors.heading_plain(_outside_code(text, _strip_html))


def _outside_code(text: str, change: Callable[[str], str]) -> str:
    """``change`` applied to ``text`` outside its code spans."""
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(text):
        out += [change(text[pos:m.start()]), m.group()]
        pos = m.end()
    return "".join([*out, change(text[pos:])])


def _strip_html(text: str) -> str:
    """Autolinks as their text, other tags dropped, entities decoded."""
    text = re.sub(r"<([A-Za-z][\w+.-]+:[^<>\s]*|[^<>\s@]+@[^<>\s@]+)>", r"\1", text)
    return html.unescape(re.sub(r"</?[A-Za-z][^<>]*>", "", text))


def _split_wiki(inner: str) -> tuple[str, str, str]:
    """(note part, anchor part, alias) of a wikilink's inside (``\\|`` in tables counts as ``|``)."""
    target, sep, alias = inner.replace("\\|", "|").partition("|")
    note, _, anchor = target.partition("#")
    return note.strip(), anchor.strip(), alias.strip() if sep else ""


def _headings(body: str) -> tuple[tuple[str, str], ...]:
    return _scan(body)[1]


def _rendered_text(source: str) -> str:
    """The text of a heading's (converted) inline Markdown as rendered: link texts, no markup or tags."""
    text = _outside_code(source, lambda t: _strip_html(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", t)))
    return anchors.heading_plain(text)


def _loose(text: str) -> str:
    """A heading without punctuation, case or spacing differences."""
    return " ".join(re.sub(r"[^\w\s]", " ", text).split()).casefold()


def _norm(text: str) -> str:
    """A heading as wikilinks name it: case and spacing aside, without the characters a wikilink anchor
    cannot hold (``#|[]^``, dropped when build rewrote the anchor to the translated heading)."""
    return " ".join(re.sub(r"[#|\[\]^]", "", text).split()).casefold()


# --- the site --------------------------------------------------------------------------------------------------


class _Site:
    def __init__(self, cfg: Config, kind: str, layout: str, langs: tuple[str, ...]) -> None:
        self.cfg, self.kind, self.layout, self.langs = cfg, kind, layout, langs
        self.default = cfg.source_language if cfg.source_language in langs else langs[0]
        self.root = cfg.root / cfg.site_output
        self.inv = project.inventory(cfg)
        self.index = anchors.NoteIndex(self.inv.notes)
        self.pages: dict[tuple[str, str], Page] = {}
        att_names: dict[str, list[str]] = {}
        for a in self.inv.attachments:
            att_names.setdefault(posixpath.basename(a).casefold(), []).append(a)
        self.att_paths = {a.casefold(): a for a in self.inv.attachments}
        self.att_names = {k: v[0] for k, v in att_names.items() if len(v) == 1}
        self.warnings: list[build.Problem] = []
        ends: dict[str, list[str]] = {}
        for n in self.inv.notes:
            parts = n[:-3].casefold().split("/")
            for i in range(1, len(parts)):
                ends.setdefault("/".join(parts[i:]), []).append(n)
        self.ends = {k: v[0] for k, v in ends.items() if len(v) == 1}
        """Notes by a unique end of their path (``b/c`` for ``a/b/c.md``)."""

    # paths and URLs

    def file_of(self, rel: str, lang: str) -> str:
        """Where the page of ``rel`` in ``lang`` is written, relative to the site folder."""
        stem = rel[:-3]
        if self.kind == "mkdocs":
            return f"docs/{stem}.{lang}.md" if self.layout == "suffix" else f"docs/{lang}/{rel}"
        base = posixpath.basename(stem)
        if base.lower() == "index":
            stem = posixpath.join(posixpath.dirname(stem), "_index")
        return f"content/{lang}/{stem}.md"

    def attachment_file(self, rel: str) -> str:
        if self.kind == "mkdocs":
            return f"docs/{rel}" if self.layout == "suffix" else f"docs/{self.default}/{rel}"
        return f"static/{rel}"

    def _hugo_url(self, rel: str, lang: str) -> str:
        prefix = "/" if lang == self.default else f"/{lang}/"
        stem = rel[:-3]
        if posixpath.basename(stem).lower() == "index":
            stem = posixpath.dirname(stem)
        path = "/".join(_hugo_path(part) for part in stem.split("/") if part)
        return prefix + (path + "/" if path else "")

    def link(self, current: str, target: str, lang: str, fragment: str = "") -> str:
        """A relative link from the page of ``current`` to the page of ``target`` (a note, or an attachment
        when ``target`` does not end in .md), both in ``lang``."""
        frag = f"#{fragment}" if fragment else ""
        note = target.lower().endswith(".md")
        if self.kind == "mkdocs":
            if note:
                rel = posixpath.relpath(target, posixpath.dirname(current) or ".")
                return quote(rel) + frag
            here = posixpath.dirname(current)
            dest = target
            if self.layout == "folder" and lang != self.default:
                dest = posixpath.join("..", self.default, target)
            return quote(posixpath.relpath(dest, here or ".")) + frag
        here = self._hugo_url(current, lang)
        dest = self._hugo_url(target, lang) if note else "/" + target
        rel = posixpath.relpath(dest, here)
        if note:
            rel = "./" if rel == "." else rel + "/"
        return quote(rel) + frag

    # loading

    def load(self, reviewed_only: bool, jobs: int | None = None) -> None:
        """Read every built page (in worker processes for a large KB), then compute the anchors."""
        global _CURRENT
        _CURRENT = self
        try:
            for pages in parallel.pmap(partial(_load_note, reviewed_only), self.inv.notes, jobs=self._jobs(jobs)):
                self.pages.update(((p.rel, p.lang), p) for p in pages)
        finally:
            _CURRENT = None
        self._reslug()

    def _jobs(self, jobs: int | None) -> int | None:
        # Workers see this site by inheriting it (fork); elsewhere everything runs in this process.
        import multiprocessing

        return jobs if "fork" in multiprocessing.get_all_start_methods() else 1

    def convert_all(self, jobs: int | None = None) -> dict[str, bytes]:
        """Every page as written to the site (file → bytes); warnings are added to :attr:`warnings`."""
        global _CURRENT
        _CURRENT = self
        files: dict[str, bytes] = {}
        before, found = self.warnings, []
        try:
            for name, data, warnings in parallel.pmap(_convert_page, list(self.pages), jobs=self._jobs(jobs)):
                files[name] = data
                found.extend(warnings)
        finally:
            _CURRENT = None
            self.warnings = before + found
        return files

    def load_note(self, rel: str, reviewed_only: bool) -> list[Page]:
        """The pages of the note ``rel``, one per language it was built in."""
        note = None
        out = []
        for lang in self.langs:
            built = self.cfg.output_dir / lang / rel
            if not built.is_file():
                continue  # skipped by --min-translated: links to it are reported
            text = built.read_bytes().decode("utf-8", errors="replace")
            text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
            machine = fallback = False
            if note is None:
                note = project.load_note(self.cfg, rel)
            if note.lang != lang:
                plan = build.plan_note(self.cfg, note, lang, reviewed_only)
                fallback = plan.done < plan.total
                if not reviewed_only:
                    po = catalog.catalog_path(self.cfg.locales_dir, lang, note.stem)
                    if po.exists():
                        msgs = catalog.translations(po, include_fuzzy=True)
                        machine = any((m := msgs.get(s.text)) is not None and m.fuzzy and not m.fallback
                                      and m.msgstr != s.text for s in note.entries)
            source = self.cfg.content_dir / rel if note.lang == lang else built
            out.append(self._page(rel, lang, source, text, machine, fallback))
        return out

    def _page(self, rel: str, lang: str, source: Path, text: str, machine: bool, fallback: bool) -> Page:
        front, body, _ = _front_matter(text)
        values = {k: _yaml_scalar(v) for k, v in _TITLE.findall(front)}
        heads = _headings(body)
        title = values.get("title") or (heads[0][0] if heads else "") or posixpath.basename(rel[:-3])
        slugs = self._slugs([(plain, plain) for plain, _ in heads])
        protected = _protected_lines(body)
        blocks = frozenset(m.group(2) for i, line in enumerate(body.split("\n"))
                           if i not in protected and (m := _BLOCK_ID.search(_mask(line)[0])))
        return Page(rel, lang, source, text, title, values.get("description") or values.get("summary", ""),
                    machine, fallback, headings=slugs, blocks=blocks,
                    heading_sources=tuple(src for _, src in heads))

    def _slugs(self, heads: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """(plain text, anchor) of headings given as (plain text, their converted inline Markdown)."""
        out: list[tuple[str, str]] = []
        used_m: set[str] = set()
        used_h: dict[str, int] = {}
        for plain, converted in heads:
            if self.kind == "mkdocs":  # Python-Markdown's toc slugifies the heading's rendered text
                out.append((plain, _unique_mkdocs(mkdocs_slug(_rendered_text(converted)), used_m)))
            else:  # Hugo 0.111 (goldmark) takes the heading's Markdown source as it is
                out.append((plain, _unique_hugo(hugo_slug(converted), used_h)))
        return tuple(out)

    def _reslug(self) -> None:
        """Anchors from the headings as they are written to the site (wikilinks in them converted): a second
        pass, once every page's title and first anchors are known."""
        warnings = self.warnings
        self.warnings = []  # reported when the page is converted
        try:
            for key, page in list(self.pages.items()):
                if not page.heading_sources:
                    continue
                converted = [self._inline(page, src, 0, [False]) for src in page.heading_sources]
                slugs = self._slugs([(plain, conv) for (plain, _), conv in zip(page.headings, converted,
                                                                               strict=True)])
                self.pages[key] = dataclasses.replace(page, headings=slugs)
        finally:
            self.warnings = warnings

    # converting

    def warn(self, page: Page, line: int, message: str) -> None:
        self.warnings.append(build.Problem(self.cfg.display(page.source), line, message))

    def anchor(self, page: Page, target: Page, part: str, line: int, shown: str) -> str | None:
        """The generator's anchor of the heading (or ``^block``) ``part`` of ``target``; None (and a warning)
        when it is not there."""
        if part.startswith("^"):
            if part[1:] in target.blocks:
                return f"block-{part[1:]}"
            self.warn(page, line, f"link {shown}: no block ^{part[1:]} in {target.rel} ({target.lang}). Fix the "
                                  "link or add the block id to the note.")
            return None
        wanted = _norm(anchors.heading_plain(part))
        for plain, slug in target.headings:
            if _norm(plain) == wanted:
                return slug
        loose = _loose(wanted)  # Obsidian writes `[[note#A B]]` for the heading "A: B"
        for plain, slug in target.headings:
            if _loose(plain) == loose:
                return slug
        self.warn(page, line, f"link {shown}: no heading {part!r} in {target.rel} ({target.lang}). Fix the "
                              "link, or the heading (or its translation).")
        return None

    def fragment(self, page: Page, target: Page, frag: str, line: int, shown: str) -> str | None:
        """A Markdown link's fragment (a GitHub-style slug or the heading's text) as the generator's anchor."""
        text = unquote(frag)
        if text.startswith("^") or text.startswith("block-"):
            return self.anchor(page, target, "^" + text.removeprefix("^").removeprefix("block-"), line, shown)
        for plain, slug in target.headings:
            if frag in (slug, anchors.slug(plain)) or _norm(text) == _norm(plain) or text == anchors.slug(plain):
                return slug
        self.warn(page, line, f"link {shown}: no heading #{frag} in {target.rel} ({target.lang}). Fix the "
                              "link, or the heading (or its translation).")
        return None

    def convert(self, page: Page) -> str:
        _, body, offset = _front_matter(page.text)
        out = self._convert_block(page, body, offset)
        banner = self._banner(page)
        if banner:
            lines = out.split("\n")
            at = 0
            while at < len(lines) and not lines[at].strip():
                at += 1
            if at < len(lines) and _ATX.match(lines[at]) and lines[at].lstrip().startswith("# "):
                at += 1
            lines[at:at] = ["", *banner, ""]
            out = "\n".join(lines)
        if self.kind == "hugo":
            # Hugo runs shortcodes anywhere in the content, code included: a note's own `{{< x >}}` is text.
            out = re.sub(r"\{\{([<%])(?!/\*)(.*?)(?<!\*/)([>%])\}\}", r"{{\1/*\2*/\3}}", out, flags=re.S)
        return self._front(page) + out

    def _front(self, page: Page) -> str:
        def q(value: str) -> str:
            return json.dumps(value, ensure_ascii=False)

        lines = ["---", f"title: {q(page.title)}"]
        if page.description:
            lines.append(f"description: {q(page.description)}")
        lines.append(f"lang: {page.lang}")
        if self.kind == "hugo":
            lines.append(f"translationKey: {q(page.rel[:-3])}")
        if page.machine:
            lines.append("machine_translated: true")
        if page.fallback:
            lines.append("fallback: true")
        return "\n".join([*lines, "---", ""]) + "\n"

    def _banner(self, page: Page) -> list[str]:
        which = "fallback" if page.fallback else "machine" if page.machine else ""
        if not which:
            return []
        title, text = _BANNERS[which].get(page.lang, _BANNERS[which]["en"])
        if self.kind == "mkdocs":
            return [f'!!! warning kbtrans-banner "{title}"', f"    {text}"]
        return [f'<div class="kbtrans-banner" role="note"><strong>{title}.</strong> {text}</div>']

    def _convert_block(self, page: Page, body: str, offset: int) -> str:
        lines = body.split("\n")
        protected = _protected_lines(body)
        out: list[str] = []
        comment = [False]
        i = 0
        while i < len(lines):
            line = lines[i]
            if i in protected:
                out.append(line)
                i += 1
                continue
            m = _CALLOUT.match(line)
            if m and not comment[0]:
                indent = m.group(1)
                j = i + 1
                inner: list[str] = []
                while j < len(lines) and re.match(rf"^{indent}>", lines[j]):
                    inner.append(re.sub(rf"^{indent}> ?", "", lines[j]))
                    j += 1
                converted = self._convert_block(page, "\n".join(inner), offset + i + 1)
                title = self._inline(page, m.group(4), offset + i + 1, comment)
                out.extend(self._callout(indent, m.group(2).lower(), m.group(3), title, converted))
                i = j
                continue
            out.append(self._inline(page, line, offset + i + 1, comment))
            i += 1
        return "\n".join(out)

    def _callout(self, indent: str, kind: str, fold: str, title: str, body: str) -> list[str]:
        if self.kind == "mkdocs":
            marker = "!!!" if not fold else "???" if fold == "-" else "???+"
            name = kind if kind in _MATERIAL_TYPES else "note"
            head = f"{indent}{marker} {name}" + (f' "{title.replace(chr(34), "&quot;")}"' if title.strip() else "")
            return [head, *[(f"{indent}    {b}" if b.strip() else "") for b in body.split("\n")], ""]
        shown = title.strip() or kind.capitalize()
        return [f"{indent}> **{shown}**", f"{indent}>", *[f"{indent}> {b}".rstrip() for b in body.split("\n")], ""]

    def _inline(self, page: Page, line: str, lineno: int, comment: list[bool]) -> str:
        masked, kept = _mask(line)
        # %%comments%%, possibly over several lines
        pieces = []
        rest = masked
        while rest:
            if comment[0]:
                end = rest.find("%%")
                if end < 0:
                    rest = ""
                    break
                rest = rest[end + 2:]
                comment[0] = False
            else:
                start = rest.find("%%")
                if start < 0:
                    pieces.append(rest)
                    break
                pieces.append(rest[:start])
                rest = rest[start + 2:]
                comment[0] = True
        masked = "".join(pieces)
        if not masked.strip() and line.strip():
            return ""
        if _SETEXT.match(masked) or re.match(r"^\s*\|?[\s:|-]+\|?\s*$", masked):
            return _unmask(masked, kept)
        def wiki(m: re.Match[str]) -> str:  # converted links are masked: the Markdown-link pass skips them
            kept.append(self._wikilink(page, m.group(1), _unmask(m.group(2), kept), lineno))
            return f"\x00{len(kept) - 1}\x00"

        masked = _WIKI.sub(wiki, masked)
        ref = _REFDEF.match(masked)
        if ref:  # a reference definition `[label]: dest "title"`
            new = self._dest(page, ref.group(2), lineno)
            masked = masked if new is None else ref.group(1) + new + ref.group(3)
        masked = _MDLINK.sub(lambda m: self._mdlink(page, m, lineno), masked)
        masked = _HIGHLIGHT.sub(r"<mark>\1</mark>", masked)
        masked = _BLOCK_ID.sub(lambda m: f'{m.group(1)}<a id="block-{m.group(2)}"></a>', masked)
        return _unmask(masked, kept)

    def _wikilink(self, page: Page, bang: str, inner: str, lineno: int) -> str:
        embed = bool(bang)
        note_part, anchor_part, alias = _split_wiki(inner)
        shown = f"{bang}[[{inner}]]"
        last = anchor_part.split("#")[-1].strip() if anchor_part else ""
        if posixpath.splitext(note_part)[1] and not note_part.lower().endswith(".md"):
            att = self.att_paths.get(note_part.casefold()) or self.att_names.get(note_part.casefold())
            if att is None:
                key = posixpath.normpath(posixpath.join(posixpath.dirname(page.rel), note_part)).casefold()
                att = self.att_paths.get(key)
            if att is not None:
                if not embed:
                    return f"[{_escape(alias or posixpath.basename(att))}]({self.link(page.rel, att, page.lang)})"
                alt = alias if alias and not re.fullmatch(r"\d+(x\d+)?", alias) else posixpath.basename(att)
                return f"![{_escape(alt)}]({self.link(page.rel, att, page.lang)})"
        target_rel, _ = self.index.wikilink(note_part, page.rel)
        if target_rel is None and note_part:  # Obsidian also finds a note by the end of its path
            target_rel = self.ends.get(note_part.removesuffix(".md").casefold())
        if target_rel is None:
            what = "file" if posixpath.splitext(note_part)[1].lower() not in ("", ".md") else "note"
            self.warn(page, lineno, f"link {shown}: no {what} {note_part!r} in the knowledge base. Fix the link or "
                                    f"create the {what}.")
            return _escape(alias or note_part)
        target = self.pages.get((target_rel, page.lang))
        if target is None:
            self.warn(page, lineno, f"link {shown}: {target_rel} has no {page.lang} page (skipped by "
                                    "--min-translated?). Translate it or remove the link.")
            return _escape(alias or note_part)
        frag = self.anchor(page, target, last, lineno, shown) if last else ""
        heading = next((p for p, s in target.headings if s == frag), last) if last and last[0] != "^" else ""
        if alias:
            text = alias
        elif target_rel == page.rel and heading:
            text = heading
        else:
            text = target.title + (f" › {heading}" if heading else "")
        href = self.link(page.rel, target_rel, page.lang, frag or "")
        if embed:
            return f"→ [{_escape(text)}]({href})"
        return f"[{_escape(text)}]({href})"

    def _mdlink(self, page: Page, m: re.Match[str], lineno: int) -> str:
        new = self._dest(page, m.group(2), lineno)
        return m.group() if new is None else m.group(1) + new + m.group(3)

    def _dest(self, page: Page, dest: str, lineno: int) -> str | None:
        """A Markdown link destination of ``page`` as the site needs it (None: unchanged)."""
        bare = dest[1:-1] if dest.startswith("<") else dest
        if re.match(r"^[A-Za-z][\w+.-]*:", bare) or bare.startswith("/") or bare.startswith("\x00"):
            return None
        path, _, frag = bare.partition("#")
        shown = f"]({bare})"
        if not path:
            if not frag:
                return None
            new = self.fragment(page, page, frag, lineno, shown)
            return "#" + (new or frag)
        full = posixpath.normpath(posixpath.join(posixpath.dirname(page.rel), unquote(path)))
        if not posixpath.splitext(full)[1] and full + ".md" in self.index.members:
            full, path = full + ".md", path + ".md"  # Obsidian's Markdown link to a note without .md
        if full.lower().endswith(".md"):
            target_rel, _ = self.index.mdlink(path, page.rel)
            target = self.pages.get((target_rel, page.lang)) if target_rel else None
            if target is None:
                self.warn(page, lineno, f"link {shown}: no note {full} ({page.lang}). Fix the link or create the "
                                        "note.")
                return None
            new = self.fragment(page, target, frag, lineno, shown) if frag else ""
            return self.link(page.rel, target.rel, page.lang, new or frag)
        att = self.att_paths.get(full.casefold())
        if att is None:
            if not (self.cfg.content_dir / full).exists():
                self.warn(page, lineno, f"link {shown}: no file {full} in the knowledge base. Fix the link or add "
                                        "the file.")
            return None
        return self.link(page.rel, att, page.lang, frag)


#: The site being built, for the worker processes (forked: they inherit it).
_CURRENT: _Site | None = None


def _site() -> _Site:
    if _CURRENT is None:
        raise InternalError("site worker started without its site")
    return _CURRENT


def _load_note(reviewed_only: bool, rel: str) -> list[Page]:
    return _site().load_note(rel, reviewed_only)


def _convert_page(key: tuple[str, str]) -> tuple[str, bytes, list[build.Problem]]:
    site = _site()
    site.warnings = []
    page = site.pages[key]
    data = site.convert(page).encode("utf-8")
    return site.file_of(page.rel, page.lang), data, site.warnings


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


# --- generator configs -----------------------------------------------------------------------------------------


def _site_name(cfg: Config) -> str:
    return cfg.project or cfg.root.name or "Knowledge base"


def mkdocs_config(cfg: Config, langs: Sequence[str], default: str, layout: str,
                  names: dict[str, str] | None = None) -> str:
    """The generated ``mkdocs.yml`` (``names``: the site's name per language)."""
    names = names or {}

    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    languages = "".join(
        f"        - locale: {lang}\n          name: {q(_LANGUAGE_NAMES.get(lang, lang))}\n"
        f"          build: true\n" + ("          default: true\n" if lang == default else "")
        + (f"          site_name: {q(names[lang])}\n" if lang in names else "")
        for lang in [default, *[x for x in langs if x != default]])
    return f"""\
# Generated by `kbtrans build --site mkdocs`. Edit it and kbtrans leaves it alone from then on.
site_name: {q(names.get(default) or _site_name(cfg))}
docs_dir: docs
site_dir: site
use_directory_urls: true
theme:
  name: material
  language: {default}
markdown_extensions:
  - toc:
      permalink: true
      slugify: !!python/name:markdown.extensions.toc.slugify_unicode
  - tables
  - footnotes
  - admonition
  - attr_list
  - md_in_html
  - pymdownx.details
  - pymdownx.superfences
  - pymdownx.tilde
  - pymdownx.tasklist
plugins:
  - search
  - i18n:
      docs_structure: {layout}
      reconfigure_material: true
      languages:
{languages}"""


def mkdocs_needed(layout: str, langs: Sequence[str]) -> list[tuple[str, str]]:
    """(what a user's mkdocs.yml must have, a regular expression that finds it)."""
    needed = [("docs_dir: docs", r"(?m)^docs_dir:\s*['\"]?docs['\"]?\s*$"),
              ("theme: name: material", r"(?m)^\s*name:\s*['\"]?material"),
              ("plugins: - i18n", r"(?m)^\s*-\s*i18n\b"),
              (f"i18n docs_structure: {layout}", rf"(?m)^\s*docs_structure:\s*['\"]?{layout}"),
              ("markdown_extensions: toc slugify: !!python/name:markdown.extensions.toc.slugify_unicode",
               r"slugify_unicode"),
              ("markdown_extensions: admonition", r"(?m)^\s*-\s*admonition\b"),
              ("markdown_extensions: pymdownx.details", r"(?m)^\s*-\s*pymdownx\.details\b"),
              ("markdown_extensions: footnotes", r"(?m)^\s*-\s*footnotes\b")]
    needed += [(f"i18n languages: - locale: {lang}", rf"(?m)^\s*-?\s*locale:\s*['\"]?{lang}\b") for lang in langs]
    return needed


def hugo_config(cfg: Config, langs: Sequence[str], default: str, names: dict[str, str] | None = None) -> str:
    """The generated ``hugo.toml`` (``names``: the site's name per language)."""
    names = names or {}
    parts = [f"""\
# Generated by `kbtrans build --site hugo`. Edit it and kbtrans leaves it alone from then on.
baseURL = "/"
title = {json.dumps(names.get(default) or _site_name(cfg), ensure_ascii=False)}
theme = "kbtrans"
defaultContentLanguage = "{default}"
disableKinds = ["taxonomy", "term", "RSS", "sitemap"]

[markup.goldmark.renderer]
unsafe = true  # <mark>, block anchors and banners are HTML
"""]
    for weight, lang in enumerate([default, *[x for x in langs if x != default]], 1):
        parts.append(f"""
[languages.{lang}]
contentDir = "content/{lang}"
languageName = {json.dumps(_LANGUAGE_NAMES.get(lang, lang), ensure_ascii=False)}
weight = {weight}
""" + (f"title = {json.dumps(names[lang], ensure_ascii=False)}\n" if lang in names else ""))
    return "".join(parts)


def hugo_missing(text: str, langs: Sequence[str], default: str) -> list[str]:
    """The keys a user's hugo.toml lacks."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return ["(the file is not valid TOML)"]
    missing = []
    if data.get("defaultContentLanguage", "en") != default:
        missing.append(f'defaultContentLanguage = "{default}"')
    languages = data.get("languages", {})
    for lang in langs:
        if not isinstance(languages, dict) or languages.get(lang, {}).get("contentDir") != f"content/{lang}":
            missing.append(f'[languages.{lang}] contentDir = "content/{lang}"')
    if "theme" not in data:
        missing.append('theme = "kbtrans" (or layouts of your own)')
    renderer = data.get("markup", {}).get("goldmark", {}).get("renderer", {})
    if renderer.get("unsafe") is not True:
        missing.append("[markup.goldmark.renderer] unsafe = true")
    return missing


_HUGO_BASEOF = """\
<!DOCTYPE html>
<html lang="{{ .Language.Lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ if not .IsHome }}{{ .Title }} · {{ end }}{{ .Site.Title }}</title>
{{ range .AllTranslations }}<link rel="alternate" hreflang="{{ .Language.Lang }}" href="{{ .RelPermalink }}">
{{ end }}<style>
body { font: 16px/1.6 system-ui, sans-serif; max-width: 50rem; margin: 0 auto; padding: 0 1rem; color: #222; }
header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #ddd; }
.kbtrans-languages a { margin-left: .75rem; }
.kbtrans-banner { background: #fff4e0; border-left: 4px solid #f0a020; padding: .5rem 1rem; margin: 1rem 0; }
blockquote { border-left: 4px solid #8ab; margin-left: 0; padding-left: 1rem; color: #333; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .25rem .5rem; }
pre { background: #f6f6f6; padding: .5rem; overflow-x: auto; } mark { background: #ffef8a; }
</style>
</head>
<body>
<header>
<a class="kbtrans-home" href="{{ .Site.Home.RelPermalink }}">{{ .Site.Title }}</a>
<nav class="kbtrans-languages">{{ range .Translations }}<a class="kbtrans-language" hreflang="{{ .Language.Lang }}" \
lang="{{ .Language.Lang }}" href="{{ .RelPermalink }}">{{ .Language.LanguageName }}</a>{{ end }}</nav>
</header>
<main>{{ block "main" . }}{{ end }}</main>
</body>
</html>
"""

_HUGO_SINGLE = """{{ define "main" }}<article>{{ .Content }}</article>{{ end }}
"""

_HUGO_LIST = """{{ define "main" }}<article>{{ .Content }}</article>
<ul class="kbtrans-pages">{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>
{{ end }}
"""


# --- writing ---------------------------------------------------------------------------------------------------


def check_site_folder(cfg: Config) -> Path:
    """The site folder, refused where it would overwrite notes, catalogs or a built locale."""
    root = (cfg.root / cfg.site_output).resolve()
    for key, folder in (("content", cfg.content_dir), ("locales", cfg.locales_dir),
                        *((f"output/{lang}", cfg.output_dir / lang) for lang in cfg.languages)):
        theirs = folder.resolve()
        if root == theirs or root.is_relative_to(theirs) or theirs.is_relative_to(root):
            raise ConfigError(f"the site folder {cfg.site_output} overlaps the `{key}` folder {folder}. Choose "
                              "another one (`site_output` in kbtrans.toml), e.g. build/site.",
                              path=cfg.root / cfg.site_output)
    return root


@dataclass
class _Manifest:
    files: list[str] = field(default_factory=list)
    config: str = ""


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def publish(cfg: Config, kind: str, *, layout: str | None = None, languages: Sequence[str] = (),
            reviewed_only: bool = False, jobs: int | None = None, kb_lock: lock.KbLock | None = None) -> SiteReport:
    """Write the site of kind ``kind`` from the built locales (run :func:`kbtrans.build.build` first), on
    ``jobs`` processes (default: all cores), holding the knowledge base's lock (``kb_lock``, by default one
    that waits): another build cannot rewrite the vaults or the site meanwhile."""
    with lock.for_command(cfg.cache_dir, "build", kb_lock):
        return _publish(cfg, kind, layout, languages, reviewed_only, jobs)


def _publish(cfg: Config, kind: str, layout: str | None, languages: Sequence[str], reviewed_only: bool,
             jobs: int | None) -> SiteReport:
    if kind not in KINDS:
        raise ConfigError(f"site {kind!r}: not one of {', '.join(KINDS)} (or vault). Fix `site` or --site.")
    layout = layout or cfg.site_layout
    if layout not in LAYOUTS:
        raise ConfigError(f"site_layout {layout!r}: not one of {', '.join(LAYOUTS)}. Fix `site_layout`.")
    langs = cfg.select_languages(languages)
    check_site_folder(cfg)
    site = _Site(cfg, kind, layout, langs)
    site.load(reviewed_only, jobs)
    files = site.convert_all(jobs)
    if kind == "mkdocs" and "index.md" not in site.inv.notes:
        for lang in langs:  # MkDocs needs a home page per language: a list of the notes
            items = [f"- [{_escape(p.title)}]({site.link('index.md', rel, lang)})"
                     for (rel, lg), p in sorted(site.pages.items()) if lg == lang]
            body = f"---\ntitle: {json.dumps(_site_name(cfg), ensure_ascii=False)}\n---\n\n" + "\n".join(items)
            files[site.file_of("index.md", lang)] = (body + "\n").encode("utf-8")
    if kind == "hugo":
        theme = "themes/kbtrans/layouts/_default/"
        files[theme + "baseof.html"] = _HUGO_BASEOF.replace("\\\n", "").encode()
        files[theme + "single.html"] = _HUGO_SINGLE.encode()
        files[theme + "list.html"] = _HUGO_LIST.encode()
    root = site.root
    manifest_path = root / MANIFEST
    old = _Manifest()
    if manifest_path.is_file():
        try:
            data = json.loads(manifest_path.read_text("utf-8"))
            old = _Manifest(list(data.get("files", [])), str(data.get("config", "")))
        except (ValueError, AttributeError):
            pass
    written: list[Path] = []
    for rel, data in sorted(files.items()):
        if write_if_changed(root / rel, data):
            written.append(root / rel)
    attachments = {site.attachment_file(a): a for a in site.inv.attachments}
    for dst, src in attachments.items():
        if build._copy_if_changed(cfg.content_dir / src, root / dst):
            written.append(root / dst)
    # The generator's config: written when there is none, or it is the one kbtrans wrote last time.
    name = "mkdocs.yml" if kind == "mkdocs" else "hugo.toml"
    # The site's name: the first heading of the home note (index.md) in each language, else the project's.
    names = {lang: p.headings[0][0] if p.headings else p.title
             for (rel, lang), p in site.pages.items() if rel == "index.md"}
    text = (mkdocs_config(cfg, langs, site.default, layout, names) if kind == "mkdocs"
            else hugo_config(cfg, langs, site.default, names))
    conf = root / name
    config_written: Path | None = conf
    if conf.is_file() and _digest(conf.read_bytes()) != old.config:
        config_written = None
        user = conf.read_text("utf-8", errors="replace")
        missing = ([what for what, rx in mkdocs_needed(layout, langs) if not re.search(rx, user)]
                   if kind == "mkdocs" else hugo_missing(user, langs, site.default))
        if missing:
            site.warnings.append(build.Problem(cfg.display(conf), None, "is yours, so kbtrans left it alone, but "
                                               "the site needs: " + "; ".join(missing) + ". Add them (or delete "
                                               "the file and kbtrans writes one)."))
        new_digest = old.config
    else:
        if write_if_changed(conf, text.encode("utf-8")):
            written.append(conf)
        new_digest = _digest(text.encode("utf-8"))
    # Files of an earlier site build that are not part of this one.
    expected = set(files) | set(attachments)
    removed: list[Path] = []
    for rel in old.files:
        if rel not in expected:
            path = root / rel
            if path.is_file():
                path.unlink()
                removed.append(path)
    manifest = json.dumps({"kind": kind, "files": sorted(expected), "config": new_digest}, indent=1)
    write_if_changed(manifest_path, manifest.encode("utf-8"))
    command = (f"mkdocs build --strict -f {cfg.display(conf)}" if kind == "mkdocs"
               else f"hugo -s {cfg.display(root)}")
    return SiteReport(kind, root, len(site.pages), tuple(written), tuple(removed), tuple(site.warnings),
                      config_written, command)


#: For tests and other callers: the slug function of each generator.
SLUGS: dict[str, Callable[[str], str]] = {"mkdocs": mkdocs_slug, "hugo": hugo_slug}
