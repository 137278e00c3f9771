"""Dockerfile-with-data cannot be built here (no Docker): check its stages and what it COPYs, lay out
the image's files from a build context as its COPYs do, and run its init script against a fresh
database as the Postgres entrypoint would, with and without a user's standard dump in the context."""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from typer.testing import CliRunner

from movies_db.cli import app
from movies_db.export import STANDARD_DUMP_NAME
from movies_db.postgres import PostgresFilmSource
from recsys_common.columns import Columns
from recsys_common.domain import Film
from recsys_datasets.seeddata import SeedData, make_ratings, save_seed

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO_ROOT / "Dockerfile-with-data"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
INIT_SCRIPT = REPO_ROOT / "movies_db" / "initdb.sh"
INITDB = PurePosixPath("/docker-entrypoint-initdb.d")
#: Where the image keeps the files the init script loads.
MOVIES_DB_DIR = PurePosixPath("/movies-db")
#: Where the seed stage writes the data file (``export-sql --out``), copied into the final stage.
EXPORTED = "/out/movies_data.sql"
#: Films of the small seed frame the user's dump is made of (fewer than the seed's: the branches differ).
N_DUMP_FILMS = 5
#: Seconds the init script may take.
INIT_TIMEOUT_S = 60

runner = CliRunner()


def instructions(text: str) -> list[list[str]]:
    """The Dockerfile's instructions as word lists, continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def stages() -> list[list[list[str]]]:
    """Instructions grouped by build stage (each starts with FROM)."""
    found: list[list[list[str]]] = []
    for words in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if words[0].upper() == "FROM":
            found.append([])
        found[-1].append(words)
    return found


@dataclass(frozen=True)
class Copy:
    """One COPY of the final stage: sources (patterns) in the build context or in ``stage``, one destination."""

    sources: tuple[str, ...]
    destination: str
    stage: str | None


def copies() -> list[Copy]:
    """The final stage's COPYs."""
    found = []
    for words in stages()[-1]:
        if words[0].upper() in {"COPY", "ADD"}:
            assert words[0].upper() == "COPY", f"ADD fetches and unpacks: use COPY ({words})"
            flags = [w for w in words[1:] if w.startswith("--")]
            rest = [w for w in words[1:] if not w.startswith("--")]
            assert all(f.startswith("--from=") for f in flags), f"unexpected COPY flags: {words}"
            assert len(rest) >= 2, f"a COPY needs a source and a destination: {words}"
            if len(rest) > 2:
                assert rest[-1].endswith("/"), f"several sources need a directory destination: {words}"
            stage = flags[0].removeprefix("--from=") if flags else None
            found.append(Copy(tuple(rest[:-1]), rest[-1], stage))
    return found


def lay_out_image(context: Path, seed_out: dict[str, Path], root: Path) -> None:
    """Copy files under ``root`` as the final stage's COPYs do: patterns in the context that match
    nothing are skipped while another source of the same COPY exists (Docker's rule)."""
    for copy in copies():
        matched: list[Path] = []
        for source in copy.sources:
            if copy.stage == "seed":
                matched.append(seed_out[source])
            else:
                matched.extend(sorted(context.glob(source)))
        assert matched, f"COPY {copy.sources} matches nothing in the build context"
        destination = root / copy.destination.lstrip("/")
        for path in matched:
            target = destination / path.name if copy.destination.endswith("/") else destination
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)  # keeps the mode, as COPY does


def build_context(tmp_path: Path, with_dump: Path | None) -> Path:
    """The files of the repository the final stage COPYs from the context, plus a user's dump when given."""
    context = tmp_path / "context"
    for copy in copies():
        # patterns name optional files (the user's dump): the test decides whether the context has them
        for source in copy.sources if copy.stage is None else ():
            for path in [] if glob.has_magic(source) else [REPO_ROOT / source]:
                (context / path.relative_to(REPO_ROOT)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, context / path.relative_to(REPO_ROOT))
    if with_dump is not None:
        shutil.copy(with_dump, context / STANDARD_DUMP_NAME)
    return context


def seed_dir_of(frame: pd.DataFrame, directory: Path) -> Path:
    ratings = make_ratings(["u1"], [frame[Columns.Item].iloc[0]], [8.0], [1_700_000_000])
    save_seed(SeedData(frame, ratings, {"films": len(frame)}), directory)
    return directory


