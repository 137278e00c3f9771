"""The catalogue adapter a process's settings name, for the composition roots that need one."""

from __future__ import annotations

from pathlib import Path

from recsys_common.adapters.es_catalog import ElasticsearchCatalog
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.settings import CommonSettings


def open_catalog(settings: CommonSettings, state_file: Path | None = None) -> ElasticsearchCatalog | SqliteCatalog:
    """Elasticsearch when ``RECSYS_ELASTICSEARCH_URL`` is set, else the embedded SQLite catalogue file.
    ``state_file`` is where the Elasticsearch adapter keeps the ETL's position (the SQLite file keeps
    it itself). Nothing connects here."""
    if settings.elasticsearch_url:
        return ElasticsearchCatalog(
            settings.elasticsearch_url,
            state_file=state_file,
            index=settings.elasticsearch_index,
            genres_index=settings.elasticsearch_genres_index,
            persons_index=settings.elasticsearch_persons_index,
            timeout_s=settings.elasticsearch_timeout_s,
        )
    return SqliteCatalog(settings.catalog_db)
