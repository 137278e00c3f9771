#!/usr/bin/env bash
# The first start of the movies database image (Dockerfile-with-data copies this file into
# /docker-entrypoint-initdb.d; the Postgres entrypoint runs it once, on an empty data directory):
#   - the image was built with a user's standard dump (movies-database.sql in the build context):
#     the dump, then schema.sql on top of it (our columns, constraints, indexes and triggers);
#   - else: schema.sql, then the seed films (movies_data.sql, written by `movies_db export-sql`).
#
# Environment: MOVIES_DB_DIR, where the image keeps these files (/movies-db); POSTGRES_USER and
# POSTGRES_DB, as the entrypoint sets them; libpq's PG* variables (the entrypoint's temporary server,
# on its Unix socket, when unset). Safe to source (the entrypoint sources init scripts that are not
# executable): it sets no option the entrypoint does not set and never exits.
set -Eeo pipefail

movies_db_dir="${MOVIES_DB_DIR:-/movies-db}"

movies_db_psql() {
    echo "movies-db: loading $1"
    psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --quiet \
        --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" --file "$1"
}

if [ -f "$movies_db_dir/movies-database.sql" ]; then
    movies_db_psql "$movies_db_dir/movies-database.sql"
    movies_db_psql "$movies_db_dir/schema.sql"
else
    movies_db_psql "$movies_db_dir/schema.sql"
    movies_db_psql "$movies_db_dir/movies_data.sql"
fi
