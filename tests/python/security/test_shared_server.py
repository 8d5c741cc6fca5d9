"""Shared-server safety (issue 7), as real roles in real sessions: the privilege escalation through
column types, schema squatting, the role model, lock behaviour that never stalls loggers, and leases
that clients cannot extend."""
import threading
import time
import uuid

import psycopg
import pytest

from conftest import admin_connect, create_database, drop_database, drop_roles

EXPLOIT = """
CREATE FUNCTION pg_temp.v() RETURNS float8 LANGUAGE plpgsql VOLATILE AS $$BEGIN EXECUTE 'ALTER ROLE {role} SUPERUSER'; RETURN 1; END$$;
CREATE FUNCTION pg_temp.i() RETURNS float8 LANGUAGE sql IMMUTABLE AS $$SELECT pg_temp.v()$$;
CREATE DOMAIN pg_temp.d AS float8 DEFAULT pg_temp.i();
"""


@pytest.fixture
def roles():
    """Login roles made per test; the pgtrack_* group roles are cluster-wide and stay."""
    suffix = uuid.uuid4().hex[:8]
    names = {kind: f"{kind}_{suffix}" for kind in ("attacker", "reader", "writer", "admin", "nobody")}
    with admin_connect() as admin:
        for name in names.values():
            admin.execute(f'CREATE ROLE "{name}" LOGIN')
    yield names
    drop_roles(*names.values())  # privileges and objects of the roles, in every database


def connect_as(dbname, role, **kwargs):
    return psycopg.connect(dbname=dbname, user=role, autocommit=True, **kwargs)


def is_superuser(role):
    with admin_connect() as admin:
        return admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,)).fetchone()[0]


@pytest.mark.parametrize("function", ["add_metric('pwn', 'pg_temp.d')", "add_run_column('pwn', 'pg_temp.d')",
                                      "add_run_column('pwn', 'pg_temp.d[]')"])
def test_caller_type_cannot_run_code_as_the_owner(dbname, conn, roles, function):
    attacker = roles["attacker"]
    conn.execute(f'GRANT USAGE ON SCHEMA pgtrack TO "{attacker}"')
    conn.execute(f'GRANT EXECUTE ON FUNCTION pgtrack.add_metric(text, regtype, text), '
                 f'pgtrack.add_run_column(text, regtype, boolean, text) TO "{attacker}"')
    with connect_as(dbname, attacker) as evil:
        evil.execute(EXPLOIT.format(role=attacker))
        with pytest.raises(psycopg.Error) as info:
            evil.execute(f"SELECT pgtrack.{function}")
        assert info.value.sqlstate == "PT003" and "pwn" in info.value.diag.message_primary
    assert not is_superuser(attacker)


def test_caller_owned_domain_cannot_plant_a_check(dbname, conn, roles):
    attacker = roles["attacker"]
    conn.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{attacker}"')
    conn.execute(f'GRANT USAGE ON SCHEMA pgtrack TO "{attacker}"')
    conn.execute(f'GRANT EXECUTE ON FUNCTION pgtrack.add_metric(text, regtype, text) TO "{attacker}"')
    with connect_as(dbname, attacker) as evil:
        evil.execute("CREATE DOMAIN public.evil AS float8 CHECK (VALUE > 0)")
        with pytest.raises(psycopg.Error) as info:
            evil.execute("SELECT pgtrack.add_metric('trap', 'public.evil')")
        assert info.value.sqlstate == "PT003" and "owned by the extension owner" in info.value.diag.message_primary
    assert conn.execute("SELECT count(*) FROM pgtrack.metric_columns() WHERE name = 'trap'").fetchone()[0] == 0


