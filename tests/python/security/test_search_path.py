"""Generated and hand-written SQL never trusts the caller's search_path (issue 16, item 2).

A writer (an ordinary pgtrack_writer) owns a schema ``trap`` and plants exact-signature shadows of
every built-in function, aggregate and operator pgtrack's unpinned code calls (count(record),
array_agg(float8), bool_or, jsonb_typeof, jsonb_array_elements, jsonb_to_recordset,
jsonb_object_keys, current_setting, set_config, clock_timestamp, format, and the operators =, <>, -,
->>, >, <). Each shadow records that it ran, and tries to make its owner superuser. The owner then
drives every writer path (and the registry, analysis and schema functions) with ``search_path =
trap, pg_catalog``: a caller who put a writable schema first. Nothing of the writer's may run.
A second test checks the rule behind it: every pgtrack function pins search_path, except the
hot-path ones listed here, whose every call and operator is qualified."""
import psycopg
import pytest

from conftest import admin_connect, drop_roles

# Functions that do not pin search_path, on purpose (hot path or the session's path needed); each
# qualifies everything it calls. Any other function without SET search_path fails the test below.
UNPINNED = {"run_add_metrics", "run_add_metrics_batch", "_check_metric_call", "_metrics_write", "_metrics_write_batch",
            "_lock_experiment_shared", "is_lost", "_is_distributed", "migrate", "_live_statuses", "_round_significant", "_decimal_exponent",
            "_runs_normalize_identity", "lost_time", "last_seen", "run_is_lost", "shown_status"}

