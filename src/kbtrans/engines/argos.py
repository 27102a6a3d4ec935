"""The ``argos`` engine: Argos Translate models driven directly through CTranslate2.

This is the only module that imports ``argostranslate``, ``ctranslate2`` and ``sentencepiece``
(lazily, with an install hint). ``argostranslate.package`` finds the installed model package; the
engine then loads the package's CTranslate2 model and SentencePiece model itself and runs one
batched, length-sorted, de-duplicated stream over every sentence of the batch:

1. split every segment into sentences (:mod:`kbtrans.sentences`), keeping the whitespace between;
2. copy sentences that have no letter (placeholders, numbers, punctuation) unchanged;
3. look every other sentence up in the sentence cache (on disk under ``.kbtrans/mt-cache``, keyed
   by model and decoding options), then de-duplicate the rest across the whole batch;
4. encode with SentencePiece, sort by length, and translate in one asynchronous ``translate_batch``
   stream (``batch_type="tokens"``, several CTranslate2 workers), taking results as they finish;
5. decode with SentencePiece itself (argostranslate's tokenizer turns every ``_`` into a space),
   undo SentencePiece's NFKC normalisation wherever the model copied source text (``…``,
   non-breaking spaces, full-width forms, repeated spaces), store the result in the cache, and
   yield each segment as soon as all its sentences are done.

Decoding options are argostranslate's (``translate.apply_packaged_translation``): beam size
``ARGOS_BEAM_SIZE`` (4), one hypothesis, ``length_penalty=0.2``, ``replace_unknowns=True``, the
package's ``target_prefix``, ``max_decoding_length`` 256 (longer only for long sentences, which
argostranslate would silently truncate). So for a plain sentence the output equals
``argostranslate.translate.translate()``; only a near-tie between beam hypotheses can be shifted
by batching (padding changes the floating-point sums). ``fast=True`` decodes greedily.

Model management (``kbtrans models``): :func:`list_models`, :func:`install`,
:func:`install_file`. The packages folder is argostranslate's (``~/.local/share/argos-translate/
packages``) unless ``ARGOS_PACKAGES_DIR`` names another one (read when called, not only at import).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import json
import os
import time
import urllib.request
import zipfile
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kbtrans.config import Config
from kbtrans.errors import EngineError
from kbtrans.sentences import split as split_sentences

__all__ = [
    "ArgosEngine",
    "DecodeOptions",
    "ModelInfo",
    "SentenceCache",
    "create",
    "find_model",
    "install",
    "install_command",
    "install_file",
    "list_models",
    "packages_dirs",
]

INSTALL_HINT = "pip install 'kbtrans[mt]'"
CACHE_FORMAT = 1
#: Sentences up to this many tokens decode with argostranslate's max_decoding_length (256).
_LONG_SENTENCE = 120
_ARGOS_MAX_DECODING = 256
#: Shortest run of copied characters in which normalised characters are restored.
_RESTORE_MIN = 3


# --------------------------------------------------------------------------------------------
# Lazy imports
# --------------------------------------------------------------------------------------------


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing = exc.name or name
        raise EngineError(
            f"the argos engine needs the optional machine-translation dependencies ({missing} is not installed). "
            f"Install them with: {INSTALL_HINT} (or run `kbtrans translate --engine pseudo`)."
        ) from None


def _settings() -> Any:
    return _import("argostranslate.settings")


def _package() -> Any:
    return _import("argostranslate.package")


# --------------------------------------------------------------------------------------------
# Models: locate, list, install
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """An installed Argos Translate package."""

    from_code: str
    """Source language code ("ru")."""
    to_code: str
    """Target language code ("en")."""
    from_name: str
    """Source language name ("Russian")."""
    to_name: str
    """Target language name ("English")."""
    name: str
    """argospm package name ("translate-ru_en")."""
    version: str
    """Package version ("1.9")."""
    path: Path
    """Installed package directory (holds metadata.json, model/, sentencepiece.model)."""
    target_prefix: str = ""
    """Token the model expects as target prefix (multilingual packages); usually empty."""


def packages_dirs() -> list[Path]:
    """Where installed packages are looked for: ``$ARGOS_PACKAGES_DIR``, else argostranslate's folders."""
    env = os.environ.get("ARGOS_PACKAGES_DIR")
    if env:
        return [Path(env).expanduser()]
    return [Path(p) for p in _settings().package_dirs]


