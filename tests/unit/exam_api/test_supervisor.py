"""The engine's children: their environment and commands from the settings, restarts, a clean stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exam_api.settings import ExamSettings
from exam_api.supervisor import RESTART_DELAY_S, EngineChildren, child_commands, child_environment

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
QUITTER = [sys.executable, "-c", "pass"]


def test_children_share_the_data_directory_prefix_and_engine_settings(tmp_path: Path) -> None:
    settings = ExamSettings(
        data_dir=tmp_path / "exam", redis_prefix="exam-x", exam_engine_threads=2, exam_engine_epochs=7
    )
    env = child_environment(settings, {"PATH": "/bin", "RECSYS_MODEL__EPOCHS": "99"})
    assert env["PATH"] == "/bin"
    assert env["RECSYS_DATA_DIR"] == str((tmp_path / "exam").resolve())
    assert env["RECSYS_REDIS_PREFIX"] == "exam-x"
    assert env["RECSYS_MODEL__NUM_THREADS"] == env["RECSYS_LISTS__SCORE_THREADS"] == "2"
    assert env["RECSYS_MODEL__EPOCHS"] == "7"
    untouched = child_environment(ExamSettings(exam_engine_epochs=None), {"RECSYS_MODEL__EPOCHS": "99"})
    assert untouched["RECSYS_MODEL__EPOCHS"] == "99"


def test_commands_run_the_engine_schedule_and_online_updater_niced() -> None:
    commands = child_commands(ExamSettings(exam_engine_interval_s=3, exam_engine_nice=5))
    schedule, online = commands["schedule"], commands["online"]
    assert schedule[-3:] == ["schedule", "--interval", "3"] and online[-1] == "online"
    assert schedule[schedule.index("-m") + 1] == "recommender_engine"
    if Path("/usr/bin/nice").exists() or Path("/bin/nice").exists():
        assert schedule[1:3] == ["-n", "5"]
    assert "-n" not in child_commands(ExamSettings(exam_engine_nice=0))["online"]


def test_settings_refuse_fewer_than_ten_recs() -> None:
    with pytest.raises(ValueError, match="exam_recs_count"):
        ExamSettings(exam_recs_count=9)


def test_a_child_that_exits_is_started_again_and_stop_ends_them_all() -> None:
    children = EngineChildren({"sleeper": SLEEPER, "quitter": QUITTER}, env={})
    children.start()
    try:
        first = children.pids()["sleeper"]
        children._children[1].process.wait(timeout=30)  # type: ignore[union-attr]
        children.check(now=0.0)  # noticed, not yet restarted
        assert "quitter" not in children.pids()
        children.check(now=RESTART_DELAY_S)
        assert children._children[1].process.pid != first  # type: ignore[union-attr]
        assert children.pids()["sleeper"] == first
    finally:
        children.stop()
    assert children.pids() == {}
    assert all(child.process.returncode is not None for child in children._children)  # type: ignore[union-attr]
