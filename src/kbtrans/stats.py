"""Translation statistics per locale, folder and note, counted from the PO catalogs.

Every entry of a catalog falls into exactly one category (so the categories add up to the entries):

* **reviewed** — translated (non-empty ``msgstr``) and not ``fuzzy``;
* **machine** — ``fuzzy``, translated, with a ``#. kbtrans-mt:`` provenance comment (machine output
  not yet reviewed);
* **fuzzy** — ``fuzzy``, translated, without MT provenance: a translation carried over after the
  source changed (it has a ``#|`` previous msgid) or marked fuzzy by a translator;
* **untranslated** — empty ``msgstr`` (a ``fuzzy`` flag on an empty entry is ignored), or a machine-translation
  fallback: the model's output was unusable and ``translate`` kept the source text (fuzzy, msgstr = msgid,
  ``#. kbtrans-mt-repair: … source text kept``; :attr:`kbtrans.catalog.Message.fallback`) — nothing is translated;
* **obsolete** — an ``#~`` entry kept for a text no longer in the note (not a segment).

*Segments* are the current entries (reviewed + machine + fuzzy + untranslated); *words* are the
whitespace-separated words of each entry's msgid (``len(msgid.split())``), summed per category. The
header entry (empty msgid) is not counted. A note's catalogs are found under
``locales/<lang>/LC_MESSAGES/<note>.po``; a note without a catalog, and a catalog in its note's own language
(never used by ``build``), are not counted (``check`` reports both).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kbtrans import catalog, parallel, project, state
from kbtrans.config import Config
from kbtrans.errors import KbtransError
from kbtrans.extract import recorded, recorded_language

#: The categories, in display order.
CATEGORIES = ("reviewed", "machine", "fuzzy", "untranslated", "obsolete")
#: Prefix of the extracted comment that records machine-translation provenance.
MT_PREFIX = "kbtrans-mt:"

DEFINITIONS = {
    "reviewed": "translated and not fuzzy",
    "machine": "fuzzy, translated, with a '#. kbtrans-mt:' provenance comment",
    "fuzzy": "fuzzy, translated, without MT provenance (carried over after a source change, '#|')",
    "untranslated": "empty msgstr, or the source text kept by machine translation ('source text kept')",
    "obsolete": "'#~' entry no longer in the note (not a segment)",
    "segments": "reviewed + machine + fuzzy + untranslated",
    "words": "whitespace-separated words of the msgid (len(msgid.split()))",
}


@dataclass(frozen=True, slots=True)
class Counts:
    """How many entries (or msgid words) fall into each category."""

    reviewed: int = 0
    """Translated, not fuzzy."""
    machine: int = 0
    """Fuzzy machine translation (``kbtrans-mt:`` provenance)."""
    fuzzy: int = 0
    """Fuzzy without MT provenance (after a source change)."""
    untranslated: int = 0
    """Empty msgstr, or the source text kept by machine translation (a fallback)."""
    obsolete: int = 0
    """``#~`` entries."""

    @property
    def segments(self) -> int:
        """Current entries: every category but obsolete."""
        return self.reviewed + self.machine + self.fuzzy + self.untranslated

    @property
    def total(self) -> int:
        """Every entry, obsolete ones included."""
        return self.segments + self.obsolete

    @property
    def translated(self) -> int:
        """Entries a build uses (reviewed, machine and fuzzy)."""
        return self.reviewed + self.machine + self.fuzzy

    def percent(self, category: str) -> float:
        """Share of ``category`` among the segments, in percent (0 when there are none)."""
        value = self.translated if category == "translated" else getattr(self, category)
        return 100.0 * value / self.segments if self.segments else 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, c) + getattr(other, c) for c in CATEGORIES))

    def as_dict(self, current: str = "segments") -> dict[str, int]:
        """The categories, their non-obsolete sum (under the key ``current``) and ``total``."""
        return {**dataclasses.asdict(self), current: self.segments, "total": self.total}


def _sum(items: Iterable[Counts]) -> Counts:
    out = Counts()
    for c in items:
        out = out + c
    return out


@dataclass(frozen=True, slots=True)
class NoteStats:
    """The statistics of one note's catalog in one locale."""

    lang: str
    """The locale (target language)."""
    note: str
    """The note's path, content-relative (``training/fim.md``)."""
    catalog: str
    """The PO file, relative to the project root."""
    segments: Counts
    """Entries per category."""
    words: Counts
    """msgid words per category."""

    @property
    def folder(self) -> str:
        """The note's folder (``.`` for notes at the top of the content folder)."""
        return self.note.rsplit("/", 1)[0] if "/" in self.note else "."


