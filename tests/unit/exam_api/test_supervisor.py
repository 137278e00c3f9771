"""The engine's children: their environment and commands from the settings, restarts, a clean stop."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from exam_api.settings import ExamSettings
from exam_api.supervisor import RESTART_DELAY_S, EngineChildren, child_commands, child_environment

#: Long enough for a quitter (a shell that writes its pid and exits) to be gone.
QUITTER_EXITS_S = 1.0


def _writes_its_pid(log: Path, then: str) -> list[str]:
    return ["/bin/sh", "-c", f'echo $$ >> "$0"; {then}', str(log)]


def _pids(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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


def test_a_child_that_exits_is_started_again_and_stop_ends_them_all(tmp_path: Path) -> None:
    sleeper, quitter = tmp_path / "sleeper.pids", tmp_path / "quitter.pids"
    children = EngineChildren(
        {"sleeper": _writes_its_pid(sleeper, "exec sleep 60"), "quitter": _writes_its_pid(quitter, "exit 0")}, env={}
    )
    children.start()
    try:
        _wait_for(lambda: len(_pids(sleeper)) == 1 and len(_pids(quitter)) == 1)
        started = time.monotonic()
        while time.monotonic() - started < QUITTER_EXITS_S:
            children.check(now=0.0)  # noticed, not yet restarted
            time.sleep(0.05)
        assert len(_pids(quitter)) == 1
        children.check(now=RESTART_DELAY_S)
        _wait_for(lambda: len(_pids(quitter)) == 2)
        assert len(_pids(sleeper)) == 1 and _running(_pids(sleeper)[0])
    finally:
        children.stop()
    assert not any(_running(pid) for pid in _pids(sleeper) + _pids(quitter))
