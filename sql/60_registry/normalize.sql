-- Normalising identifying values: the one definition of "the same run" for the registry.

CREATE OR REPLACE FUNCTION pgtrack._decimal_exponent(p_abs_text text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
AS $$
    /* The position of the first significant digit of a positive numeric, from its text (plain
       decimal, never exponent notation): 10^e <= x < 10^(e+1). 123.4 -> 2; 0.0012 -> -3. Inlined
       into _round_significant, its one caller. */
    SELECT CASE WHEN pg_catalog.split_part(p_abs_text, '.', 1) OPERATOR(pg_catalog.<>) '0'
                THEN pg_catalog.length(pg_catalog.split_part(p_abs_text, '.', 1)) OPERATOR(pg_catalog.-) 1
                ELSE OPERATOR(pg_catalog.-) (pg_catalog.length(pg_catalog.split_part(p_abs_text, '.', 2))
                     OPERATOR(pg_catalog.-) pg_catalog.length(pg_catalog.ltrim(pg_catalog.split_part(p_abs_text, '.', 2), '0'))
                     OPERATOR(pg_catalog.+) 1)
           END
$$;

CREATE OR REPLACE FUNCTION pgtrack._round_significant(p_value numeric, p_digits integer)
RETURNS numeric
LANGUAGE sql
IMMUTABLE
AS $$
    /* Round to p_digits significant decimal digits, half away from zero, then strip trailing zeros.
       Works on the exact decimal the caller sent: a JSON number is parsed by PostgreSQL as numeric, so
       Python's 0.1+0.2 arrives as its shortest text 0.30000000000000004 and rounds to 0.3 at 12 digits.
       The decimal exponent is counted from the digits (_decimal_exponent, no log10), so powers of ten
       are exact. -0 is 0; NULL gives NULL. Hot path (every float field of every normalisation): one
       SQL expression with no SET clause, so the planner inlines it into the caller's expression (no
       call at all); every function, operator and type is named with its schema. */
    SELECT CASE WHEN p_value OPERATOR(pg_catalog.=) 0::pg_catalog.numeric THEN 0::pg_catalog.numeric
                ELSE pg_catalog.trim_scale(pg_catalog.round(p_value, p_digits OPERATOR(pg_catalog.-) 1
                         OPERATOR(pg_catalog.-) pgtrack._decimal_exponent(pg_catalog.abs(p_value)::pg_catalog.text)))
           END
$$;

CREATE OR REPLACE FUNCTION pgtrack._normalize_value(p_field text, p_type text, p_value jsonb, p_precision integer)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Strict type check and canonical form of one identifying value; PT003 naming the field otherwise.
   int: JSON integers only (1.0, 1.5, true, "1" rejected); bool: true/false only; string: JSON strings
   only (kept byte for byte); float: any JSON number, rounded by _round_significant. */
DECLARE
    v_kind text := jsonb_typeof(p_value);
BEGIN
    IF p_value IS NULL OR v_kind = 'null' THEN
        -- wallow's words ("not allowed", "NOT NULL") after pgtrack's: code written for wallow matches them
        PERFORM pgtrack._raise('PT003', format('identifying field %I must not be null (NULL not allowed: identifying fields are NOT NULL)', p_field),
            'pass a value, or omit the field if it has a default');
    END IF;
    IF p_type = 'int' AND v_kind = 'number' AND scale(p_value::numeric) = 0 THEN
        IF p_value::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
            PERFORM pgtrack._raise('PT003', format('identifying field %I must fit a bigint, got %s', p_field, left(p_value::text, 40)),
                'int fields hold 64-bit integers; use a string field for larger identifiers');
        END IF;
        RETURN to_jsonb(p_value::numeric);
    ELSIF p_type = 'float' AND v_kind = 'number' THEN
        RETURN to_jsonb(pgtrack._round_significant(p_value::numeric, p_precision));
    ELSIF p_type = 'bool' AND v_kind = 'boolean' OR p_type = 'string' AND v_kind = 'string' THEN
        RETURN p_value;
    ELSIF p_type = 'float' AND v_kind = 'string' AND lower(p_value #>> '{}') IN ('nan', 'infinity', '-infinity', 'inf', '-inf', '+infinity') THEN
        PERFORM pgtrack._raise('PT003', format('identifying field %I must be a finite number, got %s', p_field, p_value),
            'NaN and infinities cannot identify a run; pass a finite number');
    END IF;
    -- then wallow's words, with the Python type the value came from: "expected int, got bool"
    PERFORM pgtrack._raise('PT003', format('identifying field %I expects %s, got %s %s (expected %s, got %s)', p_field,
            CASE p_type WHEN 'int' THEN 'a JSON integer' WHEN 'float' THEN 'a JSON number'
                        WHEN 'bool' THEN 'JSON true or false' ELSE 'a JSON string' END,
            v_kind, left(p_value::text, 100), p_type,
            CASE v_kind WHEN 'string' THEN 'str' WHEN 'boolean' THEN 'bool' WHEN 'object' THEN 'dict' WHEN 'array' THEN 'list'
                        WHEN 'number' THEN CASE WHEN scale(p_value::numeric) = 0 THEN 'int' ELSE 'float' END
                        ELSE v_kind END),
        format('pass a %s value for %I', p_type, p_field));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._normalize_identity(p_experiment_id bigint, p_identifying jsonb, p_lock boolean)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Fill defaults, reject unknown or missing fields, check types strictly, canonicalise values.
   With p_lock (every identity write: register, enqueue, the runs trigger) it first takes the
   experiment's registry lock in shared mode (FOR KEY SHARE on its row), so it cannot interleave with
   a concurrent declare_identifying/drop_identifying/_set_float_precision, which take it exclusively;
   VOLATILE on purpose: after waiting for that lock, the fields must be read with a new snapshot.
   Reads (normalize_identity, find_run) take no lock, so they also work on a read-only replica.
   Hot path of register and of the identity trigger: one query (the experiment's precision and its
   fields as arrays), then per field assignments PL/pgSQL evaluates as simple expressions, without
   starting the executor. (Starting the executor for a query of joins and aggregates dominated the
   earlier single-statement version: docs/design.md, "A registration, fourth pass".) */
DECLARE
    v_precision integer;
    v_names     text[];
    v_types     text[];
    v_defaults  jsonb[];
    v_result    jsonb := '{}';
    v_value     jsonb;  -- as given, or the field's default
    v_canonical jsonb;  -- NULL when v_value is missing, null or of another type
    v_unknown   text[];
BEGIN
    IF $2 IS NULL OR jsonb_typeof($2) <> 'object' THEN
        PERFORM pgtrack._raise('PT003', format('identifying must be a JSON object, got %s', coalesce(left($2::text, 200), 'NULL')),
            'pass identifying fields like ''{"lr": 0.1, "seed": 1}''::jsonb');
    END IF;
    IF p_lock THEN
        -- first: the fields read below are then current. On one server straight to the owner's lock
        -- helper; on Citus as the caller (on a worker, in the identity trigger, the caller may execute
        -- only invoker functions: two statements, since EXECUTE is checked for every function of an
        -- expression, taken branch or not).
        IF pgtrack._is_distributed() THEN
            PERFORM pgtrack._lock_experiment($1, false);
        ELSE
            PERFORM pgtrack._lock_experiment_shared($1);
        END IF;
    END IF;

    SELECT e.float_precision, f.names, f.types, f.defaults INTO v_precision, v_names, v_types, v_defaults
      FROM pgtrack.experiments e
     CROSS JOIN LATERAL (SELECT array_agg(i.name ORDER BY i.name), array_agg(i.type ORDER BY i.name),
                                array_agg(i.default_value ORDER BY i.name)
                           FROM pgtrack.identifying_fields i WHERE i.experiment_id = e.id) f (names, types, defaults)
     WHERE e.id = $1;
    IF v_precision IS NULL THEN
        PERFORM pgtrack._not_found('experiment', $1);
    END IF;
    FOR i IN 1 .. coalesce(cardinality(v_names), 0) LOOP
        v_value := coalesce($2 -> v_names[i], v_defaults[i]);
        v_canonical := CASE WHEN jsonb_typeof(v_value) = 'number' THEN
                                 CASE v_types[i]
                                     WHEN 'float' THEN to_jsonb(pgtrack._round_significant(v_value::numeric, v_precision))
                                     WHEN 'int' THEN CASE WHEN scale(v_value::numeric) = 0
                                                           AND v_value::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
                                                          THEN v_value END
                                 END
                            WHEN v_types[i] = 'bool' AND jsonb_typeof(v_value) = 'boolean'
                              OR v_types[i] = 'string' AND jsonb_typeof(v_value) = 'string' THEN v_value
                       END;
        IF v_canonical IS NULL THEN  -- say what is wrong with it (_normalize_value raises)
            IF v_value IS NULL THEN
                PERFORM pgtrack._raise('PT003', format('missing identifying field %I for experiment %s', v_names[i], $1),
                    format('pass %I, or declare it with a default', v_names[i]));
            END IF;
            PERFORM pgtrack._normalize_value(v_names[i], v_types[i], v_value, v_precision);
        END IF;
        v_result := v_result || jsonb_build_object(v_names[i], v_canonical);
    END LOOP;

    IF octet_length(v_result::text) > 2000 THEN  -- the unique index on (experiment_id, identity) takes ~2.7 kB
        PERFORM pgtrack._raise('PT003', format('identity of %s bytes is too large (at most 2000), starting %s',
                                               octet_length(v_result::text), left(v_result::text, 80)),
            'identifying values must be short keys; store large values as annotating fields or args');
    END IF;
    IF ($2 - coalesce(v_names, '{}')) <> '{}' THEN
        v_unknown := ARRAY(SELECT k FROM jsonb_object_keys($2 - coalesce(v_names, '{}')) k ORDER BY k);
        PERFORM pgtrack._raise('PT003', format('unknown identifying field%s %s for experiment %s',
                CASE WHEN cardinality(v_unknown) > 1 THEN 's' ELSE '' END, array_to_string(v_unknown, ', '), $1),
            format('declared fields: %s; declare more with pgtrack.declare_identifying()',
                   coalesce(array_to_string(v_names, ', '), '(none)')));
    END IF;
    RETURN v_result;
END
$$;
CREATE OR REPLACE FUNCTION pgtrack.normalize_identity(experiment_id bigint, identifying jsonb)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._normalize_identity($1, $2, false);
$$;
COMMENT ON FUNCTION pgtrack.normalize_identity(bigint, jsonb) IS
$$Canonical form of a run's identifying values: defaults filled; unknown, missing or null fields rejected (PT003); strict types (int: JSON integers; bool: true/false; string: JSON strings; float: any finite JSON number); floats rounded to the experiment's float_precision significant digits, half away from zero on the decimal text, -0 as 0, trailing zeros stripped (so 0.1+0.2 and 0.3, and 1 and 1.0, are one key).$$;

CREATE OR REPLACE FUNCTION pgtrack._runs_normalize_identity()
RETURNS trigger
LANGUAGE plpgsql
AS $$
/* BEFORE INSERT/UPDATE trigger on pgtrack.runs: every write of identity, raw SQL included, is
   normalised, so the unique key (experiment_id, identity) cannot be bypassed. Hot path (every new
   run): no SET search_path, which costs a GUC save and restore per row; its one call names its
   schema, with arguments of the exact types, and _normalize_identity pins the path itself. */
BEGIN
    NEW.identity := pgtrack._normalize_identity(NEW.experiment_id, NEW.identity, true);
    RETURN NEW;
END
$$;
