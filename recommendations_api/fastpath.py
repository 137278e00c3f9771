"""The hot route without FastAPI's per-request machinery.

``GET /api/v1/users/{user_id}/recommendations`` is what the Movies API calls for every page. On a
2-core machine FastAPI's routing, dependency solving and parameter parsing cost ~200 us per request
(measured with a hello-world endpoint), more than reading and decoding the user's record. This ASGI
middleware answers the *well-formed* requests of that route itself, with the same service, the same
validation and the same response model (so the bytes are identical); anything it does not fully
understand - a malformed id, a bad or repeated parameter, an unknown genre, a 503 - goes on to the
FastAPI route, which stays the documented implementation and produces every error message.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from recommendations_api.deps import DEFAULT_LIMIT, GENRE_MAX_LEN, MAX_LIMIT
from recommendations_api.metrics import ROUTE_TEMPLATE_KEY
from recommendations_api.schemas import Recommendations
from recommendations_api.service import RecommendationService, ServiceUnavailable, UnknownGenre
from recsys_common.ids import validate_user_id

#: The route template, as FastAPI reports it (and as the metrics label it).
ROUTE_TEMPLATE = "/api/v1/users/{user_id}/recommendations"

_PATH = re.compile(r"/api/v1/users/([^/]+)/recommendations")
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")
#: Genres the fast path takes as they are; anything escaped or odd goes to FastAPI's parser.
_PLAIN_GENRE = re.compile(rf"[A-Za-z0-9_.\-']{{1,{GENRE_MAX_LEN}}}")
_HEADERS_JSON = (b"content-type", b"application/json")
_SERIALIZER = Recommendations.__pydantic_serializer__


class FastRecommendations:
    def __init__(self, app: ASGIApp, service: RecommendationService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            match = _PATH.fullmatch(scope["path"])
            if match is not None:
                body = self._answer(match.group(1), scope["query_string"])
                if body is not None:
                    scope[ROUTE_TEMPLATE_KEY] = ROUTE_TEMPLATE
                    headers = [_HEADERS_JSON, (b"content-length", str(len(body)).encode())]
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    def _answer(self, user_id: str, query_string: bytes) -> bytes | None:
        """The response body, or None to let the FastAPI route answer (and explain) the request."""
        limit = DEFAULT_LIMIT
        genre: str | None = None
        seen: set[str] = set()
        if query_string:
            for pair in query_string.decode("latin-1").split("&"):
                name, sep, raw = pair.partition("=")
                if not sep or name in seen:
                    return None
                seen.add(name)
                if name == "limit" and _LIMIT.fullmatch(raw):
                    limit = int(raw)
                elif name == "genre" and _PLAIN_GENRE.fullmatch(raw):
                    genre = raw
                else:
                    return None
            if limit > MAX_LIMIT:
                return None
        try:
            validate_user_id(user_id)
            answer = self.service.recommendations(user_id, genre, limit)
        except (ValueError, UnknownGenre, ServiceUnavailable):
            return None
        body: bytes = _SERIALIZER.to_json(
            Recommendations(
                user_id=user_id,
                genre=answer.genre,
                source=answer.source,
                model_version=answer.model_version,
                generated_at=answer.generated_at,
                film_ids=list(answer.film_ids),
            )
        )
        return body
