-- Generic row edits shared by the experiment_* and run_* functions: JSONB fields (tags, args, env)
-- and relationships. Table and column names come from pgtrack's own code, still quoted with %I.

CREATE OR REPLACE FUNCTION pgtrack._require_updated(p_rows bigint, p_table text, p_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* After an UPDATE of pgtrack.<p_table> by id: PT002 if it matched no row. */
BEGIN
    IF p_rows = 0 THEN
        PERFORM pgtrack._not_found(CASE p_table WHEN 'runs' THEN 'run' ELSE 'experiment' END, p_id);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._edit_jsonb(p_table text, p_id bigint, p_column text, p_mode text,
                                    p_value jsonb DEFAULT NULL, p_keys text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* p_mode 'add' merges p_value into the field (keys of p_value win), 'remove' deletes the keys
   p_keys. PT002 if the row does not exist. (Replacing a field is _set_field.) */
DECLARE
    v_rows integer;
BEGIN
    EXECUTE format(CASE p_mode
        WHEN 'add'    THEN 'UPDATE pgtrack.%1$I SET %2$I = coalesce(%2$I, ''{}'') || $1 WHERE id = $3'
        WHEN 'remove' THEN 'UPDATE pgtrack.%1$I SET %2$I = %2$I - $2 WHERE id = $3'
    END, p_table, p_column) USING p_value, p_keys, p_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM pgtrack._require_updated(v_rows, p_table, p_id);
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._validate_keys(p_keys text[], p_what text)
RETURNS text[]
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Keys to remove: each non-blank. */
DECLARE
    v_key text;
BEGIN
    FOREACH v_key IN ARRAY coalesce(p_keys, '{}') LOOP
        PERFORM pgtrack._validate_label(v_key, p_what);
    END LOOP;
    RETURN p_keys;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._edit_relationship(p_table text, p_from_id bigint, p_kind text, p_to_id bigint, p_add boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Add (idempotent) or remove the relationship (from_id, kind, to_id) between two experiments
   (p_table 'experiments') or two runs ('runs'). Both ids must exist (PT002). */
DECLARE
    v_what text := CASE p_table WHEN 'runs' THEN 'run' ELSE 'experiment' END;
    v_id   bigint;
    v_found boolean;
BEGIN
    PERFORM pgtrack._validate_label(p_kind, 'relationship kind');
    FOREACH v_id IN ARRAY ARRAY[p_from_id, p_to_id] LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM pgtrack.%I WHERE id = $1)', p_table) USING v_id INTO v_found;
        IF NOT v_found THEN
            PERFORM pgtrack._not_found(v_what, v_id);
        END IF;
    END LOOP;
    IF p_add THEN
        EXECUTE format('INSERT INTO pgtrack.%I (from_id, kind, to_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
                       v_what || '_relationships') USING p_from_id, p_kind, p_to_id;
    ELSE
        EXECUTE format('DELETE FROM pgtrack.%I WHERE from_id = $1 AND kind = $2 AND to_id = $3',
                       v_what || '_relationships') USING p_from_id, p_kind, p_to_id;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._set_field(p_table text, p_id bigint, p_column text, p_value anyelement)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* UPDATE pgtrack.<p_table> SET <p_column> = p_value WHERE id = p_id; PT002 if the row does not exist. */
DECLARE
    v_rows integer;
BEGIN
    EXECUTE format('UPDATE pgtrack.%I SET %I = $1 WHERE id = $2', p_table, p_column) USING p_value, p_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM pgtrack._require_updated(v_rows, p_table, p_id);
END
$$;
