"""The movies database: Postgres export for the data image, and the ETL into the catalogue.

``export_sql`` writes a films frame as SQL for ``schema.sql`` (a superset of the standard movies
schema), ``export_standard_dump`` as a standard dump; ``run_etl`` copies films with their genres and
people from the movies database into the catalogue, incrementally by ``modified``, idempotent by
film id, restartable from the state the catalogue saved, and deletes the films deleted there.
"""
