"""The engine's processes as children of the exam API (the embedded default).

``recsys schedule --interval N`` retrains in the background (a cycle skips when no rating is new
and the catalogue is unchanged) and ``recsys online`` folds users in as they rate. They share the
exam's data directory and Redis prefix through their environment, run with a lower CPU priority
(``nice``) so requests come first, are restarted when they die, and are stopped with SIGTERM
(then killed after a grace period) when the exam API stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from exam_api.settings import ExamSettings

log = logging.getLogger(__name__)

#: Seconds a child gets to stop after SIGTERM before it is killed.
STOP_GRACE_S = 10.0
#: A child that died is started again after at least this many seconds.
RESTART_DELAY_S = 2.0


def child_environment(settings: ExamSettings, inherited: dict[str, str]) -> dict[str, str]:
    """The children's environment: this process's, with the exam's data directory, RecStore prefix
    and engine settings (the children read them with their own settings class)."""
    env = dict(inherited)
    env["RECSYS_DATA_DIR"] = str(settings.data_dir.resolve())
    env["RECSYS_REDIS_PREFIX"] = settings.redis_prefix
    env["RECSYS_MODEL__NUM_THREADS"] = str(settings.exam_engine_threads)
    env["RECSYS_LISTS__SCORE_THREADS"] = str(settings.exam_engine_threads)
    if settings.exam_engine_epochs is not None:
        env["RECSYS_MODEL__EPOCHS"] = str(settings.exam_engine_epochs)
    # Retraining every few seconds: no quality gate (each cycle would fit twice), and no metrics
    # servers unless asked for (two children of two exam services must not fight over a port).
    env.setdefault("RECSYS_GATE__ENABLED", "false")
    env.setdefault("RECSYS_ENGINE_METRICS_PORT", "0")
    env.setdefault("RECSYS_ONLINE_METRICS_PORT", "0")
    return env


def child_commands(settings: ExamSettings) -> dict[str, list[str]]:
    """The children's command lines by name (under ``nice`` when it is installed)."""
    engine = [sys.executable, "-m", "recommender_engine"]
    nice = shutil.which("nice")
    prefix = [nice, "-n", str(settings.exam_engine_nice)] if nice and settings.exam_engine_nice else []
    return {
        "schedule": [*prefix, *engine, "schedule", "--interval", str(settings.exam_engine_interval_s)],
        "online": [*prefix, *engine, "online"],
    }


@dataclass
class _Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    died_at: float | None = None


class EngineChildren:
    def __init__(self, commands: dict[str, list[str]], env: dict[str, str]) -> None:
        self._children = [_Child(name, command) for name, command in commands.items()]
        self._env = env

    def start(self) -> None:
        for child in self._children:
            self._spawn(child)

    def _spawn(self, child: _Child) -> None:
        child.process = subprocess.Popen(child.command, env=self._env)
        child.died_at = None
        log.info("started the engine's %s process (pid %d)", child.name, child.process.pid)

    def check(self, now: float | None = None) -> None:
        """Start again every child that exited (after RESTART_DELAY_S)."""
        now = time.monotonic() if now is None else now
        for child in self._children:
            if child.process is None or child.process.poll() is None:
                continue
            if child.died_at is None:
                child.died_at = now
                log.warning("the engine's %s process exited with %s", child.name, child.process.returncode)
            if now - child.died_at >= RESTART_DELAY_S:
                self._spawn(child)

    def stop(self) -> None:
        """SIGTERM every child, wait up to STOP_GRACE_S for all of them, kill the rest."""
        running = [c.process for c in self._children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                log.warning("pid %d did not stop within %g s: killed", process.pid, STOP_GRACE_S)
                process.kill()
                process.wait()


def engine_children(settings: ExamSettings) -> EngineChildren:
    return EngineChildren(child_commands(settings), child_environment(settings, dict(os.environ)))
