-- The movies database (PostgreSQL 14 or newer): films, genres, persons and their links in schema "content".
--
-- A superset of the standard movies schema, the layout of a `movies-database.sql` dump (what
-- `python -m movies_db export-standard-dump` writes): the five standard tables with their columns,
-- created as a dump creates them, then everything of ours added by ALTER: the columns
-- film_work.imdb_votes and film_work.rt_rating, defaults, constraints, indexes and triggers. So this
-- script runs (a) on an empty database, (b) on one loaded from a standard dump (tables there, maybe
-- without constraints or indexes, created/modified maybe NULL) and (c) again on its own result,
-- changing nothing the second time.
--
-- film_work.creation_date is the release date (January 1st of the year when only the year is known),
-- film_work.rating the IMDb rating (1..10), person_film_work.role one of 'director', 'actor', 'writer'
-- (recsys_common.domain.ROLES). Ids are UUIDs: a dump's are its own; ours derive from source ids and
-- names (recsys_common.ids: film_id_for, genre_id_for, person_id_for; links: movies_db.ids).
--
-- `modified` of a film drives the incremental ETL into the catalogue, which reads films in
-- (modified, id) order after its saved position: it is the time of the transaction that last
-- inserted or changed the film, one of its genre or person links, or the name of one of its genres
-- or persons (triggers at the end).

CREATE SCHEMA IF NOT EXISTS content;

-- ----- The standard tables, exactly as a standard dump creates them -----

