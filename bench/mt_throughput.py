#!/usr/bin/env python3
"""Machine-translation throughput: naive argostranslate vs kbtrans' argos engine, on a stand-in model.

    .venv/bin/python bench/mt_throughput.py [--segments 2000] [--repeats 3] [--beam 4] [--threads 2]
                                            [--naive-sample 300] [--tiny] [--models DIR] [--executor ray]

No real RU→EN Argos model can be downloaded here, so the bench builds a stand-in with the shape of
argos-train's standard Transformer base (6+6 layers, d_model 512, 8 heads, FFN 2048, one shared 50k
SentencePiece vocabulary, tied embeddings, int8) using tests/support/argos_models.py. It is a *copy*
model (its translation is its input), so every way of calling it decodes exactly the same number of
tokens; CTranslate2 does the same work per token as for a real model of that shape. (The official
RU↔EN 1.9 packages are about twice that size; their exact dimensions are not published.) The package
carries a MiniSBD model that splits after ``.!?`` so argostranslate splits sentences too, as it would
with a real package, and never downloads anything.

Segments: paragraphs of ../shared/corpora/parallel-{rust-book,diplodoc}/ru (soft line breaks joined;
code blocks, tables and HTML skipped), re-assembled sentence by sentence so that ~20 % of the
sentences repeat an earlier one, as in a real knowledge base; without the corpora, generated Russian
sentences. Measured (wall time, medians of ``--repeats``; the model is loaded before timing):

* ``naive``: ``argostranslate.translate.translate(segment, "ru", "en")`` per segment, the way users call
  it (beam ``--beam``, ``intra_threads`` = ``--threads``). Segments are independent calls, so this runs
  on a deterministic sample of ``--naive-sample`` segments (0 = all) and reports segments/s;
* ``kbtrans``: ``ArgosEngine.translate`` over all segments at the same beam (fresh sentence cache);
* ``fast``: the ``--fast`` preset (greedy);
* ``raw``: one bare ``translate_batch`` over the same unique sentences, pre-encoded and sorted, with
  the engine's translator and options (the floor for kbtrans' own overhead);
* ``ray`` (with ``--executor ray``): the same engine decoding on a local Ray cluster of ``--threads`` CPUs
  (``translate --ray``: Ray Data, one actor a CPU), each run a new Dataset whose actors load the model, as
  ``kbtrans translate`` does; its output must equal the local engine's.

Keys of the last line (one JSON object): ``segments``, ``beam``, ``naive_seg_s``, ``kbtrans_seg_s``,
``fast_seg_s``, ``raw_seg_s``, ``ratio`` (kbtrans ÷ naive), ``fast_ratio`` (fast ÷ naive),
``overhead`` (1 − kbtrans ÷ raw), with ``--executor ray`` also ``ray_seg_s``, ``ray_overhead``
(Ray's time ÷ the local engine's − 1), ``ray_vs_raw`` (Ray's time ÷ raw's − 1) and ``ray_identical``
(its output equals the local engine's), and ``identical`` (share of the naive sample's segments without markup,
underscores or characters SentencePiece's normalisation rewrites — ``…``, no-break and repeated spaces,
which kbtrans restores and argostranslate cannot — whose kbtrans output equals argostranslate's), plus
context (sentence counts, load).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

CORPORA = REPO.parent / "shared" / "corpora"
_MARKUP = re.compile(r"[`\[\]<>*_$|{}\\#]|https?://")
_INNER_STOP = re.compile(r"[.!?](?=\S)")


def log(msg: str) -> None:
    print(msg, flush=True)


# -- segments -------------------------------------------------------------------------------------


def _paragraphs(md: str) -> list[str]:
    out: list[str] = []
    in_code = False
    for block in re.split(r"\n\s*\n", md):
        lines = block.strip("\n").splitlines()
        if not lines:
            continue
        fences = sum(1 for ln in lines if ln.lstrip().startswith(("```", "~~~")))
        if in_code or fences:
            in_code = in_code != (fences % 2 == 1)
            continue
        first = lines[0].lstrip()
        if first.startswith(("|", "<", "{%", "    ", "\t", "#|", ":::")) or "{{" in block:
            continue
        text = " ".join(re.sub(r"^\s*(?:[-*+]|\d+\.|>)\s+", "", ln).strip() for ln in lines)
        text = re.sub(r"^#+\s+", "", text).strip()
        if len(text) > 20 and re.search(r"[а-яё]", text, re.I):
            out.append(text)
    return out


def _corpus_paragraphs() -> list[str]:
    paras: list[str] = []
    for name in ("parallel-rust-book", "parallel-diplodoc"):
        folder = CORPORA / name / "ru"
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*.md") if p.name != "SUMMARY.md"):
                paras.extend(_paragraphs(path.read_text(encoding="utf-8", errors="replace")))
    return paras


_WORDS_TEXT = (
    "модель обучение данные код токен контекст слой внимание градиент функция выборка набор репозиторий "
    "файл строка язык генерация оценка метрика тест задача решение пример шаг эпоха скорость память "
    "архитектура трансформер декодер энкодер параметр веса оптимизатор инструкция ответ запрос система "
    "поиск документ окно длина позиция словарь байт символ модуль библиотека сборка проверка качество"
)
_WORDS = _WORDS_TEXT.split(" ")


def _generated_paragraphs(n: int, rng: random.Random) -> list[str]:
    paras = []
    for _ in range(n):
        sents = []
        for _ in range(rng.randint(1, 5)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 22))]
            sents.append(" ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"]))
        paras.append(" ".join(sents))
    return paras


def make_segments(n: int, *, repeat: float = 0.24, seed: int = 0) -> tuple[list[str], str]:
    """``n`` segments; a sentence slot repeats an earlier sentence with probability ``repeat`` (→ ~20 % repeats)."""
    from kbtrans.sentences import sentences

    rng = random.Random(seed)
    paras = _corpus_paragraphs()
    source = "parallel corpora (../shared/corpora)" if paras else "generated"
    if not paras:
        paras = _generated_paragraphs(max(n, 100), rng)
    shapes: list[int] = []
    fresh: list[str] = []
    for p in paras:
        sents = [s for s in sentences(p, "ru") if len(s.split()) <= 80 and s[-1] in ".!?…:;" and s[0].isupper()]
        if sents:
            shapes.append(len(sents))
            fresh.extend(sents)
    # Fresh sentences in corpus order; a repeat draws one of the sentences used so far.
    segments: list[str] = []
    used: list[str] = []
    k = 0
    while len(segments) < n:
        parts = []
        for _ in range(shapes[len(segments) % len(shapes)]):
            if used and rng.random() < repeat:
                parts.append(rng.choice(used))
            else:
                s = fresh[k % len(fresh)]
                k += 1
                parts.append(s)
                used.append(s)
        segments.append(" ".join(parts))
    return segments, source


# -- model ----------------------------------------------------------------------------------------


def _sp_training_text(limit: int = 8_000_000) -> str:
    """Real Russian and English text from ../shared/corpora (code blocks included), capped at ``limit`` chars."""
    parts: list[str] = []
    size = 0
    for name in ("parallel-rust-book", "parallel-diplodoc", "ru-openbox", "en-obsidian-tasks"):
        folder = CORPORA / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.md")):
            text = path.read_text(encoding="utf-8", errors="replace")
            parts.append(text)
            size += len(text)
            if size > limit:
                return "\n".join(parts)
    return "\n".join(parts)


def build_package(models: Path, tiny: bool) -> Path:
    """The stand-in ``.argosmodel`` (cached in ``models``).

    Base size: its 50k SentencePiece model is trained on real RU+EN text (the corpora, plus the
    builder's generated corpus so every markup character is a piece), so sentences split into about
    as many tokens as with a published Argos model; without the corpora, on the generated corpus only
    (whose pseudo-words make real Russian about twice as many tokens).
    """
    from tests.support.argos_models import (
        BASE_SHAPE,
        BASE_VOCAB,
        BUILDER_VERSION,
        TINY_SHAPE,
        ArgosModelCache,
        build_copy_model,
        default_corpus,
        package_argosmodel,
        train_sentencepiece,
    )

    t0 = time.perf_counter()
    if tiny:
        (pkg,) = ArgosModelCache(models).argosmodels("copy", pairs=[("ru", "en")], sentence_end_chars=".!?",
                                                     **TINY_SHAPE)
    else:
        real = _sp_training_text()
        key = hashlib.sha256(f"{BUILDER_VERSION} {BASE_SHAPE} int8 {BASE_VOCAB}\n{real}".encode()).hexdigest()[:16]
        final = models / f"bench-base-{key}"
        pkg = final / "translate-ru_en.argosmodel"
        if not pkg.exists():
            models.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".bench-base-", dir=models))
            log("building the base-size stand-in (SentencePiece 50k on real text, 6+6 layers, int8)...")
            sp = train_sentencepiece(tmp / "spm", vocab_size=BASE_VOCAB, text=default_corpus(BASE_VOCAB) + real)
            model = build_copy_model(tmp / "model", sp, quantization="int8", **BASE_SHAPE)
            package_argosmodel(model, sp, tmp / pkg.name, from_code="ru", to_code="en", kind="copy",
                               sentence_end_chars=".!?")
            shutil.rmtree(tmp / "model")
            os.replace(tmp, final)
    log(f"stand-in package: {pkg} ({pkg.stat().st_size / 1e6:.0f} MB, ready in {time.perf_counter() - t0:.1f} s)")
    return pkg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--segments", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--beam", type=int, default=4, help="beam size for naive and kbtrans (argostranslate: 4)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for every variant")
    ap.add_argument("--naive-sample", type=int, default=300, help="segments timed for naive (0 = all)")
    ap.add_argument("--variants", default="naive,kbtrans,fast,raw",
                    help="comma-separated subset to run (the others report NaN)")
    ap.add_argument("--executor", choices=("local", "ray"), default="local",
                    help="ray: also time the engine on a local Ray cluster (needs pip install 'kbtrans[ray]')")
    ap.add_argument("--tiny", action="store_true", help="tiny model (smoke test), not the base-size stand-in")
    ap.add_argument("--models", type=Path, default=Path(os.environ.get(
        "KBTRANS_ARGOS_MODEL_CACHE", Path(tempfile.gettempdir()) / "kbtrans-bench-models")))
    args = ap.parse_args(argv)

    log(f"load average at start: {os.getloadavg()}")
    os.environ["ARGOS_BEAM_SIZE"] = str(args.beam)
    from tests.support.argos_models import argos_settings, install_package

    settings = argos_settings()
    settings.beam_size = args.beam
    settings.intra_threads = args.threads
    settings.inter_threads = 1
    work = Path(tempfile.mkdtemp(prefix="kbtrans-mt-bench-"))
    pkg = build_package(args.models, args.tiny)
    install_package(pkg, work / "packages")

    import argostranslate.translate

    from kbtrans.config import Config
    from kbtrans.engines.argos import ArgosEngine

    segments, origin = make_segments(args.segments)
    cfg = Config(root=work, threads=args.threads, device="cpu")
    probe = ArgosEngine(cfg, cache=False)
    from kbtrans.sentences import split

    all_sents = [seg[s:e] for seg in segments for s, e in split(seg, "ru")]
    unique = list(dict.fromkeys(all_sents))
    log(f"{len(segments)} segments from {origin}: {len(all_sents)} sentences, {len(unique)} unique "
        f"({1 - len(unique) / len(all_sents):.0%} repeats); threads {args.threads}, beam {args.beam}")

    # (a) naive, on a sample
    rng = random.Random(1)
    sample_idx = sorted(rng.sample(range(len(segments)), args.naive_sample)) if 0 < args.naive_sample < len(
        segments) else list(range(len(segments)))
    sample = [segments[i] for i in sample_idx]
    argostranslate.translate.translate("Разогрев.", "ru", "en")  # load the translator
    naive_out: list[str] = []

    def naive() -> float:
        naive_out.clear()
        t0 = time.perf_counter()
        for seg in sample:
            naive_out.append(argostranslate.translate.translate(seg, "ru", "en"))
        return time.perf_counter() - t0

    # (b) kbtrans engine and (c) fast
    outputs: dict[bool, dict[int, str]] = {}

    def engine_run(fast: bool) -> float:
        root = Path(tempfile.mkdtemp(prefix="run-", dir=work))
        engine = ArgosEngine(Config(root=root, threads=args.threads, device="cpu"), fast=fast)
        engine.model("ru", "en")  # load before timing
        t0 = time.perf_counter()
        outputs[fast] = dict(engine.translate(segments, "ru", "en"))
        return time.perf_counter() - t0

    # (e) the same engine decoding on a local Ray cluster (started before timing; its actors are not)
    ray_out: dict[int, str] = {}
    if args.executor == "ray":
        from kbtrans.engines.ray_executor import RayDecoder

        ray_cfg = Config(root=work, threads=args.threads, device="cpu", executor="ray")
        decoder = RayDecoder(ray_cfg)
        log(f"Ray cluster: {decoder.resources.get('CPU', 0):.0f} CPUs")

    def ray_run() -> float:
        root = Path(tempfile.mkdtemp(prefix="run-ray-", dir=work))
        engine = ArgosEngine(Config(root=root, threads=args.threads, device="cpu", executor="ray"), decoder=decoder)
        engine.model("ru", "en")
        t0 = time.perf_counter()
        ray_out.clear()
        ray_out.update(engine.translate(segments, "ru", "en"))
        return time.perf_counter() - t0

    # (d) raw translate_batch over the same unique sentences
    model = probe.model("ru", "en")
    tokens = sorted(model.encode(unique), key=len)
    kwargs = {**model.options.translate_kwargs(), "max_decoding_length": 256}

    def raw() -> float:
        t0 = time.perf_counter()
        model.translator.translate_batch(tokens, max_batch_size=model.options.max_batch_tokens, batch_type="tokens",
                                         **kwargs)
        return time.perf_counter() - t0

    # The variants take turns within each repeat, so a change in the machine's load hits all of them.
    variants: list[tuple[str, Callable[[], float]]] = [
        (f"naive argostranslate.translate() x {len(sample)} segments", naive),
        (f"kbtrans engine, beam {args.beam}, {len(segments)} segments", lambda: engine_run(False)),
        (f"kbtrans engine --fast (greedy), {len(segments)} segments", lambda: engine_run(True)),
        (f"raw translate_batch over {len(unique)} unique sentences", raw),
        (f"kbtrans engine on Ray, beam {args.beam}, {len(segments)} segments", ray_run),
    ]
    keys = ("naive", "kbtrans", "fast", "raw", "ray")
    skip = {k for k in keys if k not in [*args.variants.split(","), *(["ray"] if args.executor == "ray" else [])]}
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    for r in range(args.repeats):
        for key, (name, fn) in zip(keys, variants, strict=True):
            if key in skip:
                times[name].append(float("nan"))
                continue
            t = fn()
            times[name].append(t)
            log(f"  run {r + 1}/{args.repeats} {name}: {t:.2f} s  (load {os.getloadavg()[0]:.1f})")
    naive_t, kb_t, fast_t, raw_t, ray_t = (statistics.median(times[name]) for name, _ in variants)
    naive_seg_s = len(sample) / naive_t

    # Plain: no markup, no "_" (argostranslate turns it into a space) and nothing SentencePiece's
    # normalisation rewrites ("…", no-break or repeated spaces: kbtrans restores them, argostranslate cannot).
    def untouched(seg: str) -> bool:
        return bool(model.sp.Normalize(seg).replace("▁", " ").strip() == seg)

    # The stand-in's MiniSBD splits after every ".!?", also inside "4.7" or "...", and argostranslate then
    # decodes the pieces as "4. 7": an artefact of the stand-in package, so such segments are left out too.
    plain = [k for k, i in enumerate(sample_idx)
             if not _MARKUP.search(segments[i]) and untouched(segments[i]) and not _INNER_STOP.search(segments[i])]
    same = sum(1 for k in plain if naive_out and False in outputs and outputs[False][sample_idx[k]] == naive_out[k])
    identical = (same / len(plain) if plain else 1.0) if "naive" not in skip and "kbtrans" not in skip else math.nan
    copies = sum(1 for i, s in enumerate(segments) if outputs.get(False, {}).get(i) == s) / len(segments)
    kb_seg_s, fast_seg_s, raw_seg_s = len(segments) / kb_t, len(segments) / fast_t, len(segments) / raw_t
    result: dict[str, Any] = {
        "segments": len(segments),
        "beam": args.beam,
        "naive_seg_s": round(naive_seg_s, 2),
        "kbtrans_seg_s": round(kb_seg_s, 2),
        "fast_seg_s": round(fast_seg_s, 2),
        "raw_seg_s": round(raw_seg_s, 2),
        "ratio": round(kb_seg_s / naive_seg_s, 2),
        "fast_ratio": round(fast_seg_s / naive_seg_s, 2),
        "overhead": round(1 - kb_seg_s / raw_seg_s, 3),
        "identical": round(identical, 4),
        **({"ray_seg_s": round(len(segments) / ray_t, 2), "ray_overhead": round(ray_t / kb_t - 1, 3),
            "ray_vs_raw": round(ray_t / raw_t - 1, 3), "ray_identical": ray_out == outputs.get(False, ray_out)}
           if args.executor == "ray" else {}),
        "identical_of": len(plain),
        "kbtrans_copies": round(copies, 4),
        "naive_sample": len(sample),
        "sentences": len(all_sents),
        "unique_sentences": len(unique),
        "threads": args.threads,
        "repeats": args.repeats,
        "model": "tiny copy" if args.tiny else "copy, base shape (6+6, 512, 8 heads, FFN 2048, 50k, int8)",
        "corpus": origin,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }
    log(f"naive {naive_seg_s:.2f} seg/s · kbtrans {kb_seg_s:.2f} seg/s ({result['ratio']}×) · fast {fast_seg_s:.2f} "
        f"seg/s ({result['fast_ratio']}×) · raw translate_batch {raw_seg_s:.2f} seg/s (overhead "
        f"{result['overhead']:.1%}) · identical {identical:.1%} of {len(plain)}")
    if args.executor == "ray":
        log(f"ray {result['ray_seg_s']:.2f} seg/s: {result['ray_overhead']:+.1%} time against the local engine, "
            f"{result['ray_vs_raw']:+.1%} against raw translate_batch; same output as local: {result['ray_identical']}")
    clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in result.items()}
    print(json.dumps(clean, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
