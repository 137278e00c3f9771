"""``python -m movies_db``: the movies database (Postgres) and the ETL that carries it into the catalogue.

    python -m movies_db export-sql [--out build/movies_db/movies_data.sql]   # seed films as SQL
    python -m movies_db export-standard-dump [--out build/movies_db/movies-database.sql]
    python -m movies_db load-postgres          # schema.sql + seed films into RECSYS_POSTGRES_DSN
    python -m movies_db etl [--full] [--every SECONDS]
    python -m movies_db add-film --title T --year Y --genre G [--genre G ...] [--director NAME ...]
                                 [--imdb-rating R --imdb-votes N]
    python -m movies_db delete-film FILM_ID

``export-standard-dump`` writes the seed films as a standard movies dump (the layout a user's
``movies-database.sql`` has, which ``Dockerfile-with-data`` loads instead of the seed films).
The ETL reads Postgres (``RECSYS_POSTGRES_DSN``) and writes the catalogue: Elasticsearch when
``RECSYS_ELASTICSEARCH_URL`` is set, the SQLite catalogue otherwise. ``add-film`` and ``delete-film``
change the movies database when ``RECSYS_POSTGRES_DSN`` is set (the ETL carries the change into the
catalogue) and the catalogue itself otherwise. This module is the process's composition root.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from movies_db.etl import SourceUnavailable, run_etl
from movies_db.export import DATA_SQL_PATH, STANDARD_DUMP_PATH, export_sql, export_standard_dump
from movies_db.postgres import PostgresFilmSource, apply_sql, delete_film, save_film
from movies_db.settings import MoviesDbSettings
from recsys_common.adapters.catalogs import open_catalog
from recsys_common.columns import Columns
from recsys_common.domain import Film
from recsys_common.ids import film_id_for, parse_film_id
from recsys_common.observability import configure_logging
from recsys_common.ports.catalog import CatalogUnavailable
from recsys_common.settings import warn_unknown_variables
from recsys_datasets import DataFormatError, load_seed
from recsys_datasets.frames import FilmFrameError, film_from_record

logger = logging.getLogger("movies_db")

#: ``schema.sql`` at the root of the repository.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.sql"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 2
EXIT_BAD_DATA = 3
#: Source ids of films added by hand: the same title and year always get the same film id.
ADDED_SOURCE = "added"

app = typer.Typer(help=__doc__.split("\n\n")[0], no_args_is_help=True, add_completion=False)
#: Touched under the data directory after every successful ETL run (compose checks its age).
HEARTBEAT_FILE = "etl.alive"


def added_film_id(title: str, year: int | None) -> str:
    """The film id of a film added by hand: uuid5 of its normalised title and year."""
    return film_id_for(f"{ADDED_SOURCE}:{' '.join(title.casefold().split())}:{year or ''}")


def _fail(message: str, code: int) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Exit codes: 2 when a server or file is unavailable, 3 for bad films data."""
    try:
        yield
    except (SourceUnavailable, CatalogUnavailable) as exc:
        raise _fail(str(exc), EXIT_UNAVAILABLE) from exc
    except (DataFormatError, FilmFrameError) as exc:
        raise _fail(f"bad films data: {exc}", EXIT_BAD_DATA) from exc


