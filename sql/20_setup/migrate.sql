-- migrate(): user SQL migration scripts, each applied once and recorded in the same transaction.

CREATE OR REPLACE FUNCTION pgtrack._migration_body(p_script text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The script without a BEGIN; ... END; (or COMMIT;) around all of it, as SQLTrack's migration
       scripts are written: migrate() runs the script inside its own transaction, where transaction
       commands are refused. Any other script is returned as it is. */
    SELECT coalesce((regexp_match(p_script,
        '^((?:\s*--[^\n]*\n)*)\s*(?:BEGIN(?:\s+(?:WORK|TRANSACTION))?|START\s+TRANSACTION)\s*;(.*?)(?:END|COMMIT)(?:\s+(?:WORK|TRANSACTION))?\s*;?\s*$', 'i'))[2],
        p_script)
$$;

CREATE OR REPLACE FUNCTION pgtrack._applied_checksum(p_name text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The checksum a migration was recorded with, NULL if it was never applied. */
    SELECT m.checksum FROM pgtrack.applied_migrations m WHERE m.name = p_name
$$;

CREATE OR REPLACE FUNCTION pgtrack._migration_changed(p_name text, p_applied text, p_checksum text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT005: a migration name applied before with other text. */
BEGIN
    PERFORM pgtrack._raise('PT005',
        format('migration %L was applied before with different text (checksum %s, now %s)',
               p_name, left(p_applied, 12), left(p_checksum, 12)),
        'applied migrations are immutable: put the change in a new migration with a new name');
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._migration_refused(p_name text, p_state text, p_message text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT003 for a script statement that cannot run inside migrate()'s transaction. */
BEGIN
    IF p_state = '2D000' OR p_message ~* 'transaction commands|cannot (commit|roll ?back|begin)' THEN
        PERFORM pgtrack._raise('PT003', format('migration %L failed: %s', p_name, p_message),
            'a migration runs inside one transaction with its record; remove BEGIN/COMMIT/ROLLBACK from the script');
    END IF;
    PERFORM pgtrack._raise('PT003', format('migration %L failed: %s', p_name, p_message),
        'this statement cannot run inside a transaction (e.g. CREATE INDEX CONCURRENTLY, VACUUM): run it outside migrate()');
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._migration_shadows(p_path name[])
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* Objects on p_path, the session's effective search_path (pg_catalog aside), named like a table,
       view, sequence, type or function of schema pgtrack; NULL when there are none. migrate() appends
       pgtrack to the session's path so that SQLTrack's unqualified names (ALTER TABLE metrics ...)
       reach pgtrack's objects: an object of the same name earlier on the path would win instead (a
       writer's public.metrics altered, a writer's public.add_metric run with the migrator's rights),
       so migrate() refuses while one exists. A table, view, sequence or type takes a plain name only
       from a schema before pgtrack's on the path (a Client(schema=...) session puts pgtrack right after
       pg_catalog, so its own schema, which may hold SQLTrack's old tables, is no obstacle); a function
       anywhere on the path can win overload resolution (other argument types), so functions count in
       every schema of it. */
    WITH path AS (
        SELECT n.oid, n.nspname,
               s.position < coalesce(array_position(p_path, 'pgtrack'::name), cardinality(p_path) + 1) AS before_pgtrack
          FROM unnest(p_path) WITH ORDINALITY s(name, position)
          JOIN pg_namespace n ON n.nspname = s.name
         WHERE n.nspname NOT IN ('pg_catalog', 'pgtrack')),
    ours AS (
        SELECT c.relname::text AS name FROM pg_class c WHERE c.relnamespace = 'pgtrack'::regnamespace
        UNION SELECT p.proname::text FROM pg_proc p WHERE p.pronamespace = 'pgtrack'::regnamespace
        UNION SELECT t.typname::text FROM pg_type t WHERE t.typnamespace = 'pgtrack'::regnamespace),
    theirs AS (
        SELECT format('%s %I.%I (owner %I)', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                      WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' ELSE 'relation' END,
                      path.nspname, c.relname, c.relowner::regrole) AS what
          FROM pg_class c JOIN path ON path.oid = c.relnamespace
         WHERE path.before_pgtrack AND c.relname::text IN (SELECT name FROM ours)
        UNION ALL
        SELECT format('function %I.%I (owner %I)', path.nspname, p.proname, p.proowner::regrole)
          FROM pg_proc p JOIN path ON path.oid = p.pronamespace WHERE p.proname::text IN (SELECT name FROM ours)
        UNION ALL
        SELECT format('type %I.%I (owner %I)', path.nspname, t.typname, t.typowner::regrole)
          FROM pg_type t JOIN path ON path.oid = t.typnamespace
         WHERE path.before_pgtrack AND t.typname::text IN (SELECT name FROM ours)
           AND t.typrelid = 0 AND t.typcategory <> 'A')  -- a table's row type is its table; arrays follow their element
    SELECT string_agg(DISTINCT what, ', ') FROM theirs
$$;

CREATE OR REPLACE FUNCTION pgtrack._untrusted_path_schemas(p_path name[])
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* Schemas of p_path (the session's effective search_path; pg_catalog, pgtrack and this session's
       own temporary schema aside) in which a role other than the caller, a superuser or pgtrack's
       owner may create objects: its owner (pg_database_owner meaning the database's owner), or a
       grantee of CREATE, PUBLIC included. NULL when there are none. A function or operator planted
       there can win overload resolution over pg_catalog's (an exact-type =(float8, numeric)) inside
       a migration script, at any moment while it runs, and would run with the migrator's rights, so
       migrate() runs scripts only on a path of schemas nobody else can write. */
    WITH trusted AS (
        SELECT r.oid FROM pg_roles r
         WHERE r.rolsuper OR r.rolname = current_user
            OR r.oid = (SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = 'pgtrack')),
    path AS (
        SELECT n.nspname, n.nspacl, n.nspowner AS owner
          FROM unnest(p_path) s(name) JOIN pg_namespace n ON n.nspname = s.name
         WHERE n.nspname NOT IN ('pg_catalog', 'pgtrack') AND n.oid <> pg_my_temp_schema()),
    granted AS (
        SELECT p.nspname, p.owner AS role FROM path p
        UNION
        SELECT p.nspname, a.grantee FROM path p, aclexplode(p.nspacl) a WHERE a.privilege_type = 'CREATE'),
    creators AS (  -- pg_database_owner stands for the database's owner
        SELECT g.nspname, CASE WHEN g.role = 'pg_database_owner'::regrole
                               THEN (SELECT d.datdba FROM pg_database d WHERE d.datname = current_database())
                               ELSE g.role END AS role
          FROM granted g)
    SELECT string_agg(DISTINCT format('%I (%s may create objects in it)', c.nspname,
                                      CASE WHEN c.role = 0 THEN 'PUBLIC' ELSE format('%I', c.role::regrole) END), ', ')
      FROM creators c
     WHERE c.role = 0 OR c.role NOT IN (SELECT t.oid FROM trusted t)
$$;

CREATE OR REPLACE FUNCTION pgtrack._catalog_schema_objects()
RETURNS bigint
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* How many objects schema pg_catalog holds, of every kind a CREATE without a schema can make
       (functions and aggregates, types and domains, operators and their classes, collations,
       conversions, text search objects, statistics, extensions, relations). migrate() compares the
       number before and after a script: a session whose search_path lists pg_catalog first (a
       Client(schema=...)) makes pg_catalog the target of a plain CREATE, which PostgreSQL refuses for
       relations but lets a superuser do for the rest, where pg_dump would never see them. */
    SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_type WHERE typnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_operator WHERE oprnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_opclass WHERE opcnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_opfamily WHERE opfnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_collation WHERE collnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_conversion WHERE connamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_ts_config WHERE cfgnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_ts_dict WHERE dictnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_ts_parser WHERE prsnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_ts_template WHERE tmplnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_statistic_ext WHERE stxnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_extension WHERE extnamespace = 'pg_catalog'::regnamespace)
         + (SELECT count(*) FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace)
$$;

CREATE OR REPLACE FUNCTION pgtrack.migrate(name text, script text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
/* Runs with the caller's privileges (SECURITY INVOKER): a migration can do exactly what its caller
   may do. The script and its record in applied_migrations commit or roll back together, so a failing
   script leaves no trace and can be fixed and retried. A BEGIN; ... END; around the whole script is
   dropped (SQLTrack's scripts have one); other transaction commands are refused. The script sees
   pgtrack's tables by their plain names too (the session's search_path, then pgtrack). Refused
   (PT005) while a schema on the session's path is one that another role may create objects in
   (_untrusted_path_schemas: a planted operator or function could run inside the script with the
   caller's rights, even one created while the script runs), and while an object on the path is named
   like one of pgtrack's (_migration_shadows); rolled back (PT005) if the script made or dropped an
   object in pg_catalog (_catalog_schema_objects).
   No SET search_path here on purpose: the script runs with the session's search_path. So this body
   qualifies every function and operator it uses itself (pg_catalog.x, OPERATOR(pg_catalog.=)); the
   helpers it calls pin search_path. */
#variable_conflict use_column
DECLARE
    p_name     ALIAS FOR $1;
    p_script   ALIAS FOR $2;
    v_checksum text;
    v_applied  text;
    v_path     text;
    v_views    bigint[];
    v_shadows  text;
    v_catalog  bigint;
BEGIN
    PERFORM pgtrack._validate_label(p_name, 'migration name');
    PERFORM pgtrack._validate_label(p_script, 'migration script', NULL);
    v_checksum := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_script, 'UTF8')), 'hex');
    PERFORM pgtrack._lock_schema();

    v_applied := pgtrack._applied_checksum(p_name);
    IF v_applied IS NOT NULL THEN
        IF v_applied OPERATOR(pg_catalog.=) v_checksum THEN
            RETURN false;
        END IF;
        PERFORM pgtrack._migration_changed(p_name, v_applied, v_checksum);
    END IF;

    v_views := pgtrack._drop_experiment_views();  -- so the script may change what they use; made again below
    v_path := pg_catalog.current_setting('search_path');
    -- pgtrack's tables by their plain names too (SQLTrack's scripts say ALTER TABLE metrics ...),
    -- after the session's own path (so what the script creates goes where it did before); restored
    -- below, so nothing leaks out of the call.
    PERFORM pg_catalog.set_config('search_path', v_path OPERATOR(pg_catalog.||) ', pgtrack', false);
    v_shadows := pgtrack._untrusted_path_schemas(pg_catalog.current_schemas(true));
    IF v_shadows IS NOT NULL THEN
        PERFORM pg_catalog.set_config('search_path', v_path, false);
        PERFORM pgtrack._raise('PT005', pg_catalog.format('migration %L refused: schema %s on the search_path; a function or operator planted there could run inside the script with your rights',
                                                          p_name, v_shadows),
            'run the migration with a search_path of schemas nobody else can create in (SET search_path = myschema, a schema of your own), or revoke CREATE on that schema from the others');
    END IF;
    v_shadows := pgtrack._migration_shadows(pg_catalog.current_schemas(true));
    IF v_shadows IS NOT NULL THEN
        PERFORM pg_catalog.set_config('search_path', v_path, false);
        PERFORM pgtrack._raise('PT005', pg_catalog.format('migration %L refused: %s on the search_path would take the place of pgtrack''s object of that name for the script''s plain names',
                                                          p_name, v_shadows),
            'drop or rename that object, or run the migration with a search_path that leaves its schema out (SET search_path = myschema, where the script''s new objects should go)');
    END IF;
    v_catalog := pgtrack._catalog_schema_objects();
    BEGIN
        EXECUTE pgtrack._migration_body(p_script);
    EXCEPTION WHEN invalid_transaction_termination OR feature_not_supported OR active_sql_transaction THEN
        PERFORM pgtrack._migration_refused(p_name, SQLSTATE, SQLERRM);
    END;
    PERFORM pg_catalog.set_config('search_path', v_path, false);  -- a SET search_path in the script does not leak
    IF pgtrack._catalog_schema_objects() OPERATOR(pg_catalog.<>) v_catalog THEN  -- see _catalog_schema_objects
        PERFORM pgtrack._raise('PT005', pg_catalog.format('migration %L refused: it created or dropped objects in schema pg_catalog (the first schema on the search_path, where a CREATE without a schema goes)', p_name),
            'name the schema of every object the script creates (CREATE FUNCTION myschema.f ...); a Client(schema=...) session lists pg_catalog first');
    END IF;

    INSERT INTO pgtrack.applied_migrations (name, checksum, applied_at)
    VALUES (p_name, v_checksum, pg_catalog.clock_timestamp());
    PERFORM pgtrack._regenerate_writers();  -- the script may have added metric columns
    PERFORM pgtrack._role_grants();  -- ... or run columns, which pgtrack_writer's column privileges name
    PERFORM pgtrack._create_experiment_views(v_views);
    RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrack._catalog_schema_objects() IS
$$Internal: the number of objects in schema pg_catalog, which migrate() compares before and after a script.$$;

COMMENT ON FUNCTION pgtrack.migrate(text, text) IS
$$Run a user SQL migration script once, recorded by name (with a SHA-256 checksum) in the same transaction as the script. Returns true if it ran now, false if it was already applied with the same text; PT005 if applied before with different text. Runs with the caller's privileges, with pgtrack's tables found by their plain names (ALTER TABLE metrics ...); a BEGIN; ... END; around the whole script is accepted (SQLTrack's scripts), other transaction commands are refused.$$;
