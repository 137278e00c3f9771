"""Markers say what a test file needs, so ``pytest -m "not integration"`` runs without any server.

Every file under tests/integration carries ``integration`` and every file under tests/e2e carries
``e2e``, as a module-level ``pytestmark``; unit test files carry neither. Read with ``ast``.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
#: The marker each directory's test files must carry.
REQUIRED = {"integration": "integration", "e2e": "e2e"}


def module_marks(path: Path) -> set[str]:
    """Names of the ``pytest.mark.X`` in the module-level ``pytestmark`` assignment."""
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return {
                mark.attr
                for mark in ast.walk(node.value)
                if isinstance(mark, ast.Attribute)
                and isinstance(mark.value, ast.Attribute)
                and mark.value.attr == "mark"
            }
    return set()


def every_mark(path: Path) -> set[str]:
    """Names of every ``pytest.mark.X`` anywhere in the module (decorators included)."""
    return {
        node.attr
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "mark"
    }


def files_under(directory: str) -> list[Path]:
    return sorted((TESTS / directory).rglob("test_*.py"))


@pytest.mark.parametrize("directory", sorted(REQUIRED))
def test_every_file_carries_its_directorys_marker(directory: str) -> None:
    files = files_under(directory)
    assert files
    missing = [str(p.relative_to(REPO)) for p in files if REQUIRED[directory] not in module_marks(p)]
    assert not missing, f"add `pytestmark = pytest.mark.{REQUIRED[directory]}` to {missing}"


def test_unit_test_files_need_no_server() -> None:
    marked = [str(p.relative_to(REPO)) for p in files_under("unit") if every_mark(p) & {"integration", "e2e"}]
    assert not marked, f"move {marked} to tests/integration or tests/e2e"


def test_every_marker_used_is_declared_and_every_declared_one_used() -> None:
    declared = {
        line.split(":")[0]
        for line in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
            "ini_options"
        ]["markers"]
    }
    ours = {mark for p in TESTS.rglob("test_*.py") for mark in every_mark(p)}
    builtin = {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings", "timeout"}
    assert ours - builtin <= declared
    assert declared <= ours
