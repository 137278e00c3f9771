"""Catalogues over fresh storage for tests: a SQLite file, or Elasticsearch indices (movies, genres,
persons) of the test's own (only when RECSYS_ELASTICSEARCH_URL is set; deleted afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from recsys_common.adapters.es_catalog import ElasticsearchCatalog
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.ports.catalog import Catalog
from recsys_common.settings import CommonSettings

CatalogFactory = Callable[[], Catalog]


@contextmanager
def catalog_factory(kind: str, tmp_path: Path, purpose: str) -> Iterator[CatalogFactory]:
    """Yield a function building catalogues over the same storage; skip Elasticsearch, saying why,
    when no server is configured. ``purpose`` names what would have run, for the skip reason."""
    opened: list[Catalog] = []
    es_url = CommonSettings().elasticsearch_url
    suffix = uuid.uuid4().hex
    index, genres_index, persons_index = (f"test-{name}-{suffix}" for name in ("movies", "genres", "persons"))
    if kind == "elasticsearch" and not es_url:
        pytest.skip(f"set RECSYS_ELASTICSEARCH_URL to run {purpose} against Elasticsearch")

    def make() -> Catalog:
        catalog: Catalog
        if kind == "sqlite":
            catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
        else:
            assert es_url is not None
            catalog = ElasticsearchCatalog(
                es_url,
                state_file=tmp_path / "etl_state.json",
                index=index,
                genres_index=genres_index,
                persons_index=persons_index,
            )
        opened.append(catalog)
        return catalog

    try:
        yield make
    finally:
        for catalog in opened:
            catalog.close()
        if kind == "elasticsearch":
            client = Elasticsearch(es_url)
            try:
                client.indices.delete(index=[index, genres_index, persons_index], ignore_unavailable=True)
            finally:
                client.close()
