"""Pytest fixtures around :mod:`argos_models` (import them into a test module or conftest).

Usage in a test module::

    from support.argos_fixtures import argos_model_cache, argos_copy_packages  # noqa: F401

    def test_engine(argos_copy_packages):          # ru→en and en→ru copy packages installed
        import argostranslate.translate
        assert argostranslate.translate.translate("Привет.", "ru", "en") == "Привет."

Fixtures
--------
``argos_model_cache`` (session)
    An :class:`~argos_models.ArgosModelCache` in a session temp dir (or in
    ``$KBTRANS_ARGOS_MODEL_CACHE`` if set, persistent across sessions): each model/package is
    built once per session.
``argos_copy_packages`` / ``argos_random_packages`` (function)
    Installs both directions (ru→en, en→ru) of the tiny "copy" / "random" kind into a fresh
    packages dir, points argostranslate at it (settings patched, caches cleared) for the
    duration of the test and yields that dir.  The previous argostranslate state is restored.
``install_argos_models`` (function)
    Factory ``install(kind="copy", **build_kwargs) -> Path`` for other shapes/kinds
    (e.g. ``sentence_end_chars=".!?"``, ``quantization="int8"``, ``d_model=…``); the last call
    wins (one packages dir is active at a time); everything is undone after the test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from support.argos_models import ArgosModelCache, argos_packages_dir
except ImportError:  # pragma: no cover - when `tests` is a package
    from tests.support.argos_models import ArgosModelCache, argos_packages_dir

__all__ = ["argos_copy_packages", "argos_model_cache", "argos_random_packages", "install_argos_models"]


@pytest.fixture(scope="session")
def argos_model_cache(tmp_path_factory: pytest.TempPathFactory) -> ArgosModelCache:
    root = os.environ.get("KBTRANS_ARGOS_MODEL_CACHE")
    return ArgosModelCache(Path(root) if root else tmp_path_factory.mktemp("argos-models"))


@pytest.fixture
def install_argos_models(
    argos_model_cache: ArgosModelCache, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Path]]:
    with contextlib.ExitStack() as stack:

        def install(kind: str = "copy", **kwargs: Any) -> Path:
            packages_dir = tmp_path_factory.mktemp(f"argos-packages-{kind}")
            stack.enter_context(argos_packages_dir(packages_dir))
            argos_model_cache.install(kind, packages_dir, **kwargs)
            return packages_dir

        yield install


@pytest.fixture
def argos_copy_packages(install_argos_models: Callable[..., Path]) -> Path:
    return install_argos_models("copy")


@pytest.fixture
def argos_random_packages(install_argos_models: Callable[..., Path]) -> Path:
    return install_argos_models("random")