CREATE TABLE IF NOT EXISTS content.film_work (
    id            uuid PRIMARY KEY,
    title         text NOT NULL,
    description   text,
    creation_date date,
    rating        double precision,
    type          text NOT NULL,
    created       timestamp with time zone,
    modified      timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.genre (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text,
    created     timestamp with time zone,
    modified    timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.genre_film_work (
    id           uuid PRIMARY KEY,
    genre_id     uuid NOT NULL,
    film_work_id uuid NOT NULL,
    created      timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.person (
    id        uuid PRIMARY KEY,
    full_name text NOT NULL,
    created   timestamp with time zone,
    modified  timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.person_film_work (
    id           uuid PRIMARY KEY,
    person_id    uuid NOT NULL,
    film_work_id uuid NOT NULL,
    role         text NOT NULL,
    created      timestamp with time zone
);

-- ----- Our columns and defaults -----

ALTER TABLE content.film_work
    ADD COLUMN IF NOT EXISTS imdb_votes integer,
    ADD COLUMN IF NOT EXISTS rt_rating double precision,
    ALTER COLUMN type SET DEFAULT 'movie',
    ALTER COLUMN created SET DEFAULT now(),
    ALTER COLUMN modified SET DEFAULT now();
ALTER TABLE content.genre ALTER COLUMN created SET DEFAULT now(), ALTER COLUMN modified SET DEFAULT now();
ALTER TABLE content.person ALTER COLUMN created SET DEFAULT now(), ALTER COLUMN modified SET DEFAULT now();
ALTER TABLE content.genre_film_work ALTER COLUMN created SET DEFAULT now();
ALTER TABLE content.person_film_work ALTER COLUMN created SET DEFAULT now();

-- A dump may leave created and modified NULL: they become the time this script runs, so the next
-- ETL run reads those films. The ETL orders films by modified: NOT NULL from here on (the triggers
-- below fill it on every insert and update). Once filled, these updates find no row: a second run
-- changes nothing.
UPDATE content.film_work SET created = coalesce(created, now()), modified = coalesce(modified, now())
    WHERE created IS NULL OR modified IS NULL;
UPDATE content.genre SET created = coalesce(created, now()), modified = coalesce(modified, now())
    WHERE created IS NULL OR modified IS NULL;
UPDATE content.person SET created = coalesce(created, now()), modified = coalesce(modified, now())
    WHERE created IS NULL OR modified IS NULL;
UPDATE content.genre_film_work SET created = now() WHERE created IS NULL;
UPDATE content.person_film_work SET created = now() WHERE created IS NULL;
ALTER TABLE content.film_work ALTER COLUMN modified SET NOT NULL;

-- ----- Constraints -----
--
-- Each is added unless the table has it (by name) or an equivalent one (a foreign key from the same
-- column to the same table, a unique index on the same columns, as a dump may create under its own
-- names). A dump's rows may violate one (a rating of 0, two genres of the same name, a link to a
-- film that is not there): then it is not added and a NOTICE says why; fix the rows and run this
-- script again to add it. Not added NOT VALID instead: PostgreSQL checks a NOT VALID constraint on
-- every new row version, so every later update of such a row would fail, including the
-- `modified` bumps of the triggers below (a new genre link of a film rated 0 would be refused).
-- The ETL reads whatever the rows hold: ratings and years outside the platform's ranges become
-- unknown (movies_db.postgres), a film's duplicate links count once. movies_db.postgres.delete_film
-- deletes a film's links itself, so it works without the ON DELETE CASCADE of a dump's foreign keys.
DO $constraints$
DECLARE
    wanted record;
    tbl regclass;
    key_attnums smallint[];
BEGIN
    FOR wanted IN
        SELECT * FROM (VALUES
            ('content.film_work', 'film_work_title_not_blank', NULL, NULL,
             $c$CHECK (btrim(title) <> '')$c$),
            ('content.film_work', 'film_work_creation_date_range', NULL, NULL,
             $c$CHECK (creation_date BETWEEN DATE '1870-01-01' AND DATE '2200-12-31')$c$),
            ('content.film_work', 'film_work_type_known', NULL, NULL,
             $c$CHECK (type IN ('movie', 'tv_show'))$c$),
            ('content.film_work', 'film_work_rating_range', NULL, NULL,
             $c$CHECK (rating BETWEEN 1 AND 10)$c$),
            ('content.film_work', 'film_work_imdb_votes_range', NULL, NULL,
             $c$CHECK (imdb_votes >= 0)$c$),
            ('content.film_work', 'film_work_rt_rating_range', NULL, NULL,
             $c$CHECK (rt_rating BETWEEN 0 AND 100)$c$),
            ('content.genre', 'genre_name_not_blank', NULL, NULL,
             $c$CHECK (btrim(name) <> '')$c$),
            ('content.genre', 'genre_name_unique', ARRAY['name'], NULL,
             $c$UNIQUE (name)$c$),
            ('content.person', 'person_full_name_not_blank', NULL, NULL,
             $c$CHECK (btrim(full_name) <> '')$c$),
            ('content.genre_film_work', 'genre_film_work_film_fk', ARRAY['film_work_id'], 'content.film_work',
             $c$FOREIGN KEY (film_work_id) REFERENCES content.film_work (id) ON DELETE CASCADE$c$),
            ('content.genre_film_work', 'genre_film_work_genre_fk', ARRAY['genre_id'], 'content.genre',
             $c$FOREIGN KEY (genre_id) REFERENCES content.genre (id) ON DELETE CASCADE$c$),
            ('content.genre_film_work', 'genre_film_work_pair_unique', ARRAY['film_work_id', 'genre_id'], NULL,
             $c$UNIQUE (film_work_id, genre_id)$c$),
            ('content.person_film_work', 'person_film_work_film_fk', ARRAY['film_work_id'], 'content.film_work',
             $c$FOREIGN KEY (film_work_id) REFERENCES content.film_work (id) ON DELETE CASCADE$c$),
            ('content.person_film_work', 'person_film_work_person_fk', ARRAY['person_id'], 'content.person',
             $c$FOREIGN KEY (person_id) REFERENCES content.person (id) ON DELETE CASCADE$c$),
            ('content.person_film_work', 'person_film_work_role_known', NULL, NULL,
             $c$CHECK (role IN ('director', 'actor', 'writer'))$c$),
            ('content.person_film_work', 'person_film_work_unique', ARRAY['film_work_id', 'person_id', 'role'], NULL,
             $c$UNIQUE (film_work_id, person_id, role)$c$)
        ) AS w (table_name, constraint_name, key_columns, referenced, definition)
    LOOP
        tbl := wanted.table_name::regclass;
        key_attnums := ARRAY(
            SELECT attnum FROM pg_attribute
            WHERE attrelid = tbl AND attname = ANY (wanted.key_columns::name[]) ORDER BY attnum
        );
        CONTINUE WHEN EXISTS (SELECT FROM pg_constraint WHERE conrelid = tbl AND conname = wanted.constraint_name);
        CONTINUE WHEN wanted.referenced IS NOT NULL AND EXISTS (
            SELECT FROM pg_constraint
            WHERE conrelid = tbl AND contype = 'f' AND confrelid = wanted.referenced::regclass
              AND conkey = key_attnums
        );
        CONTINUE WHEN wanted.definition LIKE 'UNIQUE%' AND EXISTS (
            SELECT FROM pg_index
            WHERE indrelid = tbl AND indisunique AND indpred IS NULL AND indexprs IS NULL
              AND ARRAY(SELECT unnest(indkey::smallint[]) ORDER BY 1) = key_attnums
        );
        BEGIN
            EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, wanted.constraint_name, wanted.definition);
        EXCEPTION WHEN check_violation OR foreign_key_violation OR unique_violation THEN
            RAISE NOTICE 'schema.sql: constraint % of % not added: rows already there violate it (%); '
                'fix them and run schema.sql again', wanted.constraint_name, tbl, SQLERRM;
        END;
    END LOOP;
END
$constraints$;

-- ----- Indexes -----

-- The ETL reads films in (modified, id) order after its saved position.
CREATE INDEX IF NOT EXISTS film_work_modified_idx ON content.film_work (modified, id);
-- The films of a genre or a person (renames bump them).
CREATE INDEX IF NOT EXISTS genre_film_work_genre_idx ON content.genre_film_work (genre_id);
CREATE INDEX IF NOT EXISTS person_film_work_person_idx ON content.person_film_work (person_id);
-- The links of a film (the ETL reads them): the unique constraints' indexes lead with film_work_id;
-- when a dump's index took their place or its duplicates kept them out, an index of its own.
DO $film_indexes$
DECLARE
    link regclass;
BEGIN
    FOREACH link IN ARRAY ARRAY['content.genre_film_work'::regclass, 'content.person_film_work'::regclass] LOOP
        IF NOT EXISTS (
            SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = link AND a.attname = 'film_work_id'
        ) THEN
            EXECUTE format('CREATE INDEX %I ON %s (film_work_id)',
                           (SELECT relname FROM pg_class WHERE oid = link) || '_film_idx', link);
        END IF;
    END LOOP;
END
$film_indexes$;

-- ----- Change tracking -----

-- Films, genres and persons: an insert keeps the created it is given (now() when none) and gets
-- modified = now(), and so does every update: `modified` is this database's own clock of changes,
-- which the ETL trusts (a row inserted with an older modified than the ETL's position would be missed).
CREATE OR REPLACE FUNCTION content.touch_modified() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created := coalesce(NEW.created, now());
    END IF;
    NEW.modified := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER film_work_touch BEFORE INSERT OR UPDATE ON content.film_work
    FOR EACH ROW EXECUTE FUNCTION content.touch_modified();
CREATE OR REPLACE TRIGGER genre_touch BEFORE INSERT OR UPDATE ON content.genre
    FOR EACH ROW EXECUTE FUNCTION content.touch_modified();
CREATE OR REPLACE TRIGGER person_touch BEFORE INSERT OR UPDATE ON content.person
    FOR EACH ROW EXECUTE FUNCTION content.touch_modified();

-- Links: an insert given no created gets now().
CREATE OR REPLACE FUNCTION content.fill_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created := coalesce(NEW.created, now());
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER genre_film_work_created BEFORE INSERT ON content.genre_film_work
    FOR EACH ROW EXECUTE FUNCTION content.fill_created();
CREATE OR REPLACE TRIGGER person_film_work_created BEFORE INSERT ON content.person_film_work
    FOR EACH ROW EXECUTE FUNCTION content.fill_created();

-- A film whose genre or person links change is modified (once per transaction).
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
CREATE OR REPLACE TRIGGER person_film_work_touch AFTER INSERT OR UPDATE OR DELETE ON content.person_film_work
    FOR EACH ROW EXECUTE FUNCTION content.touch_film_of_link();

-- The films of a renamed genre or person are modified.
CREATE OR REPLACE FUNCTION content.touch_films_of_genre() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE content.film_work SET modified = now()
    WHERE id IN (SELECT film_work_id FROM content.genre_film_work WHERE genre_id = NEW.id) AND modified <> now();
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION content.touch_films_of_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE content.film_work SET modified = now()
    WHERE id IN (SELECT film_work_id FROM content.person_film_work WHERE person_id = NEW.id) AND modified <> now();
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER genre_rename_touch AFTER UPDATE OF name ON content.genre
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION content.touch_films_of_genre();
CREATE OR REPLACE TRIGGER person_rename_touch AFTER UPDATE OF full_name ON content.person
    FOR EACH ROW WHEN (OLD.full_name IS DISTINCT FROM NEW.full_name) EXECUTE FUNCTION content.touch_films_of_person();
