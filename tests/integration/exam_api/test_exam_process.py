"""End to end: ``python -m exam_api`` as a real process on the embedded default, with the engine's
children (``recsys schedule`` and ``recsys online``): a user's likes turn their ``/recs`` toward
the liked genre within seconds, and SIGTERM stops the service and its children."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from exam_api.service import film_id_of
from recsys_common.adapters.sqlite_recstore import SqliteRecStore

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[3]
GENRES = ("Comedy", "Drama", "Horror")
ITEMS = list(range(1, 301))  # item i is of genre GENRES[i % 3]
START_TIMEOUT_S = 30.0
OVERLAY_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 20.0


def genre(item: int) -> str:
    return GENRES[item % 3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    process: subprocess.Popen[str]
    interact: httpx.Client
    recs: httpx.Client
    data_dir: Path
    log: Path


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    interact_port, recs_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "RECSYS_DATA_DIR": str(tmp_path / "data"),
        "RECSYS_EXAM_INTERACT_PORT": str(interact_port),
        "RECSYS_EXAM_RECS_PORT": str(recs_port),
        "RECSYS_EXAM_ENGINE_INTERVAL_S": "1",
        "RECSYS_EXAM_ENGINE_EPOCHS": "5",
        "RECSYS_EXAM_EXPLORATION_SHARE": "0",
        "RECSYS_MODEL__NO_COMPONENTS": "16",
    }
    log = tmp_path / "exam.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "exam_api"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    interact = httpx.Client(base_url=f"http://127.0.0.1:{interact_port}", timeout=10)
    recs = httpx.Client(base_url=f"http://127.0.0.1:{recs_port}", timeout=10)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if recs.get("/healthcheck").status_code == 200 and interact.get("/healthcheck").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no healthcheck within {START_TIMEOUT_S:g} s:\n{log.read_text()}"
            time.sleep(0.1)
        yield Running(process, interact, recs, tmp_path / "data", log)
    finally:
        if process.poll() is None:  # SIGTERM first: the service stops its children too
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        interact.close()
        recs.close()


def child_pids(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"started the engine's \w+ process \(pid (\d+)\)", log.read_text())]


def test_likes_turn_the_recommendations_toward_the_liked_genre_and_sigterm_stops_everything(running: Running) -> None:
    interact, recs = running.interact, running.recs
    assert interact.get("/cleanup").status_code == 200
    for start in range(0, len(ITEMS), 100):
        batch = ITEMS[start : start + 100]
        response = interact.post("/add_items", json={"item_ids": batch, "genres": [[genre(i)] for i in batch]})
        assert response.status_code == 200
    for user in range(30):  # each background user likes a dozen items of one genre
        liked = [i for i in ITEMS if genre(i) == GENRES[user % 3]][user : user + 12]
        body = {"user_id": user, "item_ids": liked, "actions": ["like"] * len(liked)}
        assert interact.post("/interact", json=body).status_code == 200
    store = SqliteRecStore(running.data_dir / "recstore.sqlite")
    deadline = time.monotonic() + OVERLAY_TIMEOUT_S
    while (meta := store.current()) is None or meta.n_users < 30:  # the engine trained on them
        assert time.monotonic() < deadline, running.log.read_text()
        time.sleep(0.2)
    viewer = 5000
    before = recs.get(f"/recs/{viewer}").json()["item_ids"]
    assert len(before) == 10
    assert sum(genre(i) == "Horror" for i in before) <= 4  # cold start: several genres

    horror = [i for i in ITEMS if genre(i) == "Horror"][40:46]
    body = {"user_id": viewer, "item_ids": horror, "actions": ["like"] * len(horror)}
    assert interact.post("/interact", json=body).status_code == 200
    liked_at = time.monotonic()
    try:
        while True:  # the online updater folds the viewer into the serving model: an overlay
            meta = store.current()
            lists = None if meta is None else store.user_lists(str(viewer), meta)
            if lists is not None and lists.overlay and film_id_of(horror[0]) not in lists.must_watch:
                break
            assert time.monotonic() - liked_at < OVERLAY_TIMEOUT_S, running.log.read_text()
            time.sleep(0.2)
    finally:
        store.close()
    after = recs.get(f"/recs/{viewer}").json()["item_ids"]
    assert len(after) == 10 and not set(after) & (set(before) | set(horror))
    assert sum(genre(i) == "Horror" for i in after) >= 7, after

    children = child_pids(running.log)
    assert len(children) == 2 and all(Path(f"/proc/{pid}").exists() for pid in children)
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=STOP_TIMEOUT_S) == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
