-- Validating identifiers and labels that callers pass in (metric names, run columns, field names, tags).

CREATE OR REPLACE FUNCTION pgtrack._validate_name(p_name text, p_what text, p_reserved text[] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The one name rule (SPEC 4.5): lowercase letters, digits and _, starting with a letter, at most 63
   bytes, not one of p_reserved nor a system column, and not starting with p_, v_ or c_: a column named
   like one of pgtrack's PL/pgSQL variables would make SQL inside pgtrack's functions ambiguous.
   Internal aliases in generated SQL start with _, which no user name can. Returns the name; raises
   PT003 naming the bad value otherwise. Names that pass still reach SQL only through format('%I'). */
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]*$' OR octet_length(p_name) > 63 THEN
        PERFORM pgtrack._raise('PT003', format('invalid %s name %s', p_what, coalesce(quote_literal(p_name), 'NULL')),
            'use lowercase letters, digits and _, starting with a letter, at most 63 bytes (e.g. val_loss)');
    END IF;
    IF p_name = ANY (p_reserved || '{tableoid,xmin,cmin,xmax,cmax,ctid}'::text[]) THEN
        PERFORM pgtrack._raise('PT003', format('%s name %L is reserved', p_what, p_name),
            format('choose another name; reserved: %s, and PostgreSQL''s system columns tableoid, xmin, cmin, xmax, cmax, ctid',
                   array_to_string(p_reserved, ', ')));
    END IF;
    IF p_name ~ '^[pvc]_' THEN  -- pgtrack's PL/pgSQL parameters, variables and constants use these prefixes
        PERFORM pgtrack._raise('PT003', format('%s name %L is reserved: names starting with p_, v_ or c_ belong to pgtrack''s own variables', p_what, p_name),
            'choose a name without that prefix (e.g. val_loss rather than v_loss)');
    END IF;
    RETURN p_name;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._system_columns()
RETURNS text[]
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* PostgreSQL's system column names: no table may have a column named so. */
    SELECT '{tableoid,xmin,cmin,xmax,cmax,ctid}'::text[]
$$;

CREATE OR REPLACE FUNCTION pgtrack._reserved_metric(p_name text, p_reserved text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT003 for a metric name that cannot be a column of pgtrack.metrics, with a name that can. */
BEGIN
    PERFORM pgtrack._raise('PT003',
        format('metric name %L is reserved: %s', p_name,
               CASE WHEN p_name = ANY (p_reserved) THEN 'it is one of pgtrack.metrics'' own columns (' || array_to_string(p_reserved, ', ') || ')'
                    ELSE 'PostgreSQL keeps it for a system column' END),
        format('log it under another name, e.g. %L', p_name || '_'));
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._validate_metric_name(p_name text, p_reserved text[])
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Metric names are written the way frameworks write them (train/loss, val/acc@1, lr-AdamW, "Top 5",
   c_index, p_value, _step): any name PostgreSQL accepts as a quoted identifier, so the column is
   "train/loss". 1 to 63 bytes, no control characters, no leading or trailing white space; not one of
   p_reserved (the table's own columns) nor a system column (PostgreSQL refuses those as column names).
   Names like pgtrack's PL/pgSQL variables (p_run_id) are fine: the code that reads pgtrack.metrics
   resolves a clash to its variable (#variable_conflict use_variable) and qualifies every column.
   Every use goes through format('%I') / quote_ident. PT003 otherwise. */
BEGIN
    IF p_name IS NULL OR p_name = '' OR octet_length(p_name) > 63 OR p_name ~ '[[:cntrl:]]'
       OR p_name ~ '^[[:space:]]|[[:space:]]$' THEN
        PERFORM pgtrack._raise('PT003', format('invalid metric name %s', coalesce(quote_literal(p_name), 'NULL')),
            'a metric name has 1 to 63 bytes, no control characters and no leading or trailing spaces (e.g. val_loss or train/loss)');
    END IF;
    IF p_name = ANY (p_reserved || pgtrack._system_columns()) THEN
        PERFORM pgtrack._reserved_metric(p_name, p_reserved);
    END IF;
    RETURN p_name;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._validate_field_name(p_name text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Identifying field names are JSON keys, not columns: letters of either case, digits and _, starting
   with a letter, at most 63 bytes (wallow schemas use names like discovered_T). PT003 otherwise. */
BEGIN
    IF p_name IS NULL OR p_name !~ '^[A-Za-z][A-Za-z0-9_]*$' OR octet_length(p_name) > 63 THEN
        PERFORM pgtrack._raise('PT003', format('invalid identifying field name %s', coalesce(quote_literal(p_name), 'NULL')),
            'use letters, digits and _, starting with a letter, at most 63 bytes (e.g. lr or discovered_T)');
    END IF;
    RETURN p_name;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._validate_label(p_value text, p_what text, p_max_bytes integer DEFAULT 255)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Free-text labels (experiment names, tags, relationship kinds, JSON keys, migration names) are stored
   as data, so any text is allowed except NULL, blank (only white space, Unicode spaces included),
   control characters (tabs, newlines, escapes: they garble every listing) and more than p_max_bytes
   bytes (default 255; unbounded, an index entry overflows PostgreSQL's ~2.7 kB limit with a raw
   error). p_max_bytes NULL (a migration script) checks only NULL and blank. */
BEGIN
    IF p_value IS NULL OR p_value ~ '^[[:space:]\u00a0\u1680\u180e\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]*$' THEN
        PERFORM pgtrack._raise('PT003', format('%s must not be %s', p_what, coalesce(quote_literal(p_value), 'NULL')),
            format('pass a non-empty %s', p_what));
    END IF;
    IF p_max_bytes IS NOT NULL AND octet_length(p_value) > p_max_bytes THEN
        PERFORM pgtrack._raise('PT003', format('%s is %s bytes long (at most %s): %s...', p_what, octet_length(p_value), p_max_bytes,
                                               quote_literal(left(p_value, 40))),
            format('use a shorter %s; put long text in a comment', p_what));
    END IF;
    IF p_max_bytes IS NOT NULL AND p_value ~ '[[:cntrl:]]' THEN
        PERFORM pgtrack._raise('PT003', format('%s %s contains a control character', p_what, quote_literal(left(p_value, 80))),
            format('a %s is one line of printable text (no tabs, newlines or escapes)', p_what));
    END IF;
    RETURN p_value;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._tags_object(p_tags text[])
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Tags are stored as a JSON object {"tag": true, ...}. NULL stays NULL; every tag must be non-blank. */
DECLARE
    v_tag text;
BEGIN
    IF p_tags IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(p_tags) > 10000 THEN  -- labels, not data: bounded, like every input a call works on
        PERFORM pgtrack._raise('PT003', format('at most 10000 tags in one call, got %s', cardinality(p_tags)),
            'tags label runs and experiments; keep data in args or metrics');
    END IF;
    FOREACH v_tag IN ARRAY p_tags LOOP
        PERFORM pgtrack._validate_label(v_tag, 'tag');
    END LOOP;
    RETURN coalesce((SELECT jsonb_object_agg(t, true) FROM unnest(p_tags) AS t), '{}'::jsonb);
END
$$;
