-- migrate(): user SQL migration scripts, each applied once and recorded in the same transaction.

CREATE OR REPLACE FUNCTION pgtrack.migrate(name text, script text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
/* Runs with the caller's privileges (SECURITY INVOKER): a migration can do exactly what its caller
   may do. The script and its record in applied_migrations commit or roll back together, so a failing
   script leaves no trace and can be fixed and retried. Scripts must not contain BEGIN/COMMIT.
   No SET search_path here on purpose: the script runs with the session's search_path, and this
   body qualifies every name. */
#variable_conflict use_column
DECLARE
    p_name     ALIAS FOR $1;
    p_script   ALIAS FOR $2;
    v_checksum text;
    v_applied  text;
    v_path     text;
    v_state    text;
BEGIN
    PERFORM pgtrack._validate_label(p_name, 'migration name');
    PERFORM pgtrack._validate_label(p_script, 'migration script');
    v_checksum := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_script, 'UTF8')), 'hex');
    PERFORM pgtrack._lock_schema();

    SELECT checksum INTO v_applied FROM pgtrack.applied_migrations WHERE name = p_name;
    IF FOUND THEN
        IF v_applied = v_checksum THEN
            RETURN false;
        END IF;
        PERFORM pgtrack._raise('PT005',
            format('migration %L was applied before with different text (checksum %s, now %s)',
                   p_name, left(v_applied, 12), left(v_checksum, 12)),
            'applied migrations are immutable: put the change in a new migration with a new name');
    END IF;

    v_path := current_setting('search_path');
    BEGIN
        EXECUTE p_script;
    EXCEPTION WHEN invalid_transaction_termination OR feature_not_supported OR active_sql_transaction THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE;
        IF v_state = '2D000' OR SQLERRM ~* 'transaction commands|cannot (commit|roll ?back|begin)' THEN
            PERFORM pgtrack._raise('PT003', format('migration %L failed: %s', p_name, SQLERRM),
                'a migration runs inside one transaction with its record; remove BEGIN/COMMIT/ROLLBACK from the script');
        END IF;
        PERFORM pgtrack._raise('PT003', format('migration %L failed: %s', p_name, SQLERRM),
            'this statement cannot run inside a transaction (e.g. CREATE INDEX CONCURRENTLY, VACUUM): run it outside migrate()');
    END;
    PERFORM set_config('search_path', v_path, false);  -- a SET search_path in the script does not leak

    INSERT INTO pgtrack.applied_migrations (name, checksum, applied_at)
    VALUES (p_name, v_checksum, clock_timestamp());
    PERFORM pgtrack._regenerate_writers();  -- the script may have added metric columns
    RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrack.migrate(text, text) IS
$$Run a user SQL migration script once, recorded by name (with a SHA-256 checksum) in the same transaction as the script. Returns true if it ran now, false if it was already applied with the same text; PT005 if applied before with different text. Runs with the caller's privileges; scripts must not contain BEGIN/COMMIT.$$;
