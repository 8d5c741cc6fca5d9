-- Experiments: race-free get-or-create, name/comment/tags, relationships (names follow SQLTrack).
-- Parameter names are part of the API (named-argument calls), so bodies refer to them as $n.

CREATE FUNCTION pgtrack.experiment(name text, comment text DEFAULT NULL, tags text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Get or create by name. Race-free: concurrent first callers all get the same id and none errors
   (INSERT ... ON CONFLICT DO NOTHING waits for the competing insert, then the SELECT sees it; the
   loop covers a competitor that rolled back). comment and tags apply only on creation. Looking up
   first means an existing name costs no sequence value and no dead tuple. */
DECLARE
    v_id bigint;
BEGIN
    PERFORM pgtrack._validate_label($1, 'experiment name');
    LOOP
        SELECT e.id INTO v_id FROM pgtrack.experiments e WHERE e.name = $1;
        IF FOUND THEN
            RETURN v_id;
        END IF;
        INSERT INTO pgtrack.experiments AS e (name, comment, tags)
        VALUES ($1, $2, pgtrack._tags_object($3))
        ON CONFLICT ON CONSTRAINT experiments_name_key DO NOTHING
        RETURNING e.id INTO v_id;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrack.experiment(text, text, text[]) IS
$$Get or create the experiment called name and return its id. Race-free under concurrent callers; comment and tags apply only when it is created.$$;

CREATE FUNCTION pgtrack.experiment_set_name(experiment_id bigint, name text)
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
END
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_name(bigint, text) IS $$Rename an experiment (names are unique).$$;

CREATE FUNCTION pgtrack.experiment_set_comment(experiment_id bigint, comment text)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('experiments', $1, 'comment', $2);
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_comment(bigint, text) IS $$Set (or clear, with NULL) an experiment's comment.$$;

CREATE FUNCTION pgtrack.experiment_set_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('experiments', $1, 'tags', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_tags(bigint, text[]) IS $$Replace an experiment's tags (stored as {"tag": true, ...}).$$;

CREATE FUNCTION pgtrack.experiment_add_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('experiments', $1, 'tags', 'add', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.experiment_add_tags(bigint, text[]) IS $$Add tags to an experiment (existing tags stay).$$;

CREATE FUNCTION pgtrack.experiment_remove_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('experiments', $1, 'tags', 'remove', NULL, pgtrack._validate_keys($2, 'tag'));
$$;
COMMENT ON FUNCTION pgtrack.experiment_remove_tags(bigint, text[]) IS $$Remove tags from an experiment (absent tags are ignored).$$;

CREATE FUNCTION pgtrack.experiment_add_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_relationship('experiments', $1, $2, $3, true);
$$;
COMMENT ON FUNCTION pgtrack.experiment_add_relationship(bigint, text, bigint) IS
$$Record that experiment from_id relates to experiment to_id by kind (free text, e.g. 'derived_from'); idempotent.$$;

CREATE FUNCTION pgtrack.experiment_remove_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_relationship('experiments', $1, $2, $3, false);
$$;
COMMENT ON FUNCTION pgtrack.experiment_remove_relationship(bigint, text, bigint) IS
$$Remove an experiment relationship (no error if it was absent; PT002 if either experiment does not exist).$$;
