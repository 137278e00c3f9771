"""No service package imports another: each service depends only on itself and the shared libraries.

Walks every module of every package (imports inside functions included) with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The processes of the platform: none may import another.
SERVICES = (
    "recommender_engine",
    "recommendations_api",
    "movies_api",
    "movies_db",
    "ugc_pipeline",
    "exam_api",
    "web_app",
)
#: Shared libraries and what each may import of ours (besides itself).
LIBRARIES: dict[str, tuple[str, ...]] = {"recsys_common": (), "recsys_datasets": ("recsys_common",)}
OURS = (*SERVICES, *LIBRARIES)


def imported_packages(path: Path) -> set[tuple[int, str]]:
    """(line, top-level package) of every absolute import of one of our packages in the module."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update((node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in OURS)
    return found


def test_every_package_of_ours_is_classified():
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert packages - {"tests", "benchmarks"} == set(OURS)


@pytest.mark.parametrize("package", OURS)
def test_package_imports_only_itself_and_the_libraries_it_may_use(package: str):
    libraries = LIBRARIES.get(package, tuple(LIBRARIES))  # a service may use every library
    allowed = {package, *libraries}
    crossings = [
        f"{path.relative_to(REPO)}:{line} imports {target}"
        for path in sorted((REPO / package).rglob("*.py"))
        for line, target in sorted(imported_packages(path))
        if target not in allowed
    ]
    assert not crossings, "\n".join(crossings)


def test_the_walk_finds_a_crossing(tmp_path: Path):
    """The check itself can fail: a function-local import of another service is found."""
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from recommender_engine.data import load_seed\n")
    assert imported_packages(module) == {(2, "recommender_engine")}
