-- Validating identifiers and labels that callers pass in (metric names, run columns, field names, tags).

CREATE OR REPLACE FUNCTION pgtrack._validate_name(p_name text, p_what text, p_reserved text[] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* The one name rule (SPEC 4.5): lowercase letters, digits and _, starting with a letter, at most 63
   bytes, not one of p_reserved. Returns the name; raises PT003 naming the bad value otherwise.
   Names that pass can still only reach SQL through format('%I'). */
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]*$' OR octet_length(p_name) > 63 THEN
        PERFORM pgtrack._raise('PT003', format('invalid %s name %s', p_what, coalesce(quote_literal(p_name), 'NULL')),
            'use lowercase letters, digits and _, starting with a letter, at most 63 bytes (e.g. val_loss)');
    END IF;
    IF p_name = ANY (p_reserved) THEN
        PERFORM pgtrack._raise('PT003', format('%s name %L is reserved', p_what, p_name),
            format('choose another name; reserved: %s', array_to_string(p_reserved, ', ')));
    END IF;
    RETURN p_name;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._validate_field_name(p_name text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
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

CREATE OR REPLACE FUNCTION pgtrack._validate_label(p_value text, p_what text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Free-text labels (experiment names, tags, relationship kinds, JSON keys) are stored as data, so
   any text is allowed except NULL and blank. */
BEGIN
    IF p_value IS NULL OR btrim(p_value) = '' THEN
        PERFORM pgtrack._raise('PT003', format('%s must not be %s', p_what, coalesce(quote_literal(p_value), 'NULL')),
            format('pass a non-empty %s', p_what));
    END IF;
    RETURN p_value;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._tags_object(p_tags text[])
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Tags are stored as a JSON object {"tag": true, ...}. NULL stays NULL; every tag must be non-blank. */
DECLARE
    v_tag text;
BEGIN
    IF p_tags IS NULL THEN
        RETURN NULL;
    END IF;
    FOREACH v_tag IN ARRAY p_tags LOOP
        PERFORM pgtrack._validate_label(v_tag, 'tag');
    END LOOP;
    RETURN coalesce((SELECT jsonb_object_agg(t, true) FROM unnest(p_tags) AS t), '{}'::jsonb);
END
$$;