@dataclass(frozen=True, slots=True)
class Total:
    """Summed statistics of a group of notes (a locale, a folder)."""

    segments: Counts
    """Entries per category."""
    words: Counts
    """msgid words per category."""
    notes: int
    """Catalogs summed."""


@dataclass(frozen=True)
class StatsReport:
    """Statistics of every catalog."""

    notes: tuple[NoteStats, ...]
    """One per catalog, sorted by locale and note."""
    languages: tuple[str, ...] = ()
    """The locales reported (each, even when it has no catalog)."""

    def locale(self, lang: str) -> Total:
        rows = [n for n in self.notes if n.lang == lang]
        return Total(_sum(n.segments for n in rows), _sum(n.words for n in rows), len(rows))

    @property
    def locales(self) -> dict[str, Total]:
        return {lang: self.locale(lang) for lang in self.languages}

    def folders(self, lang: str) -> dict[str, Total]:
        """Per folder of notes (sorted), for ``lang``."""
        groups: dict[str, list[NoteStats]] = {}
        for n in self.notes:
            if n.lang == lang:
                groups.setdefault(n.folder, []).append(n)
        return {f: Total(_sum(n.segments for n in rows), _sum(n.words for n in rows), len(rows))
                for f, rows in sorted(groups.items())}

    def as_dict(self) -> dict[str, Any]:
        return {**self._head(), "notes": [self._note(n) for n in self.notes]}

    def _head(self) -> dict[str, Any]:
        return {
            "definitions": DEFINITIONS,
            "locales": {
                lang: {"notes": t.notes, "segments": t.segments.as_dict(), "words": t.words.as_dict("words")}
                for lang, t in self.locales.items()
            },
        }

    @staticmethod
    def _note(n: NoteStats) -> dict[str, Any]:
        return {"locale": n.lang, "note": n.note, "catalog": n.catalog, "segments": n.segments.as_dict(),
                "words": n.words.as_dict("words")}

    def json_chunks(self) -> Iterator[str]:
        """``json.dumps(self.as_dict(), ensure_ascii=False, indent=2)``, a note at a time (a KB of 100,000
        notes would otherwise hold its whole JSON document, several times over, in memory)."""
        head = json.dumps(self._head(), ensure_ascii=False, indent=2)
        if not self.notes:
            yield head[:-2] + ',\n  "notes": []\n}'
            return
        yield head[:-2] + ',\n  "notes": ['
        for i, n in enumerate(self.notes):
            item = json.dumps(self._note(n), ensure_ascii=False, indent=2).replace("\n", "\n    ")
            yield ("\n    " if i == 0 else ",\n    ") + item
        yield "\n  ]\n}"


def category(m: catalog.Message) -> str:
    """The category of one catalog entry (see the module docstring)."""
    if m.obsolete:
        return "obsolete"
    if not m.msgstr or m.fallback:
        return "untranslated"
    if not m.fuzzy:
        return "reviewed"
    if any(c.startswith(MT_PREFIX) for c in m.comments):
        return "machine"
    return "fuzzy"


def count(messages: Iterable[catalog.Message]) -> tuple[Counts, Counts]:
    """(entries, msgid words) per category of ``messages`` (read from a catalog: an unattached entry is obsolete)."""
    seg = dict.fromkeys(CATEGORIES, 0)
    words = dict.fromkeys(CATEGORIES, 0)
    for m in messages:
        c = "obsolete" if m.unattached else category(m)
        seg[c] += 1
        words[c] += len(m.msgid.split())
    return Counts(**seg), Counts(**words)


def _one(cfg: Config, job: tuple[str, str | None, tuple[str, ...]]) -> list[NoteStats] | KbtransError:
    """The counts of one note's catalogs (``langs``), but for one in the note's own language (never used)."""
    rel, note_lang, langs = job
    try:
        own = note_lang or project.load_note(cfg, rel).lang
        out = []
        for lang in langs:
            if lang != own:
                path = catalog.catalog_path(cfg.locales_dir, lang, rel[:-3])
                segments, words = count(catalog.read(path))
                out.append(NoteStats(lang, rel, cfg.display(path), segments, words))
        return out
    except KbtransError as exc:
        return exc


def stats(cfg: Config, languages: Sequence[str] = (), *, jobs: int | None = None) -> StatsReport:
    """Count the entries and words of every catalog of ``languages`` (default: all configured)."""
    langs = cfg.select_languages(languages)
    # The catalogs of the KB's notes: one without a note (deleted or renamed) is no progress (`check` reports it).
    notes = project.inventory(cfg).notes
    with parallel.early_pool(len(notes), jobs) as pool:
        seen = recorded(cfg)
        work: list[tuple[str, str | None, tuple[str, ...]]] = []
        for rel in notes:
            present = tuple(lang for lang in langs
                            if catalog.catalog_path(cfg.locales_dir, lang, rel[:-3]).is_file())
            if present:
                work.append((rel, recorded_language(seen.get(rel), state.stamp(cfg.content_dir / rel)), present))
        del seen
        rows: list[NoteStats] = []
        for r in parallel.pmap(partial(_one, cfg), work, jobs=jobs, pool=pool):
            if isinstance(r, KbtransError):
                raise r
            rows.extend(r)
    return StatsReport(tuple(rows), langs)


