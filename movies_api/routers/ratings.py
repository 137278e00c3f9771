"""A viewer rates a film: the rating is published as an event (Kafka, or the embedded rating store).

The body is read only once the bearer token is valid (FastAPI would read a declared body before it
authenticates), so an anonymous client's upload is refused without being read.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from movies_api.deps import CatalogDep, MetricsDep, PublisherDep, SettingsDep, ViewerDep
from movies_api.routers.films import FilmIdPath
from movies_api.schemas import RatingAccepted, RatingIn, RatingRemoved
from recsys_common.domain import RATING_REMOVED, RatingEvent
from recsys_common.events import InvalidEvent
from recsys_common.ports.publisher import PublishError
from recsys_common.web import Problem, invalid, json_body_openapi, read_json_body

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/films", tags=["ratings"])


async def rating_body(_: ViewerDep, request: Request) -> RatingIn:
    """The rating in the body, read after the viewer is authenticated (the viewer is a sub-dependency)."""
    return await read_json_body(request, RatingIn)


@router.post(
    "/{film_id}/rating",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RatingAccepted,
    responses={
        401: {"model": Problem, "description": "Missing, expired or forged bearer token; the body is not read"},
        404: {"model": Problem, "description": "No film with that id"},
        415: {"model": Problem, "description": "The body is not application/json"},
        503: {"model": Problem, "description": "The rating was NOT accepted (publisher or catalogue down); retry"},
    },
    openapi_extra=json_body_openapi(RatingIn),
    summary="Rate a film (1..10) as the viewer of the bearer token",
)
def rate_film(
    film_id: FilmIdPath,
    viewer: ViewerDep,
    body: Annotated[RatingIn, Depends(rating_body)],
    catalog: CatalogDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> RatingAccepted:
    """Answers 202 once the publisher acknowledged the event; the engine takes it into the next cycle."""
    film = catalog.get(str(film_id))
    if film is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"film {film_id} not found")
    event = _publish(viewer.user_id, film.film_id, body.score, publisher, settings, metrics)
    return RatingAccepted(event_id=event.event_id, film_id=event.film_id, score=event.rating)


@router.delete(
    "/{film_id}/rating",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RatingRemoved,
    responses={
        401: {"model": Problem, "description": "Missing, expired or forged bearer token"},
        404: {"model": Problem, "description": "No film with that id"},
        503: {"model": Problem, "description": "The removal was NOT accepted (publisher or catalogue down); retry"},
    },
    summary="Remove the viewer's rating of a film (bearer token)",
)
def remove_rating(
    film_id: FilmIdPath,
    viewer: ViewerDep,
    catalog: CatalogDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> RatingRemoved:
    """Publishes a removal (a rating event with the score ``RATING_REMOVED``, 0) on the rating path:
    the stores keep it as the pair's latest event, and from then on the engine, the online loop and
    "my ratings" no longer see the film as rated. Idempotent: removing an unrated film is harmless."""
    film = catalog.get(str(film_id))
    if film is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"film {film_id} not found")
    event = _publish(viewer.user_id, film.film_id, RATING_REMOVED, publisher, settings, metrics)
    return RatingRemoved(event_id=event.event_id, film_id=event.film_id)


def _publish(
    user_id: str, film_id: str, score: float, publisher: PublisherDep, settings: SettingsDep, metrics: MetricsDep
) -> RatingEvent:
    """Publish the viewer's rating event (a removal when ``score`` is ``RATING_REMOVED``); 503 when
    the publisher does not accept it."""
    event = RatingEvent(
        event_id=str(uuid.uuid4()), user_id=user_id, film_id=film_id, rating=score, timestamp=int(time.time())
    )
    try:
        publisher.publish(event, settings.publish_timeout_s)
    except InvalidEvent as exc:  # the event schema refuses what the API let through: still the input's fault
        raise invalid(("body",), str(exc)) from exc
    except PublishError as exc:
        metrics.ratings.labels("publisher_unavailable").inc()
        log.warning("rating %s not accepted: %s", event.event_id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the rating was not accepted: the rating service is unavailable, retry later",
            headers={"Retry-After": str(settings.retry_after_s)},
        ) from exc
    metrics.ratings.labels("removed" if score == RATING_REMOVED else "accepted").inc()
    return event