SHADOWS = r"""
CREATE TABLE trap.hits (what text, who text DEFAULT current_user);
GRANT INSERT, SELECT ON trap.hits TO PUBLIC;
CREATE FUNCTION trap.hit(p text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO trap.hits (what) VALUES (p);
    BEGIN
        EXECUTE 'ALTER ROLE ' || pg_catalog.quote_ident(ATTACKER) || ' SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END $f$;
GRANT EXECUTE ON FUNCTION trap.hit(text) TO PUBLIC;

-- functions
CREATE FUNCTION trap.jsonb_typeof(pg_catalog.jsonb) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb_typeof'); RETURN pg_catalog.jsonb_typeof($1); END $f$;
CREATE FUNCTION trap.jsonb_array_elements(pg_catalog.jsonb) RETURNS SETOF pg_catalog.jsonb LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb_array_elements'); RETURN QUERY SELECT pg_catalog.jsonb_array_elements($1); END $f$;
CREATE FUNCTION trap.jsonb_object_keys(pg_catalog.jsonb) RETURNS SETOF pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb_object_keys'); RETURN QUERY SELECT pg_catalog.jsonb_object_keys($1); END $f$;
CREATE FUNCTION trap.jsonb_to_recordset(pg_catalog.jsonb) RETURNS SETOF record LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb_to_recordset'); RETURN; END $f$;
CREATE FUNCTION trap.current_setting(pg_catalog.text, pg_catalog.bool) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('current_setting'); RETURN pg_catalog.current_setting($1, $2); END $f$;
CREATE FUNCTION trap.current_setting(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('current_setting1'); RETURN pg_catalog.current_setting($1); END $f$;
CREATE FUNCTION trap.set_config(pg_catalog.text, pg_catalog.text, pg_catalog.bool) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('set_config'); RETURN pg_catalog.set_config($1, $2, $3); END $f$;
CREATE FUNCTION trap.clock_timestamp() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $f$;
CREATE FUNCTION trap.format(pg_catalog.text, VARIADIC pg_catalog.text[]) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('format'); RETURN $1; END $f$;
CREATE FUNCTION trap.format(pg_catalog.text, pg_catalog.int8) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('format-int8'); RETURN $1; END $f$;
CREATE FUNCTION trap.left(pg_catalog.text, pg_catalog.int4) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('left'); RETURN pg_catalog.left($1, $2); END $f$;

-- aggregates
CREATE FUNCTION trap.count_step(pg_catalog.int8, record) RETURNS pg_catalog.int8 LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('count(record)'); RETURN $1 + 1; END $f$;
CREATE AGGREGATE trap.count(record) (SFUNC = trap.count_step, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE FUNCTION trap.count_star(pg_catalog.int8) RETURNS pg_catalog.int8 LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('count(*)'); RETURN $1 + 1; END $f$;
CREATE AGGREGATE trap.count(*) (SFUNC = trap.count_star, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE FUNCTION trap.agg_step(pg_catalog.float8[], pg_catalog.float8) RETURNS pg_catalog.float8[] LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('array_agg(float8)'); RETURN pg_catalog.array_append($1, $2); END $f$;
CREATE AGGREGATE trap.array_agg(pg_catalog.float8) (SFUNC = trap.agg_step, STYPE = pg_catalog.float8[]);
CREATE FUNCTION trap.or_step(pg_catalog.bool, pg_catalog.bool) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('bool_or'); RETURN $1 OR $2; END $f$;
CREATE AGGREGATE trap.bool_or(pg_catalog.bool) (SFUNC = trap.or_step, STYPE = pg_catalog.bool);

-- operators
CREATE FUNCTION trap.eq8(pg_catalog.int8, pg_catalog.int8) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('int8 ='); RETURN pg_catalog.int8eq($1, $2); END $f$;
CREATE OPERATOR trap.= (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int8, FUNCTION = trap.eq8);
CREATE FUNCTION trap.eq4(pg_catalog.int4, pg_catalog.int4) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('int4 ='); RETURN pg_catalog.int4eq($1, $2); END $f$;
CREATE OPERATOR trap.= (LEFTARG = pg_catalog.int4, RIGHTARG = pg_catalog.int4, FUNCTION = trap.eq4);
CREATE FUNCTION trap.eqt(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('text ='); RETURN pg_catalog.texteq($1, $2); END $f$;
CREATE OPERATOR trap.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = trap.eqt);
CREATE FUNCTION trap.net(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('text <>'); RETURN pg_catalog.textne($1, $2); END $f$;
CREATE OPERATOR trap.<> (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = trap.net);
CREATE FUNCTION trap.nej(pg_catalog.jsonb, pg_catalog.jsonb) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb <>'); RETURN pg_catalog.jsonb_ne($1, $2); END $f$;
CREATE OPERATOR trap.<> (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.jsonb, FUNCTION = trap.nej);
CREATE FUNCTION trap.minus(pg_catalog.jsonb, pg_catalog.text[]) RETURNS pg_catalog.jsonb LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb - text[]'); RETURN pg_catalog.jsonb_delete($1, VARIADIC $2); END $f$;
CREATE OPERATOR trap.- (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.text[], FUNCTION = trap.minus);
CREATE FUNCTION trap.arrow(pg_catalog.jsonb, pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb ->>'); RETURN pg_catalog.jsonb_object_field_text($1, $2); END $f$;
CREATE OPERATOR trap.->> (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.text, FUNCTION = trap.arrow);
CREATE FUNCTION trap.gt8(pg_catalog.int8, pg_catalog.int8) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('int8 >'); RETURN pg_catalog.int8gt($1, $2); END $f$;
CREATE OPERATOR trap.> (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int8, FUNCTION = trap.gt8);
CREATE FUNCTION trap.ge8(pg_catalog.int8, pg_catalog.int8) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('int8 >='); RETURN $1 OPERATOR(pg_catalog.>=) $2; END $f$;
CREATE OPERATOR trap.>= (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int8, FUNCTION = trap.ge8);
CREATE FUNCTION trap.le8(pg_catalog.int8, pg_catalog.int8) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('int8 <='); RETURN $1 OPERATOR(pg_catalog.<=) $2; END $f$;
CREATE OPERATOR trap.<= (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int8, FUNCTION = trap.le8);
CREATE FUNCTION trap.eqj(pg_catalog.jsonb, pg_catalog.jsonb) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('jsonb ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $f$;
CREATE OPERATOR trap.= (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.jsonb, FUNCTION = trap.eqj);
CREATE FUNCTION trap.lttz(pg_catalog.timestamptz, pg_catalog.timestamptz) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('timestamptz <'); RETURN pg_catalog.timestamptz_lt($1, $2); END $f$;
CREATE OPERATOR trap.< (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.timestamptz, FUNCTION = trap.lttz);
CREATE FUNCTION trap.tzmi(pg_catalog.timestamptz, pg_catalog.interval) RETURNS pg_catalog.timestamptz LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('timestamptz - interval'); RETURN pg_catalog.timestamptz_mi_interval($1, $2); END $f$;
CREATE OPERATOR trap.- (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.interval, FUNCTION = trap.tzmi);
CREATE FUNCTION trap.eqs(pgtrack.runstatus, pgtrack.runstatus) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('runstatus ='); RETURN pg_catalog.enum_eq($1, $2); END $f$;
CREATE OPERATOR trap.= (LEFTARG = pgtrack.runstatus, RIGHTARG = pgtrack.runstatus, FUNCTION = trap.eqs);
-- a type named like a built-in one, with an implicit cast to it: "NULL::uuid" in a function that does
-- not pin its search_path would run the cast (the red team's escalation through register/create_run)
CREATE TYPE trap.uuid AS ENUM ('x');
CREATE FUNCTION trap.to_uuid(trap.uuid) RETURNS pg_catalog.uuid LANGUAGE plpgsql CALLED ON NULL INPUT AS
  $f$ BEGIN PERFORM trap.hit('uuid cast'); RETURN NULL; END $f$;
CREATE CAST (trap.uuid AS pg_catalog.uuid) WITH FUNCTION trap.to_uuid(trap.uuid) AS IMPLICIT;
"""

