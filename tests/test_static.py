"""The code base stays typed and linted: mypy --strict on src/ and ruff on src/ and tests/."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _tool(name: str) -> list[str]:
    exe = shutil.which(name, path=str(REPO / ".venv" / "bin")) or shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return [exe]


def test_mypy_strict() -> None:
    proc = subprocess.run([*_tool("mypy"), "--no-error-summary"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff() -> None:
    proc = subprocess.run([*_tool("ruff"), "check", "src", "tests", "bench"], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_torch_in_dependencies() -> None:
    """PyPI's argostranslate pulls stanza and torch; kbtrans must use argos-translate-lt instead."""
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"].values()
    requirements = [*project["dependencies"], *(r for extra in extras for r in extra)]
    names = {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}
    assert "argos-translate-lt" in names
    assert not names & {"argostranslate", "torch", "stanza"}
    assert "torch" not in sys.modules


#: Heavy or optional packages, and the one module of src/kbtrans allowed to import each.
_OWNERS = {
    "polib": "catalog.py",
    "argostranslate": "engines/argos.py",
    "ctranslate2": "engines/argos.py",
    "sentencepiece": "engines/argos.py",
    "ray": "engines/ray_executor.py",
}


def _imports(path: object) -> set[str]:
    """Top-level packages a module imports: import statements and importlib.import_module("…") literals."""
    import ast
    from pathlib import Path

    assert isinstance(path, Path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value.split(".")[0])
    return found


def test_each_heavy_package_is_imported_by_one_module_only() -> None:
    src = REPO / "src" / "kbtrans"
    seen: dict[str, set[str]] = {name: set() for name in _OWNERS}
    for path in src.rglob("*.py"):
        for name in _imports(path) & seen.keys():
            seen[name].add(path.relative_to(src).as_posix())
    # argos.py imports its three through its _import(name) helper: the literal names are in _import calls.
    assert seen["polib"] == {"catalog.py"}
    assert seen["ray"] == {"engines/ray_executor.py"}
    for name in ("argostranslate", "ctranslate2", "sentencepiece"):
        assert seen[name] <= {"engines/argos.py"}, (name, seen[name])
    text = (src / "engines" / "argos.py").read_text(encoding="utf-8")
    assert all(f'_import("{name}' in text for name in ("ctranslate2", "sentencepiece", "argostranslate."))


def test_the_cli_and_a_local_translate_do_not_import_ray_or_torch() -> None:
    code = ("import sys, kbtrans.cli, kbtrans.translate, kbtrans.engines.argos, kbtrans.engines.pseudo; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'torch')); print(bad); "
            "sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_torch_is_not_installed() -> None:
    """`pip install -e '.[mt,test,…,ray]'` brings no torch: ray[data] and argos-translate-lt need none."""
    import importlib.util

    assert importlib.util.find_spec("torch") is None
