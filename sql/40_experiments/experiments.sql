-- Experiments: race-free get-or-create, name/comment/tags, relationships (names follow SQLTrack).
-- Parameter names are part of the API (named-argument calls), so bodies refer to them as $n.

CREATE OR REPLACE FUNCTION pgtrack._check_experiment_args(p_name text, p_precision integer)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* experiment()'s argument checks (and _insert_experiment's, which is callable on its own): a valid
   name; float_precision NULL (the default, 12) or 1 to 1000 significant digits. PT003 otherwise. */
BEGIN
    PERFORM pgtrack._validate_label(p_name, 'experiment name');
    IF p_precision IS NOT NULL AND p_precision NOT BETWEEN 1 AND 1000 THEN
        PERFORM pgtrack._raise('PT003', format('float_precision must be between 1 and 1000 significant digits, got %s', p_precision),
            'omit float_precision for the default of 12');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._insert_experiment(p_name text, p_comment text, p_tags text[], p_precision integer)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* experiment()'s INSERT, as the owner, for a role that may insert into pgtrack.experiments but not
   UPDATE, DELETE or TRUNCATE the whole table (pgtrack_writer), on Citus only: Citus serialises an
   upsert of a reference table with a lock that only such roles may take, so the writer's own INSERT
   ... ON CONFLICT is refused there. Executable by pgtrack_writer and pgtrack_admin (70_roles.sql);
   it checks its arguments itself and evaluates nothing the caller controls (values only). Returns the
   new id, NULL if the name was taken meanwhile. */
DECLARE
    v_id bigint;
