"""Deterministic builder of *real* tiny Argos Translate packages for tests and benchmarks.

Everything here is built from numpy arrays with fixed seeds, offline, in seconds, with no torch,
no stanza and no download: the files are genuine SentencePiece / CTranslate2 / ONNX / zip files
that ``ctranslate2`` and ``argostranslate`` load exactly like the published models.

API
===
``train_sentencepiece(out_dir, *, vocab_size=500, text=None, seed=0) -> Path``
    Trains a unigram SentencePiece model (``out_dir/sentencepiece.model``) on a small,
    generated RU+EN corpus (:func:`default_corpus`) that contains markup characters
    (``[[…|…]]``, backticks, ``$x^2$``, ``⟦0⟧``, ``**``, ``#``, ``_``, URLs, digits, …).
    Same arguments → byte-identical file.  ``vocab_size=50_000`` takes ~10 s (2 cores).
``build_copy_model(out_dir, sp_model, *, d_model=128, layers=2, heads=2, ffn=256,
max_positions=1100, quantization=None, seed=0) -> Path``
    A CTranslate2 ``TransformerSpec`` model whose translation is **its input**: for any
    SentencePiece token sequence ``toks``, ``translate_batch([toks])`` (greedy or beam) returns
    ``toks`` exactly.  Works at benchmark size too (``**BASE_SHAPE``: 6+6 layers, d_model 512,
    8 heads, FFN 2048, 50k vocabulary, ``quantization="int8"``).
``build_random_model(out_dir, sp_model, *, seed=0, d_model=128, layers=2, heads=2, ffn=256,
max_positions=1100, quantization=None) -> Path``
    Same architecture/shapes with plain random weights: fluent-looking gibberish, an adversary.
``build_minisbd_model(out_file, lang, *, sentence_end_chars="") -> Path``
    A tiny real MiniSBD ONNX sentence splitter (see "Sentence splitting" below).
``package_argosmodel(model_dir, sp_model, out_file, *, from_code, to_code,
package_version="1.9", kind, sentence_end_chars="") -> Path``
    A real ``.argosmodel`` zip (deterministic bytes) that works fully offline.
``install_package(argosmodel, packages_dir) -> Path``
    ``argostranslate.package.install_from_path`` into ``packages_dir`` after pointing
    argostranslate at that directory (see "argostranslate settings").  Returns the installed
    package directory (the brief said ``-> None``; returning the path is strictly more useful).
``argos_packages_dir(packages_dir)`` (context manager) / ``activate_packages_dir(packages_dir)``
    Point an already-imported argostranslate at ``packages_dir`` and drop its caches.
``ArgosModelCache(root)``
    Builds + caches (by a hash of all parameters) the SentencePiece model, the CTranslate2
    model of a kind (``"copy"`` / ``"random"``) and the ``.argosmodel`` files of both
    directions (ru→en, en→ru); ``install(kind, packages_dir)`` installs both.
    ``$KBTRANS_ARGOS_MODEL_CACHE`` makes :func:`default_cache` persistent across sessions.
Pytest fixtures live in :mod:`argos_fixtures` (kept separate so this module never imports pytest).

Copy-model construction
=======================
Residual stream of width ``d``: a *token* subspace (dims ``[0, dt)``) and a *position*
subspace (dims ``[dt, d)``, ``dp = d - dt = min(d // heads, d // 2)``).

* Token vectors ``T[v]`` (``dt`` dims) and position vectors ``P[p]`` (``dp`` dims) are random,
  zero-mean, unit-norm and near-orthogonal (orthonormal when there are few enough of them).
  Zero-mean matters: every LayerNorm then merely rescales the stream.
* Encoder embeddings = ``[T[v], 0]``, learned positions = ``[0, P[p]]`` (the same table is used
  by the decoder; CTranslate2 aliases it).  Embedding scaling by sqrt(d) is disabled.
  ``config.json`` sets ``add_source_eos: true`` so the encoder input ends with ``</s>``.
* All encoder layers and all decoder sublayers except one are "idle": tiny random weights
  (~1e-3 of the residual norm per sublayer; *distinct* tensors, so the memory footprint and
  FLOPs are those of a real model of that shape) — the residual passes through.
* Last decoder layer, cross-attention, **every head**: query = position part of the decoder
  stream, key = position part of the encoder output, scaled so that target step ``t`` puts
  ~all attention on source position ``t`` (logit gap >= 30 over every other position); value
  and output projections copy the token subspace, writing ``4 * T[src_t]`` into the stream.
  Head 0 of the last layer is also CTranslate2's alignment head, so ``replace_unknowns=True``
  restores out-of-vocabulary source tokens at the right place.
* Decoder embeddings are ~0 (the previous target token is not needed); output projection =
  ``[σ T[v], 0]`` (tied to the source token vectors) with σ chosen so the correct token wins by
  a logit gap >= 30.  At step ``n`` (source length) the copied token is the source ``</s>``.
Result: greedy and beam search (any beam size, CTranslate2's length penalty) return the input
tokens exactly, also with ``int8`` quantization at base size, up to ``max_positions - 1``
source tokens (CTranslate2 truncates sources at ``max_input_length=1024`` by default; note
``max_decoding_length`` below).

argostranslate (argos-translate-lt 1.12.1) findings
===================================================
Package layout (zip with ONE top-level directory, installed by extracting into
``settings.package_data_dir``; the directory name is irrelevant)::

    <dir>/metadata.json         # package_version, argos_version, from_code/from_name,
                                # to_code/to_name, type="translate" (default), optional
                                # "target_prefix" (default ""), links…
    <dir>/model/                # CTranslate2 model (model.bin, config.json, shared_vocabulary.json)
    <dir>/sentencepiece.model   # (or bpe.model → sacremoses + BPE)
    <dir>/minisbd/<anything>.onnx   # optional; first *.onnx by os.listdir order is used
    <dir>/README.md             # optional

Offline requirements:

* Sentence splitting: with the default ``ARGOS_CHUNK_TYPE`` (DEFAULT → ARGOSTRANSLATE) the
  sentencizer is **MiniSBD** (ONNX via onnxruntime).  ``stanza``/``spacy`` chunk types need those
  libraries (absent here); ``NONE`` raises NotImplementedError and the package is *silently
  skipped*.  Without ``<package>/minisbd/*.onnx`` MiniSBD downloads ``<from_code>.onnx`` from
  GitHub on the first translation (cached in ``<XDG_DATA_HOME>/argos-translate/minisbd``) →
  fails offline.  Published models on the index carry no ONNX file, so a real offline
  deployment must pre-seed that cache or ship the ONNX inside the package.  We ship a
  hand-built ONNX graph (:func:`build_minisbd_model`; the ``onnx`` package is not needed: the
  protobuf is written by hand).  By default it never splits: each *paragraph* (argostranslate
  first splits the input on ``"\\n"``) is one sentence; ``sentence_end_chars=".!?"`` makes it
  split after those characters (naively: also inside ``3.14``).
* Note MiniSBD itself drops leading/trailing whitespace of a paragraph and collapses
  whitespace runs before SentencePiece sees the text (SentencePiece's default ``nmt_nfkc``
  normalization also collapses spaces and NFKC-normalizes, e.g. ``…`` → ``...``, ``²`` → ``2``).
* Settings: ``argostranslate.settings`` reads ``ARGOS_*`` env vars (and
  ``$XDG_CONFIG_HOME/argos-translate/settings.json``) **once, at import time**, and creates
  ``~/.local/share/argos-translate``, ``~/.config/argos-translate`` and
  ``~/.local/cache/argos-translate`` as an import side effect.  Setting ``ARGOS_PACKAGES_DIR``
  after import has no effect: ``package.install_from_path`` uses
  ``settings.package_data_dir`` and ``package.get_installed_packages`` iterates
  ``settings.package_dirs``.  :func:`activate_packages_dir` patches both (plus ``chunk_type``
  → MINISBD, ``model_provider`` → OPENNMT), and :func:`argos_settings` performs the first import
  with ``XDG_*_HOME`` redirected to a private temp dir so nothing touches the real home.
* Caches to reset when switching package dirs in one process:
  ``translate.get_installed_languages`` (lru_cache; ``install_from_path`` clears it) **and**
  ``translate.installed_translates`` — a module-global list of ``CachedTranslation`` objects
  keyed only by ``"<from>-<to>"``: without clearing it, a newly installed ru→en package is
  ignored in favour of the first one ever loaded (the Translator and its per-paragraph
  translation cache included).  Only one package per language pair should be installed in a
  directory (the first one found by ``iterdir`` wins).

Decoding options (``translate.apply_packaged_translation``)::

    translator.translate_batch(tokenized_sentences,          # SentencePiece pieces (str)
        target_prefix=[[pkg.target_prefix]]*n or None,       # metadata "target_prefix"
        replace_unknowns=True, max_batch_size=settings.batch_size (ARGOS_BATCH_SIZE, 32),
        batch_type="tokens", beam_size=max(num_hypotheses, settings.beam_size (ARGOS_BEAM_SIZE, 4)),
        num_hypotheses=num_hypotheses (1 for translate()), length_penalty=0.2,
        return_scores=True)

  Not passed, so CTranslate2 defaults apply: ``max_decoding_length=256`` (longer sentences are
  **silently truncated** — also with real models), ``max_input_length=1024``,
  ``min_decoding_length=1``, ``repetition_penalty=1``, no ``end_token``/``disable_unk``.
  Translator: ``device=ARGOS_DEVICE_TYPE`` (cpu), ``inter_threads=ARGOS_INTER_THREADS`` (1),
  ``intra_threads=ARGOS_INTRA_THREADS`` (0 = auto), ``compute_type=ARGOS_COMPUTE_TYPE`` (only
  passed when not "auto").  The Translator is created lazily on the first translation.
  Input is split on ``"\\n"`` (each line → sentencizer → one batch); results are joined with
  ``"\\n"``; per paragraph the hypotheses' tokens of all sentences are concatenated and decoded
  once; ``lstrip("\\n")`` on the whole result; a leading target prefix is stripped.  A
  per-translation paragraph cache (``CachedTranslation``) remembers only the previous call.

Tokenizer decode (``tokenizer.SentencePieceTokenizer.decode``)::

    sp.decode_pieces(tokens).replace("▁", " ").replace("_", " ")

  then one leading space is removed.  Consequences: every ``_`` in the output becomes a space
  (``snake_case`` → ``snake case``, ``__init__`` → ``  init  ``, markdown ``_em_`` → `` em ``) even
  for a perfect copy.  ``decode_pieces`` emits a piece that is not in the vocabulary verbatim
  (its ``▁`` unconverted — hence the extra ``replace("▁", " ")``), so an out-of-vocabulary
  source character (``☃``, ``😀``: ``encode`` returns it as its own piece, CTranslate2 maps it to
  ``<unk>``, the copy model emits ``<unk>`` and ``replace_unknowns`` puts the source piece back)
  survives; a literal ``<unk>`` output piece decodes as `` ⁇ ``; ``<s>``/``</s>`` decode to "".
  Encoding is ``sp.encode(sentence, out_type=str)``: SentencePiece's ``nmt_nfkc`` has already
  turned ``…`` into ``...``, ``²`` into ``2``, full-width letters into ASCII, and dropped
  leading/trailing/repeated spaces, so such input cannot round-trip even through a copy model.
  CTranslate2's ``max_input_length=1024`` truncation counts the appended ``</s>`` (a copy of
  a 1800-token source has 1023 tokens; with the default ``max_decoding_length`` only 256).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BASE_SHAPE",
    "BUILDER_VERSION",
    "KINDS",
    "TINY_SHAPE",
    "ArgosModelCache",
    "activate_packages_dir",
    "argos_packages_dir",
    "argos_settings",
    "build_copy_model",
    "build_minisbd_model",
    "build_random_model",
    "default_cache",
    "default_corpus",
    "install_package",
    "load_vocabulary",
    "package_argosmodel",
    "reset_argos_caches",
    "train_sentencepiece",
]

#: Bump when anything changes the bytes produced for the same parameters (cache key).
BUILDER_VERSION = 1
KINDS = ("copy", "random")
#: Default (tests) and benchmark model shapes (keyword arguments of the build_* functions).
TINY_SHAPE: dict[str, Any] = {"d_model": 128, "layers": 2, "heads": 2, "ffn": 256}
BASE_SHAPE: dict[str, Any] = {"d_model": 512, "layers": 6, "heads": 8, "ffn": 2048}
TINY_VOCAB = 500
BASE_VOCAB = 50_000

LANGUAGE_NAMES = {"ru": "Russian", "en": "English"}
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

# --------------------------------------------------------------------------------------------
# Corpus + SentencePiece
# --------------------------------------------------------------------------------------------

_RU_SENTENCES = [
    "Привет, мир.",
    "Это простая заметка о переводе базы знаний.",
    "Смотри [[Главная страница|главную страницу]] и [[Заметки]].",
    "Формула $x^2 + y^2 = z^2$ известна всем.",
    "Запусти `make test` перед коммитом!",
    "В 2024 году было 365 дней? Нет, 366.",
    "Сноска⟦0⟧ и ещё одна ⟦1⟧ остаются на месте.",
    "**Важно:** не трогай файлы в папке _build_.",
    "Список: яблоки, груши, сливы; всё — на кухне.",
    "Ёжик в тумане съел 3,5 яблока.",
    "Ссылка https://example.com/путь?q=1 работает.",
    "Заголовок #теги и #проекты/kbtrans помогают искать.",
    "«Кавычки» бывают разными: „такими“ и \"такими\".",
    "Цена — 100 ₽ (или $5).",
    "Переменная snake_case_name и __init__ в Python.",
    "Щука, шёлк, объём, подъезд, цыплёнок, юла, эхо.",
]
_EN_SENTENCES = [
    "Hello, world.",
    "This is a simple note about translating a knowledge base.",
    "See [[Main page|the main page]] and [[Notes]].",
    "The formula $x^2 + y^2 = z^2$ is well known.",
    "Run `make test` before committing!",
    "In 2024 there were 365 days? No, 366.",
    "A footnote⟦0⟧ and another one ⟦1⟧ stay in place.",
    "**Important:** don't touch files in the _build_ folder.",
    "A list: apples, pears, plums; all of it — in the kitchen.",
    "The quick brown fox jumps over the lazy dog 3.5 times.",
    "The link https://example.com/path?q=1 works.",
    "Headings, #tags and #projects/kbtrans help searching.",
    "Quotes come in many forms: 'single', \"double\" and «guillemets».",
    "It costs 100 RUB (or $5) & more <b>bold</b> {braces} \\escapes\\.",
    "The variable snake_case_name and __init__ in Python.",
    "Jackdaws love my big sphinx of quartz; VEX WALTZ, NYMPH!",
]
_MARKUP = [
    "[[{a}|{b}]]", "[[{a}]]", "`{a}`", "`{a}_{b}()`", "${a}^{n}$", "$\\frac{{{n}}}{{{m}}}$", "⟦{n}⟧",
    "**{a}**", "*{a}*", "_{a}_", "#{a}", "{a}_{b}", "https://{a}.org/{b}", "<{a}>", "{n}.{m}",
    "({a})", "«{a}»", "\"{a}\"", "{a}-{b}", "{n},{m}", "{n}%", "![[{a}.png]]", "[{a}]({b}.md)",
    "{a}:", "~{a}~", "={a}=", "{{{a}}}", "@{a}", "{a}/{b}", "\\{a}", "&{a};", "'{a}'",
]
_RU_SYLLABLES_TEXT = (
    "ба ва га да жа за ка ла ма на па ра са та фа ха ца ча ша ща бо во го до ко ло мо но по ро со то "
    "ми ни ли ри ти ки си зе не ле ре те ке се ну ру ту ку су лю ря ся жи ши ой ый ий ая ое ые ё ъе ью эй"
)
_RU_SYLLABLES = _RU_SYLLABLES_TEXT.split()
_EN_SYLLABLES_TEXT = (
    "ba be bi bo bu ca ce co da de di do fa fe fi fo ga ge go ha he hi ho la le li lo ma me mi mo "
    "na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to th sh ch ing er ed ly tion qu x z w y"
)
_EN_SYLLABLES = _EN_SYLLABLES_TEXT.split()
_ALPHABETS = (
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ "
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 "
    ".,;:!?-–—()[]{}<>«»„“”‘’\"'`$^_*#|/\\@&%+=~№⟦⟧…"
)


def default_corpus(vocab_size: int = TINY_VOCAB, *, seed: int = 0) -> str:
    """A deterministic RU+EN corpus with markup, big enough for ``vocab_size`` pieces.

    Real sentences (repeated so their words become pieces), every alphabet character, and
    generated lines mixing real words, pseudo-words and markup snippets.
    """
    rng = random.Random(seed)
    ru_words = sorted({w.strip(".,;:!?()«»\"„“") for s in _RU_SENTENCES for w in s.split()} - {""})
    en_words = sorted({w.strip(".,;:!?()«»\"'") for s in _EN_SENTENCES for w in s.split()} - {""})
    lines = [*_RU_SENTENCES, *_EN_SENTENCES] * 3 + [_ALPHABETS] * 3

    def pseudo(syl: list[str]) -> str:
        return "".join(rng.choice(syl) for _ in range(rng.randint(1, 4)))

    n_lines = max(2000, 2 * vocab_size)
    for i in range(n_lines):
        ru = i % 2 == 0
        words, syl = (ru_words, _RU_SYLLABLES) if ru else (en_words, _EN_SYLLABLES)
        out: list[str] = []
        for _ in range(rng.randint(4, 14)):
            r = rng.random()
            if r < 0.45:
                out.append(rng.choice(words))
            elif r < 0.85:
                w = pseudo(syl)
                out.append(w.capitalize() if rng.random() < 0.1 else w)
            else:
                out.append(
                    rng.choice(_MARKUP).format(
                        a=pseudo(syl), b=rng.choice(words), n=rng.randint(0, 99), m=rng.randint(0, 999)
                    )
                )
        lines.append(" ".join(out) + rng.choice([".", ".", ".", "!", "?", ";", ":", ""]))
    return "\n".join(lines) + "\n"


def train_sentencepiece(
    out_dir: Path,
    *,
    vocab_size: int = TINY_VOCAB,
    text: str | None = None,
    seed: int = 0,
    model_type: str = "unigram",
) -> Path:
    """Train a real SentencePiece model → ``out_dir/sentencepiece.model`` (deterministic).

    Defaults mirror the published Argos models: unigram, ``nmt_nfkc`` normalization,
    ``<unk>``=0, ``<s>``=1, ``</s>``=2, no padding piece; ``character_coverage=1.0`` so every
    character of the corpus (markup included) is a piece.
    """
    import sentencepiece as spm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = default_corpus(vocab_size, seed=seed) if text is None else text
    spm.set_random_generator_seed(seed)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([line for line in corpus.splitlines() if line.strip()]),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        num_threads=2,  # fixed: the result must not depend on the machine
        minloglevel=2,
    )
    path = out_dir / "sentencepiece.model"
    path.write_bytes(buf.getvalue())
    return path


def load_vocabulary(sp_model: Path) -> list[str]:
    """The SentencePiece pieces in id order (= the CTranslate2 vocabulary of our models)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    for special in ("<unk>", "<s>", "</s>"):
        if special not in vocab:
            raise ValueError(f"{sp_model}: SentencePiece vocabulary lacks {special}")
    return vocab


