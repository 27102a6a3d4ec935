"""Configuration: the defaults are the schema; precedence is defaults < file < CLI.

The file is ``kbtrans.toml`` at the project root, or ``[tool.kbtrans]`` in ``pyproject.toml``.
Unknown keys are errors that list the valid ones.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbtrans.errors import ConfigError

CONFIG_NAME = "kbtrans.toml"


#: Settings that only machine translation reads.
_MT_KEYS = frozenset({"engine", "threads", "device", "executor", "ray_address", "ray_actor_cpus"})

#: Settings that only the site (``build --site``) reads: the vaults do not depend on them.
_SITE_KEYS = frozenset({"site", "site_output", "site_layout"})


@dataclass(frozen=True)
class Config:
    """Settings of one knowledge base. Field defaults are the documented defaults."""

    content: str = "content"
    """Folder of source notes, relative to the project root."""
    locales: str = "locales"
    """Folder of PO catalogs (``<lang>/LC_MESSAGES/<note>.po``)."""
    output: str = "build"
    """Folder the built locales are written to (``<lang>/<note>.md``)."""
    languages: tuple[str, ...] = ("ru", "en")
    """Languages of the knowledge base; every note is translated into each other one."""
    source_language: str = "ru"
    """Language of a note that has no ``lang`` key and whose language cannot be detected."""
    front_matter_keys: tuple[str, ...] = ("title", "aliases", "description", "summary")
    """Front-matter keys whose values are translated (list values item by item)."""
    wrap: int = 0
    """PO line width; 0 means no wrapping (one line per source line)."""
    translate_comments: bool = False
    """Translate ``%%comments%%`` too (by default they are never translated)."""
    engine: str = "argos"
    """Default machine-translation engine for ``kbtrans translate``."""
    threads: int = 0
    """CPU threads for machine translation; 0 means all cores."""
    device: str = "auto"
    """Device for machine translation: ``auto``, ``cpu`` or ``cuda``."""
    executor: str = "local"
    """Where the argos engine decodes: ``local`` (this process) or ``ray`` (Ray Data on a Ray cluster;
    ``translate --ray``; needs ``pip install 'kbtrans[ray]'``)."""
    ray_address: str = ""
    """Ray cluster to use with ``executor = "ray"`` (e.g. ``ray://head:10001``, or ``auto`` for the cluster
    ``ray start`` runs on this machine); "" starts a one-node cluster on this machine for the run."""
    ray_actor_cpus: int = 1
    """CPUs (CTranslate2 threads) of each Ray actor on a cluster without GPUs; on GPUs each actor has one GPU."""
    project: str = ""
    """``Project-Id-Version`` of the catalogs; "" (the default): the ``[project] name`` of ``pyproject.toml``,
    else what each catalog's header holds (the project folder's name for a new catalog), so a checkout under
    another folder name does not rewrite every header."""
    site: str = "vault"
    """What ``build`` writes besides the vaults: ``vault`` (only them), ``mkdocs`` or ``hugo`` (a bilingual site)."""
    site_output: str = "build/site"
    """Folder the site is written to (``build --site``), relative to the project root."""
    site_layout: str = "suffix"
    """MkDocs pages per language: ``suffix`` (``note.en.md``) or ``folder`` (``en/note.md``)."""
    root: Path = field(default=Path("."), compare=False)
    """Project root (not a file key: the directory the config was loaded from)."""

    @property
    def content_dir(self) -> Path:
        return self.root / self.content

    @property
    def locales_dir(self) -> Path:
        return self.root / self.locales

    @property
    def output_dir(self) -> Path:
        return self.root / self.output

    @property
    def cache_dir(self) -> Path:
        return self.root / ".kbtrans"

    def settings(self) -> tuple[object, ...]:
        """What extract, build and check results depend on besides the files: every setting but the
        machine-translation ones (their caches are forgotten when it changes)."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _MT_KEYS | _SITE_KEYS)

    def display(self, path: Path) -> str:
        """``path`` as messages name it: relative to the project root when inside it, else as it is."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def select_languages(self, languages: Sequence[str]) -> tuple[str, ...]:
        """``languages`` (from ``--to``), checked against :attr:`languages`; all of them when empty."""
        for lang in languages:
            if lang not in self.languages:
                raise ConfigError(f"--to {lang}: not one of the configured languages {list(self.languages)}. "
                                  "Add it to `languages` in kbtrans.toml or pick one of those.")
        return tuple(languages) or self.languages


def valid_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(Config) if f.name != "root"]


def _coerce(key: str, value: Any, where: str) -> Any:
    default = getattr(Config(), key)
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"key '{key}' must be a list of strings, got {value!r}.", path=where)
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"key '{key}' must be true or false, got {value!r}.", path=where)
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"key '{key}' must be a non-negative integer, got {value!r}.", path=where)
        return value
    if not isinstance(value, str) or (not value and key not in ("project", "ray_address")):
        raise ConfigError(f"key '{key}' must be a non-empty string, got {value!r}.", path=where)
    return value


def _validate(cfg: Config, where: str) -> Config:
    if len(set(cfg.languages)) < 2:
        raise ConfigError(
            f"'languages' must name at least two different languages, got {list(cfg.languages)}.", path=where
        )
    if cfg.source_language not in cfg.languages:
        raise ConfigError(
            f"'source_language' = {cfg.source_language!r} is not one of languages {list(cfg.languages)}.",
            path=where,
        )
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"'device' must be auto, cpu or cuda, got {cfg.device!r}.", path=where)
    if cfg.executor not in ("local", "ray"):
        raise ConfigError(f"'executor' must be local or ray, got {cfg.executor!r}.", path=where)
    if cfg.ray_actor_cpus < 1:
        raise ConfigError(f"'ray_actor_cpus' must be at least 1, got {cfg.ray_actor_cpus}.", path=where)
    if cfg.site not in ("vault", "mkdocs", "hugo"):
        raise ConfigError(f"'site' must be vault, mkdocs or hugo, got {cfg.site!r}.", path=where)
    if cfg.site_layout not in ("suffix", "folder"):
        raise ConfigError(f"'site_layout' must be suffix or folder, got {cfg.site_layout!r}.", path=where)
    return cfg


def apply(cfg: Config, values: dict[str, Any], where: str) -> Config:
    """Return ``cfg`` with ``values`` applied; unknown keys raise ConfigError listing the valid ones."""
    valid = valid_keys()
    updates: dict[str, Any] = {}
    for key, value in values.items():
        if key not in valid:
            raise ConfigError(
                f"unknown key '{key}'. Valid keys: {', '.join(valid)}. Fix or remove it.", path=where
            )
        updates[key] = _coerce(key, value, where)
    return _validate(dataclasses.replace(cfg, **updates), where)


def find_file(root: Path) -> tuple[Path, dict[str, Any]] | None:
    """The config file of ``root`` and its kbtrans table, or None when there is none."""
    toml = root / CONFIG_NAME
    if toml.is_file():
        return toml, _read(toml)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        data = _read(pyproject)
        table = data.get("tool", {}).get("kbtrans")
        if isinstance(table, dict):
            return pyproject, table
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:  # Python < 3.14 only says it in the message
            m = re.search(r"at line (\d+)", str(exc))
            line = int(m.group(1)) if m else None
        raise ConfigError(f"invalid TOML ({exc}). Fix the syntax.", path=path, line=line) from None
    except UnicodeDecodeError:
        raise ConfigError("is not valid UTF-8. Re-save it as UTF-8.", path=path) from None


def load(root: Path, overrides: dict[str, Any] | None = None) -> Config:
    """Load the configuration of the project at ``root``: defaults < file < ``overrides``."""
    root = root.resolve()
    if not root.is_dir():
        raise ConfigError("project directory does not exist. Pass an existing directory to -C.", path=root)
    cfg = Config(root=root)
    found = find_file(root)
    if found is not None:
        path, table = found
        cfg = apply(cfg, table, str(path))
    if overrides:
        cfg = apply(cfg, {k: v for k, v in overrides.items() if v is not None}, "command line")
    if not cfg.project:
        cfg = dataclasses.replace(cfg, project=_pyproject_name(root))
    return cfg


def _pyproject_name(root: Path) -> str:
    """The ``[project] name`` of ``root/pyproject.toml`` ("" when there is none)."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return ""
    name = _read(pyproject).get("project", {}).get("name", "")
    return name.strip() if isinstance(name, str) else ""