def install_command(source: str, target: str) -> str:
    """The commands that install the model for ``source`` → ``target`` (for error messages)."""
    return (
        f"`kbtrans models install {source} {target}` (downloads it), or offline "
        f"`kbtrans models install --file PATH.argosmodel`"
    )


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def list_models(cfg: Config | None = None) -> list[ModelInfo]:
    """Installed translation packages, sorted by language pair then newest version first."""
    del cfg  # the packages folder is argostranslate's (or $ARGOS_PACKAGES_DIR), not per project
    return _scan()[0]


def _scan() -> tuple[list[ModelInfo], list[tuple[Path, str]]]:
    """Installed translation packages (as :func:`list_models`), and the folders that hold a damaged one
    with the reason (skipped: one damaged package must not break every other language pair)."""
    package = _package()
    found: list[ModelInfo] = []
    damaged: list[tuple[Path, str]] = []
    for directory in packages_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if not (path / "metadata.json").is_file():
                continue
            try:
                pkg = package.Package(path)
            except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
                damaged.append((path, f"{type(exc).__name__}: {exc}"))
                continue
            if getattr(pkg, "type", "translate") != "translate" or not pkg.from_code or not pkg.to_code:
                continue
            found.append(
                ModelInfo(
                    from_code=pkg.from_code, to_code=pkg.to_code, from_name=pkg.from_name or pkg.from_code,
                    to_name=pkg.to_name or pkg.to_code, name=package.argospm_package_name(pkg),
                    version=str(pkg.package_version), path=path, target_prefix=pkg.target_prefix or "",
                )
            )
    found.sort(key=lambda m: (m.from_code, m.to_code, tuple(-v for v in _version_key(m.version)), str(m.path)))
    return found, damaged


def find_model(source: str, target: str) -> ModelInfo:
    """The installed package for ``source`` → ``target`` (newest version), or EngineError saying how to install it."""
    models, damaged = _scan()
    for info in models:
        if info.from_code == source and info.to_code == target:
            return info
    for path, reason in damaged:
        if f"{source}_{target}" in path.name:
            raise EngineError(f"the Argos Translate package in {path} looks like {source} → {target} but cannot be "
                              f"read ({reason}). Delete that folder and reinstall the model with "
                              f"{install_command(source, target)}.")
    where = ", ".join(str(d) for d in packages_dirs())
    raise EngineError(
        f"no Argos Translate model for {source} → {target} is installed (looked in {where}). "
        f"Install it with {install_command(source, target)}; set ARGOS_PACKAGES_DIR to use another "
        "packages folder, or run `kbtrans translate --engine pseudo` to test without a model."
    )


@contextlib.contextmanager
def _install_target() -> Iterator[Path]:
    """Point argostranslate's install folder at the first packages folder for the duration."""
    settings = _settings()
    target = packages_dirs()[0]
    target.mkdir(parents=True, exist_ok=True)
    saved = settings.package_data_dir
    settings.package_data_dir = target
    try:
        yield target
    finally:
        settings.package_data_dir = saved


def _installed_from_zip(top: str, target: Path) -> ModelInfo:
    for info in list_models():
        if info.path == target / top:
            return info
    raise EngineError("the package was extracted but is not a translation package (no from_code/to_code "
                      "in metadata.json). Check the file.", path=target / top)


