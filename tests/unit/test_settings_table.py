"""The README's settings tables and ``recsys_common.known_settings`` cannot drift from the settings
classes: every variable a process reads is listed, and nothing is listed that no process reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from exam_api.settings import ExamSettings
from movies_api.settings import MoviesApiSettings
from movies_db.settings import MoviesDbSettings
from recommendations_api.settings import ApiSettings
from recommender_engine.settings import EngineSettings
from recsys_common.known_settings import KNOWN_VARIABLES
from recsys_common.settings import CommonSettings, env_names
from ugc_pipeline.settings import UgcSettings
from web_app.settings import WebSettings

REPO = Path(__file__).resolve().parents[2]
#: One settings class per process.
SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    EngineSettings,
    ApiSettings,
    MoviesApiSettings,
    UgcSettings,
    MoviesDbSettings,
    ExamSettings,
    WebSettings,
)
SHORTHAND = "…__"
_CODE = re.compile(r"`([^`]+)`")


def table_variables(markdown: str) -> set[str]:
    """The variables the first column of the tables under "## Settings" names. ``…__SUB`` stands for
    the last full nested name's prefix plus ``SUB`` (``RECSYS_LISTS__MUST_WATCH_LEN``, ``…__GENRE_LEN``)."""
    section = markdown.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        prefix = ""
        for token in _CODE.findall(line.split(" | ", 1)[0]):
            if token.startswith(SHORTHAND):
                assert prefix, f"{token} has no full name before it: {line}"
                token = prefix + token.removeprefix(SHORTHAND)
            elif "__" in token:
                prefix = token.split("__", 1)[0] + "__"
            names.add(token)
    return names


def all_env_names(nested_objects: bool = False) -> set[str]:
    return set().union(*(env_names(cls, nested_objects=nested_objects) for cls in SETTINGS_CLASSES))


def test_every_settings_class_of_a_process_is_checked():
    """A new process's settings class (``class X(CommonSettings)`` anywhere in the packages) joins the check."""
    defined = {
        match
        for package in REPO.glob("*/__init__.py")
        if package.parent.name != "tests"
        for path in package.parent.rglob("*.py")
        for match in re.findall(r"^class (\w+)\(CommonSettings\)", path.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert defined == {cls.__name__ for cls in SETTINGS_CLASSES}
    assert all(issubclass(cls, CommonSettings) for cls in SETTINGS_CLASSES)


def test_the_readme_lists_every_variable_and_nothing_else():
    listed = table_variables((REPO / "README.md").read_text(encoding="utf-8"))
    read = all_env_names()
    assert sorted(read - listed) == [], "variables missing from the README's settings tables"
    assert sorted(listed - read) == [], "variables in the README's settings tables that no process reads"


def test_the_known_names_are_the_classes_names():
    expected = all_env_names(nested_objects=True)
    assert sorted(expected - KNOWN_VARIABLES) == [], "add to recsys_common/known_settings.py"
    assert sorted(KNOWN_VARIABLES - expected) == [], "remove from recsys_common/known_settings.py"


def test_env_names_follow_prefix_and_nested_delimiter():
    engine = env_names(EngineSettings)
    assert {"RECSYS_DATA_DIR", "RECSYS_SCHEDULE_CRON", "RECSYS_MODEL__EPOCHS", "RECSYS_LISTS__KEEP_VERSIONS"} <= engine
    assert "RECSYS_MODEL" not in engine
    assert "RECSYS_MODEL" in env_names(EngineSettings, nested_objects=True)
    assert "RECSYS_UGC_LOADER__BATCH_SIZE" in env_names(UgcSettings)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("| `RECSYS_A` / `RECSYS_B` | x `RECSYS_C` |", {"RECSYS_A", "RECSYS_B"}),
        (
            "| `RECSYS_L__X`, `…__Y`, `RECSYS_M__Z`, `…__W` | x |",
            {"RECSYS_L__X", "RECSYS_L__Y", "RECSYS_M__Z", "RECSYS_M__W"},
        ),
    ],
)
def test_the_table_parser_reads_the_first_column_and_the_shorthand(row: str, expected: set[str]):
    markdown = f"# t\n\n## Settings\n\n| variable | meaning |\n|---|---|\n{row}\n\n## Next\n\n| `RECSYS_D` | x |\n"
    assert table_variables(markdown) == expected
