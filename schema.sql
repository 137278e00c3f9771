-- The movies database (PostgreSQL 14 or newer): films, genres and their links in schema "content".
--
-- Idempotent: runs on an empty database and again on one that has it. Ids are UUIDs: a film's is
-- uuid5 of its source id (recsys_common.ids.film_id_for), a genre's uuid5 of its name
-- (movies_db.ids.genre_id_for). `modified` drives the incremental ETL into the catalogue: it is
-- bumped on every change of a film, of its genre links and of the name of one of its genres.

CREATE SCHEMA IF NOT EXISTS content;

CREATE TABLE IF NOT EXISTS content.film_work (
    id          uuid PRIMARY KEY,
    title       text NOT NULL CONSTRAINT film_work_title_not_blank CHECK (btrim(title) <> ''),
    description text NOT NULL DEFAULT '',
    year        integer CONSTRAINT film_work_year_range CHECK (year BETWEEN 1870 AND 2200),
    type        text NOT NULL DEFAULT 'movie' CONSTRAINT film_work_type_known CHECK (type IN ('movie', 'tv_show')),
    imdb_rating double precision CONSTRAINT film_work_imdb_rating_range CHECK (imdb_rating BETWEEN 1 AND 10),
    imdb_votes  integer CONSTRAINT film_work_imdb_votes_range CHECK (imdb_votes >= 0),
    rt_rating   double precision CONSTRAINT film_work_rt_rating_range CHECK (rt_rating BETWEEN 0 AND 100),
    created     timestamptz NOT NULL DEFAULT now(),
    modified    timestamptz NOT NULL DEFAULT now()
);
-- The ETL reads films in (modified, id) order after its saved position.
CREATE INDEX IF NOT EXISTS film_work_modified_idx ON content.film_work (modified, id);

CREATE TABLE IF NOT EXISTS content.genre (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CONSTRAINT genre_name_unique UNIQUE
                     CONSTRAINT genre_name_not_blank CHECK (btrim(name) <> ''),
    description text NOT NULL DEFAULT '',
    created     timestamptz NOT NULL DEFAULT now(),
    modified    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS genre_modified_idx ON content.genre (modified);

CREATE TABLE IF NOT EXISTS content.genre_film_work (
    id           uuid PRIMARY KEY,
    film_work_id uuid NOT NULL REFERENCES content.film_work (id) ON DELETE CASCADE,
    genre_id     uuid NOT NULL REFERENCES content.genre (id) ON DELETE CASCADE,
    created      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT genre_film_work_pair_unique UNIQUE (film_work_id, genre_id)
);
CREATE INDEX IF NOT EXISTS genre_film_work_genre_idx ON content.genre_film_work (genre_id);

-- An UPDATE that does not set `modified` itself gets the time of its transaction.
CREATE OR REPLACE FUNCTION content.touch_modified() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.modified IS NOT DISTINCT FROM OLD.modified THEN
        NEW.modified := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER film_work_touch BEFORE UPDATE ON content.film_work
    FOR EACH ROW EXECUTE FUNCTION content.touch_modified();
CREATE OR REPLACE TRIGGER genre_touch BEFORE UPDATE ON content.genre
    FOR EACH ROW EXECUTE FUNCTION content.touch_modified();

-- A film whose genre links change is modified.
CREATE OR REPLACE FUNCTION content.touch_film_of_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE content.film_work SET modified = now() WHERE id = OLD.film_work_id AND modified <> now();
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE content.film_work SET modified = now() WHERE id = NEW.film_work_id AND modified <> now();
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER genre_film_work_touch AFTER INSERT OR UPDATE OR DELETE ON content.genre_film_work
    FOR EACH ROW EXECUTE FUNCTION content.touch_film_of_link();

-- The films of a renamed genre are modified.
CREATE OR REPLACE FUNCTION content.touch_films_of_genre() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE content.film_work SET modified = now()
    WHERE id IN (SELECT film_work_id FROM content.genre_film_work WHERE genre_id = NEW.id);
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER genre_rename_touch AFTER UPDATE OF name ON content.genre
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION content.touch_films_of_genre();
