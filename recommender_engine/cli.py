"""``recsys``: the engine's command line (also ``python -m recommender_engine``)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from recommender_engine.bootstrap import EngineApp, bootstrap
from recommender_engine.cycle import CycleError
from recommender_engine.evaluation.runner import run_evaluation
from recommender_engine.scheduler import make_trigger, run_scheduled
from recommender_engine.settings import EngineSettings
from recsys_common.columns import Columns
from recsys_common.machine import machine_info
from recsys_common.ports.recstore import StoreUnavailable, UnknownVersion
from recsys_datasets import (
    DataFormatError,
    DataUnavailable,
    SeedData,
    build_seed,
    load_movielens_csv,
    load_rotten_tomatoes,
    load_seed,
    save_seed,
)

EXIT_FAILED = 1
EXIT_DATA_UNAVAILABLE = 3
EXAMPLE_USERS = 3
EXAMPLE_FILMS = 5
STATUS_CYCLES = 5

app = typer.Typer(help="Movie recommender engine: seed data, training, publishing, evaluation.", no_args_is_help=True)
log = logging.getLogger("recsys")


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@contextmanager
def _engine(progress: bool = True) -> Iterator[EngineApp]:
    try:
        engine_app = bootstrap(EngineSettings(), progress=progress)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise _fail(f"bad settings: {exc}") from exc
    try:
        yield engine_app
    except StoreUnavailable as exc:
        raise _fail(f"recommendation store unavailable: {exc}") from exc
    finally:
        engine_app.close()


def _seed(engine_app: EngineApp) -> SeedData:
    try:
        return load_seed(engine_app.settings.seed_dir)
    except (DataUnavailable, DataFormatError) as exc:
        raise _fail(f"{exc}\nrun `recsys data` first", EXIT_DATA_UNAVAILABLE) from exc


@app.callback()
def main_options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def data(
    movielens_dir: Annotated[
        Path | None, typer.Option(help="Use a MovieLens-CSV set (ratings.csv + movies.csv) instead of the seed.")
    ] = None,
    rotten_tomatoes_dir: Annotated[
        Path | None, typer.Option(help="Use the Kaggle Rotten Tomatoes CSV pair instead of the seed.")
    ] = None,
    load: Annotated[bool, typer.Option(help="Append the seed ratings to the rating store.")] = True,
) -> None:
    """Fetch (checksums verified) and build the seed set, save it, and load its ratings."""
    with _engine() as engine_app:
        _load_data(engine_app, movielens_dir, rotten_tomatoes_dir, load)


def _load_data(engine_app: EngineApp, movielens_dir: Path | None, rotten_tomatoes_dir: Path | None, load: bool) -> None:
    settings = engine_app.settings
    try:
        if movielens_dir is not None:
            seed = load_movielens_csv(movielens_dir)
        elif rotten_tomatoes_dir is not None:
            seed = load_rotten_tomatoes(rotten_tomatoes_dir)
        else:
            seed = build_seed(settings.cache_dir, progress=True)
    except DataUnavailable as exc:
        raise _fail(str(exc), EXIT_DATA_UNAVAILABLE) from exc
    except DataFormatError as exc:
        raise _fail(str(exc)) from exc
    save_seed(seed, settings.seed_dir)
    for key, value in seed.report.items():
        typer.echo(f"  {key:<32} {value}")
    typer.echo(f"seed saved to {settings.seed_dir}")
    if load:
        written = engine_app.ratings.append(seed.ratings)
        typer.echo(f"{written} new rating(s) appended to the rating store ({len(seed.ratings)} in the seed)")


@app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (the default).")] = True,
    force: Annotated[bool, typer.Option(help="Train and publish even when no rating is new.")] = False,
) -> None:
    """Run one engine cycle: read ratings, train, score, publish. Use `schedule` to repeat."""
    if not once:
        raise _fail("`run` runs one cycle; use `recsys schedule` to run cycles on a schedule", 2)
    with _engine() as engine_app:
        _seed(engine_app)
        try:
            result = engine_app.engine.run_cycle(force=force)
        except CycleError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"{result.status}: version {result.version} {result.reason}".rstrip())
        for key, value in sorted(result.metrics.items()):
            typer.echo(f"  {key:<24} {value:,.3f}")


app.command("train", help="Alias of `run --once`.")(run)


@app.command()
def schedule(
    cron: Annotated[str | None, typer.Option(help="Cron expression (UTC); default from settings.")] = None,
    interval: Annotated[int | None, typer.Option(help="Interval in seconds; default from settings.")] = None,
    max_cycles: Annotated[int | None, typer.Option(help="Stop after this many cycles.")] = None,
) -> None:
    """Run cycles on a cron expression or an interval (the first one at once)."""
    with _engine(progress=False) as engine_app:
        settings = engine_app.settings
        try:
            trigger = make_trigger(cron or settings.schedule_cron, interval or settings.schedule_interval_seconds)
        except ValueError as exc:
            raise _fail(str(exc), 2) from exc
        typer.echo(f"scheduling engine cycles: {trigger}")
        run_scheduled(engine_app.engine.run_cycle, trigger, max_cycles=max_cycles)


@app.command()
def status() -> None:
    """Show the serving version, the kept versions and the last cycles."""
    with _engine(progress=False) as engine_app:
        current = engine_app.store.current()
        if current is None:
            typer.echo("no version published yet: run `recsys run`")
        for meta in engine_app.store.versions():
            marker = "*" if current is not None and meta.version == current.version else " "
            typer.echo(
                f"{marker} {meta.version}  model {meta.model_version[:16]:<16} users {meta.n_users:>8,} "
                f"films {meta.n_films:>7,} watermark {meta.watermark} published {meta.published_at}"
            )
        for entry in engine_app.engine.journal.tail(STATUS_CYCLES):
            typer.echo(f"  cycle {json.dumps(entry, sort_keys=True)}")


@app.command()
def rollback(
    version: Annotated[str | None, typer.Argument(help="Version to serve; default: the one before current.")] = None,
) -> None:
    """Point `current` at an earlier version (flip back)."""
    with _engine(progress=False) as engine_app:
        store = engine_app.store
        current = store.current()
        if version is None:
            older = [m for m in store.versions() if current is None or m.published_at < current.published_at]
            if not older:
                raise _fail("no earlier version to roll back to")
            version = older[0].version
        try:
            meta = store.activate(version)
        except UnknownVersion as exc:
            known = ", ".join(m.version for m in store.versions())
            raise _fail(f"unknown version {version}; known: {known}") from exc
        typer.echo(f"now serving {meta.version} (model {meta.model_version})")


@app.command()
def show(
    user_id: Annotated[list[str] | None, typer.Argument(help="User ids; default: a few example users.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = EXAMPLE_FILMS,
) -> None:
    """Print users' published lists with film titles."""
    with _engine(progress=False) as engine_app:
        _show(engine_app, user_id or [], limit)