# Every path that writes (and the registry, analysis and schema functions), as the owner would call them.
DRIVE = [
    "SELECT pgtrack._insert_experiment('by-helper', 'c', ARRAY['t'], 3)",
    "SELECT pgtrack.add_metric('loss')",
    "SELECT pgtrack.experiment('victim') AS e",
    "SELECT pgtrack.declare_identifying(1, 'lr', 'float')",
    "SELECT run_id FROM pgtrack.register(1, '{\"lr\": 0.1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')",
    "SELECT run_id FROM pgtrack.register(1, '{\"lr\": 0.1}', on_duplicate => 'return_existing')",
    "SELECT pgtrack.run_add_metrics(1, 1, 0, '{\"loss\": 0.5}')",
    "SELECT pgtrack.run_add_metrics(1, 1, 0, '{\"loss\": 0.4}', attempt => 1)",
    "SELECT pgtrack.run_add_metrics(1, 2, 0, '{\"loss\": \"NaN\", \"new/metric\": 1}', attempt => 1, add_missing => true)",
    "SELECT pgtrack.run_add_metrics(1, 3, 0, '{\"loss\": 0.3}', set_updated => false, attempt => 1)",
    "SELECT pgtrack.run_add_metrics_batch(1, '[{\"step\": 4, \"loss\": 0.2}, {\"step\": 5, \"loss\": 0.1}]', attempt => 1)",
    "SELECT pgtrack.run_add_metrics_batch(1, '[{\"step\": 6, \"loss\": 0.2}, {\"step\": 6, \"new/metric\": 2}]')",
    "SELECT pgtrack.run_add_metrics_batch(1, '[{\"step\": 7, \"other/new\": 2}]', add_missing => true)",
    "SELECT pgtrack.heartbeat(1, attempt => 1)",
    "SELECT pgtrack.enqueue(1, '[{\"lr\": 0.2}, {\"lr\": 0.3}]')",
    "SELECT run_id FROM pgtrack.claim_next(1, stale_after => '1 hour', worker => 'w')",
    "SELECT pgtrack.find_run(1, '{\"lr\": 0.2}')",
    "SELECT pgtrack.normalize_identity(1, '{\"lr\": 0.25}')",
    "SELECT pgtrack.create_run(1, args => '{\"a\": 1}', tags => ARRAY['t'])",
    "SELECT pgtrack.create_run_once('00000000-0000-4000-8000-000000000001', 1)",
    "SELECT run_id FROM pgtrack.register_once('00000000-0000-4000-8000-000000000002', 1, '{\"lr\": 0.4}', on_duplicate => 'skip')",
    "SELECT run_id FROM pgtrack.claim_next_once('00000000-0000-4000-8000-000000000003', 1, '1 hour', 'w')",
    "SELECT run_id FROM pgtrack.claim_next_once('00000000-0000-4000-8000-000000000003', 1, '1 hour', 'w')",  # replayed
    "SELECT pgtrack.run_start(4)",
    "SELECT pgtrack.run_add_args(4, '{\"b\": 2}')",
    "SELECT pgtrack.run_add_tags(4, 'x')",
    "SELECT pgtrack.run_set_comment(4, 'c')",
    "SELECT pgtrack.run_add_relationship(4, 'resumes', 1)",
    "SELECT pgtrack.run_stop(4, 'COMPLETED')",
    "SELECT pgtrack.run_stop(1, 'COMPLETED', attempt => 1)",
    "SELECT * FROM pgtrack.runs_status(1)",
    "SELECT pgtrack.is_lost('RUNNING', '2000-01-01', '1 minute')",
    "SELECT pgtrack.is_lost('RUNNING', '2000-01-01', pgtrack.lost_time('1 minute', '1 second'))",
    "SELECT pgtrack.run_set_heartbeat(4, '15 seconds')",
    "SELECT pgtrack.run_count_rejected(4, 1)",
    "SELECT * FROM pgtrack.experiment_summary(1)",
    "SELECT * FROM pgtrack.best_runs(1, 'loss')",
    "SELECT * FROM pgtrack.final_metrics(1)",
    "SELECT * FROM pgtrack.metric_curves(1, 'loss')",
    "SELECT pgtrack.experiment_set_lost_after(1, '5 minutes')",
    "SELECT pgtrack.experiment_add_tags(1, 'y')",
    "SELECT pgtrack.rename_metric('new/metric', 'renamed/metric')",
    "SELECT pgtrack.drop_metric('renamed/metric', force => true)",
    "INSERT INTO pgtrack.runs (experiment_id, identity) VALUES (1, '{\"lr\": 0.9}')",
    "SELECT * FROM pgtrack.delete_experiment(pgtrack.experiment('other'))",
]


