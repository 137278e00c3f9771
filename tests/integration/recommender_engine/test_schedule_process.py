"""``recsys schedule`` as operators run it: a real process on the embedded default that publishes at
once, serves its metrics, and stops cleanly (exit 0, within seconds) on SIGTERM, as ``docker stop`` sends."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_schedule_publishes_serves_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    ml = tmp_path / "ml"
    ml.mkdir()
    (ml / "movies.csv").write_text(
        "movieId,title,genres\n1,Alpha (1999),Comedy\n2,Beta (2001),Drama\n3,Gamma (2002),Drama\n"
    )
    (ml / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,100\n2,2,3.0,200\n2,3,5.0,300\n")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")},
        "RECSYS_DATA_DIR": str(tmp_path / "var"),
        "RECSYS_ENGINE_METRICS_PORT": str(port),
        "RECSYS_LOG_FORMAT": "json",
        "RECSYS_MODEL__EPOCHS": "2",
    }
    recsys = [sys.executable, "-m", "recommender_engine"]
    subprocess.run([*recsys, "data", "--movielens-dir", str(ml)], env=env, check=True, capture_output=True)
    process = subprocess.Popen([*recsys, "schedule", "--interval", "3600"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        metrics = ""
        while time.monotonic() < deadline and 'status="published"} 1.0' not in metrics:
            time.sleep(0.2)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    metrics = response.read().decode()
            except OSError:
                continue
        assert 'recsys_engine_cycles_total{status="published"} 1.0' in metrics
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
        assert process.stderr is not None
        lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
        assert any(entry["message"] == "scheduler stopped after 1 cycle(s)" for entry in lines)
        assert all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
