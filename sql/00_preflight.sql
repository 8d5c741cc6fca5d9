-- Before anything is installed or upgraded: refuse a schema pgtrack, or objects in it, that belong
-- to anyone but the installing role. A role with CREATE on the database could otherwise create the
-- schema (or tables, or the generated writer functions) first; CREATE EXTENSION and setup() would
-- adopt them, and their owner could later replace what pgtrack's functions call, or attach triggers
-- that run with the rights of whoever writes (the DBA included).

CREATE OR REPLACE FUNCTION pgtrack._check_ownership()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT005 naming the first object in schema pgtrack (or the schema) not owned by current_user, which
   is the installing role here and the extension owner inside setup() (SECURITY DEFINER). */
DECLARE
    v_me      oid := (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user);
    v_foreign text;
BEGIN
    SELECT x.what INTO v_foreign FROM (
        SELECT format('schema pgtrack (owner %s)', n.nspowner::regrole) AS what
          FROM pg_namespace n WHERE n.nspname = 'pgtrack' AND n.nspowner <> v_me
        UNION ALL
        SELECT format('%s (owner %s)', c.oid::regclass, c.relowner::regrole)
          FROM pg_class c WHERE c.relnamespace = 'pgtrack'::regnamespace AND c.relowner <> v_me
        UNION ALL
        SELECT format('function %s (owner %s)', p.oid::regprocedure, p.proowner::regrole)
          FROM pg_proc p WHERE p.pronamespace = 'pgtrack'::regnamespace AND p.proowner <> v_me
        UNION ALL
        SELECT format('type %s (owner %s)', t.oid::regtype, t.typowner::regrole)
          FROM pg_type t WHERE t.typnamespace = 'pgtrack'::regnamespace AND t.typowner <> v_me
    ) x LIMIT 1;
    IF v_foreign IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PT005',
            MESSAGE = format('refusing to install or set up pgtrack: %s is not owned by %s', v_foreign, current_user),
            HINT = 'another role created it before pgtrack was installed; inspect and drop it (or the schema), then retry as the owner';
    END IF;
END
$$;

SELECT pgtrack._check_ownership();