BEGIN
    PERFORM pgtrack._check_experiment_args(p_name, p_precision);
    INSERT INTO pgtrack.experiments AS e (name, comment, tags, float_precision)
    VALUES (p_name, p_comment, pgtrack._tags_object(p_tags), coalesce(p_precision, 12))
    ON CONFLICT ON CONSTRAINT experiments_name_key DO NOTHING
    RETURNING e.id INTO v_id;
    RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment(name text, comment text DEFAULT NULL, tags text[] DEFAULT NULL,
                                              float_precision integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Get or create by name. Race-free: concurrent first callers all get the same id and none errors
   (INSERT ... ON CONFLICT DO NOTHING waits for the competing insert, then the SELECT sees it; the
   loop covers a competitor that rolled back). comment and tags apply only on creation. Looking up
   first means an existing name costs no sequence value and no dead tuple. float_precision (the
   significant digits of identifying floats) is set on creation, and changed on an existing
   experiment by _set_float_precision, which re-normalises its registered runs. */
DECLARE
    v_id        bigint;
    v_precision integer;
BEGIN
    PERFORM pgtrack._check_experiment_args($1, $4);
    LOOP
        SELECT e.id, e.float_precision INTO v_id, v_precision FROM pgtrack.experiments e WHERE e.name = $1;
        IF FOUND THEN
            IF $4 IS NOT NULL AND $4 <> v_precision THEN
                PERFORM pgtrack._set_float_precision(v_id, $4);
            END IF;
            RETURN v_id;
        END IF;
        IF pgtrack._is_distributed() AND has_table_privilege('pgtrack.experiments', 'INSERT')
           AND NOT has_table_privilege('pgtrack.experiments', 'UPDATE, DELETE, TRUNCATE') THEN
            v_id := pgtrack._insert_experiment($1, $2, $3, $4);  -- Citus, a pgtrack_writer: see there
        ELSE
            INSERT INTO pgtrack.experiments AS e (name, comment, tags, float_precision)
            VALUES ($1, $2, pgtrack._tags_object($3), coalesce($4, 12))
            ON CONFLICT ON CONSTRAINT experiments_name_key DO NOTHING
            RETURNING e.id INTO v_id;
        END IF;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrack.experiment(text, text, text[], integer) IS
$$Get or create the experiment called name and return its id. Race-free under concurrent callers; comment and tags apply only when it is created. float_precision (default 12) is the number of significant digits identifying floats are rounded to; changing it on an experiment with registered runs re-normalises every stored key in the same transaction, or is refused (PT005) if two keys would then collide.$$;

CREATE OR REPLACE FUNCTION pgtrack._set_float_precision(p_experiment_id bigint, p_precision integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Change an experiment's float_precision and re-normalise its registered identities (the identity
   trigger rounds with the new precision). Holds the experiment's registry lock exclusively, so no
   register() runs with a mix of old and new keys. Rounding is idempotent and monotone, so a unique
   violation during the UPDATE means two keys really collide at the new precision: PT005, and the
   whole change is rolled back. Raising the precision cannot restore digits already rounded away. */
BEGIN
    PERFORM pgtrack._lock_experiment(p_experiment_id, true);
    UPDATE pgtrack.experiments e SET float_precision = p_precision WHERE e.id = p_experiment_id;
    BEGIN
        UPDATE pgtrack.runs r SET identity = r.identity
         WHERE r.experiment_id = p_experiment_id AND r.identity IS NOT NULL;
    EXCEPTION WHEN unique_violation THEN
        PERFORM pgtrack._raise('PT005',
            format('changing float_precision of experiment %s to %s would make registered runs collide: %s',
                   p_experiment_id, p_precision, SQLERRM),
            'keep the current float_precision, or delete or re-key the colliding runs first');
    END;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_set_name(experiment_id bigint, name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Rename; PT003 if another experiment has the name. */
DECLARE
    v_other bigint;
BEGIN
    PERFORM pgtrack._validate_label($2, 'experiment name');
    PERFORM pgtrack._require_experiment($1);
    SELECT e.id INTO v_other FROM pgtrack.experiments e WHERE e.name = $2 AND e.id <> $1;
    IF FOUND THEN
        PERFORM pgtrack._raise('PT003', format('experiment name %L is taken by experiment %s', $2, v_other),
            'experiment names are unique; choose another name');
    END IF;
    UPDATE pgtrack.experiments e SET name = $2 WHERE e.id = $1;
    PERFORM pgtrack._refresh_experiment_views();  -- a view is named after its experiment
END
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_name(bigint, text) IS $$Rename an experiment (names are unique).$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_set_comment(experiment_id bigint, comment text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._set_field('experiments', $1, 'comment', $2);
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_comment(bigint, text) IS $$Set (or clear, with NULL) an experiment's comment.$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_set_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._set_field('experiments', $1, 'tags', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_tags(bigint, text[]) IS $$Replace an experiment's tags (stored as {"tag": true, ...}).$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_add_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._edit_jsonb('experiments', $1, 'tags', 'add', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.experiment_add_tags(bigint, text[]) IS $$Add tags to an experiment (existing tags stay).$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_remove_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._edit_jsonb('experiments', $1, 'tags', 'remove', NULL, pgtrack._validate_keys($2, 'tag'));
$$;
COMMENT ON FUNCTION pgtrack.experiment_remove_tags(bigint, text[]) IS $$Remove tags from an experiment (absent tags are ignored).$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_add_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._edit_relationship('experiments', $1, $2, $3, true);
$$;
COMMENT ON FUNCTION pgtrack.experiment_add_relationship(bigint, text, bigint) IS
$$Record that experiment from_id relates to experiment to_id by kind (free text, e.g. 'derived_from'); idempotent.$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_remove_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._edit_relationship('experiments', $1, $2, $3, false);
$$;
COMMENT ON FUNCTION pgtrack.experiment_remove_relationship(bigint, text, bigint) IS
$$Remove an experiment relationship (no error if it was absent; PT002 if either experiment does not exist).$$;

CREATE OR REPLACE FUNCTION pgtrack.delete_experiment(experiment_id bigint)
RETURNS TABLE (runs bigint, metric_rows bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Delete an experiment with everything it holds (runs, metric rows, relationships, identifying
   fields: ON DELETE CASCADE), returning how many runs and metric rows went. Needs DELETE on
   pgtrack.experiments (the owner, pgtrack_admin). PT002 for a missing experiment. On Citus the runs'
   relationships (a reference table, without foreign keys to runs: distribute.sql) are deleted here. */
DECLARE
    v_runs bigint[];
BEGIN
    PERFORM pgtrack._require_experiment($1);
    runs := (SELECT count(*) FROM pgtrack.runs r WHERE r.experiment_id = $1);
    metric_rows := (SELECT count(*) FROM pgtrack.runs r JOIN pgtrack.metrics m ON m.run_id = r.id AND m.experiment_id = r.experiment_id
                     WHERE r.experiment_id = $1);
    IF pgtrack._is_distributed() THEN
        v_runs := ARRAY(SELECT r.id FROM pgtrack.runs r WHERE r.experiment_id = $1);
        DELETE FROM pgtrack.run_relationships x WHERE x.from_id = ANY (v_runs) OR x.to_id = ANY (v_runs);
    END IF;
    DELETE FROM pgtrack.experiments e WHERE e.id = $1;
    PERFORM pgtrack._refresh_experiment_views();  -- its view goes with it
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION pgtrack.delete_experiment(bigint) IS
$$Delete an experiment and everything it holds (runs, their metric rows and relationships, identifying fields), in one transaction; returns the number of runs and metric rows removed. Needs DELETE on pgtrack.experiments (owner, pgtrack_admin). PT002 for a missing experiment.$$;
