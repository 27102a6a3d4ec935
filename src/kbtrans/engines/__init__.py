"""Machine-translation engines: a small Protocol and a registry.

An engine translates segments whose markup :mod:`kbtrans.placeholders` already replaced by ``⟦N⟧``
placeholders, one line each. It yields ``(index, translation)`` pairs as results become ready, in any
order, each index exactly once, so ``kbtrans translate`` can write catalogs as it goes. Heavy imports
happen inside the engine modules, lazily, with an install hint when they are missing.

Engines are found by name: ``argos`` and ``pseudo`` are built in; an environment variable
``KBTRANS_ENGINE_<NAME>=module:factory`` registers another one (e.g. a test engine, or a site's own
MT service) under ``<name>`` (lower case). A factory is called as ``factory(cfg, fast=fast)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Protocol

from kbtrans.config import Config
from kbtrans.errors import EngineError


class Engine(Protocol):
    """What ``kbtrans translate`` needs from an engine."""

    name: str
    """Registry name ("argos", "pseudo")."""

    def provenance(self, source: str, target: str) -> str:
        """What produced a translation, for the ``#. kbtrans-mt:`` comment (e.g. "argos translate-ru_en 1.9")."""
        ...

    def translate(self, texts: Sequence[str], source: str, target: str) -> Iterator[tuple[int, str]]:
        """Translate ``texts`` (masked, one line each) from ``source`` into ``target``.

        Yields ``(index into texts, translation)`` as results are ready, in any order, each index once.
        Raises EngineError when the model for the direction is missing (naming the install command).
        """
        ...


class EngineFactory(Protocol):
    def __call__(self, cfg: Config, *, fast: bool = False) -> Engine: ...


_REGISTRY: dict[str, str] = {
    "argos": "kbtrans.engines.argos:create",
    "pseudo": "kbtrans.engines.pseudo:create",
}
ENV_PREFIX = "KBTRANS_ENGINE_"


def _registry() -> dict[str, str]:
    extra = {key[len(ENV_PREFIX):].lower(): value for key, value in os.environ.items()
             if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX) and value}
    return {**_REGISTRY, **extra}


def names() -> list[str]:
    """Names of the engines that can be created."""
    return sorted(_registry())


def create(name: str, cfg: Config, *, fast: bool = False) -> Engine:
    """Instantiate the engine registered as ``name`` (``fast``: the engine's draft preset, e.g. greedy)."""
    import importlib

    spec = _registry().get(name)
    if spec is None:
        raise EngineError(f"unknown engine {name!r}. Choose one of: {', '.join(names())} "
                          f"(set `engine` in kbtrans.toml or pass --engine).")
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if module_name.startswith("kbtrans."):
            raise
        raise EngineError(f"engine {name!r}: cannot import {module_name} ({exc}). "
                          f"Fix {ENV_PREFIX}{name.upper()}={spec}.") from None
    factory: EngineFactory | None = getattr(module, attr or "create", None)
    if factory is None:
        raise EngineError(f"engine {name!r}: {module_name} has no {attr or 'create'}. "
                          f"Fix {ENV_PREFIX}{name.upper()}={spec}.")
    return factory(cfg, fast=fast)
