"""The role model: log in as a member of pgtrack_reader, pgtrack_writer, pgtrack_admin, and as a role
with nothing (PUBLIC), and prove what each can and cannot do."""
import datetime as dt

import psycopg
import pytest

import pgtrack
from test_shared_server import roles  # noqa: F401  (fixture)


def can(dbname, role, sql, params=None):
    """True if the statement runs; False for a privilege error or a refused write; other errors raise."""
    with psycopg.connect(dbname=dbname, user=role, autocommit=True) as c:
        try:
            c.execute(sql, params)
            return True
        except psycopg.errors.InsufficientPrivilege:
            return False


@pytest.fixture
def team(dbname, conn, roles):
    assert conn.execute("SELECT pgtrack.grant_roles()").fetchone()[0] == ["pgtrack_reader", "pgtrack_writer", "pgtrack_admin"]
    for kind in ("reader", "writer", "admin"):
        conn.execute(f'GRANT pgtrack_{kind} TO "{roles[kind]}"')
    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('team')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run = conn.execute("SELECT run_id FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,)).fetchone()[0]
    return roles, exp, run


def test_public_can_do_nothing(dbname, team):
    roles, exp, run = team
    nobody = roles["nobody"]
    for sql in ("SELECT * FROM pgtrack.runs", "SELECT pgtrack.experiment('x')", "SELECT pgtrack.metric_columns()",
                f"SELECT pgtrack.find_run({exp}, '{{\"k\": 1}}')", "SELECT pgtrack.add_metric('x')", "SELECT pgtrack.setup()"):
        assert not can(dbname, nobody, sql), sql
    with psycopg.connect(dbname=dbname, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = 'pgtrack'::regnamespace "
                         "AND has_function_privilege('public', oid, 'EXECUTE')").fetchone()[0] == 0


def test_reader_reads_only(dbname, team):
    roles, exp, run = team
    reader = roles["reader"]
    assert can(dbname, reader, "SELECT * FROM pgtrack.runs, pgtrack.metrics, pgtrack.experiments")
    assert can(dbname, reader, f"SELECT pgtrack.find_run({exp}, '{{\"k\": 1}}')")
    for sql in ("SELECT pgtrack.experiment('new')", f"SELECT pgtrack.create_run({exp})",
                f"SELECT pgtrack.run_add_metrics({run}, 1, metrics => '{{\"loss\": 1}}')",
                f"SELECT pgtrack.register({exp}, '{{\"k\": 2}}', on_duplicate => 'raise')",
                "SELECT pgtrack.add_metric('acc')", "UPDATE pgtrack.runs SET comment = 'x'"):
        assert not can(dbname, reader, sql), sql


def test_writer_logs_registers_and_claims_but_changes_no_schema(dbname, team):
    roles, exp, run = team
    writer = roles["writer"]
    client = pgtrack.Client(dbname=dbname, user=writer)
    experiment = pgtrack.Experiment(client, name="by-writer", tags=["w"])
    r = experiment.get_run(args={"a": 1}, env={"E": "1"})
    with r.track():
        r.add_metrics(step=1, loss=0.5)
        r.add_tags("x"); r.remove_tags("x"); r.add_args({"b": 2}); r.set_comment("c")
    team_exp = pgtrack.Experiment(client, experiment_id=exp)
    claimed = team_exp.register({"k": 3}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(hours=1)).run
    with claimed.track(heartbeat=0.05):
        claimed.add_metrics(step=1, loss=0.1)
    assert team_exp.enqueue([{"k": 4}]) == 1 and team_exp.claim_next(dt.timedelta(hours=1)).attempt == 1
    assert team_exp.find(k=1).id == run
    pgtrack.Run(client, exp, run_id=4242)
    other = experiment.get_run()
    r.add_relationship("after", other); r.remove_relationship("after", other)
    client.close()
    for sql in ("SELECT pgtrack.add_metric('acc')", "SELECT pgtrack.add_run_column('host', 'text')",
                f"SELECT pgtrack.declare_identifying({exp}, 'seed', 'int', '0')",
                f"UPDATE pgtrack.runs SET identity = '{{\"k\": 9}}' WHERE id = {run}",
                f"UPDATE pgtrack.runs SET experiment_id = 1 WHERE id = {run}",
                f"DELETE FROM pgtrack.runs WHERE id = {run}", "DELETE FROM pgtrack.experiments",
                "TRUNCATE pgtrack.metrics", "SELECT pgtrack.migrate('m', 'SELECT 1')",
                "CREATE TRIGGER t BEFORE INSERT ON pgtrack.metrics FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
                f"SELECT pgtrack.teardown(current_database())"):
        assert not can(dbname, writer, sql), sql


def test_admin_changes_schema_and_migrates_but_is_not_the_owner(dbname, conn, team):
    roles, exp, run = team
    admin = roles["admin"]
    assert can(dbname, admin, "SELECT pgtrack.add_metric('acc')")
    assert can(dbname, admin, "SELECT pgtrack.add_run_column('host', 'text', indexed => true)")
    assert can(dbname, admin, f"SELECT pgtrack.declare_identifying({exp}, 'seed', 'int', '0')")
    assert can(dbname, admin, "SELECT pgtrack.migrate('add-lr', 'SELECT pgtrack.add_metric(''lr'')')")
    assert can(dbname, admin, "SELECT pgtrack.drop_metric('acc')")
    assert can(dbname, admin, f"DELETE FROM pgtrack.runs WHERE id = {run}")
    assert not can(dbname, admin, "SELECT pgtrack.setup()")
    assert not can(dbname, admin, "SELECT pgtrack.teardown(current_database())")
    assert not can(dbname, admin, "ALTER TABLE pgtrack.metrics ADD COLUMN raw float8")
    # the writer may write the annotating field the admin added
    assert can(dbname, roles["writer"], f"SELECT pgtrack.register({exp}, '{{\"k\": 5}}', '{{\"host\": \"n1\"}}', 'raise')")
    assert conn.execute("SELECT count(*) FROM pgtrack.applied_migrations WHERE name = 'add-lr'").fetchone()[0] == 1
