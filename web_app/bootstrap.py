"""Composition root: the Movies API client, the sign-in, the templates and the error pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from recsys_common.observability import RequestIdMiddleware
from recsys_common.web import install_problem_handlers
from web_app import pages
from web_app.auth import COOKIE, SignIn
from web_app.movies import MoviesApi, MoviesApiError, NotFound, Unauthorized
from web_app.settings import WebSettings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """Build the app from the settings. Nothing connects here: the client connects on first use."""
    settings = settings if settings is not None else WebSettings()
    movies = MoviesApi(settings.web_movies_api_url, settings.web_movies_api_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await movies.aclose()

    app = FastAPI(title="recsys web app", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["reason_text"] = pages.reason_text
    app.state.settings = settings
    app.state.movies = movies
    app.state.sign_in = SignIn(settings)
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(pages.SignInRequired)
    async def sign_in_required(request: Request, _: pages.SignInRequired) -> Response:
        return _to_sign_in(request)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> Response:
        log.info("the Movies API refused the viewer's token: %s", exc)
        return _to_sign_in(request)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> HTMLResponse:
        return _error_page(request, 404, "Not found", str(exc))

    @app.exception_handler(MoviesApiError)
    async def unavailable(request: Request, exc: MoviesApiError) -> HTMLResponse:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return _error_page(
            request, 503, "Unavailable", "The film service is unavailable. Please try again in a moment."
        )

    return app


def _error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    """The error page; for an htmx request, the message alone, shown in the page's alert area."""
    if pages.is_htmx(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return pages.render(request, "_flash.html", status_code, headers=headers, message=message)
    return pages.render(request, "error.html", status_code, title=title, message=message)


def _to_sign_in(request: Request) -> Response:
    """Dev sign-in: forget the token and ask for a name, then come back; behind a proxy: 401."""
    if request.app.state.sign_in.mode != "dev":
        return pages.render(request, "error.html", 401, viewer=None, title="Not signed in", message=pages.PROXY_NOTE)
    back = request.url.path if request.method == "GET" else urlsplit(request.headers.get("referer", "/")).path
    target = f"/signin?next={quote(pages.safe_next(back))}"
    response: Response
    if pages.is_htmx(request):  # htmx follows a redirect itself and would swap the page in; tell it to navigate
        response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE)
    return response
