"""Test engines for ``kbtrans translate``, registered through ``KBTRANS_ENGINE_<NAME>=module:factory``.

* adversaries (``drop``, ``duplicate``, ``reorder``, ``corrupt``, ``invent``, ``gibberish``, ``chaos``):
  pseudo-translate each text, then do to its placeholders what real models do — drop, repeat, move or
  garble them, invent markup characters (backticks, ``[[``, ``](``, ``<b>``, ``$``, URLs, ``#tags``,
  ``[^x]``, emphasis), or answer with markup-laden gibberish; they yield results in shuffled order;
* ``slow``: pseudo with a delay per text (``KBTRANS_TEST_DELAY`` seconds, default 0.02), for interrupts;
* ``counting``: pseudo that appends every text it is sent to ``KBTRANS_TEST_LOG`` (one JSON line each);
  ``slow`` logs too (``"sent"`` lines for texts received, ``"done"`` lines for texts answered);
* ``broken``: its factory raises EngineError the way a missing model does;
* ``empty``: answers "…" to everything (unusable output);
* ``meddling``: before answering, does what ``KBTRANS_TEST_MEDDLE`` (JSON) says happens meanwhile:
  ``{"review": [po, msgid, msgstr]}`` a translator saves a reviewed translation, ``{"corrupt": po}`` a
  catalog gets a syntax error.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from kbtrans.config import Config
from kbtrans.engines.pseudo import pseudo
from kbtrans.errors import EngineError

PLACEHOLDER = re.compile(r"⟦(\d+)⟧")
MARKUP_JUNK = ("`", "``", "[[", "]]", "](", "](http://x.y)", "[", "]", "<b>", "</i>", "<script>", "$", "$x$",
               "http://evil.example/", "#tag", "[^x]", "^[", "%%", "*", "**", "_", "~~", "==", "|", "![",
               "&amp;", "\\", "⟦", "⟧", "⟦99⟧", "[3]", "javascript:", " onclick=", "\n", "# ", "- ", "1. ",
               "> ", "```", "для", "Код")


def _log(kind: str, text: str) -> None:
    path = os.environ.get("KBTRANS_TEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"kind": kind, "text": text}, ensure_ascii=False) + "\n")


def garble(n: str, rng: random.Random) -> str:
    """One placeholder number in a form models produce."""
    return rng.choice([f"⟦ {n} ⟧", f"[{n}]", f"⟦{n}", f"{n}⟧", f"⟦⟦{n}⟧⟧", f"⟦{n}]", f"[{n}⟧", f" ⟦{n}⟧ ",
                       f"[[{n}]]"])


def mangle(text: str, mode: str, rng: random.Random) -> str:
    """Do to ``text``'s placeholders what ``mode`` says."""
    tokens = PLACEHOLDER.findall(text)
    if mode == "drop":
        return PLACEHOLDER.sub(lambda m: "" if rng.random() < 0.5 else m.group(), text)
    if mode == "duplicate":
        return PLACEHOLDER.sub(lambda m: m.group() * rng.randint(1, 3), text) + "".join(
            f" ⟦{t}⟧" for t in tokens if rng.random() < 0.3)
    if mode == "reorder":
        shuffled = list(tokens)
        rng.shuffle(shuffled)
        it = iter(shuffled)
        return PLACEHOLDER.sub(lambda m: f"⟦{next(it)}⟧", text)
    if mode == "corrupt":
        return PLACEHOLDER.sub(lambda m: garble(m.group(1), rng), text)
    if mode == "invent":
        words = text.split(" ")
        for _ in range(rng.randint(1, 4)):
            words.insert(rng.randint(0, len(words)), rng.choice(MARKUP_JUNK))
        return (" " if rng.random() < 0.5 else "").join(words)
    if mode == "gibberish":
        parts = [rng.choice([*MARKUP_JUNK, "word", "слово", " ", ".", "(", ")", ":", "!", "#"])
                 for _ in range(rng.randint(0, 12))]
        parts += [f"⟦{t}⟧" for t in tokens if rng.random() < 0.5]
        rng.shuffle(parts)
        return "".join(parts)
    if mode == "chaos":
        for step in rng.sample(["drop", "duplicate", "reorder", "corrupt", "invent"], k=rng.randint(1, 5)):
            text = mangle(text, step, rng)
        return text
    raise ValueError(mode)


@dataclass
class Adversary:
    """Pseudo-translates, then mangles placeholders; yields in shuffled order."""

    mode: str
    seed: int = 0
    name: str = "adversary"

    def provenance(self, source: str, target: str) -> str:
        return f"test-{self.mode} {source}-{target}"

    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        rng = random.Random(f"{self.seed}:{self.mode}:{source}:{target}")
        order = list(range(len(texts)))
        rng.shuffle(order)
        for i in order:
            yield i, mangle(pseudo(texts[i], target), self.mode, rng)


def _adversary(mode: str) -> Callable[..., Adversary]:
    def factory(cfg: Config, *, fast: bool = False) -> Adversary:
        return Adversary(mode, seed=int(os.environ.get("KBTRANS_TEST_SEED", "0")))
    return factory


drop = _adversary("drop")
duplicate = _adversary("duplicate")
reorder = _adversary("reorder")
corrupt = _adversary("corrupt")
invent = _adversary("invent")
gibberish = _adversary("gibberish")
chaos = _adversary("chaos")


@dataclass
class Logging:
    """Pseudo that logs what it gets (and answers slowly when ``delay`` > 0)."""

    delay: float = 0.0
    name: str = "logging"

    def provenance(self, source: str, target: str) -> str:
        return f"test-log {source}-{target}"

    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        for text in texts:
            _log("sent", text)
        for i, text in enumerate(texts):
            if self.delay:
                time.sleep(self.delay)
            _log("done", text)
            yield i, pseudo(text, target)


def slow(cfg: Config, *, fast: bool = False) -> Logging:
    return Logging(delay=float(os.environ.get("KBTRANS_TEST_DELAY", "0.02")))


def counting(cfg: Config, *, fast: bool = False) -> Logging:
    return Logging()


def broken(cfg: Config, *, fast: bool = False) -> Logging:
    raise EngineError("no translation model for ru→en is installed. Install it with: kbtrans models install ru en")


class Empty(Logging):
    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        yield from ((i, "…") for i in range(len(texts)))


def empty(cfg: Config, *, fast: bool = False) -> Empty:
    return Empty()


class Meddling(Logging):
    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        from pathlib import Path

        from kbtrans import catalog

        todo = json.loads(os.environ.get("KBTRANS_TEST_MEDDLE", "{}"))
        if "review" in todo:
            po, msgid, msgstr = todo["review"]
            catalog.fill(Path(po), [catalog.Fill(msgid, msgstr, fuzzy=False)])
        if "corrupt" in todo:
            with open(todo["corrupt"], "a", encoding="utf-8") as fh:
                fh.write('msgid "unterminated\n')
        yield from super().translate(texts, source, target)


def meddling(cfg: Config, *, fast: bool = False) -> Meddling:
    return Meddling()


def read_log(path: str | os.PathLike[str], kind: str = "sent") -> list[str]:
    """The texts of ``kind`` lines in a log written by these engines."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                if rec["kind"] == kind:
                    out.append(rec["text"])
    return out