@pytest.fixture
def trapped(dbname):
    attacker = "sp_attacker"
    with admin_connect() as admin:
        admin.execute(f"DROP ROLE IF EXISTS {attacker}")
        admin.execute(f"CREATE ROLE {attacker} LOGIN")
    with psycopg.connect(dbname=dbname, autocommit=True) as owner:
        owner.execute("SELECT pgtrack.grant_roles()")
        owner.execute(f"GRANT pgtrack_writer TO {attacker}")
        owner.execute(f"CREATE SCHEMA trap AUTHORIZATION {attacker}")
    with psycopg.connect(dbname=dbname, user=attacker, autocommit=True) as conn:
        conn.execute(SHADOWS.replace("ATTACKER", f"'{attacker}'"))
    yield attacker
    with psycopg.connect(dbname=dbname, autocommit=True) as owner:
        owner.execute("DROP SCHEMA trap CASCADE")
    drop_roles(attacker)


def test_shadows_of_builtins_never_run_as_the_owner(dbname, trapped):
    def superuser(conn):
        return conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (trapped,)).fetchone()[0]

    with psycopg.connect(dbname=dbname, autocommit=True, options="-c search_path=trap,pg_catalog") as victim:
        for statement in DRIVE:
            try:
                victim.execute(statement)
            except psycopg.Error as exc:
                raise AssertionError(f"{statement}: {exc}") from None
        # migrate() runs the owner's script with the session's path: on one another role can write, refused
        with pytest.raises(psycopg.Error) as info:
            victim.execute("SELECT pgtrack.migrate('m1', 'SELECT 1')")
        assert info.value.sqlstate == "PT005" and "schema trap" in info.value.diag.message_primary
    with psycopg.connect(dbname=dbname, autocommit=True) as clean:
        hits = sorted({r[0] for r in clean.execute("SELECT what FROM trap.hits").fetchall()})
        assert hits == [], f"the writer's code ran inside pgtrack: {hits}"
        assert superuser(clean) is False
        assert clean.execute("SELECT count(*) FROM pgtrack.metrics WHERE run_id = 1").fetchone()[0] >= 7
    # The control: the same shadows do run (and do escalate) when the owner's own SQL calls them.
    with psycopg.connect(dbname=dbname, autocommit=True, options="-c search_path=trap,pg_catalog") as victim:
        victim.execute("SELECT jsonb_typeof('{}')")
    with psycopg.connect(dbname=dbname, autocommit=True) as clean:
        assert [r[0] for r in clean.execute("SELECT what FROM trap.hits").fetchall()] == ["jsonb_typeof"]
        assert superuser(clean) is True


