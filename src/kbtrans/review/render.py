"""Safe HTML for the review page: a segment's Markdown rendered, and word diffs.

Markdown is rendered by markdown-it-py with raw HTML disabled (a ``<script>`` in a note is shown as
text), every value escaped, links kept only for ``http``/``https``/``mailto`` (anything else, a
``javascript:`` link included, becomes an inert span) and images shown as their alt text (nothing is
fetched). Obsidian wikilinks, embeds, footnote references, ``%%comments%%`` and math are shown as such.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

_SAFE_HREF = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)
_WIKI = re.compile(r"(!?)\[\[([^\[\]\n]*?)\]\]")
_FNREF = re.compile(r"\[\^([^\]\s]+)\](?!\()")
_COMMENT = re.compile(r"%%.*?%%", re.DOTALL)


def _wikilink(state: StateInline, silent: bool) -> bool:
    m = _WIKI.match(state.src, state.pos)
    if m is None:
        return False
    if not silent:
        target, _, alias = m.group(2).partition("|")
        tok = state.push("wikilink", "", 0)
        tok.meta = {"embed": bool(m.group(1)), "target": target, "alias": alias}
    state.pos = m.end()
    return True


def _fnref(state: StateInline, silent: bool) -> bool:
    m = _FNREF.match(state.src, state.pos)
    if m is None:
        return False
    if not silent:
        tok = state.push("kb_fnref", "", 0)
        tok.meta = {"label": m.group(1)}
    state.pos = m.end()
    return True


def _comment(state: StateInline, silent: bool) -> bool:
    if not state.src.startswith("%%", state.pos):
        return False
    m = _COMMENT.match(state.src, state.pos)
    if m is None:
        return False
    if not silent:
        tok = state.push("kb_comment", "", 0)
        tok.content = m.group()
    state.pos = m.end()
    return True


def _render_wikilink(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    meta = tokens[idx].meta
    target, alias = escapeHtml(meta["target"]), escapeHtml(meta["alias"])
    if meta["embed"]:
        return f'<span class="embed" title="embed: {target}">⧉ {target}</span>'
    return f'<span class="wikilink" title="→ {target}">{alias or target}</span>'


def _render_fnref(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return f'<sup class="fnref">[^{escapeHtml(tokens[idx].meta["label"])}]</sup>'


def _render_comment(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return f'<span class="comment">{escapeHtml(tokens[idx].content)}</span>'


def _render_image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    alt = escapeHtml("".join(c.content for c in tok.children or ()))
    src = escapeHtml(str(tok.attrGet("src") or ""))
    return f'<span class="image" title="image: {src}">🖼 {alt}</span>'


def _inert_links(state: Any) -> None:
    """Links to anything but http(s)/mailto become spans (relative note links, javascript:, …)."""
    for block in state.tokens:
        for tok in block.children or ():
            if tok.type == "link_open":
                href = str(tok.attrGet("href") or "")
                if _SAFE_HREF.match(href):
                    tok.attrs = {"href": href, "rel": "noopener noreferrer nofollow", "target": "_blank"}
                else:
                    tok.tag, tok.attrs = "span", {"class": "link", "title": href}
        # each close tag follows its open tag
        opened: list[Token] = []
        for tok in block.children or ():
            if tok.type == "link_open":
                opened.append(tok)
            elif tok.type == "link_close" and opened:
                tok.tag = opened.pop().tag


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["strikethrough", "table"])
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    md.inline.ruler.before("link", "wikilink", _wikilink)
    md.inline.ruler.before("link", "kb_fnref", _fnref)
    md.inline.ruler.before("emphasis", "kb_comment", _comment)
    md.core.ruler.push("inert_links", _inert_links)
    md.add_render_rule("wikilink", _render_wikilink)
    md.add_render_rule("kb_fnref", _render_fnref)
    md.add_render_rule("kb_comment", _render_comment)
    md.add_render_rule("image", _render_image)
    # a link that is not http(s) is never validated away: it is made inert instead (shown, not followed)
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def markdown(text: str) -> str:
    """A segment's inline Markdown as safe HTML (soft line breaks kept as line breaks)."""
    html: str = _md().renderInline(text)
    return html.replace("\n", "<br>\n")


_WORD = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, text) runs turning ``old`` into ``new`` word by word; op is ``=``, ``-`` or ``+``."""
    a, b = _WORD.findall(old), _WORD.findall(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out
