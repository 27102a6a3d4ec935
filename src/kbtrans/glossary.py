"""The glossary: required term translations and do-not-translate terms (``glossary.csv`` / ``.tsv``).

The file sits at the project root and starts with a header row naming the columns ``ru``, ``en`` and,
optionally, ``note`` (any order; ``.tsv`` files are tab-separated, ``.csv`` ones comma-separated with
the usual double-quote quoting). Each further row is either

* a **required pair** — both ``ru`` and ``en`` filled and different: where the source text has one,
  the translation must have the other (``check`` warns, or fails with ``--strict``); or
* a **do-not-translate term** — only one of ``ru``/``en`` filled, or both equal: a product or model
  name (``StarCoder``, ``RLHF``) that machine translation protects and a translation must keep.

Blank rows and rows whose first cell starts with ``#`` are ignored. Matching is whole-word: Russian
terms match their inflected forms (``предобучение`` matches ``предобучения``), English ones match
case-insensitively by stem (``fine-tuning`` matches ``fine-tuned``); do-not-translate terms
match exactly (case-sensitive, whole word).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from kbtrans.config import Config
from kbtrans.errors import GlossaryError

__all__ = ["NAMES", "Glossary", "GlossaryError", "Term", "find_file", "load", "parse"]

#: File names looked for at the project root, in this order.
NAMES = ("glossary.csv", "glossary.tsv")
COLUMNS = ("ru", "en", "note")

_CYRILLIC_VOWELS = "аеёиоуыэюяйь"
_EN_SUFFIXES = ("ing", "ed", "er", "es", "s", "e")
_WORD = r"[^\W_]"


@dataclass(frozen=True)
class Term:
    """A required pair: where the source has one of them, the translation must have the other."""

    ru: str
    """The Russian term (base form)."""
    en: str
    """The English term."""
    note: str
    """The ``note`` column: why, or usage advice for translators ("" when empty)."""
    line: int
    """1-based line of the row in the glossary file."""

    def term(self, lang: str) -> str:
        """The term in ``lang`` ("" for a language the glossary has no column for)."""
        return self.ru if lang == "ru" else self.en if lang == "en" else ""


def _word_pattern(word: str, lang: str) -> str:
    """A regex for one word of a term: inflected forms for Russian, a short suffix for English."""
    if lang == "ru" and re.fullmatch(r"[А-Яа-яЁё]+", word):
        stem = word.lower()
        cut = 0
        while cut < 2 and len(stem) - cut > 4 and stem[len(stem) - cut - 1] in _CYRILLIC_VOWELS:
            cut += 1
        stem = stem[: len(stem) - cut] if cut else stem
        return re.escape(stem) + r"[а-яё]{0,4}"
    if re.fullmatch(r"[A-Za-z]+", word) and len(word) >= 4:
        base = word
        for suffix in _EN_SUFFIXES:
            if word.lower().endswith(suffix) and len(word) - len(suffix) >= 3:
                base = word[: -len(suffix)]
                break
        return re.escape(base) + r"[a-z]{0,4}"
    return re.escape(word)


def term_regex(term: str, lang: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive pattern for a required term in ``lang``, tolerant of inflection."""
    parts = re.split(r"(\s+|-)", term.strip())
    out = []
    for part in parts:
        if not part:
            continue
        if part.isspace():
            out.append(r"\s+")
        elif part == "-":
            out.append(r"[-\s]?")
        else:
            out.append(_word_pattern(part, lang))
    return re.compile(rf"(?<!{_WORD}){''.join(out)}(?!{_WORD})", re.IGNORECASE)


def keep_regex(term: str) -> re.Pattern[str]:
    """Whole-word, case-sensitive pattern for a do-not-translate term."""
    return re.compile(rf"(?<!{_WORD}){re.escape(term)}(?!{_WORD})")


