-- Declared identifying fields per experiment, and guarded changes to them.

CREATE OR REPLACE FUNCTION pgtrack.declare_identifying(experiment_id bigint, name text, type text,
                                            default_value jsonb DEFAULT NULL, doc text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Declare (or re-declare) an identifying field. Same type again: doc and default are updated. Another
   type: PT005. A new field on an experiment that already has registered runs needs a default, which
   is written into every existing identity in this transaction (PT005 without one). */
DECLARE
    v_old_type  text;
    v_default   jsonb;
    v_precision integer;
BEGIN
    PERFORM pgtrack._validate_field_name($2);
    IF $3 IS NULL OR $3 NOT IN ('int', 'float', 'string', 'bool') THEN
        PERFORM pgtrack._raise('PT003', format('unknown identifying field type %s (not allowed for identifying fields)',
                                               coalesce(quote_literal($3), 'NULL')),
            'use one of int, float, string, bool');
    END IF;
    SELECT e.float_precision INTO v_precision FROM pgtrack.experiments e WHERE e.id = $1;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('experiment', $1);
    END IF;
    IF $4 IS NOT NULL AND jsonb_typeof($4) <> 'null' THEN
        v_default := pgtrack._normalize_value($2, $3, $4, v_precision);
    END IF;
    PERFORM pgtrack._lock_experiment($1, true);

    SELECT f.type INTO v_old_type FROM pgtrack.identifying_fields f WHERE f.experiment_id = $1 AND f.name = $2;
    IF FOUND THEN
        IF v_old_type <> $3 THEN
            PERFORM pgtrack._raise('PT005',
                format('identifying field %I of experiment %s is %s; changing it to %s is refused', $2, $1, v_old_type, $3),
                'existing identities were normalised as the old type; declare a new field instead');
        END IF;
        UPDATE pgtrack.identifying_fields f SET default_value = v_default, doc = $5
         WHERE f.experiment_id = $1 AND f.name = $2;
        RETURN;
    END IF;

    IF EXISTS (SELECT 1 FROM pgtrack.runs r WHERE r.experiment_id = $1 AND r.identity IS NOT NULL) THEN
        IF v_default IS NULL THEN
            PERFORM pgtrack._raise('PT005',
                format('experiment %s has registered runs; new identifying field %I needs a default', $1, $2),
                format('pass default_value => ... so existing runs get %I = default', $2));
        END IF;
        INSERT INTO pgtrack.identifying_fields (experiment_id, name, type, default_value, doc)
        VALUES ($1, $2, $3, v_default, $5);
        UPDATE pgtrack.runs r SET identity = r.identity || jsonb_build_object($2, v_default)
         WHERE r.experiment_id = $1 AND r.identity IS NOT NULL;
    ELSE
        INSERT INTO pgtrack.identifying_fields (experiment_id, name, type, default_value, doc)
        VALUES ($1, $2, $3, v_default, $5);
    END IF;
    PERFORM pgtrack._refresh_experiment_views();  -- a typed column for the new field (views.sql)
END
$$;
COMMENT ON FUNCTION pgtrack.declare_identifying(bigint, text, text, jsonb, text) IS
$$Declare an identifying field (int, float, string or bool) of an experiment, with an optional default and doc. Re-declaring with the same type updates doc/default; another type is PT005. On an experiment with registered runs a new field needs a default (PT005 otherwise), which is backfilled into every identity in the same transaction.$$;

CREATE OR REPLACE FUNCTION pgtrack.collisions_after_drop(experiment_id bigint, name text)
RETURNS TABLE (identity jsonb, run_ids bigint[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Groups of runs whose identities would be equal without field name: one GROUP BY query.
   Groups have at least two runs, run_ids sorted, groups ordered by their first run id. */
BEGIN
    PERFORM pgtrack._require_experiment($1);
    PERFORM pgtrack._validate_field_name($2);
    IF NOT EXISTS (SELECT 1 FROM pgtrack.identifying_fields f WHERE f.experiment_id = $1 AND f.name = $2) THEN
        PERFORM pgtrack._raise('PT003', format('experiment %s has no identifying field %I (%I is not an identifying field)', $1, $2, $2),
            'list the fields with SELECT name FROM pgtrack.identifying_fields WHERE experiment_id = ...');
    END IF;
    RETURN QUERY
        SELECT r.identity - $2, array_agg(r.id ORDER BY r.id)
          FROM pgtrack.runs r
         WHERE r.experiment_id = $1 AND r.identity IS NOT NULL
         GROUP BY r.identity - $2
        HAVING count(*) > 1
         ORDER BY min(r.id);
END
$$;
COMMENT ON FUNCTION pgtrack.collisions_after_drop(bigint, text) IS
$$The groups of runs (identity without the field, sorted run ids; each group of 2 or more) that would collide if the identifying field were dropped. One query.$$;

CREATE OR REPLACE FUNCTION pgtrack.drop_identifying(experiment_id bigint, name text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Remove a field from the experiment and from every identity. Refused (PT005) when runs would
   collide, unless force: then, in each colliding group, the run with the lowest id (the first
   registered) is kept and the others are deleted with their metrics, in this transaction. */
DECLARE
    v_groups integer;
    v_first  bigint[];
BEGIN
    PERFORM pgtrack._require_experiment($1);
    PERFORM pgtrack._lock_experiment($1, true);
    SELECT count(*), (array_agg(c.run_ids))[1:1] INTO v_groups, v_first
      FROM pgtrack.collisions_after_drop($1, $2) c;
    IF v_groups > 0 AND coalesce($3, false) THEN
        DELETE FROM pgtrack.runs r
         WHERE r.id IN (SELECT unnest(c.run_ids[2:]) FROM pgtrack.collisions_after_drop($1, $2) c);
    ELSIF v_groups > 0 THEN
        PERFORM pgtrack._raise('PT005',
            format('dropping identifying field %I of experiment %s would make runs collide in %s group(s), e.g. runs %s',
                   $2, $1, v_groups, (SELECT string_agg(x::text, ', ') FROM unnest(v_first) x)),
            format('see SELECT * FROM pgtrack.collisions_after_drop(%s, %L); delete or re-key those runs first, '
                   'or pass force => true to keep the first run of each group and delete the others', $1, $2));
    END IF;
    DELETE FROM pgtrack.identifying_fields f WHERE f.experiment_id = $1 AND f.name = $2;
    UPDATE pgtrack.runs r SET identity = r.identity - $2
     WHERE r.experiment_id = $1 AND r.identity ? $2;
    PERFORM pgtrack._refresh_experiment_views();
END
$$;
COMMENT ON FUNCTION pgtrack.drop_identifying(bigint, text, boolean) IS
$$Drop an identifying field: removed from the experiment and from every run's identity. Refused (PT005) while dropping would make two runs collide (see collisions_after_drop), unless force => true, which keeps the lowest-id run of each colliding group and deletes the others (with their metrics).$$;
