"""The embedded RatingPublisher writes straight into the SQLite rating store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from recsys_common.adapters.embedded_publisher import EmbeddedRatingPublisher
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.columns import Columns
from recsys_common.domain import RatingEvent
from recsys_common.events import InvalidEvent
from recsys_common.ids import film_id_for
from recsys_common.ports.publisher import PublishError

pytestmark = pytest.mark.integration

FILM = film_id_for("embedded:1")
TIMEOUT_S = 5.0


def test_published_event_is_read_back_once_even_when_repeated(tmp_path: Path) -> None:
    store = SqliteRatingStore(tmp_path / "ratings.sqlite")
    publisher = EmbeddedRatingPublisher(store)
    sent = RatingEvent(str(uuid.uuid4()), "alice", FILM.upper(), 7.0, 1_700_000_000)

    publisher.publish(sent, TIMEOUT_S)
    publisher.publish(sent, TIMEOUT_S)  # a client retry of the same event

    ratings = store.read_all()
    assert ratings[list(Columns.RATINGS)].values.tolist() == [["alice", FILM, 7.0, 1_700_000_000]]
    assert store.watermark() == 1


def test_a_batch_is_stored_in_one_step_or_not_at_all(tmp_path: Path) -> None:
    store = SqliteRatingStore(tmp_path / "ratings.sqlite")
    publisher = EmbeddedRatingPublisher(store)
    good = [RatingEvent(str(uuid.uuid4()), user, FILM, 10.0, 1_700_000_000) for user in ("alice", "bob")]
    bad = RatingEvent(str(uuid.uuid4()), "carol", FILM, 0.5, 1_700_000_000)  # off the 1..10 scale (and not a removal)

    with pytest.raises(InvalidEvent):
        publisher.publish_many([*good, bad], TIMEOUT_S)
    assert store.read_all().empty
    publisher.publish_many(good, TIMEOUT_S)
    assert sorted(store.read_all()[Columns.User]) == ["alice", "bob"]


@pytest.mark.parametrize(
    ("user_id", "film_id", "reason"),
    [
        ("alice", "x", "not a UUID"),
        ("alice\ud800", FILM, "user id must not contain surrogates"),
        ("alice\x85", FILM, "user id must not contain control characters"),
    ],
)
def test_invalid_event_is_refused_and_not_stored(tmp_path: Path, user_id: str, film_id: str, reason: str) -> None:
    store = SqliteRatingStore(tmp_path / "ratings.sqlite")
    with pytest.raises(InvalidEvent, match=reason):
        EmbeddedRatingPublisher(store).publish(RatingEvent(str(uuid.uuid4()), user_id, film_id, 5.0, 0), TIMEOUT_S)
    assert store.read_all().empty


def test_unwritable_store_raises_publish_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    publisher = EmbeddedRatingPublisher(SqliteRatingStore(blocker / "ratings.sqlite"))

    with pytest.raises(PublishError, match="a-file"):
        publisher.publish(RatingEvent(str(uuid.uuid4()), "alice", FILM, 5.0, 0), TIMEOUT_S)
    with pytest.raises(PublishError):
        publisher.check(TIMEOUT_S)


def test_check_passes_on_a_usable_store(tmp_path: Path) -> None:
    EmbeddedRatingPublisher(SqliteRatingStore(tmp_path / "ratings.sqlite")).check(TIMEOUT_S)