@dataclass(frozen=True)
class Glossary:
    """The project's glossary (empty when there is no glossary file)."""

    pairs: tuple[Term, ...] = ()
    """Required translations."""
    keep: tuple[str, ...] = ()
    """Do-not-translate terms (product and model names), in file order."""
    path: Path | None = field(default=None, compare=False)
    """The file it was read from (None for an empty glossary)."""

    @cached_property
    def _patterns(self) -> dict[tuple[int, str], re.Pattern[str]]:
        return {(i, lang): term_regex(t.term(lang), lang)
                for i, t in enumerate(self.pairs) for lang in ("ru", "en")}

    def pattern(self, term: Term, lang: str) -> re.Pattern[str]:
        """The (cached) pattern matching ``term`` in ``lang``."""
        try:
            return self._patterns[(self.pairs.index(term), lang)]
        except (ValueError, KeyError):
            return term_regex(term.term(lang), lang)

    def required(self, source_lang: str, target_lang: str, text: str) -> list[tuple[str, str]]:
        """(source term, required target term) for every pair whose source term occurs in ``text``."""
        if source_lang not in ("ru", "en") or target_lang not in ("ru", "en") or source_lang == target_lang:
            return []
        out = []
        for i, t in enumerate(self.pairs):
            if self._patterns[(i, source_lang)].search(text):
                out.append((t.term(source_lang), t.term(target_lang)))
        return out

    def required_terms(self, source_lang: str, target_lang: str, text: str) -> list[Term]:
        """Like :meth:`required`, but the :class:`Term` rows (with their line numbers)."""
        if source_lang not in ("ru", "en") or target_lang not in ("ru", "en") or source_lang == target_lang:
            return []
        return [t for i, t in enumerate(self.pairs) if self._patterns[(i, source_lang)].search(text)]

    def has(self, term: Term, lang: str, text: str) -> bool:
        """True when ``text`` contains ``term`` in ``lang`` (inflected forms included)."""
        return self.pattern(term, lang).search(text) is not None

    @cached_property
    def _keep_patterns(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        return tuple((k, keep_regex(k)) for k in self.keep)

    def kept(self, text: str) -> list[str]:
        """The do-not-translate terms that occur in ``text`` (whole word, case-sensitive)."""
        return [k for k, p in self._keep_patterns if p.search(text)]

    @cached_property
    def words(self) -> frozenset[str]:
        """Every word of every term, lower-cased (for telling glossary terms from stray foreign words)."""
        out: set[str] = set()
        for text in (*self.keep, *(t.ru for t in self.pairs), *(t.en for t in self.pairs)):
            out.update(w.lower() for w in re.findall(r"[^\W_]+", text))
        return frozenset(out)


def find_file(root: Path) -> Path | None:
    """The glossary file of the project at ``root``; GlossaryError when both a .csv and a .tsv exist."""
    found = [root / name for name in NAMES if (root / name).is_file()]
    if len(found) > 1:
        raise GlossaryError(f"both {NAMES[0]} and {NAMES[1]} exist. Keep one of them.", path=found[0])
    return found[0] if found else None


def parse(text: str, path: Path) -> Glossary:
    """Parse the content of a glossary file (``path`` chooses the delimiter and names errors)."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    columns: dict[str, int] = {}
    pairs: list[Term] = []
    keep: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if header is None:
                header = [c.lower() for c in cells]
                unknown = [c for c in header if c not in COLUMNS]
                if unknown or "ru" not in header or "en" not in header or len(set(header)) != len(header):
                    raise GlossaryError(
                        f"the header row must name the columns ru, en and (optionally) note, got {row!r}. "
                        f"Make the first row `ru{delimiter}en{delimiter}note`.", path=path, line=line)
                columns = {name: i for i, name in enumerate(header)}
                continue
            if len(cells) > len(header):
                raise GlossaryError(
                    f"{len(cells)} cells but the header has {len(header)} columns. Quote a cell that "
                    f"contains {'a tab' if delimiter == chr(9) else 'a comma'} with double quotes.",
                    path=path, line=line)
            cells += [""] * (len(header) - len(cells))
            ru, en = cells[columns["ru"]], cells[columns["en"]]
            note = cells[columns["note"]] if "note" in columns else ""
            if not ru and not en:
                raise GlossaryError("row has neither a ru nor an en term. Fill one in or delete the row.",
                                    path=path, line=line)
            if not ru or not en or ru == en:
                term = ru or en
                if ("keep", term) in seen:
                    continue
                seen[("keep", term)] = line
                keep.append(term)
                continue
            for lang, term in (("ru", ru), ("en", en)):
                key = (lang, term.lower())
                if key in seen:
                    raise GlossaryError(
                        f"{lang} term {term!r} is already defined on line {seen[key]}. "
                        "Keep one row per term.",
                        path=path, line=line)
            seen[("ru", ru.lower())] = seen[("en", en.lower())] = line
            pairs.append(Term(ru, en, note, line))
    except csv.Error as exc:
        raise GlossaryError(f"malformed row ({exc}). Check the quotes: a quote inside a quoted cell is "
                            'written twice ("").', path=path, line=reader.line_num or start) from None
    if header is None and (pairs or keep):  # pragma: no cover - the header is the first row read
        raise GlossaryError("missing header row `ru,en,note`.", path=path, line=1)
    # A do-not-translate term that is also one side of a pair is a contradiction.
    pair_terms = {t.ru for t in pairs} | {t.en for t in pairs}
    for term in keep:
        if term in pair_terms:
            raise GlossaryError(f"{term!r} is both a do-not-translate term and part of a required pair. "
                                "Remove one of the rows.", path=path, line=seen[("keep", term)])
    return Glossary(tuple(pairs), tuple(keep), path)


def load(cfg: Config) -> Glossary:
    """The glossary of ``cfg``'s project (``glossary.csv`` or ``.tsv`` at its root), or an empty one."""
    path = find_file(cfg.root)
    if path is None:
        return Glossary()
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GlossaryError(f"invalid UTF-8 (byte 0x{data[exc.start]:02x}). Save the glossary as UTF-8.",
                            path=path, line=data[: exc.start].count(b"\n") + 1) from None
    return parse(text, path)