def test_squatted_schema_is_refused_at_install(roles):
    db = create_database(setup=False)
    try:
        with admin_connect() as admin:
            admin.execute(f'GRANT CREATE ON DATABASE "{db}" TO "{roles["attacker"]}"')
        with connect_as(db, roles["attacker"]) as evil:
            evil.execute("CREATE SCHEMA pgtrack")
            evil.execute("CREATE TABLE pgtrack.meta (key text PRIMARY KEY, value text NOT NULL)")
        with psycopg.connect(dbname=db, autocommit=True) as dba:
            with pytest.raises(psycopg.Error) as info:
                dba.execute("CREATE EXTENSION pgtrack")
            assert info.value.sqlstate == "PT005" and "not owned by" in info.value.diag.message_primary
            assert dba.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pgtrack'").fetchone()[0] == 0
    finally:
        drop_database(db)


def test_setup_refuses_tables_of_another_role(roles):
    db = create_database(setup=False)
    try:
        with psycopg.connect(dbname=db, autocommit=True) as dba:
            dba.execute("CREATE EXTENSION pgtrack")
            dba.execute(f'GRANT CREATE ON SCHEMA pgtrack TO "{roles["attacker"]}"')  # a careless grant
            with connect_as(db, roles["attacker"]) as evil:
                evil.execute("CREATE TABLE pgtrack.experiments (id bigint)")
            with pytest.raises(psycopg.Error) as info:
                dba.execute("SELECT pgtrack.setup()")
            assert info.value.sqlstate == "PT005" and "pgtrack.experiments" in info.value.diag.message_primary
    finally:
        drop_database(db)


def test_drop_extension_cascade_then_reinstall_repairs(dbname, conn):
    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('e')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run = conn.execute("SELECT run_id FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"loss\": 1}')", (run,))
    conn.execute("DROP EXTENSION pgtrack CASCADE")
    conn.execute("CREATE EXTENSION pgtrack")
    conn.execute("SELECT pgtrack.setup()")
    assert conn.execute("SELECT status::text, identity FROM pgtrack.runs").fetchall() == [("PENDING", {"k": 1})]
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 2, metrics => '{\"loss\": 2}')", (run,))
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics").fetchone()[0] == 2
    with pytest.raises(psycopg.Error):  # the identity trigger is back: raw writes are normalised again
        conn.execute("UPDATE pgtrack.runs SET identity = '{\"k\": \"one\"}'")
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.teardown('wrong')")
    assert info.value.sqlstate == "PT003"
    conn.execute("SELECT pgtrack.teardown(%s)", (dbname,))
    conn.execute("DROP EXTENSION pgtrack")
    conn.execute("CREATE EXTENSION pgtrack")
    conn.execute("SELECT pgtrack.setup()")
    assert conn.execute("SELECT count(*) FROM pgtrack.runs").fetchone()[0] == 0


def test_drop_metric_counts_under_the_lock(dbname, conn):
    conn.execute("SELECT pgtrack.add_metric('loss'), pgtrack.add_metric('acc')")
    run = conn.execute("SELECT pgtrack.create_run(pgtrack.experiment('x'))").fetchone()[0]
    writer = psycopg.connect(dbname=dbname)
    writer.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"acc\": 0.5}')", (run,))  # not committed yet
    result = {}

    def drop():
        with psycopg.connect(dbname=dbname, autocommit=True) as other:
            try:
                other.execute("SELECT pgtrack.drop_metric('acc')")
                result["outcome"] = "dropped"
            except psycopg.Error as exc:
                result["outcome"] = exc.sqlstate

    thread = threading.Thread(target=drop)
    thread.start()
    time.sleep(0.5)  # drop_metric is waiting for the table lock
    writer.commit()
    thread.join(30)
    writer.close()
    assert result["outcome"] == "PT005"
    assert conn.execute("SELECT acc FROM pgtrack.metrics").fetchone()[0] == 0.5


