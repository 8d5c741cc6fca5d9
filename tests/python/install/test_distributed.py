"""pgtrack.distribute() and the distributed layout on a real Citus cluster (tools/citus.sh, started by
`make test` for its Citus group, which runs this file with PGTRACK_CITUS_DIR set), plus its refusal on a
single server. The rest of the suite runs on the distributed layout too (conftest.create_database
distributes every database there); these tests cover what only a cluster has."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import psycopg
import pytest

import pgtrack
from conftest import CITUS_DIR, citus_nodes, create_database, drop_database

citus_only = pytest.mark.skipif(not CITUS_DIR, reason="needs the Citus cluster of make test (PGTRACK_CITUS_DIR)")

TABLES = ["experiments", "experiment_relationships", "identifying_fields", "runs", "run_relationships", "metrics",
          "applied_migrations", "meta"]


@pytest.mark.skipif(bool(CITUS_DIR), reason="single-server behaviour")
def test_distribute_without_citus_is_pt005_and_changes_nothing(conn):
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgtrack.distribute()")
    assert raised.value.sqlstate == "PT005"
    assert "needs Citus" in raised.value.diag.message_primary and "CREATE EXTENSION citus" in raised.value.diag.message_hint
    assert conn.execute("SELECT to_regclass('pgtrack.experiment_locks')").fetchone()[0] is None


@pytest.fixture
def plain_db():
    """A database of the cluster with pgtrack set up but not distributed yet."""
    name = create_database(setup=False)
    with psycopg.connect(dbname=name, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgtrack")
        conn.execute("SELECT pgtrack.setup()")
    yield name
    drop_database(name)


def _fill(conn):
    """Every kind of row pgtrack keeps, through the public functions."""
    exp = conn.execute("SELECT pgtrack.experiment('held', comment => 'before distribute')").fetchone()[0]
    other = conn.execute("SELECT pgtrack.experiment('other')").fetchone()[0]
    conn.execute("SELECT pgtrack.experiment_add_relationship(%s, 'follows', %s)", (other, exp))
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'lr', 'float'), pgtrack.declare_identifying(%s, 'seed', 'int', '0')",
                 (exp, exp))
    conn.execute("SELECT pgtrack.add_metric('loss'), pgtrack.add_metric('train/acc'), pgtrack.add_run_column('host', 'text')")
    conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('lr', g / 10.0)) FROM generate_series(1, 20) g))",
                 (exp,))
    runs = [r for (r,) in conn.execute("SELECT id FROM pgtrack.runs WHERE experiment_id = %s ORDER BY id", (exp,))]
    plain = conn.execute("SELECT pgtrack.create_run(%s, tags => ARRAY['a'], args => '{\"x\": 1}')", (other,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_add_relationship(%s, 'resumes', %s)", (plain, runs[0]))
    for run in runs[:5] + [plain]:
        conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, (SELECT jsonb_agg(jsonb_build_object('step', s, 'loss', 1.0 / s, "
                     "'train/acc', s / 100.0)) FROM generate_series(1, 50) s))", (run,))
    conn.execute("SELECT pgtrack.migrate('v001', 'SELECT 1')")
    return exp, other, runs, plain


def _contents(conn):
    """Every row of every table, as text, in a stable order (what distribute must keep)."""
    return {t: conn.execute(f"SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') FROM pgtrack.{t} x").fetchone()[0]
            for t in TABLES}


@citus_only
def test_distribute_keeps_every_row_and_is_idempotent(plain_db):
    with psycopg.connect(dbname=plain_db, autocommit=True) as conn:
        _fill(conn)
        before = _contents(conn)
        message = conn.execute("SELECT pgtrack.distribute()").fetchone()[0]
        assert message.startswith("distributed")
        before["meta"] = "(distributed,citus)\n" + before["meta"]  # the one row distribute() adds
        assert _contents(conn) == before
        kinds = dict(conn.execute("SELECT table_name::text, citus_table_type FROM citus_tables WHERE table_name::text LIKE 'pgtrack.%'"))
        assert kinds == {"pgtrack.runs": "distributed", "pgtrack.metrics": "distributed", "pgtrack.experiment_locks": "distributed",
                         "pgtrack.experiments": "reference", "pgtrack.experiment_relationships": "reference",
                         "pgtrack.identifying_fields": "reference", "pgtrack.run_relationships": "reference",
                         "pgtrack.applied_migrations": "reference", "pgtrack.meta": "reference"}
        colocation = dict(conn.execute("SELECT table_name::text, colocation_id FROM citus_tables WHERE citus_table_type = 'distributed'"))
        assert len(set(colocation.values())) == 1, colocation  # runs, metrics and the lock table: one experiment, one shard
        assert conn.execute("SELECT pgtrack.distribute()").fetchone()[0] == "already distributed"
        assert _contents(conn) == before


@citus_only
def test_after_distribute_setup_and_every_schema_change_keep_working(plain_db):
    with psycopg.connect(dbname=plain_db, autocommit=True) as conn:
        exp, other, runs, plain = _fill(conn)
        conn.execute("SELECT pgtrack.distribute()")
        assert conn.execute("SELECT pgtrack.setup()").fetchone()[0] == "0.3.0"
        conn.execute("SELECT pgtrack.add_metric('val_loss'), pgtrack.add_run_column('gpu', 'integer')")
        conn.execute("SELECT pgtrack.rename_metric('train/acc', 'acc')")
        conn.execute("SELECT pgtrack.migrate('v002', 'ALTER TABLE pgtrack.runs ADD COLUMN IF NOT EXISTS note text')")
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 60, metrics => '{\"val_loss\": 0.5, \"acc\": 0.9}', experiment_id => %s)",
                     (runs[0], exp))
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 61, metrics => '{\"brand_new\": 1}', add_missing => true)", (runs[0],))
        assert conn.execute("SELECT val_loss, acc FROM pgtrack.metrics WHERE run_id = %s AND step = 60", (runs[0],)).fetchone() == (0.5, 0.9)
        reg = conn.execute("SELECT run_id, was_inserted FROM pgtrack.register(%s, '{\"lr\": 9}', '{\"host\": \"n1\", \"gpu\": 3}', "
                           "on_duplicate => 'raise')", (exp,)).fetchone()
        assert reg[1] is True and conn.execute("SELECT host, gpu FROM pgtrack.runs WHERE id = %s", (reg[0],)).fetchone() == ("n1", 3)
        conn.execute("SELECT pgtrack.drop_metric('val_loss', force => true)")
        assert "val_loss" not in {n for (n,) in conn.execute("SELECT name FROM pgtrack.metric_columns()")}
        # an experiment made after distribute() registers like the others (its lock row is made on first use)
        late = conn.execute("SELECT pgtrack.experiment('late')").fetchone()[0]
        conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (late,))
        assert conn.execute("SELECT pgtrack.enqueue(%s, '[{\"k\": 1}, {\"k\": 2}, {\"k\": 1}]')", (late,)).fetchone()[0] == 2
        # deleting an experiment takes its runs, metric rows and their relationships with it
        assert conn.execute("SELECT * FROM pgtrack.delete_experiment(%s)", (exp,)).fetchone()[0] == 21
        assert conn.execute("SELECT count(*) FROM pgtrack.run_relationships").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pgtrack.metrics WHERE experiment_id = %s", (exp,)).fetchone()[0] == 0
        with pytest.raises(psycopg.Error) as raised:
            conn.execute("SELECT pgtrack.partition_metrics(4)")
        assert raised.value.sqlstate == "PT005" and "distributed by Citus" in raised.value.diag.message_primary


@citus_only
def test_the_extension_is_the_same_version_on_every_node(dbname):
    for _, port in citus_nodes():
        with psycopg.connect(dbname=dbname, port=port) as node:
            assert node.execute("SELECT extversion FROM pg_extension WHERE extname = 'pgtrack'").fetchone()[0] == "0.3.0"


def test_buffered_flushes_copy_on_one_server_and_upsert_on_citus(client, paths):
    """The COPY path of buffered flushes is for one server; on Citus the client never starts a COPY
    (no column is offered to it) and every flush is run_add_metrics_batch."""
    run = pgtrack.Experiment(client, name="flushes").get_run()
    with run.track(max_rows=10):
        for step in range(25):
            run.add_metrics(step=step, loss=step / 2)
    assert client.value("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s", (run.id,)) == 25
    assert bool(client.copyable_metric_names()) is not bool(CITUS_DIR)
    assert paths == ([None] * 3 if CITUS_DIR else [10, 10, 5])


@citus_only
@pytest.mark.parametrize("old_version", ["0.1.0", "0.2.0"])
def test_upgrade_from_a_released_version_on_a_cluster_then_distribute(old_version):
    name = create_database(setup=False)
    try:
        with psycopg.connect(dbname=name, autocommit=True) as conn:
            conn.execute(f"CREATE EXTENSION pgtrack VERSION '{old_version}'")
            conn.execute("SELECT pgtrack.setup()")
            exp = conn.execute("SELECT pgtrack.experiment('old')").fetchone()[0]
            conn.execute("SELECT pgtrack.declare_identifying(%s, 'lr', 'float')", (exp,))
            conn.execute("SELECT pgtrack.add_metric('loss')")
            run = conn.execute("SELECT run_id FROM pgtrack.register(%s, '{\"lr\": 0.1}', on_duplicate => 'raise')", (exp,)).fetchone()[0]
            conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, '[{\"step\": 1, \"loss\": 0.5}, {\"step\": 2, \"loss\": 0.25}]')", (run,))
            conn.execute("ALTER EXTENSION pgtrack UPDATE")
            for _, port in citus_nodes():  # ALTER EXTENSION ... UPDATE reaches every node
                with psycopg.connect(dbname=name, port=port) as node:
                    assert node.execute("SELECT extversion FROM pg_extension WHERE extname = 'pgtrack'").fetchone()[0] == "0.3.0"
            assert conn.execute("SELECT experiment_id FROM pgtrack.metrics WHERE run_id = %s AND step = 2", (run,)).fetchone()[0] == exp
            conn.execute("SELECT pgtrack.distribute()")
            assert conn.execute("SELECT array_agg(loss ORDER BY step) FROM pgtrack.metrics WHERE run_id = %s", (run,)).fetchone()[0] == [0.5, 0.25]
            again = conn.execute("SELECT run_id, was_inserted FROM pgtrack.register(%s, '{\"lr\": 0.10}', on_duplicate => 'return_existing')",
                                 (exp,)).fetchone()
            assert again == (run, False)
    finally:
        drop_database(name)


def _queue_worker(dbname, exp, index, done, ready):
    """Claim, "train" with heartbeats and metric rows, complete, until the queue is empty. Worker 0 is
    SIGKILLed by the test while it holds a run."""
    with psycopg.connect(dbname=dbname, autocommit=True) as conn:
        while True:
            run, attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, '2 seconds', %s)",
                                        (exp, f"w{index}")).fetchone()
            if run is None:
                if conn.execute("SELECT count(*) FROM pgtrack.runs WHERE experiment_id = %s AND status <> 'COMPLETED'",
                                (exp,)).fetchone()[0] == 0:
                    return
                time.sleep(0.2)  # a dead worker's run becomes claimable after stale_after
                continue
            if index == 0:
                ready.set()
                while True:  # holds its run, heartbeating, until killed
                    conn.execute("SELECT pgtrack.heartbeat(%s, %s, %s)", (run, attempt, exp))
                    time.sleep(0.1)
            for step in range(3):
                conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, metrics => '{\"loss\": 1}', attempt => %s, experiment_id => %s)",
                             (run, step, attempt, exp))
            conn.execute("SELECT pgtrack.run_stop(%s, 'COMPLETED', attempt => %s, experiment_id => %s)", (run, attempt, exp))
            done.put((run, index))


@citus_only
def test_a_queue_drained_by_four_workers_one_sigkilled_runs_everything_once(dbname, conn):
    exp = conn.execute("SELECT pgtrack.experiment('queue')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    conn.execute("SELECT pgtrack.add_metric('loss')")
    conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', g)) FROM generate_series(1, 60) g))", (exp,))
    ctx = mp.get_context("fork")
    done, ready = ctx.Queue(), ctx.Event()
    workers = [ctx.Process(target=_queue_worker, args=(dbname, exp, i, done, ready)) for i in range(4)]
    for w in workers:
        w.start()
    assert ready.wait(60)
    os.kill(workers[0].pid, signal.SIGKILL)
    for w in workers:
        w.join(120)
    completed = []
    while not done.empty():
        completed.append(done.get())
    runs = [run for run, _ in completed]
    assert len(runs) == 60 and len(set(runs)) == 60, "every run completed exactly once"
    assert {i for _, i in completed} <= {1, 2, 3}
    rows = conn.execute("SELECT count(*) FILTER (WHERE status = 'COMPLETED'), max(attempt), "
                        "(SELECT count(*) FROM pgtrack.metrics WHERE experiment_id = %s) FROM pgtrack.runs WHERE experiment_id = %s",
                        (exp, exp)).fetchone()
    assert rows[0] == 60 and rows[1] == 2 and rows[2] == 180  # the killed worker's run went to another worker as attempt 2


@citus_only
def test_roles_on_a_cluster_writer_logs_and_registers_but_changes_no_schema(dbname, conn):
    from conftest import drop_roles
    import uuid
    writer, admin = f"writer_{uuid.uuid4().hex[:8]}", f"admin_{uuid.uuid4().hex[:8]}"
    conn.execute("SELECT pgtrack.grant_roles()")
    conn.execute(f'CREATE ROLE "{writer}" LOGIN IN ROLE pgtrack_writer')
    conn.execute(f'CREATE ROLE "{admin}" LOGIN IN ROLE pgtrack_admin')
    try:
        with psycopg.connect(dbname=dbname, user=admin, autocommit=True) as a:
            exp = a.execute("SELECT pgtrack.experiment('team')").fetchone()[0]  # an admin creates experiments
            a.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
            a.execute("SELECT pgtrack.add_metric('loss')")  # its own transaction: see docs/scale.md, one role per transaction
        with psycopg.connect(dbname=dbname, user=writer, autocommit=True) as w:
            assert w.execute("SELECT pgtrack.experiment('team')").fetchone()[0] == exp
            run, attempt = w.execute("SELECT run_id, attempt FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'claim_if_stale', "
                                     "stale_after => '1 hour')", (exp,)).fetchone()
            w.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"loss\": 0.5}', attempt => %s, experiment_id => %s)",
                      (run, attempt, exp))
            w.execute("SELECT pgtrack.heartbeat(%s, %s, %s)", (run, attempt, exp))
            assert w.execute("SELECT pgtrack.enqueue(%s, '[{\"k\": 2}]')", (exp,)).fetchone()[0] == 1
            assert w.execute("SELECT attempt FROM pgtrack.claim_next(%s, '1 hour')", (exp,)).fetchone()[0] == 1
            w.execute("SELECT pgtrack.run_stop(%s, attempt => %s, experiment_id => %s)", (run, attempt, exp))
            mine = w.execute("SELECT pgtrack.experiment('mine', tags => ARRAY['w'])").fetchone()[0]  # through the owner on Citus
            assert w.execute("SELECT pgtrack.experiment('mine')").fetchone()[0] == mine
            w.execute("SELECT pgtrack.experiment_set_comment(%s, 'by the writer')", (mine,))
            for sql in ("SELECT pgtrack.add_metric('acc')", "SELECT pgtrack.add_run_column('host', 'text')",
                        f"SELECT pgtrack.declare_identifying({exp}, 'seed', 'int', '0')", "SELECT pgtrack.migrate('m', 'SELECT 1')",
                        f"UPDATE pgtrack.runs SET identity = '{{\"k\": 9}}' WHERE id = {run}",
                        f"DELETE FROM pgtrack.runs WHERE experiment_id = {exp}", "SELECT pgtrack.distribute()"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    w.execute(sql)
        assert conn.execute("SELECT status::text FROM pgtrack.runs WHERE id = %s", (run,)).fetchone()[0] == "COMPLETED"
        assert conn.execute("SELECT loss FROM pgtrack.metrics WHERE run_id = %s", (run,)).fetchone()[0] == 0.5
    finally:
        drop_roles(writer, admin)


@citus_only
def test_a_run_id_stays_unique_across_experiments_on_a_cluster(dbname, conn):
    """runs is distributed by experiment, so no index keeps ids unique: a writer's raw INSERT of another
    experiment's run id is refused (no INSERT on column id), and create_run with an explicit id checks
    every experiment under a lock on the id."""
    from conftest import drop_roles
    import uuid
    writer, admin = f"writer_{uuid.uuid4().hex[:8]}", f"admin_{uuid.uuid4().hex[:8]}"
    conn.execute("SELECT pgtrack.grant_roles()")
    conn.execute(f'CREATE ROLE "{writer}" LOGIN IN ROLE pgtrack_writer')
    conn.execute(f'CREATE ROLE "{admin}" LOGIN IN ROLE pgtrack_admin')
    try:
        victim_exp = conn.execute("SELECT pgtrack.experiment('victim')").fetchone()[0]
        victim = conn.execute("SELECT pgtrack.create_run(%s)", (victim_exp,)).fetchone()[0]
        with psycopg.connect(dbname=dbname, user=writer, autocommit=True) as w:
            mine = w.execute("SELECT pgtrack.experiment('mine')").fetchone()[0]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                w.execute("INSERT INTO pgtrack.runs (id, experiment_id) VALUES (%s, %s)", (victim, mine))
            with pytest.raises(psycopg.Error) as info:
                w.execute("SELECT pgtrack.create_run(%s, run_id => %s)", (mine, victim))
            assert info.value.sqlstate == "PT003" and "belongs to experiment" in info.value.diag.message_primary
            assert w.execute("SELECT pgtrack.create_run(%s, run_id => 424242)", (mine,)).fetchone()[0] == 424242
            assert w.execute("SELECT pgtrack.create_run(%s, run_id => 424242)", (mine,)).fetchone()[0] == 424242
            w.execute("INSERT INTO pgtrack.runs (experiment_id) VALUES (%s)", (mine,))  # without an id: fine
        with psycopg.connect(dbname=dbname, user=admin, autocommit=True) as a:  # nor by an UPDATE of id
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                a.execute("UPDATE pgtrack.runs SET id = %s WHERE id = 424242", (victim,))
            a.execute("UPDATE pgtrack.runs SET comment = 'fine' WHERE id = 424242")
        assert conn.execute("SELECT count(*) FROM pgtrack.runs WHERE id = %s", (victim,)).fetchone()[0] == 1
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{}'), pgtrack.heartbeat(%s), pgtrack.run_stop(%s)",
                     (victim, victim, victim))  # the victim's calls without experiment_id still work
    finally:
        drop_roles(writer, admin)
