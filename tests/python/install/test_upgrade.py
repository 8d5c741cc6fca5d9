"""ALTER EXTENSION pgtrack UPDATE from every released version: no row lost, writers keep working, and
the catalog (functions, types, tables, indexes, triggers, grants) equals a fresh install's."""
import psycopg
import pytest

from conftest import create_database, drop_database

RELEASED = ["0.1.0", "0.2.0"]

# One row per object, in a form that does not depend on OIDs or creation order.
CATALOG_QUERIES = {
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
               p.prosrc, p.prosecdef, p.provolatile, p.proconfig::text, p.proacl::text,
               obj_description(p.oid, 'pg_proc'),
               EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') AS member
          FROM pg_proc p WHERE p.pronamespace = 'pgtrack'::regnamespace ORDER BY 1, 2""",
    "types": """
        SELECT t.typname, t.typtype, format_type(t.oid, NULL),
               (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid),
               (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
                  FROM pg_attribute WHERE attrelid = t.typrelid AND attnum > 0)
          FROM pg_type t WHERE t.typnamespace = 'pgtrack'::regnamespace AND t.typtype IN ('e', 'c')
           AND NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c') ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'pgtrack'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY 1, 2""",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'pgtrack' ORDER BY 1",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
         WHERE connamespace = 'pgtrack'::regnamespace ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
         WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'pgtrack'::regnamespace)
         ORDER BY 1, 2""",
    "grants": """
        SELECT relname, relkind, relacl::text FROM pg_class WHERE relnamespace = 'pgtrack'::regnamespace ORDER BY 1""",
    "views": """
        SELECT c.relname, pg_get_viewdef(c.oid), c.reloptions::text, obj_description(c.oid, 'pg_class'),
               EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS member
          FROM pg_class c WHERE c.relnamespace = 'pgtrack'::regnamespace AND c.relkind = 'v' ORDER BY 1""",
}


def catalog(conn):
    return {name: conn.execute(query).fetchall() for name, query in CATALOG_QUERIES.items()}


def fill(conn):
    """Data written with the old version: every table gets rows."""
    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('old', 'from before the upgrade', ARRAY['t'])").fetchone()[0]
    other = conn.execute("SELECT pgtrack.experiment('other')").fetchone()[0]
    conn.execute("SELECT pgtrack.experiment_add_relationship(%s, 'derived_from', %s)", (other, exp))
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'lr', 'float')", (exp,))
    run = conn.execute("SELECT run_id FROM pgtrack.register(%s, '{\"lr\": 0.1}', on_duplicate => 'raise')", (exp,)).fetchone()[0]
    plain = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_add_relationship(%s, 'resumed_from', %s)", (plain, run))
    conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, '[{\"step\": 1, \"loss\": 0.5}, {\"step\": 2, \"loss\": 0.4}]')", (run,))
    conn.execute("SELECT pgtrack.migrate('m1', 'SELECT 1')")
    return exp, run


def counts(conn):
    return conn.execute("""SELECT (SELECT count(*) FROM pgtrack.experiments), (SELECT count(*) FROM pgtrack.runs),
        (SELECT count(*) FROM pgtrack.metrics), (SELECT count(*) FROM pgtrack.run_relationships),
        (SELECT count(*) FROM pgtrack.experiment_relationships), (SELECT count(*) FROM pgtrack.identifying_fields),
        (SELECT count(*) FROM pgtrack.applied_migrations)""").fetchone()


@pytest.fixture
def two_databases():
    names = [create_database(setup=False), create_database(setup=False)]
    yield names
    for name in names:
        drop_database(name)


@pytest.mark.parametrize("partitions", [0, 4], ids=["ordinary", "partitioned"])
@pytest.mark.parametrize("old_version", RELEASED)
def test_upgrade_keeps_data_and_matches_fresh_install(two_databases, old_version, partitions):
    upgraded, fresh = two_databases
    with psycopg.connect(dbname=upgraded, autocommit=True) as conn:
        conn.execute(f"CREATE EXTENSION pgtrack VERSION '{old_version}'")
        conn.execute("SELECT pgtrack.setup()")
        exp, run = fill(conn)
        before = counts(conn)
        conn.execute("ALTER EXTENSION pgtrack UPDATE")
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pgtrack'").fetchone()[0] == \
            conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'pgtrack'").fetchone()[0]
        assert counts(conn) == before, "no row lost"
        # Writers and the registry keep working, with the new version's features.
        attempt = conn.execute("SELECT attempt FROM pgtrack.register(%s, '{\"lr\": 0.1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')", (exp,)).fetchone()[0]
        assert attempt is not None
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 3, metrics => '{\"loss\": 0.3}', attempt => %s)", (run, 0 if attempt is None else attempt))
        assert conn.execute("SELECT array_agg(loss ORDER BY step) FROM pgtrack.metrics WHERE run_id = %s", (run,)).fetchone()[0] == [0.5, 0.4, 0.3]
        conn.execute("SELECT pgtrack.add_metric('acc')")
        conn.execute("SELECT pgtrack.add_metric('loss2')")  # layout identical to the fresh side below
        if partitions:  # the partitioned layout after the upgrade (0.1.0 had none)
            conn.execute("SELECT pgtrack.partition_metrics(%s)", (partitions,))
            conn.execute("SELECT pgtrack.run_add_metrics(%s, 4, metrics => '{\"loss\": 0.2}', attempt => %s)", (run, attempt))
        got = catalog(conn)
    with psycopg.connect(dbname=fresh, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgtrack")
        conn.execute("SELECT pgtrack.setup()")
        fill(conn)
        conn.execute("SELECT pgtrack.add_metric('acc')")
        conn.execute("SELECT pgtrack.add_metric('loss2')")
        if partitions:
            conn.execute("SELECT pgtrack.setup(metrics_partitions => %s)", (partitions,))
        want = catalog(conn)
    for name in CATALOG_QUERIES:
        assert got[name] == want[name], f"{name} differ after upgrade from {old_version}"
    assert [(v[0], v[-1]) for v in want["views"]] == [("experiment_links", False), ("run_links", False)]  # not members