@app.callback()
def main_options(
    ctx: typer.Context,
    seed_dir: Annotated[Path | None, typer.Option(help="Seed set directory (default: RECSYS_DATA_DIR/seed).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    settings = MoviesDbSettings()
    configure_logging(logging.DEBUG if verbose else logging.INFO, settings.log_format)
    warn_unknown_variables()
    ctx.obj = (settings, seed_dir or settings.seed_dir)


def _context(ctx: typer.Context) -> tuple[MoviesDbSettings, Path]:
    settings, seed_dir = ctx.obj
    return settings, seed_dir


@app.command("export-sql")
def export_sql_command(
    ctx: typer.Context, out: Annotated[Path, typer.Option(help="Where to write the SQL.")] = DATA_SQL_PATH
) -> None:
    """Write the seed films as SQL INSERTs for schema.sql (the data of the Postgres image)."""
    _, seed_dir = _context(ctx)
    with _errors():
        films = load_seed(seed_dir).films
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(export_sql(films), encoding="utf-8")
    typer.echo(f"wrote {len(films)} films to {out}")


@app.command("export-standard-dump")
def export_standard_dump_command(
    ctx: typer.Context, out: Annotated[Path, typer.Option(help="Where to write the dump.")] = STANDARD_DUMP_PATH
) -> None:
    """Write the seed films as a standard movies dump (DDL of the five standard tables and INSERTs)."""
    _, seed_dir = _context(ctx)
    with _errors():
        films = load_seed(seed_dir).films
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(export_standard_dump(films, datetime.now(UTC).replace(microsecond=0)), encoding="utf-8")
    typer.echo(f"wrote {len(films)} films to {out}")


@app.command("load-postgres")
def load_postgres(
    ctx: typer.Context, schema: Annotated[Path, typer.Option(help="The schema to apply first.")] = SCHEMA_PATH
) -> None:
    """Apply schema.sql and the seed films to RECSYS_POSTGRES_DSN."""
    settings, seed_dir = _context(ctx)
    if not settings.postgres_dsn:
        raise _fail("RECSYS_POSTGRES_DSN is not set", EXIT_USAGE)
    with _errors():
        films = load_seed(seed_dir).films
        apply_sql(settings.postgres_dsn, schema.read_text(encoding="utf-8"))
        apply_sql(settings.postgres_dsn, export_sql(films))
    typer.echo(f"loaded schema and {len(films)} films into Postgres")


@app.command()
def etl(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option(help="Ignore the saved state and load every film.")] = False,
    every: Annotated[float | None, typer.Option(help="Seconds between runs; 0 runs once.", min=0)] = None,
) -> None:
    """Carry films added, changed or deleted in Postgres into the catalogue."""
    settings, _ = _context(ctx)
    if not settings.postgres_dsn:
        raise _fail(
            "RECSYS_POSTGRES_DSN is not set: the ETL reads the movies database "
            "(the embedded catalogue is filled by `recsys data` and `python -m movies_db add-film`)",
            EXIT_USAGE,
        )
    interval = settings.etl_interval_s if every is None else every
    source = PostgresFilmSource(settings.postgres_dsn)
    catalog = open_catalog(settings, state_file=settings.etl_state_path)
    try:
        with _errors():
            while True:
                report = run_etl(source, catalog, batch_size=settings.etl_batch_size, full=full)
                typer.echo(f"loaded {report.films} film(s), deleted {report.deleted} in {report.seconds:.2f} s")
                heartbeat = settings.data_dir / HEARTBEAT_FILE
                heartbeat.parent.mkdir(parents=True, exist_ok=True)
                heartbeat.touch()  # a healthcheck reads its age: the loop is alive and its last run succeeded
                if interval <= 0:
                    return
                full = False
                time.sleep(interval)
    finally:
        source.close()
        catalog.close()


@app.command("add-film")
def add_film(
    ctx: typer.Context,
    title: Annotated[str, typer.Option(help="The film's title.")],
    genre: Annotated[list[str], typer.Option(help="A genre (repeat for several).")],
    year: Annotated[int | None, typer.Option(help="Year of release.")] = None,
    imdb_rating: Annotated[float | None, typer.Option(help="IMDb rating, 1..10.")] = None,
    imdb_votes: Annotated[int | None, typer.Option(help="IMDb votes.")] = None,
    rt_rating: Annotated[float | None, typer.Option(help="Rotten Tomatoes Tomatometer, 0..100.")] = None,
    description: Annotated[str, typer.Option(help="A short description.")] = "",
    director: Annotated[list[str] | None, typer.Option(help="A director's name (repeat for several).")] = None,
) -> None:
    """Add (or update) a film and print its id: same title and year, same id."""
    settings, _ = _context(ctx)
    with _errors():
        film = film_from_record(
            {
                Columns.Item: added_film_id(title, year),
                Columns.Title: title,
                Columns.Year: year,
                Columns.Genres: tuple(genre),
                Columns.ImdbRating: imdb_rating,
                Columns.ImdbVotes: imdb_votes,
                Columns.RtRating: rt_rating,
                Columns.Description: description,
                Columns.Directors: tuple(director or ()),
            }
        )
        where = _write(settings, film)
    typer.echo(film.film_id)
    logger.info("film %r (%s) saved to %s", film.title, film.film_id, where)


def _write(settings: MoviesDbSettings, film: Film) -> str:
    if settings.postgres_dsn:
        save_film(settings.postgres_dsn, film)
        return "the movies database (the ETL carries it into the catalogue)"
    catalog = open_catalog(settings, state_file=settings.etl_state_path)
    try:
        catalog.upsert([film])
    finally:
        catalog.close()
    return repr(catalog)


@app.command("delete-film")
def delete_film_command(
    ctx: typer.Context, film_id: Annotated[str, typer.Argument(help="The film's id (a UUID).")]
) -> None:
    """Delete a film; its ratings stay stored and the engine leaves them out while the film is gone."""
    settings, _ = _context(ctx)
    try:
        film_id = parse_film_id(film_id)
    except ValueError as exc:
        raise _fail(str(exc), EXIT_USAGE) from exc
    with _errors():
        if settings.postgres_dsn:
            found = delete_film(settings.postgres_dsn, film_id)
        else:
            catalog = open_catalog(settings, state_file=settings.etl_state_path)
            try:
                found = catalog.delete([film_id]) > 0
            finally:
                catalog.close()
    if not found:
        raise _fail(f"no film {film_id}", EXIT_FAILED)
    typer.echo(f"deleted {film_id}")


def main() -> None:
    app(prog_name="python -m movies_db")