TEMPLATE = '''\
# kbtrans configuration. Every key is optional; the values shown are the defaults.
# The same keys may live under [tool.kbtrans] in pyproject.toml instead.

# Folder of source notes (Markdown), relative to this file.
content = "content"

# Folder of gettext catalogs: locales/<lang>/LC_MESSAGES/<note path>.po
locales = "locales"

# Folder the built locales are written to: build/<lang>/<note path>.md
output = "build"

# Languages of the knowledge base. Every note is translated into each other language.
languages = ["ru", "en"]

# Language of notes that have no `lang:` front-matter key and whose language cannot be
# detected from their text (share of Cyrillic letters).
source_language = "ru"

# Front-matter keys whose values are translated (list values item by item).
front_matter_keys = ["title", "aliases", "description", "summary"]

# Width of lines in PO files; 0 keeps one PO line per source line (best for diffs).
wrap = 0

# Translate %%comments%% too (by default they are kept as they are).
translate_comments = false

# Machine translation (kbtrans translate): engine "argos" or "pseudo",
# CPU threads (0 = all cores) and device ("auto", "cpu" or "cuda").
engine = "argos"
threads = 0
device = "auto"

# Where the argos engine decodes: "local" (this process) or "ray" (Ray Data on a Ray cluster,
# `translate --ray`; pip install 'kbtrans[ray]'). ray_address: "" starts a one-node cluster for the
# run; "auto" joins the one `ray start` runs here; "ray://head:10001" a remote one. ray_actor_cpus:
# CTranslate2 threads of each actor on CPUs (on GPUs each actor has one GPU).
executor = "local"
ray_address = ""
ray_actor_cpus = 1

# Also write a bilingual website (build --site): "vault" (only build/<lang>/), "mkdocs" or "hugo";
# its folder, and the MkDocs layout ("suffix": note.en.md, or "folder": en/note.md).
site = "vault"
site_output = "build/site"
site_layout = "suffix"

# Project-Id-Version of the catalogs. By default: the [project] name of pyproject.toml, else
# what each catalog already says (the folder's name for a new catalog).
# project = "my-kb"
'''
