"""A viewer rates a film: the rating is published as an event (Kafka, or the embedded rating store)."""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import APIRouter, HTTPException, status

from movies_api.deps import CatalogDep, MetricsDep, PublisherDep, SettingsDep, ViewerDep
from movies_api.routers.films import FilmIdPath
from movies_api.schemas import Problem, RatingAccepted, RatingIn
from recsys_common.domain import RatingEvent
from recsys_common.events import InvalidEvent
from recsys_common.ports.publisher import PublishError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/films", tags=["ratings"])


@router.post(
    "/{film_id}/rating",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RatingAccepted,
    responses={
        401: {"model": Problem, "description": "Missing, expired or forged bearer token"},
        404: {"model": Problem, "description": "No film with that id"},
        503: {"model": Problem, "description": "The rating was NOT accepted (publisher or catalogue down); retry"},
    },
    summary="Rate a film (1..10) as the viewer of the bearer token",
)
def rate_film(
    film_id: FilmIdPath,
    body: RatingIn,
    viewer: ViewerDep,
    catalog: CatalogDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> RatingAccepted:
    """Answers 202 once the publisher acknowledged the event; the engine takes it into the next cycle."""
    film = catalog.get(str(film_id))
    if film is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"film {film_id} not found")
    event = RatingEvent(
        event_id=str(uuid.uuid4()),
        user_id=viewer.user_id,
        film_id=film.film_id,
        rating=body.score,
        timestamp=int(time.time()),
    )
    try:
        publisher.publish(event, settings.publish_timeout_s)
    except InvalidEvent as exc:  # the event schema refuses what the API let through: still the input's fault
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except PublishError as exc:
        metrics.ratings.labels("publisher_unavailable").inc()
        log.warning("rating %s not accepted: %s", event.event_id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the rating was not accepted: the rating service is unavailable, retry later",
            headers={"Retry-After": str(settings.retry_after_s)},
        ) from exc
    metrics.ratings.labels("accepted").inc()
    return RatingAccepted(event_id=event.event_id, film_id=event.film_id, score=event.rating)
