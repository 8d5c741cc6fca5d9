-- Install model: CREATE EXTENSION installs code only; setup() creates ordinary (non-member) tables.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(22);

SELECT enum_has_labels('pgtrack', 'runstatus', ARRAY[
    'BOOT_FAIL', 'CANCELLED', 'CONFIGURING', 'COMPLETED', 'COMPLETING', 'DEADLINE', 'FAILED',
    'NODE_FAIL', 'OUT_OF_MEMORY', 'PENDING', 'PREEMPTED', 'RESV_DEL_HOLD', 'REQUEUE_FED',
    'REQUEUE_HOLD', 'REQUEUED', 'RESIZING', 'REVOKED', 'RUNNING', 'SIGNALING', 'SPECIAL_EXIT',
    'STAGE_OUT', 'STOPPED', 'SUSPENDED', 'TIMEOUT'], 'runstatus has the 24 Slurm states in order');
SELECT has_type('pgtrack', 'registration', 'registration type exists');
SELECT is((SELECT string_agg(attname || ':' || format_type(atttypid, NULL), ',' ORDER BY attnum)
             FROM pg_attribute WHERE attrelid = 'pgtrack.registration'::regclass AND attnum > 0),
          'run_id:bigint,run_uuid:uuid,status:pgtrack.runstatus,attempt:integer,was_inserted:boolean,was_updated:boolean,was_skipped:boolean',
          'registration fields in contract order');

SELECT has_table('pgtrack', t, 'table pgtrack.' || t || ' exists')
  FROM unnest(ARRAY['experiments', 'experiment_relationships', 'runs', 'run_relationships', 'metrics',
                    'identifying_fields', 'applied_migrations']) t;

SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
            WHERE e.extname = 'pgtrack' AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass),
          0, 'no table, index or sequence is an extension member');
SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
            WHERE e.extname = 'pgtrack' AND d.deptype = 'e' AND d.classid = 'pg_proc'::regclass
              AND d.objid = 'pgtrack._metrics_write'::regproc), 0, 'generated metrics writer is not a member');

SELECT is(pgtrack.setup(), '0.3.0', 'setup() is idempotent and returns the layout version');
SELECT col_type_is('pgtrack', 'metrics', 'run_id', 'bigint', 'metrics.run_id is bigint like runs.id');
SELECT col_not_null('pgtrack', 'metrics', 'progress', 'metrics.progress is NOT NULL');
SELECT is((SELECT count(*)::int FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = 'pgtrack.runs'::regclass AND a.attname = 'experiment_id'), 3,
          'runs.experiment_id leads three indexes: (experiment_id, status), the identity key and (experiment_id, claim_request)');
SELECT is((SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i WHERE i.indexrelid = 'pgtrack.runs_claim_request_idx'::regclass),
          '(claim_request IS NOT NULL)', 'the claim_request index is partial: lookups by experiment_id alone cannot pick it');
SELECT is((SELECT count(*)::int FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            WHERE i.indrelid = 'pgtrack.runs'::regclass AND am.amname = 'gin'
            GROUP BY i.indkey[0] ORDER BY 1 DESC LIMIT 1), 1, 'at most one GIN index per runs column');

SELECT ok(NOT has_function_privilege('public', 'pgtrack.add_metric(text, regtype, text)', 'EXECUTE'),
          'add_metric (SECURITY DEFINER) is not executable by PUBLIC');
SELECT is((SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'pgtrack'::regnamespace AND p.prosecdef
              AND p.proname <> '_lock_experiment_shared'
              AND NOT coalesce(p.proconfig::text LIKE '%search_path=pg_catalog, pg_temp%', false)), 0,
          'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp (but the hot-path lock helper)');
SELECT ok((SELECT l.lanname = 'plpgsql' AND p.prosrc LIKE '%OPERATOR(pg_catalog.=)%' AND p.prosrc LIKE '%pg_catalog.int4%'
                   AND p.prosrc ~ 'BEGIN\s+SELECT [^;]* FOR KEY SHARE;\s+RETURN v_precision;\s+END\s*$'  -- one statement
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'pgtrack._lock_experiment_shared'::regproc),
          'the definer without SET search_path is one statement naming its operator and type by schema');
SELECT is((SELECT count(*)::int FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
            WHERE p.pronamespace = 'pgtrack'::regnamespace AND p.proname !~ '^_'
              AND obj_description(p.oid, 'pg_proc') IS NULL), 0, 'every public function has a COMMENT');

SELECT * FROM finish();
ROLLBACK;