# The registry as the writer itself calls it: every path through the SECURITY DEFINER lock helper
# (_lock_experiment_shared: no SET search_path, PL/pgSQL since 0.3.0) and a direct call of it.
WRITER_DRIVE = [
    "SELECT run_id FROM pgtrack.register(1, '{\"lr\": 0.5}', on_duplicate => 'return_existing')",   # new key
    "SELECT run_id FROM pgtrack.register(1, '{\"lr\": 0.5}', on_duplicate => 'return_existing')",   # canonical hit
    "SELECT run_id FROM pgtrack.register(1, '{\"lr\": 0.50000000000001}', on_duplicate => 'skip')",  # normalised hit
    "SELECT run_id FROM pgtrack.register(1, '{\"lr\": 0.6}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')",
    "SELECT pgtrack.enqueue(1, '[{\"lr\": 0.7}]')",
    "INSERT INTO pgtrack.runs (experiment_id, identity) VALUES (1, '{\"lr\": 0.8}')",
    "SELECT pgtrack._lock_experiment_shared(1)",
]

def domain_shadows(*types: str) -> str:
    """A domain in trap named like each built-in type, whose CHECK records '<type> domain'."""
    return "".join(f"""
CREATE FUNCTION trap.hit_check_{t}(pg_catalog.{t}) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('{t} domain'); RETURN true; END $f$;
CREATE DOMAIN trap.{t} AS pg_catalog.{t} CHECK (trap.hit_check_{t}(VALUE));""" for t in types)


WRITER_SHADOWS = domain_shadows("int4")


def test_the_writer_cannot_make_the_registry_lock_run_its_code(dbname, trapped):
    """Logged in as the pgtrack_writer who planted the shadows (those of SHADOWS, among them = on int8
    and int4, and a domain named int4) and with its own schema first on search_path: the registry's
    paths through the definer lock helper, and the helper called directly, run none of them, as the
    owner or otherwise; the control query shows the shadows are live."""
    with psycopg.connect(dbname=dbname, autocommit=True) as owner:
        owner.execute("SELECT pgtrack.experiment('victim')")
        owner.execute("SELECT pgtrack.declare_identifying(1, 'lr', 'float')")
    with psycopg.connect(dbname=dbname, user=trapped, autocommit=True) as writer:
        writer.execute(WRITER_SHADOWS)
    with psycopg.connect(dbname=dbname, user=trapped, autocommit=True,
                         options="-c search_path=trap,pg_catalog") as writer:
        for statement in WRITER_DRIVE:
            try:
                writer.execute(statement)
            except psycopg.Error as exc:
                raise AssertionError(f"{statement}: {exc}") from None
        hits = writer.execute("SELECT what, who FROM trap.hits").fetchall()
        assert hits == [], f"pgtrack ran the writer's code: {hits}"
        writer.execute("SELECT 1::int8 = 1::int8")  # the control: the writer's own query does use the shadow
        assert writer.execute("SELECT what, who FROM trap.hits").fetchall() == [("int8 =", trapped)]
    with psycopg.connect(dbname=dbname, autocommit=True) as clean:
        assert clean.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (trapped,)).fetchone()[0] is False
        assert clean.execute("SELECT count(*) FROM pgtrack.runs WHERE experiment_id = 1").fetchone()[0] == 4


def test_every_function_pins_search_path_or_is_audited(conn):
    rows = conn.execute("""
        SELECT p.proname FROM pg_proc p
         WHERE p.pronamespace = 'pgtrack'::regnamespace
           AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%%')""").fetchall()
    assert {r[0] for r in rows} <= UNPINNED, sorted({r[0] for r in rows} - UNPINNED)
    pinned = conn.execute("""
        SELECT DISTINCT c FROM pg_proc p, unnest(p.proconfig) c
         WHERE p.pronamespace = 'pgtrack'::regnamespace AND c LIKE 'search\\_path=%%'""").fetchall()
    assert pinned == [("search_path=pg_catalog, pg_temp",)]


CLIENT_SHADOWS = domain_shadows("int4", "int8", "float8", "text", "regtype", "jsonb") + r"""
CREATE FUNCTION trap.eqr(pg_catalog.regtype, pg_catalog.regtype) RETURNS pg_catalog.bool LANGUAGE plpgsql AS
  $f$ BEGIN PERFORM trap.hit('regtype ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $f$;
CREATE OPERATOR trap.= (LEFTARG = pg_catalog.regtype, RIGHTARG = pg_catalog.regtype, FUNCTION = trap.eqr);"""