# --------------------------------------------------------------------------------------------
# CTranslate2 models
# --------------------------------------------------------------------------------------------


def _layers(layers: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(layers, int):
        return layers, layers
    enc, dec = layers
    return int(enc), int(dec)


def _new_spec(enc_layers: int, dec_layers: int, heads: int) -> Any:
    from ctranslate2.specs import common_spec, transformer_spec

    spec = transformer_spec.TransformerSpec.from_config(
        (enc_layers, dec_layers), heads, pre_norm=True, activation=common_spec.Activation.RELU
    )
    spec.encoder.scale_embeddings = False
    spec.decoder.scale_embeddings = False
    return spec


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _set_ln(ln: Any, d: int) -> None:
    ln.gamma = np.ones(d, np.float32)
    ln.beta = np.zeros(d, np.float32)


def _set_linear(lin: Any, w: np.ndarray, b: np.ndarray) -> None:
    lin.weight = _f32(w)
    lin.bias = _f32(b)


def _set_attention(att: Any, d: int, w: dict[str, np.ndarray], b: dict[str, np.ndarray], self_att: bool) -> None:
    _set_ln(att.layer_norm, d)
    if self_att:
        _set_linear(att.linear[0], np.concatenate([w["q"], w["k"], w["v"]]), np.concatenate([b["q"], b["k"], b["v"]]))
    else:
        _set_linear(att.linear[0], w["q"], b["q"])
        _set_linear(att.linear[1], np.concatenate([w["k"], w["v"]]), np.concatenate([b["k"], b["v"]]))
    _set_linear(att.linear[-1], w["o"], b["o"])


def _set_ffn(ffn_spec: Any, d: int, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> None:
    _set_ln(ffn_spec.layer_norm, d)
    _set_linear(ffn_spec.linear_0, w1, b1)
    _set_linear(ffn_spec.linear_1, w2, b2)


class _Init:
    """Weight generator: ``idle`` = tiny noise (residual passes through), ``random`` = Xavier."""

    def __init__(self, rng: np.random.Generator, mode: str, d: int, ffn: int) -> None:
        self.rng, self.mode, self.d, self.ffn = rng, mode, d, ffn
        # Idle sublayer output norm ≈ s² · d · sqrt(max(d, ffn)) ≈ 1e-3 (residual norm ≈ 1..4).
        self.s = float(np.sqrt(1e-3 / (d * np.sqrt(max(d, ffn)))))

    def w(self, out_dim: int, in_dim: int) -> np.ndarray:
        std = self.s if self.mode == "idle" else 1.0 / np.sqrt(in_dim)
        return self.rng.standard_normal((out_dim, in_dim), dtype=np.float32) * np.float32(std)

    def b(self, n: int) -> np.ndarray:
        std = self.s if self.mode == "idle" else 0.02
        return self.rng.standard_normal(n, dtype=np.float32) * np.float32(std)

    def attention(self, att: Any, self_att: bool, override: dict[str, np.ndarray] | None = None) -> None:
        d = self.d
        w = {k: self.w(d, d) for k in "qkvo"}
        b = {k: self.b(d) for k in "qkvo"}
        for k, v in (override or {}).items():
            w[k] = w[k] + v
        _set_attention(att, d, w, b, self_att)

    def ffn_layer(self, ffn_spec: Any) -> None:
        _set_ffn(ffn_spec, self.d, self.w(self.ffn, self.d), self.b(self.ffn), self.w(self.d, self.ffn), self.b(self.d))


def _unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``n`` zero-mean unit vectors of ``dim`` dims, orthonormal if ``n < dim``, else random."""
    x = rng.standard_normal((max(n, 1), dim))
    x -= x.mean(axis=1, keepdims=True)
    if n < dim:  # Orthonormal basis of a random n-dim subspace of the zero-mean hyperplane.
        q, _ = np.linalg.qr(x.T)
        x = q.T[:n]
        x -= x.mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n].astype(np.float64)


def _coherence(x: np.ndarray, rng: np.random.Generator, sample: int = 2048) -> float:
    """Max |cos| between distinct rows (exact up to ``2 * sample`` rows; sampled + bound beyond)."""
    n, dim = x.shape
    x = x.astype(np.float32)
    if n <= 2 * sample:
        g = x @ x.T
        np.fill_diagonal(g, 0.0)
        return float(np.abs(g).max())
    rows = rng.choice(n, sample, replace=False)
    g = x[rows] @ x.T
    g[np.arange(sample), rows] = 0.0
    theory = np.sqrt(2.0 * np.log(n * n) / dim)  # max of n²/2 N(0, 1/dim) variables, roughly
    return float(max(np.abs(g).max(), theory))


def _save(spec: Any, out_dir: Path, vocab: list[str], quantization: str | None, add_source_eos: bool) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.config.add_source_eos = add_source_eos
    spec.validate()
    spec.optimize(quantization=quantization)
    spec.save(str(out_dir))
    return out_dir


def build_copy_model(
    out_dir: Path,
    sp_model: Path,
    *,
    d_model: int = TINY_SHAPE["d_model"],
    layers: int | Sequence[int] = TINY_SHAPE["layers"],
    heads: int = TINY_SHAPE["heads"],
    ffn: int = TINY_SHAPE["ffn"],
    max_positions: int = 1100,
    quantization: str | None = None,
    seed: int = 0,
) -> Path:
    """CTranslate2 model whose translation is a copy of its input (see the module docstring).

    ``layers`` is ``n`` or ``(encoder_layers, decoder_layers)``; ``quantization`` is passed to
    ``spec.optimize`` (``None`` keeps float32; ``"int8"``, ``"float16"``, … as CTranslate2).
    Sources may have up to ``max_positions - 1`` tokens (``</s>`` is appended).
    """
    enc_layers, dec_layers = _layers(layers)
    if dec_layers < 1 or d_model % heads or d_model < 8:
        raise ValueError("need >= 1 decoder layer and d_model divisible by heads")
    vocab = load_vocabulary(sp_model)
    rng = np.random.default_rng(seed)
    d, dh = d_model, d_model // heads
    dp = min(dh, d // 2)
    dt = d - dp
    init = _Init(rng, "idle", d, ffn)

    tok = _unit_vectors(rng, len(vocab), dt)
    pos = _unit_vectors(rng, max_positions, dp)
    coh_tok, coh_pos = _coherence(tok, rng), _coherence(pos, rng)
    if coh_tok > 0.9 or coh_pos > 0.9:
        raise ValueError(
            f"d_model={d} too small for {len(vocab)} tokens / {max_positions} positions "
            f"(coherence {coh_tok:.2f} / {coh_pos:.2f})"
        )
    gap = 30.0  # minimum logit gap, in nats, for attention and for the output distribution

    spec = _new_spec(enc_layers, dec_layers, heads)
    emb = np.zeros((len(vocab), d))
    emb[:, :dt] = tok
    positions = np.zeros((max_positions, d))
    positions[:, dt:] = pos
    spec.encoder.embeddings[0].weight = _f32(emb)
    spec.encoder.position_encodings.encodings = _f32(positions)
    spec.decoder.position_encodings.encodings = _f32(positions)
    spec.decoder.embeddings.weight = init.w(len(vocab), d)  # ~0: previous target token unused
    _set_ln(spec.encoder.layer_norm, d)
    _set_ln(spec.decoder.layer_norm, d)
    for layer in spec.encoder.layer:
        init.attention(layer.self_attention, True)
        init.ffn_layer(layer.ffn)

    # Copy head(s).  Decoder query stream = P[t] (norm 1) → LayerNorm → sqrt(d)·P[t];
    # encoder output = LayerNorm(T ⊕ P) = sqrt(d/2)·(T ⊕ P).
    # score = a_q·a_k · sqrt(d)·sqrt(d/2) / sqrt(dh) · cos(P[t], P[s]) → beta at s == t.
    beta = gap / (1.0 - coh_pos)
    a_qk = np.sqrt(beta * np.sqrt(dh) / (d / np.sqrt(2.0)))
    wq = np.zeros((d, d))
    wk = np.zeros((d, d))
    for h in range(heads):
        for j in range(dp):
            wq[h * dh + j, dt + j] = a_qk
            wk[h * dh + j, dt + j] = a_qk
    # Value/output: token subspace → same dims, total gain c_tok (stream gets c_tok · T[src]).
    c_tok = 4.0
    a_vo = np.sqrt(c_tok / np.sqrt(d / 2.0))
    wv = np.zeros((d, d))
    wo = np.zeros((d, d))
    wv[np.arange(dt), np.arange(dt)] = a_vo
    wo[np.arange(dt), np.arange(dt)] = a_vo
    for i, layer in enumerate(spec.decoder.layer):
        init.attention(layer.self_attention, True)
        copy = i == dec_layers - 1
        init.attention(layer.attention, False, {"q": wq, "k": wk, "v": wv, "o": wo} if copy else None)
        init.ffn_layer(layer.ffn)

    # Final LayerNorm([c_tok·T, P]) = sqrt(d)/sqrt(c_tok²+1) · [c_tok·T, P]; logits = W·that.
    logit = gap / (1.0 - coh_tok)
    sigma = logit * np.sqrt(c_tok**2 + 1.0) / (np.sqrt(d) * c_tok)
    proj = np.zeros((len(vocab), d))
    proj[:, :dt] = sigma * tok
    _set_linear(spec.decoder.projection, proj, np.zeros(len(vocab)))
    return _save(spec, out_dir, vocab, quantization, add_source_eos=True)


def build_random_model(
    out_dir: Path,
    sp_model: Path,
    *,
    seed: int = 0,
    d_model: int = TINY_SHAPE["d_model"],
    layers: int | Sequence[int] = TINY_SHAPE["layers"],
    heads: int = TINY_SHAPE["heads"],
    ffn: int = TINY_SHAPE["ffn"],
    max_positions: int = 1100,
    quantization: str | None = None,
) -> Path:
    """Same architecture as :func:`build_copy_model`, plain random weights (fixed ``seed``).

    Produces gibberish.  It may not emit ``</s>`` for a long time: decoding then stops at
    ``max_decoding_length`` (CTranslate2 default 256, which argostranslate does not override).
    """
    enc_layers, dec_layers = _layers(layers)
    if d_model % heads:
        raise ValueError("d_model must be divisible by heads")
    vocab = load_vocabulary(sp_model)
    rng = np.random.default_rng(seed)
    d = d_model
    init = _Init(rng, "random", d, ffn)
    spec = _new_spec(enc_layers, dec_layers, heads)
    spec.encoder.embeddings[0].weight = _f32(rng.standard_normal((len(vocab), d)))
    spec.decoder.embeddings.weight = _f32(rng.standard_normal((len(vocab), d)))
    spec.encoder.position_encodings.encodings = _f32(0.5 * rng.standard_normal((max_positions, d)))
    spec.decoder.position_encodings.encodings = _f32(0.5 * rng.standard_normal((max_positions, d)))
    _set_ln(spec.encoder.layer_norm, d)
    _set_ln(spec.decoder.layer_norm, d)
    for layer in spec.encoder.layer:
        init.attention(layer.self_attention, True)
        init.ffn_layer(layer.ffn)
    for layer in spec.decoder.layer:
        init.attention(layer.self_attention, True)
        init.attention(layer.attention, False)
        init.ffn_layer(layer.ffn)
    # Logit std ≈ 3: peaked, so beam search output is stable and looks "confident".
    _set_linear(spec.decoder.projection, 3.0 * init.w(len(vocab), d), np.zeros(len(vocab)))
    return _save(spec, out_dir, vocab, quantization, add_source_eos=False)


# --------------------------------------------------------------------------------------------
# MiniSBD ONNX model (hand-written protobuf; the `onnx` package is not required)
# --------------------------------------------------------------------------------------------


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _pb_int(field: int, value: int) -> bytes:
    return _pb_varint(field << 3) + _pb_varint(value)


def _pb_bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _pb_varint((field << 3) | 2) + _pb_varint(len(data)) + data


def _onnx_value_info(name: str, elem_type: int, dims: Sequence[int | str]) -> bytes:
    shape = b"".join(
        _pb_bytes(1, _pb_bytes(2, dim) if isinstance(dim, str) else _pb_int(1, dim)) for dim in dims
    )
    tensor_type = _pb_int(1, elem_type) + _pb_bytes(2, shape)
    return _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(1, tensor_type))


def build_minisbd_model(out_file: Path, lang: str, *, sentence_end_chars: str = "") -> Path:
    """Write a real MiniSBD ONNX model: per character, logits over MiniSBD's 5 classes.

    The graph is ``logits = Gather(table, units)``: a character listed in
    ``sentence_end_chars`` ends a sentence (class 2), any other character continues the token
    (class 0); MiniSBD forces a sentence end on the last character of each paragraph.  So the
    default (no characters) yields one sentence per paragraph — which keeps copies exact.
    """
    FLOAT, INT64 = 1, 7
    units = ["<PAD>", "<UNK>", "<EMPTY>", "<ROOT>", *dict.fromkeys(sentence_end_chars)]
    table = np.zeros((len(units), 5), np.float32)
    table[:, 0] = 10.0
    for i in range(4, len(units)):
        table[i] = 0.0
        table[i, 2] = 10.0
    config = {
        "skip_newline": False,
        "max_seqlen": 1000,
        "no_ssplit": False,
        "batch_size": 32,
        "feat_funcs": ["space_before"],
        "use_dictionary": False,
        "num_dict_feat": 0,
    }
    vocab = {
        "lang": lang,
        "idx": 0,
        "cutoff": 0,
        "lower": False,
        "_unit2id": {u: i for i, u in enumerate(units)},
        "_id2unit": units,
    }
    initializer = (
        b"".join(_pb_int(1, n) for n in table.shape)
        + _pb_int(2, FLOAT)
        + _pb_bytes(8, "table")
        + _pb_bytes(9, table.astype("<f4").tobytes())
    )
    node = (
        _pb_bytes(1, "table") + _pb_bytes(1, "units") + _pb_bytes(2, "logits") + _pb_bytes(3, "lookup")
        + _pb_bytes(4, "Gather")
        + _pb_bytes(5, _pb_bytes(1, "axis") + _pb_int(20, 2) + _pb_int(3, 0))  # INT attribute
    )
    graph = (
        _pb_bytes(1, node)
        + _pb_bytes(2, "kbtrans_test_sbd")
        + _pb_bytes(5, initializer)
        + _pb_bytes(11, _onnx_value_info("units", INT64, ["batch", "seq"]))
        + _pb_bytes(11, _onnx_value_info("features", FLOAT, ["batch", "seq", "feats"]))
        + _pb_bytes(12, _onnx_value_info("logits", FLOAT, ["batch", "seq", 5]))
    )
    metadata = {"lang_code": lang, "config": json.dumps(config), "vocab": json.dumps(vocab), "lexicon": "null"}
    model = (
        _pb_int(1, 8)  # ir_version
        + _pb_bytes(2, "kbtrans-tests")
        + _pb_bytes(3, str(BUILDER_VERSION))
        + _pb_bytes(8, _pb_bytes(1, "") + _pb_int(2, 13))  # opset_import: ai.onnx 13
        + _pb_bytes(7, graph)
        + b"".join(_pb_bytes(14, _pb_bytes(1, k) + _pb_bytes(2, v)) for k, v in metadata.items())
    )
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(model)
    return out_file


# --------------------------------------------------------------------------------------------
# Packaging + installation
# --------------------------------------------------------------------------------------------


def package_argosmodel(
    model_dir: Path,
    sp_model: Path,
    out_file: Path,
    *,
    from_code: str,
    to_code: str,
    package_version: str = "1.9",
    kind: str,
    sentence_end_chars: str = "",
) -> Path:
    """Zip a CTranslate2 model + SentencePiece model (+ a MiniSBD ONNX model) as ``.argosmodel``.

    The archive is byte-for-byte deterministic (sorted entries, fixed timestamps, stored).
    ``kind`` is recorded in ``metadata.json`` (``"kbtrans_test_kind"``) and the README; it
    must name the model's behaviour ("copy", "random", …).
    """
    model_dir, sp_model, out_file = Path(model_dir), Path(sp_model), Path(out_file)
    top = f"translate-{from_code}_{to_code}-{kind}"
    metadata = {
        "package_version": package_version,
        "argos_version": "1.9",
        "from_code": from_code,
        "from_name": LANGUAGE_NAMES.get(from_code, from_code),
        "to_code": to_code,
        "to_name": LANGUAGE_NAMES.get(to_code, to_code),
        "type": "translate",
        "links": [],
        "kbtrans_test_kind": kind,
    }
    readme = (
        f"# kbtrans test model: {kind} ({from_code} → {to_code})\n\n"
        "Built by tests/support/argos_models.py; not a real translation model.\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        sbd = build_minisbd_model(Path(tmp) / f"{from_code}.onnx", from_code, sentence_end_chars=sentence_end_chars)
        entries: list[tuple[str, bytes | Path]] = [
            (f"{top}/metadata.json", (json.dumps(metadata, indent=2, ensure_ascii=False) + "\n").encode()),
            (f"{top}/README.md", readme.encode()),
            (f"{top}/sentencepiece.model", sp_model),
            (f"{top}/minisbd/{from_code}.onnx", sbd.read_bytes()),
        ]
        entries += [
            (f"{top}/model/{p.relative_to(model_dir).as_posix()}", p) for p in model_dir.rglob("*") if p.is_file()
        ]
        out_file.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out_file.with_name(out_file.name + ".part")
        with zipfile.ZipFile(tmp_out, "w", zipfile.ZIP_STORED) as zf:
            for name, src in sorted(entries, key=lambda e: e[0]):
                info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
                info.external_attr = 0o644 << 16
                zf.writestr(info, src.read_bytes() if isinstance(src, Path) else src)
        os.replace(tmp_out, out_file)
    return out_file


_XDG_VARS = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
_private_home: Path | None = None


def argos_settings() -> Any:
    """Import and return ``argostranslate.settings`` without touching the user's home.

    If argostranslate is not imported yet, the import runs with ``XDG_*_HOME`` pointing to a
    private temp dir (so its import-time ``makedirs`` and ``settings.json`` lookup stay there);
    the environment is restored right after.  If it was already imported, it is returned as is.
    """
    global _private_home
    if "argostranslate.settings" not in sys.modules:
        _private_home = Path(tempfile.mkdtemp(prefix="kbtrans-argos-home-"))
        saved = {k: os.environ.get(k) for k in _XDG_VARS}
        try:
            for k in _XDG_VARS:
                os.environ[k] = str(_private_home / k.lower())
            import argostranslate.settings  # noqa: F401
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return sys.modules["argostranslate.settings"]


def reset_argos_caches() -> None:
    """Forget installed languages and cached Translators (see the module docstring)."""
    translate = sys.modules.get("argostranslate.translate")
    if translate is not None:
        translate.get_installed_languages.cache_clear()
        translate.installed_translates.clear()


def activate_packages_dir(packages_dir: Path) -> None:
    """Point (the possibly already imported) argostranslate at ``packages_dir``, for good."""
    packages_dir = Path(packages_dir)
    packages_dir.mkdir(parents=True, exist_ok=True)
    settings = argos_settings()
    os.environ["ARGOS_PACKAGES_DIR"] = str(packages_dir)
    settings.package_data_dir = packages_dir
    settings.package_dirs = [packages_dir]
    settings.chunk_type = settings.ChunkType.MINISBD
    settings.model_provider = settings.ModelProvider.OPENNMT
    reset_argos_caches()


@contextlib.contextmanager
def argos_packages_dir(packages_dir: Path) -> Iterator[Path]:
    """Context manager around :func:`activate_packages_dir` that restores the previous state."""
    settings = argos_settings()
    names = ("package_data_dir", "package_dirs", "chunk_type", "model_provider")
    saved = {n: getattr(settings, n) for n in names}
    saved_env = os.environ.get("ARGOS_PACKAGES_DIR")
    activate_packages_dir(packages_dir)
    try:
        yield Path(packages_dir)
    finally:
        for n, v in saved.items():
            setattr(settings, n, v)
        if saved_env is None:
            os.environ.pop("ARGOS_PACKAGES_DIR", None)
        else:
            os.environ["ARGOS_PACKAGES_DIR"] = saved_env
        reset_argos_caches()


def install_package(argosmodel: Path, packages_dir: Path) -> Path:
    """Install ``argosmodel`` into ``packages_dir`` with ``argostranslate.package.install_from_path``.

    Leaves argostranslate pointed at ``packages_dir`` (use :func:`argos_packages_dir` around
    the call to scope that).  Returns the installed package directory.
    """
    activate_packages_dir(packages_dir)
    from argostranslate import package

    package.install_from_path(Path(argosmodel))
    reset_argos_caches()
    with zipfile.ZipFile(argosmodel) as zf:
        top = zf.namelist()[0].split("/", 1)[0]
    return Path(packages_dir) / top


# --------------------------------------------------------------------------------------------
# Cached builds (per session, or persistent via $KBTRANS_ARGOS_MODEL_CACHE)
# --------------------------------------------------------------------------------------------


class ArgosModelCache:
    """Build-once store of SentencePiece models, CTranslate2 models and ``.argosmodel`` files.

    Entries live in ``root/<name>-<hash of all parameters and BUILDER_VERSION>``; each is built
    in a temp dir and renamed into place, so concurrent processes (pytest-xdist) are safe.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _entry(self, name: str, params: dict[str, Any], build: Any) -> Path:
        key = hashlib.sha256(json.dumps([BUILDER_VERSION, name, params], sort_keys=True).encode()).hexdigest()[:16]
        final = self.root / f"{name}-{key}"
        if not final.exists():
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
            try:
                build(tmp)
                try:
                    os.rename(tmp, final)
                except OSError:  # someone else finished first
                    if not final.exists():
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def sentencepiece(self, vocab_size: int = TINY_VOCAB, *, seed: int = 0) -> Path:
        params = {"vocab_size": vocab_size, "seed": seed}
        d = self._entry("spm", params, lambda tmp: train_sentencepiece(tmp, vocab_size=vocab_size, seed=seed))
        return d / "sentencepiece.model"

    def model(self, kind: str, *, vocab_size: int = TINY_VOCAB, **shape: Any) -> Path:
        """The CTranslate2 model directory of ``kind`` (``"copy"`` or ``"random"``)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        shape = {**TINY_SHAPE, **shape}
        sp = self.sentencepiece(vocab_size)
        builder = build_copy_model if kind == "copy" else build_random_model
        params = {"kind": kind, "vocab_size": vocab_size, **shape}
        if isinstance(params.get("layers"), tuple):
            params["layers"] = list(params["layers"])
        return self._entry(f"ct2-{kind}", params, lambda tmp: builder(tmp / "model", sp, **shape)) / "model"

    def argosmodels(
        self,
        kind: str,
        *,
        pairs: Sequence[tuple[str, str]] = (("ru", "en"), ("en", "ru")),
        vocab_size: int = TINY_VOCAB,
        sentence_end_chars: str = "",
        **shape: Any,
    ) -> list[Path]:
        """``.argosmodel`` files of ``kind`` for each (from, to) pair (one shared model)."""
        model_dir = self.model(kind, vocab_size=vocab_size, **shape)
        sp = self.sentencepiece(vocab_size)
        out = []
        for src, tgt in pairs:
            params = {"model": model_dir.parent.name, "pair": [src, tgt], "sbd": sentence_end_chars}
            d = self._entry(
                f"argos-{kind}-{src}_{tgt}",
                params,
                lambda tmp, s=src, t=tgt: package_argosmodel(
                    model_dir, sp, tmp / f"translate-{s}_{t}.argosmodel",
                    from_code=s, to_code=t, kind=kind, sentence_end_chars=sentence_end_chars,
                ),
            )
            out.append(d / f"translate-{src}_{tgt}.argosmodel")
        return out

    def install(self, kind: str, packages_dir: Path, **kwargs: Any) -> list[Path]:
        """Build (cached) and install ru→en and en→ru of ``kind`` into ``packages_dir``."""
        return [install_package(p, packages_dir) for p in self.argosmodels(kind, **kwargs)]


_default_cache: ArgosModelCache | None = None


def default_cache() -> ArgosModelCache:
    """Process-wide cache: ``$KBTRANS_ARGOS_MODEL_CACHE`` if set, else a temp dir."""
    global _default_cache
    if _default_cache is None:
        root = os.environ.get("KBTRANS_ARGOS_MODEL_CACHE")
        _default_cache = ArgosModelCache(Path(root) if root else Path(tempfile.mkdtemp(prefix="kbtrans-argos-models-")))
    return _default_cache
