"""Machine-translation engines: a small Protocol and a registry.

An engine translates a batch of plain texts (markup already replaced by placeholders by
:mod:`kbtrans.placeholders`) from one language into another. Heavy imports happen inside the engine
modules, lazily, with an install hint when they are missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translate ``texts`` (one segment each; may contain newlines) from ``source`` into ``target``."""
        ...


EngineFactory = Callable[[Config], Engine]
_REGISTRY: dict[str, str] = {
    "argos": "kbtrans.engines.argos:create",
    "pseudo": "kbtrans.engines.pseudo:create",
}


def names() -> list[str]:
    return sorted(_REGISTRY)


def create(name: str, cfg: Config) -> Engine:
    """Instantiate the engine registered as ``name``."""
    import importlib

    spec = _REGISTRY.get(name)
    if spec is None:
        raise EngineError(f"unknown engine {name!r}. Choose one of: {', '.join(names())}.")
    module_name, attr = spec.split(":")
    factory: EngineFactory = getattr(importlib.import_module(module_name), attr)
    return factory(cfg)
