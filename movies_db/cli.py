"""``python -m movies_db``: export the seed films as SQL, load Postgres, run the ETL into the catalogue.

    python -m movies_db export-sql [--out build/movies_db/movies_data.sql]
    python -m movies_db load-postgres          # schema.sql + seed films into RECSYS_POSTGRES_DSN
    python -m movies_db etl [--full] [--every SECONDS]

The ETL reads Postgres when ``RECSYS_POSTGRES_DSN`` is set and the seed films otherwise; it writes
Elasticsearch when ``RECSYS_ELASTICSEARCH_URL`` is set and the SQLite catalogue otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from movies_db.etl import EtlReport, FilmSource, FrameFilmSource, SourceUnavailable, run_etl, utc_from_timestamp
from movies_db.export import DATA_SQL_PATH, export_sql
from movies_db.postgres import PostgresFilmSource, apply_sql
from movies_db.settings import MoviesDbSettings
from recsys_common.adapters.es_catalog import ElasticsearchCatalog
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.ports.catalog import Catalog, CatalogUnavailable

logger = logging.getLogger("movies_db")

#: ``schema.sql`` at the root of the repository.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.sql"
EXIT_UNAVAILABLE = 2
EXIT_BAD_DATA = 3


def open_catalog(settings: MoviesDbSettings) -> Catalog:
    """The catalogue the settings name: Elasticsearch when its URL is set, else the SQLite file."""
    if settings.elasticsearch_url:
        return ElasticsearchCatalog(
            settings.elasticsearch_url,
            state_file=settings.etl_state_path,
            index=settings.elasticsearch_index,
            timeout_s=settings.elasticsearch_timeout_s,
        )
    return SqliteCatalog(settings.catalog_db)


def load_seed_films(seed_dir: Path) -> tuple[pd.DataFrame, float]:
    """The seed films frame and the time (unix seconds) its files last changed."""
    from recsys_datasets.seeddata import load_seed  # the seed builder; imported only when used

    films = load_seed(seed_dir).films
    changed = max(p.stat().st_mtime for p in seed_dir.iterdir() if p.is_file())
    return films, changed


def open_source(settings: MoviesDbSettings, seed_dir: Path) -> FilmSource:
    if settings.postgres_dsn:
        return PostgresFilmSource(settings.postgres_dsn)
    films, changed = load_seed_films(seed_dir)
    return FrameFilmSource(films, utc_from_timestamp(changed))


def _etl(settings: MoviesDbSettings, seed_dir: Path, full: bool, every: float) -> EtlReport:
    source = open_source(settings, seed_dir)
    catalog = open_catalog(settings)
    try:
        while True:
            report = run_etl(source, catalog, batch_size=settings.etl_batch_size, full=full)
            if every <= 0:
                return report
            full = False
            time.sleep(every)
    finally:
        source.close()
        catalog.close()


def main(argv: Sequence[str] | None = None) -> int:
    settings = MoviesDbSettings()
    parser = argparse.ArgumentParser(prog="python -m movies_db", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed-dir", type=Path, default=settings.seed_dir, help="seed set directory")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export-sql", help="write the seed films as SQL INSERTs for schema.sql")
    export.add_argument("--out", type=Path, default=DATA_SQL_PATH)
    load = commands.add_parser("load-postgres", help="apply schema.sql and the seed films to RECSYS_POSTGRES_DSN")
    load.add_argument("--schema", type=Path, default=SCHEMA_PATH)
    etl = commands.add_parser("etl", help="copy changed films into the catalogue")
    etl.add_argument("--full", action="store_true", help="ignore the saved state and load every film")
    etl.add_argument("--every", type=float, default=settings.etl_interval_s, help="seconds between runs; 0 = once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.command == "export-sql":
            films, _ = load_seed_films(args.seed_dir)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(export_sql(films), encoding="utf-8")
            print(f"wrote {len(films)} films to {args.out}")
        elif args.command == "load-postgres":
            if not settings.postgres_dsn:
                parser.error("RECSYS_POSTGRES_DSN is not set")
            films, _ = load_seed_films(args.seed_dir)
            apply_sql(settings.postgres_dsn, args.schema.read_text(encoding="utf-8"))
            apply_sql(settings.postgres_dsn, export_sql(films))
            print(f"loaded schema and {len(films)} films into Postgres")
        else:
            _etl(settings, args.seed_dir, args.full, args.every)
    except (SourceUnavailable, CatalogUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ValueError as exc:  # FilmFrameError, the seed loader's DataFormatError
        print(f"error: bad films data: {exc}", file=sys.stderr)
        return EXIT_BAD_DATA
    except KeyboardInterrupt:
        return 0
    return 0
