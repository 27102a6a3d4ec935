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
