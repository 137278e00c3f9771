"""The movies database: Postgres export for the data image, and the ETL into the catalogue.

``export_sql`` writes a films frame as SQL for ``schema.sql``; ``run_etl`` copies films from the
movies database into the catalogue, incrementally by ``modified``, idempotent by film id,
restartable from the state the catalogue saved, and deletes the films deleted there.
"""