def test_a_waiting_schema_change_does_not_stall_other_loggers(dbname, conn):
    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('x')").fetchone()[0]
    busy, other = [conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0] for _ in range(2)]
    logger = psycopg.connect(dbname=dbname)  # a logger whose transaction stays open
    logger.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"loss\": 1}')", (busy,))
    outcome = {}

    def schema_change():
        with psycopg.connect(dbname=dbname, autocommit=True) as ddl:
            ddl.execute("SET lock_timeout = '20s'")
            ddl.execute("SELECT pgtrack.add_metric('acc')")
            outcome["ddl_done"] = time.monotonic()

    thread = threading.Thread(target=schema_change)
    thread.start()
    time.sleep(0.5)
    with psycopg.connect(dbname=dbname, autocommit=True) as second:  # another logger, and a reader
        second.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"loss\": 2}')", (other,))
        second.execute("SELECT count(*) FROM pgtrack.metrics")
        outcome["logger_done"] = time.monotonic()
    assert "ddl_done" not in outcome, "the schema change got its lock while the first logger still held its own"
    logger.commit()
    thread.join(30)
    logger.close()
    assert outcome["logger_done"] < outcome["ddl_done"]


def test_the_callers_lock_timeout_bounds_the_wait(dbname, conn):
    conn.execute("SELECT pgtrack.add_metric('loss')")
    run = conn.execute("SELECT pgtrack.create_run(pgtrack.experiment('x'))").fetchone()[0]
    with psycopg.connect(dbname=dbname) as logger:
        logger.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"loss\": 1}')", (run,))
        conn.execute("SET lock_timeout = '300ms'")
        start = time.monotonic()
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT pgtrack.add_metric('acc')")
        waited = time.monotonic() - start
        assert info.value.sqlstate == "PT005" and "00:00:00.3" in info.value.diag.message_primary
        assert waited < 5  # the 10 s default would have applied before
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "300ms"  # restored
        logger.rollback()


