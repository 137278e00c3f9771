"""Dockerfile-with-data cannot be built here (no Docker): check what it COPYs and load it as its entrypoint would."""

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


def instructions(text: str) -> list[list[str]]:
    """The Dockerfile's instructions as word lists, continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def copies() -> list[tuple[str, PurePosixPath]]:
    found = []
    for words in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if words[0].upper() in {"COPY", "ADD"}:
            assert not any(w.startswith("--") for w in words[1:]), f"unexpected COPY flags: {words}"
            assert len(words) == 3, f"one source and one destination per COPY: {words}"
            found.append((words[1], PurePosixPath(words[2])))
    return found


def test_image_is_postgres_and_copies_schema_then_data_into_initdb() -> None:
    words = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    assert words[0][0].upper() == "FROM"
    assert words[0][1].startswith("postgres:")
    found = copies()
    assert [src for src, _ in found] == ["schema.sql", DATA_SQL_PATH.as_posix()]
    for _, dest in found:
        assert dest.parent == INITDB
        assert dest.suffix == ".sql"
    names = [dest.name for _, dest in found]
    assert names == sorted(names), "the entrypoint runs init files in name order: schema first"
    for src in COMMITTED_SOURCES:
        assert (REPO_ROOT / src).is_file(), f"{src} is COPYed but missing from the repository"


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

    init_files = sorted(copies(), key=lambda copy: copy[1].name)
    for src, _ in init_files:
        assert (context / src).is_file(), f"COPY source {src} is not in the build context"
        apply_sql(empty_dsn, (context / src).read_text(encoding="utf-8"))

    with psycopg.connect(empty_dsn) as conn:
        films = conn.execute(b"SELECT count(*) FROM content.film_work").fetchone()
        links = conn.execute(b"SELECT count(*) FROM content.genre_film_work").fetchone()
    assert films == (len(pg_films),)
    assert links == (sum(len(f.genres) for f in pg_films),)