def test_the_python_clients_fast_paths_name_everything_by_schema(dbname, trapped, paths, row_paths):
    """The statements the Python client composes itself (an unbuffered step: pgtrack._step; a
    buffered flush: _copy's check and COPY), sent by the owner with the writer's schema first on
    search_path (SHADOWS' operators on int8 and int4, domains named int8, int4 and float8): none of the
    writer's code runs, and both paths did write."""
    import pgtrack

    with psycopg.connect(dbname=dbname, autocommit=True) as owner:
        owner.execute("SELECT pgtrack.add_metric('loss'), pgtrack.add_metric('note', 'text')")
        experiment = owner.execute("SELECT pgtrack.experiment('victim')").fetchone()[0]
    client = pgtrack.Client(dbname=dbname)
    run = pgtrack.Run(client, experiment, buffer=False)
    run_id = run.id
    client.close()
    with psycopg.connect(dbname=dbname, user=trapped, autocommit=True) as writer:
        writer.execute(CLIENT_SHADOWS)
    run.client = run.writer.client = client = pgtrack.Client(dbname=dbname, options="-c search_path=trap,pg_catalog")
    run.add_metrics(step=1, loss=0.5)
    run.add_metrics(step=1, loss=0.25)  # prepared by psycopg from the fifth use on: both forms run
    for step in range(2, 8):
        run.add_metrics(step=step, loss=float(step))
    run.writer.open_buffer(1000, 3600)
    for step in range(8, 12):
        run.add_metrics(step=step, loss=float(step))
    run.flush()
    run.writer.close_buffer()
    run.add_metrics(step=12, note="a text value")  # not the typed statement: run_add_metrics, its jsonb cast
    run.heartbeat()
    client.close()
    assert row_paths == [True] * 8 + [False] and paths == [4]
    with psycopg.connect(dbname=dbname, autocommit=True) as clean:
        assert clean.execute("SELECT what FROM trap.hits").fetchall() == [], "the client ran the writer's code"
        assert clean.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (trapped,)).fetchone()[0] is False
        assert clean.execute("SELECT count(*), sum(loss) FROM pgtrack.metrics WHERE run_id = %s",
                             (run_id,)).fetchone() == (12, 0.25 + sum(range(2, 12)))
    with psycopg.connect(dbname=dbname, autocommit=True, options="-c search_path=trap,pg_catalog") as victim:
        victim.execute("SELECT 1::int8")  # the control: an unqualified type name is the writer's domain
    with psycopg.connect(dbname=dbname, autocommit=True) as clean:
        assert [r[0] for r in clean.execute("SELECT what FROM trap.hits").fetchall()] == ["int8 domain"]


def test_the_statements_of_the_python_package_name_types_functions_and_coerced_operators_by_schema(conn):
    """python/pgtrack/_statements.py, read as text: every cast names its type's schema, every call of a
    built-in names pg_catalog, and a comparison with a regclass or regtype literal (resolved through
    a coercion, so an exact-signature shadow anywhere on the search_path wins) names pg_catalog's
    operator. The shadows above prove the write paths; this keeps every statement to the rule."""
    import re

    import pgtrack._statements as statements

    texts = {name: value for name, value in vars(statements).items() if isinstance(value, str) and not name.startswith("__")}
    for name, value in vars(statements).items():
        if isinstance(value, dict):
            texts.update({f"{name}[{key}]": text for key, text in value.items() if isinstance(text, str)})
    bare_casts = {n: re.findall(r"::(?!pg_catalog\.|pgtrack\.)[a-z_]+", t) for n, t in texts.items()}
    assert {n: c for n, c in bare_casts.items() if c} == {}
    qualified = {t for text in texts.values() for t in re.findall(r"::(pg_catalog\.[a-z_0-9]+)", text)}
    unknown = [t for t in sorted(qualified) if conn.execute("SELECT to_regtype(%s)", (t,)).fetchone()[0] is None]
    assert unknown == []  # pg_catalog.bigint is no type: bigint is the grammar's name for pg_catalog.int8
    builtins = r"(?<![\w.])(clock_timestamp|make_interval|format_type|enum_range|split_part|count|sum|min|max|now|to_regclass|pg_typeof)\("
    assert {n: re.findall(builtins, t) for n, t in texts.items() if re.search(builtins, t)} == {}
    coerced = r"(?<!OPERATOR\(pg_catalog\.)=\s*'[^']*'::pg_catalog\.reg(class|type)"
    assert [n for n, t in texts.items() if re.search(coerced, t)] == []
    assert [n for n, t in texts.items() if re.search(r"FROM pg_(attribute|class|type|proc)\b", t)] == []