def install_file(path: Path) -> ModelInfo:
    """Install an ``.argosmodel`` file (offline) into the packages folder."""
    path = Path(path)
    if not path.is_file():
        raise EngineError("no such file. Pass the path of a downloaded .argosmodel package.", path=path)
    if not zipfile.is_zipfile(path):
        raise EngineError("is not an Argos package (.argosmodel files are zip archives). Download it again.",
                          path=path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            tops = {n.split("/", 1)[0] for n in names if n.strip("/")}
            if len(tops) != 1 or f"{next(iter(tops))}/metadata.json" not in names:
                raise EngineError("is not an Argos package: expected one top-level folder with metadata.json.",
                                  path=path)
            top = next(iter(tops))
            damaged = zf.testzip()
            if damaged is not None:
                raise EngineError(f"is damaged ({damaged} fails its checksum). Download it again.", path=path)
            meta = json.loads(zf.read(f"{top}/metadata.json"))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise EngineError(f"is not a readable Argos package ({exc}). Download it again.", path=path) from None
    if not (isinstance(meta, dict) and isinstance(meta.get("from_code"), str) and meta["from_code"]
            and isinstance(meta.get("to_code"), str) and meta["to_code"]):
        raise EngineError("is not an Argos translation package: its metadata.json names no from_code and "
                          "to_code. Download the package again.", path=path)
    package = _package()
    with _install_target() as target:
        package.install_from_path(path)
    _forget_argos_caches()
    return _installed_from_zip(top, target)


def install(from_code: str, to_code: str) -> ModelInfo:
    """Download the package index and install the package for ``from_code`` → ``to_code`` (needs the network)."""
    settings = _settings()
    package = _package()
    url = str(settings.remote_package_index)
    offline_hint = (
        f"Offline? On a connected machine download the translate-{from_code}_{to_code} package "
        "(https://www.argosopentech.com/argospm/index/), copy it here and run "
        "`kbtrans models install --file PATH.argosmodel`."
    )
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
        index = json.loads(data)
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot download the Argos package index {url} ({exc}). {offline_hint}") from None
    Path(settings.local_package_index).write_bytes(data)
    candidates = [
        package.AvailablePackage(meta) for meta in index
        if isinstance(meta, dict) and meta.get("from_code") == from_code and meta.get("to_code") == to_code
        and meta.get("type", "translate") == "translate"
    ]
    if not candidates:
        raise EngineError(f"the Argos package index has no {from_code} → {to_code} translation package. "
                          "Check the language codes (e.g. `kbtrans models install ru en`).")
    best = max(candidates, key=lambda p: _version_key(str(p.package_version)))
    try:
        downloaded = Path(best.download())
    except Exception as exc:  # argostranslate raises bare Exception on a failed download
        raise EngineError(f"downloading {package.argospm_package_name(best)} {best.package_version} failed "
                          f"({exc}). {offline_hint}") from None
    return install_file(downloaded)


def _forget_argos_caches() -> None:
    import sys

    translate = sys.modules.get("argostranslate.translate")
    if translate is not None:
        translate.get_installed_languages.cache_clear()


# --------------------------------------------------------------------------------------------
# Sentence cache
# --------------------------------------------------------------------------------------------


class SentenceCache:
    """Append-only JSON-lines file of ``{"s": source sentence, "t": translation}`` for one model + options.

    Every append is one ``write`` of whole lines on an ``O_APPEND`` descriptor, so concurrent
    writers never interleave inside a line; a torn last line (crash) is ignored when loading.
    """

    def __init__(self, path: Path | None, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self._data: dict[str, str] = {}
        self._pending: list[bytes] = []
        self._last_flush = time.monotonic()
        if path is not None and path.is_file():
            with path.open("rb") as fh:
                for raw in fh:
                    try:
                        item = json.loads(raw)
                        if isinstance(item, dict) and isinstance(item.get("s"), str) and isinstance(item.get("t"), str):
                            item["t"].encode()  # a lone surrogate could not be written to a catalog
                            self._data[item["s"]] = item["t"]
                    except (ValueError, RecursionError):
                        continue  # a torn or damaged line: that sentence is translated again

    def __len__(self) -> int:
        return len(self._data)

    def get(self, source: str) -> str | None:
        return self._data.get(source)

    def put(self, source: str, target: str) -> None:
        if self._data.get(source) == target:
            return
        self._data[source] = target
        if self.path is not None:
            self._pending.append((json.dumps({"s": source, "t": target}, ensure_ascii=False) + "\n").encode())
            if time.monotonic() - self._last_flush > 1.0:
                self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if self.path is None or not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                data = (json.dumps({"kbtrans-mt-cache": CACHE_FORMAT, **self.header}, ensure_ascii=False)
                        + "\n").encode() + data
            elif os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # after a torn last line: start a new one, or the first record is lost
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodeOptions:
    """CTranslate2 options of one engine (argostranslate's defaults unless ``fast``)."""

    beam_size: int
    """Beam width (argostranslate: ``ARGOS_BEAM_SIZE``, 4; ``fast``: 1 = greedy)."""
    length_penalty: float = 0.2
    """argostranslate's length penalty."""
    max_batch_tokens: int = 1024
    """Tokens per CTranslate2 batch (``batch_type="tokens"``)."""
    inter_threads: int = 1
    """CTranslate2 workers translating batches in parallel."""
    intra_threads: int = 0
    """Threads per worker (0 = CTranslate2's default)."""
    device: str = "cpu"
    """``cpu`` or ``cuda``."""

    def translate_kwargs(self) -> dict[str, Any]:
        return {
            "beam_size": self.beam_size,
            "num_hypotheses": 1,
            "length_penalty": self.length_penalty,
            "replace_unknowns": True,
            "return_scores": True,
        }


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def load_translator(package: Path, options: DecodeOptions) -> Any:
    """The CTranslate2 translator of the installed package folder ``package`` (also what a Ray actor loads)."""
    ctranslate2 = _import("ctranslate2")
    extra: dict[str, Any] = {}
    compute_type = str(getattr(_settings(), "compute_type", "auto"))
    if compute_type != "auto":  # ARGOS_COMPUTE_TYPE, passed like argostranslate does
        extra["compute_type"] = compute_type
    try:
        return ctranslate2.Translator(
            str(package / "model"), device=options.device,
            inter_threads=options.inter_threads, intra_threads=options.intra_threads, **extra,
        )
    except (RuntimeError, ValueError) as exc:
        raise EngineError(f"CTranslate2 cannot load the model ({exc}). Reinstall the package.",
                          path=package / "model") from None


@dataclass(frozen=True)
class Batch:
    """One CTranslate2 batch: sentences of similar length, decoded together (locally or on a Ray actor)."""

    ids: tuple[int, ...]
    """Indices of the sentences (into the engine's list of unique sentences)."""
    max_decoding: int
    """``max_decoding_length`` of the batch (argostranslate's 256, longer for long sentences)."""


def plan_batches(tokens: Sequence[Sequence[str]], max_tokens: int) -> list[Batch]:
    """Cut ``tokens`` (encoded sentences) into batches: sorted by length, at most ``max_tokens`` padded tokens
    each (one sentence at least), sentences over ``_LONG_SENTENCE`` tokens apart with a longer decoding limit.

    Both executors decode exactly these batches, so they pad alike and write the same bytes.
    """
    order = sorted(range(len(tokens)), key=lambda j: len(tokens[j]))
    normal = [j for j in order if len(tokens[j]) <= _LONG_SENTENCE]
    long = [j for j in order if len(tokens[j]) > _LONG_SENTENCE]
    groups = [(normal, _ARGOS_MAX_DECODING)]
    if long:
        groups.append((long, max(_ARGOS_MAX_DECODING, 2 * max(len(tokens[j]) for j in long) + 16)))
    batches: list[Batch] = []
    for group, max_decoding in groups:
        current: list[int] = []
        for j in group:  # ascending length: the padded size is (sentences + 1) × this one's length
            if current and (len(current) + 1) * (len(tokens[j]) + 1) > max_tokens:
                batches.append(Batch(tuple(current), max_decoding))
                current = []
            current.append(j)
        if current:
            batches.append(Batch(tuple(current), max_decoding))
    return batches


def translate_tokens(translator: Any, tokens: Sequence[list[str]], options: DecodeOptions, target_prefix: str,
                     max_decoding: int, *, asynchronous: bool = False) -> Any:
    """``translator.translate_batch`` on one :class:`Batch`'s tokens with the engine's options (one batch:
    CTranslate2 does not cut it again). Returns the results, or their futures when ``asynchronous``."""
    return translator.translate_batch(
        list(tokens),
        target_prefix=[[target_prefix] for _ in tokens] if target_prefix else None,
        max_batch_size=len(tokens),
        batch_type="examples",
        max_decoding_length=max_decoding,
        asynchronous=asynchronous,
        **options.translate_kwargs(),
    )


class Decoder(Protocol):
    """Where batches are decoded: in this process (:class:`LocalDecoder`) or on a Ray cluster."""

    def max_batch_tokens(self, options: DecodeOptions) -> int:
        """Padded tokens per batch."""
        ...

    def decode(self, model: _Model, tokens: list[list[str]], batches: list[Batch]) -> Iterator[tuple[int, list[str]]]:
        """Decode every batch; yield ``(sentence index, output tokens)`` as results are ready, in any order."""
        ...


class LocalDecoder:
    """CTranslate2 in this process: every batch queued at once on the translator's workers, results taken in
    order as they finish."""

    def max_batch_tokens(self, options: DecodeOptions) -> int:
        return options.max_batch_tokens

    def decode(self, model: _Model, tokens: list[list[str]], batches: list[Batch]) -> Iterator[tuple[int, list[str]]]:
        prefix = model.info.target_prefix
        submitted = [(batch, translate_tokens(model.translator, [tokens[j] for j in batch.ids], model.options,
                                              prefix, batch.max_decoding, asynchronous=True))
                     for batch in batches]
        for batch, futures in submitted:
            for j, future in zip(batch.ids, futures, strict=True):
                try:
                    result = future.result()
                except (RuntimeError, ValueError) as exc:
                    raise EngineError(f"CTranslate2 failed while translating with {model.info.name} "
                                      f"{model.info.version} ({exc}). Try `device = \"cpu\"` or fewer `threads` in "
                                      "kbtrans.toml, or reinstall the model.", path=model.info.path) from None
                yield j, list(result.hypotheses[0])


class _Model:
    """One loaded package: CTranslate2 translator, SentencePiece processor, cache."""

    def __init__(self, info: ModelInfo, options: DecodeOptions, cache_root: Path | None) -> None:
        spm = _import("sentencepiece")
        self.info = info
        self.options = options
        sp_path = info.path / "sentencepiece.model"
        if not sp_path.is_file():
            raise EngineError("this Argos package has no sentencepiece.model (BPE packages are not supported). "
                              "Install a SentencePiece package for this language pair.", path=info.path)
        self.sp = spm.SentencePieceProcessor(model_file=str(sp_path))
        self.translator = load_translator(info.path, options)
        header = {
            "package": info.name, "version": info.version, "dir": info.path.name,
            "metadata": hashlib.sha256((info.path / "metadata.json").read_bytes()).hexdigest()[:16],
            "model_bytes": (info.path / "model" / "model.bin").stat().st_size
            if (info.path / "model" / "model.bin").exists() else 0,
            "sp_bytes": sp_path.stat().st_size,
            "beam_size": options.beam_size, "length_penalty": options.length_penalty,
        }
        cache_path = None
        if cache_root is not None:
            key = hashlib.sha256(json.dumps([CACHE_FORMAT, header], sort_keys=True).encode()).hexdigest()[:16]
            cache_path = cache_root / f"{info.name}-{info.version}-{key}.jsonl"
        self.cache = SentenceCache(cache_path, header)

    # -- tokens <-> text ------------------------------------------------------------------

    def encode(self, sentences: Sequence[str]) -> list[list[str]]:
        if not sentences:
            return []
        encoded: list[list[str]] = self.sp.encode(list(sentences), out_type=str)
        return encoded

    def decode(self, tokens: list[str], source: str) -> str:
        prefix = self.info.target_prefix
        if prefix and tokens and tokens[0] == prefix:
            tokens = tokens[1:]
        # decode_pieces emits pieces outside the vocabulary verbatim, "▁" included (argostranslate
        # then replaces "▁" by a space; it also replaces "_", which we must not).
        text: str = self.sp.decode_pieces(tokens).replace("▁", " ")
        if text.startswith(" "):
            text = text[1:]
        return self.restore(source, text)

    def restore(self, source: str, output: str) -> str:
        """Undo SentencePiece normalisation (NFKC, spaces) in the parts of ``output`` copied from ``source``."""
        normalized, offsets = self.sp.Normalize(source, with_offsets=True)
        norm = normalized.replace("▁", " ")
        if norm.lstrip(" ") == source:
            return output
        if norm.startswith(" "):
            norm, offsets = norm[1:], offsets[1:]
        matcher = difflib.SequenceMatcher(None, norm, output, autojunk=False)
        pieces: list[str] = []
        pos = 0
        for a, b, size in matcher.get_matching_blocks():
            a_end = a + size
            while a < a_end and a > 0 and offsets[a] == offsets[a - 1]:
                a, b = a + 1, b + 1  # do not start inside the expansion of one source character
            while a_end > a and a_end < len(norm) and offsets[a_end] == offsets[a_end - 1]:
                a_end -= 1  # nor end inside one
            size = a_end - a
            if size < _RESTORE_MIN:
                continue
            original = source[offsets[a] : offsets[a_end]]
            if a_end == len(norm):
                original = original.rstrip()
            pieces.append(output[pos:b])
            pieces.append(original)
            pos = b + size
        pieces.append(output[pos:])
        return "".join(pieces)


def _device(cfg: Config) -> str:
    if cfg.device != "auto":
        return cfg.device
    ctranslate2 = _import("ctranslate2")
    try:
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except RuntimeError:
        return "cpu"


def decode_options(cfg: Config, *, fast: bool = False) -> DecodeOptions:
    """The CTranslate2 options for ``cfg`` (threads, device) and the preset."""
    device = _device(cfg)
    beam = 1 if fast else max(1, int(_settings().beam_size))
    if device == "cuda":
        return DecodeOptions(beam_size=beam, max_batch_tokens=4096, inter_threads=1, intra_threads=1, device=device)
    threads = cfg.threads or os.cpu_count() or 1
    inter = max(1, min(threads, 4))
    return DecodeOptions(beam_size=beam, max_batch_tokens=1024, inter_threads=inter,
                         intra_threads=max(1, threads // inter), device=device)


class ArgosEngine:
    """Argos Translate models through CTranslate2 (see the module docstring)."""

    name = "argos"

    def __init__(self, cfg: Config, *, fast: bool = False, cache: bool = True,
                 decoder: Decoder | None = None) -> None:
        self.cfg = cfg
        self.decoder: Decoder = decoder or LocalDecoder()
        """Where sentences are decoded (this process, or a Ray cluster: :mod:`kbtrans.engines.ray_executor`)."""
        self.fast = fast
        self.options = decode_options(cfg, fast=fast)
        self.cache_root: Path | None = cfg.cache_dir / "mt-cache" if cache else None
        self._models: dict[tuple[str, str], _Model] = {}
        self.model_sentences = 0
        """Unique sentences sent to the model so far (cache misses)."""
        self.cached_sentences = 0
        """Sentences answered by the sentence cache so far."""

    def model(self, source: str, target: str) -> _Model:
        """The loaded model for ``source`` → ``target`` (EngineError with the install command if missing)."""
        key = (source, target)
        if key not in self._models:
            self._models[key] = _Model(find_model(source, target), self.options, self.cache_root)
        return self._models[key]

    def provenance(self, source: str, target: str) -> str:
        info = self.model(source, target).info
        return f"argos {info.name} {info.version}" + (" fast" if self.fast else "")

    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        if not texts:
            return
        model = self.model(source, target)
        spans = [split_sentences(t, source) for t in texts]
        done: list[list[str | None]] = [[None] * len(s) for s in spans]
        missing = [len(s) for s in spans]
        waiting: dict[str, list[tuple[int, int]]] = {}
        ready: deque[int] = deque()

        def fill(i: int, k: int, value: str) -> None:
            done[i][k] = value
            missing[i] -= 1
            if missing[i] == 0:
                ready.append(i)

        for i, (text, sent_spans) in enumerate(zip(texts, spans, strict=True)):
            if not sent_spans:
                ready.append(i)
            for k, (s, e) in enumerate(sent_spans):
                sentence = text[s:e]
                if not _has_letter(sentence):
                    fill(i, k, sentence)
                    continue
                cached = model.cache.get(sentence)
                if cached is not None:
                    self.cached_sentences += 1
                    fill(i, k, cached)
                    continue
                waiting.setdefault(sentence, []).append((i, k))

        def join(i: int) -> str:
            text, sent_spans, parts = texts[i], spans[i], done[i]
            out, pos = [], 0
            for (s, e), part in zip(sent_spans, parts, strict=True):
                out.append(text[pos:s])
                out.append(part or "")
                pos = e
            out.append(text[pos:])
            return "".join(out)

        def flush_ready() -> Iterator[tuple[int, str]]:
            while ready:
                i = ready.popleft()
                yield i, join(i)

        try:
            yield from flush_ready()
            unique = list(waiting)
            if not unique:
                return
            tokens = model.encode(unique)
            batches = plan_batches(tokens, self.decoder.max_batch_tokens(model.options))
            self.model_sentences += len(unique)
            for j, result in self.decoder.decode(model, tokens, batches):
                translation = model.decode(result, unique[j])
                model.cache.put(unique[j], translation)
                for i, k in waiting[unique[j]]:
                    fill(i, k, translation)
                yield from flush_ready()
        finally:
            model.cache.flush()


def create(cfg: Config, *, fast: bool = False) -> ArgosEngine:
    """The argos engine for ``cfg`` (``fast``: greedy decoding, for drafts)."""
    for module in ("ctranslate2", "sentencepiece", "argostranslate.package"):
        _import(module)
    decoder: Decoder | None = None
    if cfg.executor == "ray":
        from kbtrans.engines import ray_executor

        decoder = ray_executor.RayDecoder(cfg)
    return ArgosEngine(cfg, fast=fast, decoder=decoder)