def movies_cli(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def run_entrypoint_init(root: Path, dsn: str) -> tuple[int, str]:
    """Run the image's init scripts in name order, as the Postgres entrypoint does, against ``dsn``
    (standing for the entrypoint's temporary server), stopping at the first that fails as the
    entrypoint does; return its exit status and their output."""
    params = conninfo_to_dict(dsn)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "POSTGRES_"))},
        "PGHOST": str(params.get("host", "127.0.0.1")),
        "PGPORT": str(params.get("port", 5432)),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_DB": str(params["dbname"]),
        "MOVIES_DB_DIR": str(root / MOVIES_DB_DIR.relative_to("/")),
    }
    if params.get("password"):
        env["PGPASSWORD"] = str(params["password"])
    output = []
    for script in sorted((root / INITDB.relative_to("/")).iterdir()):
        assert script.suffix == ".sh" and os.access(script, os.X_OK), f"{script.name}: not an executable script"
        done = subprocess.run(
            [str(script)], env=env, capture_output=True, text=True, timeout=INIT_TIMEOUT_S, check=False
        )
        output.append(done.stdout + done.stderr)
        if done.returncode != 0:
            return done.returncode, "\n".join(output)
    return 0, "\n".join(output)


def counts(dsn: str) -> dict[str, int]:
    tables = ("film_work", "genre", "genre_film_work", "person", "person_film_work")
    found = {}
    with psycopg.connect(dsn) as conn:
        for table in tables:
            row = conn.execute(f"SELECT count(*) FROM content.{table}".encode()).fetchone()
            assert row is not None
            found[table] = int(row[0])
    return found


def expected_counts(films: list[Film]) -> dict[str, int]:
    return {
        "film_work": len(films),
        "genre": len({g for f in films for g in f.genres}),
        "genre_film_work": sum(len(f.genres) for f in films),
        "person": len({p.person_id for f in films for p in f.directors}),
        "person_film_work": sum(len(f.directors) for f in films),
    }


# ----- the Dockerfile -----
def test_image_is_postgres_and_keeps_schema_dump_and_seed_data_for_its_init_script() -> None:
    final = stages()[-1]
    assert final[0][1].startswith("postgres:")
    found = copies()
    assert [(c.sources, c.stage) for c in found] == [
        (("schema.sql", "movies-database.sq[l]"), None),
        ((EXPORTED,), "seed"),
        (("movies_db/initdb.sh",), None),
    ]
    assert [PurePosixPath(c.destination) for c in found] == [
        MOVIES_DB_DIR,
        MOVIES_DB_DIR / "movies_data.sql",
        INITDB / "10-movies-db.sh",
    ]
    # ``movies-database.sq[l]`` matches exactly the dump's name, and nothing else the context may hold.
    assert fnmatch.fnmatchcase(STANDARD_DUMP_NAME, found[0].sources[1])
    assert not fnmatch.fnmatchcase(STANDARD_DUMP_NAME + ".gz", found[0].sources[1])
    assert (REPO_ROOT / "schema.sql").is_file()


def test_init_script_reads_where_the_image_keeps_its_files_and_stops_on_errors() -> None:
    text = INIT_SCRIPT.read_text(encoding="utf-8")
    assert os.access(INIT_SCRIPT, os.X_OK), "the entrypoint runs executable scripts (others it sources)"
    assert f"MOVIES_DB_DIR:-{MOVIES_DB_DIR}}}" in text
    assert "-v ON_ERROR_STOP=1" in text
    assert not re.search(r"^\s*exit\b", text, re.MULTILINE), "a sourced script must not exit the entrypoint"


def test_seed_stage_builds_the_seed_and_exports_the_file_the_final_stage_copies() -> None:
    seed = next(stage for stage in stages() if stage[0][-2:] == ["AS", "seed"])
    commands = " ".join(" ".join(words[1:]) for words in seed if words[0].upper() == "RUN")
    assert "recsys data --no-load" in commands
    assert f"python -m movies_db export-sql --out {EXPORTED}" in commands


@pytest.mark.parametrize("name", [STANDARD_DUMP_NAME, "schema.sql", "movies_db/initdb.sh"])
def test_dockerignore_lets_the_files_of_the_image_into_the_context(name: str) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    parts = PurePosixPath(name).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            assert not fnmatch.fnmatchcase(prefix, pattern.strip("/")), f"{pattern} keeps {name} out"
            assert not fnmatch.fnmatchcase(PurePosixPath(prefix).name, bare), f"{pattern} keeps {name} out"


