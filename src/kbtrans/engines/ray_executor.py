"""The Ray executor of the argos engine: the same batches, decoded by Ray Data on a Ray cluster.

``kbtrans translate --ray`` (or ``executor = "ray"`` in kbtrans.toml) changes only *where* the argos
engine decodes. The engine still splits segments into sentences, answers what it can from the sentence
cache, de-duplicates the rest across the whole stream, encodes them and cuts them into token-bounded
batches (:func:`kbtrans.engines.argos.plan_batches`); ``kbtrans translate`` still protects markup,
validates and repairs, uses the translation memory and writes catalogs atomically as results arrive.
Here the batches become the rows of a Ray Dataset (:data:`ROW_BATCHES` batches a row, one row a block,
so results stream back row by row), and ``map_batches`` runs :class:`SentenceDecoder` on an actor pool
(``ray.data.ActorPoolStrategy``):

* a callable class: each actor loads the CTranslate2 model once, in ``__init__``, from the package
  *path* (a translator cannot be pickled), through :func:`kbtrans.engines.argos.load_translator`;
* on a cluster with GPUs, one actor per GPU (``num_gpus=1``, ``device="cuda"``, batches of 4,096 tokens);
  else one actor per ``ray_actor_cpus`` CPUs (default 1) with CTranslate2's ``intra_threads`` set to them;
* Ray Data restarts an actor that dies and runs its rows again; ``Ctrl-C`` stops the run like the local
  engine's, with every entry finished so far saved, so a re-run sends only the rest.

Both executors decode exactly the same batches with the same options, so they write the same bytes.

Where: no ``ray_address`` starts a one-node cluster on this machine for the run
(``ray.init(num_cpus=threads or all cores)``); ``auto`` joins the cluster that ``ray start`` runs on this
machine; ``ray://HEAD:10001`` (Ray Client) a remote one. Every node needs kbtrans with ``[mt,ray]``
and the same model package at the same path (e.g. one ``ARGOS_PACKAGES_DIR`` on shared storage).

This is the only module that imports ``ray`` (lazily, with the install command when it is missing).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kbtrans.config import Config
from kbtrans.engines import argos
from kbtrans.errors import EngineError

INSTALL_HINT = "pip install 'kbtrans[ray]'"
#: CTranslate2 batches per Dataset row (a row is the unit Ray schedules, retries and streams back).
ROW_BATCHES = 4
#: Padded tokens per batch on GPUs (on CPUs: the local engine's).
GPU_BATCH_TOKENS = 4096
#: Seconds to wait for the cluster's port before saying it is not there.
CONNECT_TIMEOUT = 10.0
_ADDRESS_HINT = ("Start a cluster with `ray start --head` and pass its address (`--ray-address auto` on the head, "
                 "`--ray-address ray://HEAD:10001` elsewhere), or leave the address out to run a one-node cluster "
                 "here.")


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise EngineError(f"`translate --ray` needs Ray, which is not installed. Install it with: {INSTALL_HINT} "
                          "(or translate without --ray).") from None


def connect(cfg: Config) -> Any:
    """The ``ray`` module, connected to the cluster of ``cfg.ray_address`` (started here when "")."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    address = cfg.ray_address
    if address and address != "auto":
        _reachable(address)
    quiet: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                             "log_to_driver": False, "configure_logging": True}
    # Ray's C++ core logs warnings about its own internals to stderr (e.g. actor constructor arguments in the
    # object store); kbtrans reports failures itself. RAY_BACKEND_LOG_LEVEL set by the user wins.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=cfg.threads or os.cpu_count() or 1, **quiet)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError, grpc errors…
        ray.shutdown()
        what = f"cannot connect to the Ray cluster at {address!r}" if address else "cannot start a local Ray cluster"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"{what} ({detail}). {_ADDRESS_HINT}") from None
    data = importlib.import_module("ray.data")
    context = data.DataContext.get_current()
    context.enable_progress_bars = False  # kbtrans shows its own
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # e.g. "Progress bars disabled"
    return ray


def _reachable(address: str) -> None:
    """Fail at once (not after Ray's minutes of retries) when nothing listens at ``address``."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(f"the Ray address {address!r} is not HOST:PORT or ray://HOST:PORT. {_ADDRESS_HINT}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise EngineError(f"cannot connect to the Ray cluster at {address!r} ({exc.strerror or exc}). "
                          f"Is it running (`ray status` on the head)? {_ADDRESS_HINT}") from None


@dataclasses.dataclass(frozen=True)
class Placement:
    """How the actors of a run are placed."""

    actors: int
    """Actors in the pool."""
    num_cpus: float
    """CPUs each actor reserves."""
    num_gpus: float
    """GPUs each actor reserves (0 or 1)."""
    options: argos.DecodeOptions
    """What each actor's translator runs with (device, threads)."""