def test_declare_identifying_waits_boundedly_for_registrations(dbname, conn):
    exp = conn.execute("SELECT pgtrack.experiment('x')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    with psycopg.connect(dbname=dbname) as worker:  # a registration in flight
        worker.execute("SELECT pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,))
        conn.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT pgtrack.declare_identifying(%s, 'seed', 'int', '0')", (exp,))
        assert info.value.sqlstate == "PT005"
        worker.commit()
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'seed', 'int', '0')", (exp,))
    assert conn.execute("SELECT identity FROM pgtrack.runs").fetchone()[0] == {"k": 1, "seed": 0}


def test_without_a_lock_timeout_declare_identifying_still_gives_up(dbname, conn):
    exp = conn.execute("SELECT pgtrack.experiment('x')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    with psycopg.connect(dbname=dbname) as worker:
        worker.execute("SELECT pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,))
        conn.execute("SET lock_timeout = 0")
        conn.execute("SET pgtrack.default_lock_wait = '500ms'")  # the default budget, 10 s unless set
        conn.execute("SET statement_timeout = '8s'")  # 0.1.0 waited here until this fired (57014)
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT pgtrack.drop_identifying(%s, 'k')", (exp,))
        assert info.value.sqlstate == "PT005"
        worker.rollback()


def test_advisory_locks_taken_by_anyone_do_not_block_pgtrack(dbname, conn):
    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('x')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    with psycopg.connect(dbname=dbname, autocommit=True) as squatter:
        squatter.execute("SELECT pg_advisory_lock(1886352498, k) FROM generate_series(1, 2) k")
        squatter.execute("SELECT pg_advisory_lock(hashtextextended('pgtrack.registry:' || %s, 0))", (exp,))
        conn.execute("SET lock_timeout = '2s'")
        conn.execute("SELECT pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,))
        conn.execute("SELECT pgtrack.add_metric('acc')")
        conn.execute("SELECT pgtrack.declare_identifying(%s, 'seed', 'int', '0')", (exp,))
        conn.execute("SELECT pgtrack.create_run(%s, 777)", (exp,))


def test_explicit_ids_cannot_exhaust_the_sequence(conn):
    exp = conn.execute("SELECT pgtrack.experiment('x')").fetchone()[0]
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.create_run(%s, 9223372036854775807)", (exp,))
    assert info.value.sqlstate == "PT003"
    conn.execute("SELECT pgtrack.create_run(%s, 5000)", (exp,))
    assert conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0] > 5000


def test_client_times_cannot_make_a_dead_run_unreclaimable(conn):
    exp = conn.execute("SELECT pgtrack.experiment('x')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run = conn.execute("SELECT run_id FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_start(%s, started => now() + interval '10 years')", (run,))
    conn.execute("SELECT pgtrack.run_set_updated(%s, now() + interval '10 years')", (run,))
    assert conn.execute("SELECT time_updated <= clock_timestamp() FROM pgtrack.runs").fetchone()[0]
    time.sleep(1.2)
    claim = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, '1 second')", (exp,)).fetchone()
    assert claim == (run, 1)


def test_lease_fences_an_old_worker_everywhere(conn):
    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('x')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run, old = conn.execute("SELECT run_id, attempt FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')", (exp,)).fetchone()
    conn.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '2 hours'")
    new = conn.execute("SELECT attempt FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')", (exp,)).fetchone()[0]
    for sql in ("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"loss\": 9}', attempt => %s)",
                "SELECT pgtrack.run_add_metrics_batch(%s, '[{\"loss\": 9}]', attempt => %s)",
                "SELECT pgtrack.heartbeat(%s, %s)", "SELECT pgtrack.run_stop(%s, attempt => %s)"):
        with pytest.raises(psycopg.Error) as info:
            conn.execute(sql, (run, old))
        assert info.value.sqlstate == "PT004"
    assert conn.execute("SELECT status::text, attempt FROM pgtrack.runs").fetchone() == ("RUNNING", new)
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics").fetchone()[0] == 0


HIJACK = """
CREATE SCHEMA evil;
CREATE FUNCTION evil.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'ALTER ROLE {role} SUPERUSER';  -- succeeds only if run with a superuser's rights
    RETURN $1 OPERATOR(pg_catalog.=) $2;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END$$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq);
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE sql AS $$SELECT 1::bigint$$;
"""


def test_a_callers_search_path_cannot_hijack_definer_functions(dbname, conn, roles):
    """A writer (and an admin) puts its own = operator and nextval ahead of pg_catalog, then drives
    every path that reaches a SECURITY DEFINER function, the hot-path lock helper without SET
    search_path included. None may run the caller's code with the owner's rights. (Checked by hand:
    with a plain = in _lock_experiment_shared, the raw INSERT below makes the writer superuser.)"""
    conn.execute("SELECT pgtrack.grant_roles()")
    exp = conn.execute("SELECT pgtrack.experiment('hijack')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    conn.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO "{roles["writer"]}", "{roles["admin"]}"')
    for kind in ("writer", "admin"):
        role = roles[kind]
        conn.execute(f'GRANT pgtrack_{kind} TO "{role}"')
        with connect_as(dbname, role) as evil:
            evil.execute(HIJACK.format(role=role).replace("evil", f"evil_{kind}"))
            evil.execute(f"SET search_path = evil_{kind}, pg_catalog, pgtrack")
            assert evil.execute("SELECT 1::bigint = 1::bigint").fetchone()[0]  # the planted operator is in use
            evil.execute("SELECT pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'return_existing')", (exp,))
            evil.execute("SELECT pgtrack.register(%s, '{\"k\": 2}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')", (exp,))
            evil.execute("SELECT pgtrack.enqueue(%s, '[{\"k\": 3}]')", (exp,))
            evil.execute("SELECT pgtrack.claim_next(%s, '1 hour')", (exp,))
            evil.execute("SELECT pgtrack.create_run(%s, 900000 + %s)", (exp, len(kind)))
            # Paths that carry the caller's search_path into a definer: the identity trigger of a raw
            # write (no SET clause; it calls the unpinned lock helper) and direct calls of the helpers.
            evil.execute("INSERT INTO pgtrack.runs (experiment_id, identity) VALUES (%s, jsonb_build_object('k', 10 + %s))",
                         (exp, len(kind)))
            evil.execute("SELECT pgtrack._lock_experiment_shared(%s)", (exp,))
            evil.execute("SELECT pgtrack._reserve_run_id(900000 + %s)", (len(kind),))
            if kind == "admin":
                evil.execute("SELECT pgtrack._lock_experiment_exclusive(%s), pgtrack._lock_schema(), "
                             "pgtrack._regenerate_writers()", (exp,))
                evil.execute("SELECT pgtrack.add_metric('hijack_metric')")
                evil.execute("SELECT pgtrack.add_run_column('hijack_col', 'text', indexed => true)")
                evil.execute("SELECT pgtrack.declare_identifying(%s, 'seed', 'int', '0')", (exp,))
                evil.execute("SELECT pgtrack.migrate('hijack', 'SELECT pgtrack.add_metric(''hijack2'')')")
                evil.execute("SELECT pgtrack.drop_metric('hijack2')")
                evil.execute("SELECT pgtrack.partition_metrics(2)")  # the rebuild runs catalog-made DDL as the owner
                evil.execute("SELECT pgtrack.add_metric('hijack3'), pgtrack.drop_metric('hijack3')")
                evil.execute("SELECT pgtrack.compact_metrics()")
        assert not is_superuser(role), f"{kind} became superuser through search_path"


def test_new_definer_helpers_are_closed_to_roles_without_grants_and_take_values_only(dbname, conn, roles):
    """distribute() and _insert_experiment() (SECURITY DEFINER, issue 18): a role with USAGE on the schema
    but no grant may call neither; a pgtrack_writer may call _insert_experiment, which writes exactly
    the values given and checks them as experiment() does; a caller's shadows and types never run."""
    nobody, writer = roles["nobody"], roles["writer"]
    conn.execute("SELECT pgtrack.grant_roles()")
    conn.execute(f'GRANT pgtrack_writer TO "{writer}"')
    conn.execute(f'GRANT USAGE ON SCHEMA pgtrack TO "{nobody}"')
    with connect_as(dbname, nobody) as stranger:
        for sql in ("SELECT pgtrack._insert_experiment('x', NULL, NULL, NULL)", "SELECT pgtrack.distribute()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                stranger.execute(sql)
    with connect_as(dbname, writer) as w:
        w.execute(EXPLOIT.format(role=writer))  # pg_temp functions and a domain that would escalate
        w.execute("CREATE FUNCTION pg_temp.btrim(text) RETURNS text LANGUAGE sql AS $$SELECT pg_temp.v()::text$$")
        w.execute("SET search_path = pg_temp, public, pg_catalog")
        made = w.execute("SELECT pgtrack._insert_experiment('w-exp', 'note', ARRAY['a', 'b'], 7)").fetchone()[0]
        for bad, state in (("SELECT pgtrack._insert_experiment(' ', NULL, NULL, NULL)", "PT003"),
                           ("SELECT pgtrack._insert_experiment('ok', NULL, NULL, 0)", "PT003")):
            with pytest.raises(psycopg.Error) as info:
                w.execute(bad)
            assert info.value.sqlstate == state
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            w.execute("SELECT pgtrack.distribute()")
    assert conn.execute("SELECT name, comment, tags, float_precision FROM pgtrack.experiments WHERE id = %s",
                        (made,)).fetchone() == ("w-exp", "note", {"a": True, "b": True}, 7)
    assert conn.execute("SELECT count(*) FROM pgtrack.experiments WHERE name = 'ok'").fetchone()[0] == 0
    assert not is_superuser(writer)
