"""Dockerfile-with-data cannot be built here (no Docker): check its stages and what it COPYs, and load
that as its entrypoint would."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path, PurePosixPath

import pandas as pd
import psycopg
import pytest

from movies_db.export import DATA_SQL_PATH, export_sql
from movies_db.postgres import apply_sql
from recsys_common.domain import Film

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO_ROOT / "Dockerfile-with-data"
INITDB = PurePosixPath("/docker-entrypoint-initdb.d")
#: Files of the repository the image COPYs as they are (the data file is written by ``export-sql``).
COMMITTED_SOURCES = {"schema.sql"}
#: Where the seed stage writes the data file (``export-sql --out``), copied into the final stage.
EXPORTED = "/out/movies_data.sql"


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


def copies() -> list[tuple[str, PurePosixPath, str | None]]:
    """The final stage's COPYs as (source, destination, stage copied from or None for the context)."""
    found = []
    for words in stages()[-1]:
        if words[0].upper() in {"COPY", "ADD"}:
            flags = [w for w in words[1:] if w.startswith("--")]
            rest = [w for w in words[1:] if not w.startswith("--")]
            assert all(f.startswith("--from=") for f in flags), f"unexpected COPY flags: {words}"
            assert len(rest) == 2, f"one source and one destination per COPY: {words}"
            stage = flags[0].removeprefix("--from=") if flags else None
            found.append((rest[0], PurePosixPath(rest[1]), stage))
    return found


def test_image_is_postgres_and_copies_schema_then_data_into_initdb() -> None:
    final = stages()[-1]
    assert final[0][1].startswith("postgres:")
    found = copies()
    assert [(src, stage) for src, _, stage in found] == [("schema.sql", None), (EXPORTED, "seed")]
    for _, dest, _ in found:
        assert dest.parent == INITDB
        assert dest.suffix == ".sql"
    names = [dest.name for _, dest, _ in found]
    assert names == sorted(names), "the entrypoint runs init files in name order: schema first"
    for src in COMMITTED_SOURCES:
        assert (REPO_ROOT / src).is_file(), f"{src} is COPYed but missing from the repository"


def test_seed_stage_builds_the_seed_and_exports_the_file_the_final_stage_copies() -> None:
    seed = next(stage for stage in stages() if stage[0][-2:] == ["AS", "seed"])
    commands = " ".join(" ".join(words[1:]) for words in seed if words[0].upper() == "RUN")
    assert "recsys data --no-load" in commands
    assert f"python -m movies_db export-sql --out {EXPORTED}" in commands


def test_what_the_image_copies_loads_into_postgres(
    tmp_path: Path, empty_dsn: str, pg_frame: pd.DataFrame, pg_films: list[Film]
) -> None:
    # The build context: the repository's files plus the data file ``python -m movies_db export-sql`` writes.
    context = tmp_path / "context"
    for src in COMMITTED_SOURCES:
        (context / src).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / src, context / src)
    (context / DATA_SQL_PATH).parent.mkdir(parents=True)
    (context / DATA_SQL_PATH).write_text(export_sql(pg_frame), encoding="utf-8")

    built = {EXPORTED: context / DATA_SQL_PATH}  # what the seed stage's export-sql writes
    for src, _, stage in sorted(copies(), key=lambda copy: copy[1].name):
        path = built[src] if stage == "seed" else context / src
        assert path.is_file(), f"COPY source {src} is not in the build context"
        apply_sql(empty_dsn, path.read_text(encoding="utf-8"))

    with psycopg.connect(empty_dsn) as conn:
        films = conn.execute(b"SELECT count(*) FROM content.film_work").fetchone()
        links = conn.execute(b"SELECT count(*) FROM content.genre_film_work").fetchone()
    assert films == (len(pg_films),)
    assert links == (sum(len(f.genres) for f in pg_films),)