def _show(engine_app: EngineApp, user_ids: list[str], limit: int) -> None:
    store = engine_app.store
    meta = store.current()
    if meta is None:
        raise _fail("no version published yet: run `recsys run`")
    titles = _seed(engine_app).films.set_index(Columns.Item)[Columns.Title]
    films = store.films(meta.version)
    if not user_ids:
        ratings = engine_app.ratings.read_all()
        user_ids = sorted(ratings[Columns.User].astype(str).unique())[:EXAMPLE_USERS]
    where = engine_app.settings.redis_url or str(engine_app.settings.recstore_db)
    typer.echo(f"version {meta.version} (model {meta.model_version}) in {where}")
    for user in user_ids:
        lists = store.user_lists(user, meta, films)
        if lists is None:
            cold = store.cold_start(meta.version)
            typer.echo(f"\n{user}: no personal list (cold start):")
            _echo_titles(titles, cold.overall[:limit] if cold else ())
            continue
        typer.echo(f"\n{user}: must_watch")
        _echo_titles(titles, lists.must_watch[:limit])
        for genre, ids in list(lists.by_genre.items())[:2]:
            typer.echo(f"  {genre}:")
            _echo_titles(titles, ids[:limit], indent="    ")


def _echo_titles(titles: pd.Series, ids: tuple[str, ...] | list[str], indent: str = "  ") -> None:
    for rank, film in enumerate(ids, start=1):
        typer.echo(f"{indent}{rank:>2}. {titles.get(film, film)}")


@app.command()
def evaluate(
    movielens_dir: Annotated[
        Path | None, typer.Option(help="Evaluate on a MovieLens-CSV set instead of the seed (MovieLens-100K).")
    ] = None,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.25,
    seed: Annotated[int, typer.Option()] = 42,
    k: Annotated[int, typer.Option(min=1)] = 10,
    models: Annotated[str | None, typer.Option(help="Comma-separated model names; default all.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
) -> None:
    """Evaluate the engine's model and baselines (per-user random split, every test rating relevant)."""
    with _engine(progress=False) as engine_app:
        try:
            data_set = load_movielens_csv(movielens_dir) if movielens_dir else _seed(engine_app)
        except (DataUnavailable, DataFormatError) as exc:
            raise _fail(str(exc)) from exc
        names = [m.strip() for m in models.split(",")] if models else None
        try:
            report = run_evaluation(
                data_set.ratings,
                data_set.films,
                test_fraction=test_fraction,
                seed=seed,
                k=k,
                models=names,
                progress=True,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(report.to_table())
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            payload = {"machine": machine_info(), **report.to_dict()}
            output.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            typer.echo(f"report written to {output}")


@app.command()
def demo(
    users: Annotated[int, typer.Option(min=1, help="Example users to print.")] = EXAMPLE_USERS,
) -> None:
    """The whole loop on the embedded default: seed data (once), one cycle, example lists."""
    with _engine() as engine_app:
        settings = engine_app.settings
        if not (settings.seed_dir / "films.csv").exists():
            _load_data(engine_app, None, None, load=True)
        try:
            result = engine_app.engine.run_cycle(force=False)
        except CycleError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"{result.status}: version {result.version}")
        ratings = engine_app.ratings.read_all()
        examples = sorted(ratings[Columns.User].astype(str).unique())[:users]
        _show(engine_app, [*examples, "a-new-viewer"], EXAMPLE_FILMS)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