def placement(resources: dict[str, float], cfg: Config, options: argos.DecodeOptions) -> Placement:
    """Actors for a cluster with ``resources`` (``ray.cluster_resources()``): one per GPU, else one per
    ``ray_actor_cpus`` CPUs; decoding options as the engine's, device and threads per actor."""
    gpus = int(resources.get("GPU", 0))
    if gpus > 0 and cfg.device != "cpu":
        opts = dataclasses.replace(options, device="cuda", inter_threads=1, intra_threads=1,
                                   max_batch_tokens=GPU_BATCH_TOKENS)
        return Placement(gpus, 1, 1, opts)
    cpus, total = cfg.ray_actor_cpus, int(resources.get("CPU", 0))
    if cpus > total:  # no actor could ever start: Ray would wait for the resources forever
        raise EngineError(f"ray_actor_cpus = {cpus}, but the Ray cluster has {total} CPUs. Set `ray_actor_cpus` in "
                          f"kbtrans.toml to at most the CPUs of one node.")
    opts = dataclasses.replace(options, device="cpu", inter_threads=1, intra_threads=cpus)
    return Placement(total // cpus, cpus, 0, opts)


class SentenceDecoder:
    """The Ray Data callable class: one CTranslate2 translator per actor, loaded once."""

    def __init__(self, package: str, options: dict[str, Any], target_prefix: str) -> None:
        path = Path(package)
        if not (path / "model").is_dir():
            raise EngineError(f"the model package {path} is not on this Ray node ({os.uname().nodename}). "
                              "Install the same package at the same path on every node.")
        self.options = argos.DecodeOptions(**options)
        self.target_prefix = target_prefix
        self.translator = argos.load_translator(path, self.options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        done = []
        for work in batch["work"]:
            rows = []
            for ids, max_decoding, tokens in json.loads(str(work)):
                results = argos.translate_tokens(self.translator, tokens, self.options, self.target_prefix,
                                                 max_decoding)
                rows.append([ids, [list(r.hypotheses[0]) for r in results]])
            done.append(json.dumps(rows, ensure_ascii=False))
        return {"done": done}


class RayDecoder:
    """An :class:`kbtrans.engines.argos.Decoder` that decodes on a Ray cluster (see the module docstring)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.ray = connect(cfg)
        self.resources: dict[str, float] = dict(self.ray.cluster_resources())

    def max_batch_tokens(self, options: argos.DecodeOptions) -> int:
        return placement(self.resources, self.cfg, options).options.max_batch_tokens

    def decode(self, model: argos._Model, tokens: list[list[str]],
               batches: list[argos.Batch]) -> Iterator[tuple[int, list[str]]]:
        if not batches:
            return
        data = importlib.import_module("ray.data")
        where = placement(self.resources, self.cfg, model.options)
        rows = [{"work": json.dumps([[list(b.ids), b.max_decoding, [tokens[j] for j in b.ids]]
                                     for b in batches[i:i + ROW_BATCHES]], ensure_ascii=False)}
                for i in range(0, len(batches), ROW_BATCHES)]
        dataset = data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            SentenceDecoder,
            batch_size=1,
            compute=data.ActorPoolStrategy(size=min(where.actors, len(rows))),
            fn_constructor_kwargs={"package": str(model.info.path), "options": dataclasses.asdict(where.options),
                                   "target_prefix": model.info.target_prefix},
            num_cpus=where.num_cpus,
            num_gpus=where.num_gpus,
        )
        try:
            for row in dataset.iter_rows():
                for ids, outputs in json.loads(str(row["done"])):
                    yield from zip(ids, outputs, strict=True)
        except EngineError:
            raise
        except Exception as exc:  # ray.exceptions.RayTaskError, ActorDiedError, …: say what failed, no traceback
            cause = getattr(exc, "cause", None)
            if isinstance(cause, EngineError):
                raise EngineError(str(cause)) from None
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise EngineError(f"the Ray cluster failed while translating with {model.info.name} {model.info.version} "
                              f"({type(exc).__name__}: {detail[:300]}). Every entry finished so far is saved; "
                              "check the cluster (`ray status`) and run the command again.") from None