# -- charts ---------------------------------------------------------------------------------------

#: Category colours (reviewed green, machine blue, fuzzy amber, untranslated grey).
COLOURS = {"reviewed": "#2e9d4f", "machine": "#3b7dd8", "fuzzy": "#e3a21a", "untranslated": "#c9ccd1"}
_SHOWN = ("reviewed", "machine", "fuzzy", "untranslated")


def chart_rows(report: StatsReport) -> list[tuple[str, str, Counts]]:
    """(locale, label, word counts) per bar: each locale's total, then each of its folders."""
    rows: list[tuple[str, str, Counts]] = []
    for lang, total in report.locales.items():
        rows.append((lang, f"{lang} (all)", total.words))
        for folder, t in report.folders(lang).items():
            rows.append((lang, f"{lang}  {folder}/" if folder != "." else f"{lang}  (top)", t.words))
    return rows


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def svg(report: StatsReport, title: str = "Translation progress (words)") -> str:
    """A stacked-bar chart of words per category, per locale and folder, as an SVG document."""
    rows = chart_rows(report)
    label_w, bar_w, bar_h, gap, top, right = 220, 480, 20, 8, 64, 150
    height = top + len(rows) * (bar_h + gap) + 30
    width = label_w + bar_w + right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{_esc(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="22" font-size="16" font-weight="bold">{_esc(title)}</text>',
    ]
    x = 10
    for cat in _SHOWN:
        parts.append(f'<rect x="{x}" y="34" width="12" height="12" fill="{COLOURS[cat]}"/>')
        parts.append(f'<text x="{x + 16}" y="45">{cat}</text>')
        x += 16 + 8 * len(cat) + 18
    for i, (_lang, label, c) in enumerate(rows):
        y = top + i * (bar_h + gap)
        weight = ' font-weight="bold"' if label.endswith("(all)") else ""
        parts.append(f'<g class="bar" data-label="{_esc(label)}" data-words="{c.segments}">')
        parts.append(f'<text x="10" y="{y + bar_h - 5}"{weight}>{_esc(label)}</text>')
        pos = float(label_w)
        for cat in _SHOWN:
            value = getattr(c, cat)
            w = bar_w * value / c.segments if c.segments else 0.0
            if w > 0:
                parts.append(f'<rect class="{cat}" x="{pos:.2f}" y="{y}" width="{w:.2f}" height="{bar_h}" '
                             f'fill="{COLOURS[cat]}"><title>{_esc(label)}: {value} words {cat}</title></rect>')
            pos += w
        if not c.segments:
            parts.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{bar_h}" fill="none" '
                         'stroke="#c9ccd1"/>')
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + bar_h - 5}">'
                     f"{c.percent('reviewed'):.0f}% reviewed · {c.segments} words</text>")
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def png(report: StatsReport, path: Path, title: str = "Translation progress (words)") -> None:
    """The same chart as :func:`svg`, drawn with matplotlib (``pip install 'kbtrans[chart]'``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise KbtransError("PNG charts need matplotlib. Install it with `pip install 'kbtrans[chart]'` "
                           "(or write an SVG chart: --chart FILE.svg).", path=path) from None
    rows = chart_rows(report)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.35 * max(1, len(rows))), dpi=100)
    labels = [label for _, label, _ in rows]
    ys = list(range(len(rows)))[::-1]
    left = [0.0] * len(rows)
    for cat in _SHOWN:
        values = [100.0 * getattr(c, cat) / c.segments if c.segments else 0.0 for _, _, c in rows]
        ax.barh(ys, values, left=left, color=COLOURS[cat], label=cat, height=0.7)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of words")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)


CHART_SUFFIXES = (".svg", ".png")


def check_chart_path(path: Path) -> None:
    """Raise unless ``path`` names a chart format (checked before any counting)."""
    if path.suffix.lower() not in CHART_SUFFIXES:
        raise KbtransError("unknown chart format. Name the file *.svg or *.png.", path=path)


def chart(report: StatsReport, path: Path) -> None:
    """Write the chart to ``path``: SVG or PNG by its suffix."""
    check_chart_path(path)
    if path.suffix.lower() == ".svg":
        from kbtrans.fsutil import write_atomic

        write_atomic(path, svg(report).encode("utf-8"))
    else:
        png(report, path)
