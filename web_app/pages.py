"""The pages. Each handler makes at most one request to the recommendations side of the Movies API
(home, recommendations or similar films); the others are catalogue and rating requests."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from recsys_common.ids import parse_film_id, validate_user_id
from web_app.auth import COOKIE, SignIn, Viewer
from web_app.movies import MoviesApi, NotFound, Reason

router = APIRouter()

#: Films per row, search page and ratings page; rows on the home page.
ROW_LENGTH = 12
HOME_ROWS = 3
PAGE_SIZE = 12
SIMILAR = 12
#: The onboarding grid: this many genres (the largest), this many films of each.
ONBOARDING_GENRES = 6
ONBOARDING_FILMS_PER_GENRE = 4
#: The score an onboarding pick is rated with.
LIKED_SCORE = 9
#: The "your list is ready" page reloads itself (no JavaScript needed) until the list is personal.
READY_ATTEMPTS = 10
MAX_PAGE = 1000
MAX_QUERY = 200
SCORES = range(1, 11)
PERSONAL_SOURCES = ("personal", "overlay")


def templates_of(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def movies_of(request: Request) -> MoviesApi:
    movies: MoviesApi = request.app.state.movies
    return movies


def sign_in_of(request: Request) -> SignIn:
    sign_in: SignIn = request.app.state.sign_in
    return sign_in


def viewer_of(request: Request) -> Viewer | None:
    return sign_in_of(request).viewer(request)


MoviesDep = Annotated[MoviesApi, Depends(movies_of)]
ViewerDep = Annotated[Viewer | None, Depends(viewer_of)]
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]


class SignInRequired(Exception):
    """The page is a viewer's own: the handler in bootstrap sends the visitor to the sign-in page."""


def required(viewer: Viewer | None) -> Viewer:
    if viewer is None:
        raise SignInRequired
    return viewer