# ----- the init script, against a fresh database -----
@pytest.fixture
def seed_data_sql(tmp_path: Path, pg_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the seed stage writes: ``python -m movies_db export-sql`` of the seed films."""
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "var"))
    seed = seed_dir_of(pg_frame, tmp_path / "seed")
    out = tmp_path / "out" / "movies_data.sql"
    movies_cli("--seed-dir", str(seed), "export-sql", "--out", str(out))
    return out


def test_without_a_dump_the_image_loads_schema_then_the_seed_films(
    tmp_path: Path, empty_dsn: str, seed_data_sql: Path, pg_films: list[Film], as_read: Callable[..., Film]
) -> None:
    root = tmp_path / "image"
    lay_out_image(build_context(tmp_path, with_dump=None), {EXPORTED: seed_data_sql}, root)
    assert not (root / MOVIES_DB_DIR.relative_to("/") / STANDARD_DUMP_NAME).exists()

    code, output = run_entrypoint_init(root, empty_dsn)

    assert code == 0, output
    assert STANDARD_DUMP_NAME not in output
    assert counts(empty_dsn) == expected_counts(pg_films)
    source = PostgresFilmSource(empty_dsn)
    try:
        films = {f.film_id: f for batch in source.batches(None, len(pg_films) + 1) for f in batch.films}
    finally:
        source.close()
    assert films == {f.film_id: as_read(f) for f in pg_films}


def test_with_a_users_dump_the_image_loads_it_then_schema_and_not_the_seed_films(
    tmp_path: Path,
    empty_dsn: str,
    seed_data_sql: Path,
    pg_frame: pd.DataFrame,
    pg_films: list[Film],
    as_read: Callable[..., Film],
) -> None:
    small = pg_frame.iloc[:N_DUMP_FILMS].reset_index(drop=True)
    dump = tmp_path / "users" / STANDARD_DUMP_NAME
    movies_cli(
        "--seed-dir", str(seed_dir_of(small, tmp_path / "small-seed")), "export-standard-dump", "--out", str(dump)
    )
    root = tmp_path / "image"
    lay_out_image(build_context(tmp_path, with_dump=dump), {EXPORTED: seed_data_sql}, root)

    code, output = run_entrypoint_init(root, empty_dsn)

    assert code == 0, output
    assert output.index(STANDARD_DUMP_NAME) < output.index("schema.sql")
    dumped = pg_films[:N_DUMP_FILMS]
    assert counts(empty_dsn) == expected_counts(dumped)  # the dump's films, not the seed's
    with psycopg.connect(empty_dsn) as conn:  # schema.sql ran on top: our columns and triggers are there
        columns = {
            row[0]
            for row in conn.execute(
                b"SELECT column_name FROM information_schema.columns"
                b" WHERE table_schema = 'content' AND table_name = 'film_work'"
            )
        }
        triggers = {row[0] for row in conn.execute(b"SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
    assert {"imdb_votes", "rt_rating"} <= columns
    assert {"film_work_touch", "person_film_work_touch", "person_rename_touch"} <= triggers
    source = PostgresFilmSource(empty_dsn)
    try:
        films = [f for batch in source.batches(None, 100) for f in batch.films]
    finally:
        source.close()
    assert sorted(films, key=lambda f: f.film_id) == sorted(
        (as_read(f, extras=False) for f in dumped), key=lambda f: f.film_id
    )


def test_a_broken_dump_fails_the_first_start_before_schema_sql(
    tmp_path: Path, empty_dsn: str, seed_data_sql: Path
) -> None:
    dump = tmp_path / "users" / STANDARD_DUMP_NAME
    dump.parent.mkdir()
    dump.write_text(
        "CREATE SCHEMA content;\nCREATE TABLE content.film_work (id uuid PRIMARY KEY, title text);\n"
        "INSERT INTO content.film_work VALUES ('not a uuid', 'Broken');\n",
        encoding="utf-8",
    )
    root = tmp_path / "image"
    lay_out_image(build_context(tmp_path, with_dump=dump), {EXPORTED: seed_data_sql}, root)

    code, output = run_entrypoint_init(root, empty_dsn)

    assert code != 0
    assert "invalid input syntax for type uuid" in output
    assert "loading" in output and "schema.sql" not in output  # stopped at the dump's error
