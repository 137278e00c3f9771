"""The movies database: Postgres export for the data image, and the ETL into the catalogue.

``export_sql`` writes a films frame as SQL for ``schema.sql``; ``run_etl`` copies films from a
source (Postgres, or the seed films frame when there is no Postgres) into a Catalog, incrementally
by ``modified``, idempotent by film id and restartable from the state the catalogue saved.
"""

from movies_db.etl import EtlReport, FrameFilmSource, run_etl
from movies_db.export import DATA_SQL_PATH, export_sql
from movies_db.ids import genre_id_for

__all__ = ["DATA_SQL_PATH", "EtlReport", "FrameFilmSource", "export_sql", "genre_id_for", "run_etl"]