def render(
    request: Request, template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    context.setdefault("viewer", viewer_of(request))
    context["auth_mode"] = sign_in_of(request).mode
    return templates_of(request).TemplateResponse(request, template, context, status_code=status_code, headers=headers)


def reason_text(reason: Reason | None) -> str:
    """One line saying why a film is recommended."""
    if reason is None:
        return ""
    if reason.kind == "rated" and reason.title:
        score = f" {reason.score:g}/10" if reason.score is not None else ""
        return f"Because you rated {reason.title}{score}"
    if reason.kind == "top_in_genre" and reason.genre:
        return f"Top rated in {reason.genre}"
    return "Top rated overall"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None) -> str:
    """A local path to return to after signing in (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def film_id_of(film_id: str) -> str:
    """The canonical film id, or NotFound for anything that is not one (the page answers 404)."""
    try:
        return parse_film_id(film_id)
    except ValueError as exc:
        raise NotFound(f"no film {film_id!r}") from exc


@router.get("/", response_class=HTMLResponse, summary="Home: personal rows, or the IMDb-top rows")
async def home(request: Request, movies: MoviesDep, viewer: ViewerDep) -> HTMLResponse:
    answer = await movies.home(viewer.token if viewer else None, HOME_ROWS, ROW_LENGTH)
    return render(request, "home.html", home=answer, personal=answer.source in PERSONAL_SOURCES)


@router.get("/search", response_class=HTMLResponse, summary="Search the catalogue")
async def search(
    request: Request,
    movies: MoviesDep,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    page: PageQuery = 1,
) -> HTMLResponse:
    query = q.strip()
    found = await movies.search(query or None, page, PAGE_SIZE)
    pages = max(1, -(-found.total // PAGE_SIZE))
    return render(request, "search.html", q=query, found=found, page=page, pages=min(pages, MAX_PAGE))


@router.get("/films/{film_id}", response_class=HTMLResponse, summary="A film, the viewer's rating, similar films")
async def film(request: Request, film_id: str, movies: MoviesDep, viewer: ViewerDep) -> HTMLResponse:
    film_id = film_id_of(film_id)
    details, similar, score = await asyncio.gather(
        movies.film(film_id),
        movies.similar(film_id, SIMILAR),
        movies.my_rating(viewer.token, film_id) if viewer else _no_rating(),
    )
    return render(request, "film.html", film=details, similar=similar, score=score, scores=SCORES)


async def _no_rating() -> None:
    return None


def _rating_answer(request: Request, film_id: str, score: float | None, saved: str) -> Response:
    """The rating fragment for htmx, else back to the film page (forms work without JavaScript)."""
    if is_htmx(request):
        return render(request, "_rating.html", film_id=film_id, score=score, scores=SCORES, saved=saved)
    return RedirectResponse(f"/films/{quote(film_id)}", status_code=303)


@router.post("/films/{film_id}/rating", summary="Rate a film 1..10")
async def rate(
    request: Request,
    film_id: str,
    score: Annotated[int, Form(ge=1, le=10)],
    movies: MoviesDep,
    viewer: ViewerDep,
) -> Response:
    film_id = film_id_of(film_id)
    await movies.rate(required(viewer).token, film_id, score)
    return _rating_answer(request, film_id, score, f"Saved: {score}/10")


@router.post("/films/{film_id}/rating/delete", summary="Remove the viewer's rating of a film")
async def remove_rating(request: Request, film_id: str, movies: MoviesDep, viewer: ViewerDep) -> Response:
    film_id = film_id_of(film_id)
    await movies.remove_rating(required(viewer).token, film_id)
    return _rating_answer(request, film_id, None, "Rating removed")


@router.get("/my/ratings", response_class=HTMLResponse, summary="The viewer's ratings, newest first")
async def my_ratings(request: Request, movies: MoviesDep, viewer: ViewerDep, page: PageQuery = 1) -> HTMLResponse:
    found = await movies.my_ratings(required(viewer).token, page, PAGE_SIZE)
    pages = max(1, -(-found.total // PAGE_SIZE))
    return render(request, "ratings.html", found=found, page=page, pages=pages)


@router.get("/onboarding", response_class=HTMLResponse, summary="Pick a few films you like")
async def onboarding(request: Request, movies: MoviesDep, viewer: ViewerDep) -> HTMLResponse:
    required(viewer)
    genres = sorted(await movies.genres(), key=lambda g: -g.film_count)[:ONBOARDING_GENRES]
    pages = await asyncio.gather(*(movies.search(None, 1, ONBOARDING_FILMS_PER_GENRE, g.name) for g in genres))
    shown: set[str] = set()
    grid = []
    for genre, page in zip(genres, pages, strict=True):
        films = [f for f in page.films if f.film_id not in shown]
        shown.update(f.film_id for f in films)
        if films:
            grid.append((genre.name, films))
    return render(request, "onboarding.html", grid=grid)


@router.post("/onboarding", summary="Rate the picked films and show the personal list")
async def onboard(
    request: Request,
    movies: MoviesDep,
    viewer: ViewerDep,
    film_ids: Annotated[list[str], Form(alias="film_id", max_length=ONBOARDING_GENRES * ONBOARDING_FILMS_PER_GENRE)],
) -> Response:
    token = required(viewer).token
    picked = list(dict.fromkeys(film_id_of(f) for f in film_ids))
    await asyncio.gather(*(movies.rate(token, film_id, LIKED_SCORE) for film_id in picked))
    return RedirectResponse("/onboarding/ready", status_code=303)


@router.get("/onboarding/ready", response_class=HTMLResponse, summary="The new viewer's list")
async def onboarding_ready(
    request: Request,
    movies: MoviesDep,
    viewer: ViewerDep,
    attempt: Annotated[int, Query(ge=0, le=READY_ATTEMPTS)] = 0,
) -> HTMLResponse:
    answer = await movies.recommendations(required(viewer).token, ROW_LENGTH)
    personal = answer.source in PERSONAL_SOURCES
    refresh = None if personal or attempt >= READY_ATTEMPTS else f"/onboarding/ready?attempt={attempt + 1}"
    return render(request, "ready.html", answer=answer, personal=personal, refresh=refresh)


@router.get("/signin", response_class=HTMLResponse, summary="Development sign-in: a name")
async def sign_in_form(request: Request, next: str = "/") -> HTMLResponse:
    if sign_in_of(request).mode != "dev":
        return render(request, "error.html", status_code=404, title="Sign-in happens upstream", message=PROXY_NOTE)
    return render(request, "signin.html", next=safe_next(next), error=None, name="")


PROXY_NOTE = "This site signs you in through its identity provider; there is no sign-in form."


@router.post("/signin", summary="Development sign-in: mint the viewer's token into a cookie")
async def sign_in(
    request: Request,
    name: Annotated[str, Form(max_length=128)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    sign_in = sign_in_of(request)
    if sign_in.mode != "dev":
        return render(request, "error.html", status_code=404, title="Sign-in happens upstream", message=PROXY_NOTE)
    try:
        user_id = validate_user_id(name.strip())
    except ValueError as exc:
        error = f"That name cannot be used: {exc}"
        return render(request, "signin.html", 422, viewer=None, next=safe_next(next), error=error, name=name)
    response = RedirectResponse(safe_next(next), status_code=303)
    secure = request.app.state.settings.web_cookie_secure
    response.set_cookie(
        COOKIE, sign_in.mint(user_id), max_age=sign_in.ttl_s, httponly=True, samesite="lax", secure=secure
    )
    return response


@router.post("/signout", summary="Forget the viewer's token")
async def sign_out() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/health/live", summary="The process answers")
async def live() -> dict[str, str]:
    return {"status": "ok"}
