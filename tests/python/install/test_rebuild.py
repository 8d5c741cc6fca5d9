"""pgtrack.metrics over years: compact_metrics() past PostgreSQL's 1,600-attribute limit (dropped
columns count), add_metric compacting by itself near it, the live-column limit, and hash partitions
(partition_metrics, setup(metrics_partitions => n)) under every metric function, dump and restore."""
import subprocess
import time

import psycopg
import pytest

from conftest import create_database, drop_database


def attributes(conn):
    return conn.execute("""SELECT max(attnum), count(*) FILTER (WHERE attisdropped) FROM pg_attribute
                            WHERE attrelid = 'pgtrack.metrics'::regclass AND attnum > 0""").fetchone()


def fill(conn, runs=3):
    conn.execute("SELECT pgtrack.add_metric('keep')")
    exp = conn.execute("SELECT pgtrack.experiment('long-lived')").fetchone()[0]
    ids = [conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0] for _ in range(runs)]
    for run in ids:
        conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, '[{\"step\": 1, \"keep\": 0.5}, {\"step\": 2, \"keep\": 0.25}]')", (run,))
    return exp, ids


def snapshot(conn):
    return conn.execute("SELECT run_id, step, progress, keep FROM pgtrack.metrics ORDER BY 1, 2, 3").fetchall()


def test_1700_add_drop_cycles_then_add_metric_works_and_nothing_is_lost(conn, dbname):
    conn.execute("SELECT pgtrack.grant_roles()")
    exp, runs = fill(conn)
    conn.execute("CREATE INDEX metrics_keep_idx ON pgtrack.metrics (keep)")
    conn.execute("COMMENT ON TABLE pgtrack.metrics IS 'our metrics'")
    conn.execute("GRANT SELECT (keep) ON pgtrack.metrics TO PUBLIC")
    before = snapshot(conn)
    acl_before = conn.execute("SELECT relacl::text FROM pg_class WHERE oid = 'pgtrack.metrics'::regclass").fetchone()[0]
    for i in range(1700):
        conn.execute("SELECT pgtrack.add_metric(%s)", (f"m{i}",))
        conn.execute("SELECT pgtrack.drop_metric(%s)", (f"m{i}",))
    last, dropped = attributes(conn)
    assert last <= 800 and dropped < 800  # add_metric compacted by itself (small table, from 800 attributes on)
    assert conn.execute("SELECT pgtrack.add_metric('after')").fetchone()[0] is True
    assert snapshot(conn) == before  # no value lost
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 3, metrics => '{\"keep\": 0.125, \"after\": 1}')", (runs[0],))
    assert conn.execute("SELECT keep, after FROM pgtrack.metrics WHERE run_id = %s AND step = 3", (runs[0],)).fetchone() == (0.125, 1)
    # Everything around the rows came back under its old name.
    assert conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'pgtrack.metrics'::regclass "
                        "AND contype IN ('p', 'f') ORDER BY 1").fetchall() \
        == [("metrics_pkey",), ("metrics_run_id_fkey",)]
    assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'metrics_keep_idx'").fetchone()[0] == 1
    assert conn.execute("SELECT obj_description('pgtrack.metrics'::regclass, 'pg_class')").fetchone()[0] == "our metrics"
    acl = conn.execute("SELECT relacl::text FROM pg_class WHERE oid = 'pgtrack.metrics'::regclass").fetchone()[0]
    assert acl == acl_before and "pgtrack_reader=r/" in acl
    assert conn.execute("SELECT has_column_privilege('public', 'pgtrack.metrics', 'keep', 'SELECT')").fetchone()[0]
    conn.execute("DELETE FROM pgtrack.runs WHERE id = %s", (runs[1],))
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s", (runs[1],)).fetchone()[0] == 0  # FK cascade


def drop_many(conn, count):
    """Leave `count` dropped attributes quickly (plain DDL as the owner, not 2 x count calls)."""
    columns = [f"x{i}" for i in range(count)]
    conn.execute("ALTER TABLE pgtrack.metrics " + ", ".join(f"ADD COLUMN {c} float8" for c in columns))
    conn.execute("ALTER TABLE pgtrack.metrics " + ", ".join(f"DROP COLUMN {c}" for c in columns))


def test_compact_metrics_removes_dropped_attributes_and_is_a_no_op_without_them(conn):
    fill(conn)
    before = snapshot(conn)
    assert conn.execute("SELECT pgtrack.compact_metrics()").fetchone()[0] == 0
    drop_many(conn, 500)
    assert conn.execute("SELECT pgtrack.compact_metrics()").fetchone()[0] == 500
    assert attributes(conn) == (5, 0)  # run_id, step, progress, experiment_id, keep
    assert snapshot(conn) == before


def test_near_the_limit_a_large_table_is_not_compacted_inside_add_metric(conn):
    fill(conn)
    drop_many(conn, 1590)
    conn.execute("SET pgtrack.auto_compact_max_bytes = 0")  # stands in for a table of many gigabytes
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgtrack.add_metric('one_more')")
    assert raised.value.sqlstate == "PT005" and "compact_metrics()" in raised.value.diag.message_hint
    assert attributes(conn)[1] == 1590  # nothing changed
    conn.execute("SELECT pgtrack.compact_metrics()")
    assert conn.execute("SELECT pgtrack.add_metric('one_more')").fetchone()[0] is True


def test_the_live_column_limit_is_a_clear_error(conn):
    conn.execute("ALTER TABLE pgtrack.metrics " + ", ".join(f"ADD COLUMN y{i} float8" for i in range(1596)))
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgtrack.add_metric('too_many')")
    assert raised.value.sqlstate == "PT005" and "1596 metric columns" in raised.value.diag.message_primary


def test_a_dependent_view_stops_the_rebuild_and_nothing_changes(conn):
    fill(conn)
    drop_many(conn, 10)
    conn.execute("CREATE VIEW public.keep_view AS SELECT run_id, keep FROM pgtrack.metrics")
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgtrack.compact_metrics()")
    assert raised.value.sqlstate == "PT005" and "keep_view" in raised.value.diag.message_primary
    assert attributes(conn)[1] == 10


def test_partitioned_metrics_keep_every_metric_function(conn, dbname, tmp_path):
    exp, runs = fill(conn)
    before = snapshot(conn)
    assert conn.execute("SELECT pgtrack.partition_metrics(4)").fetchone()[0] == 4
    assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'pgtrack.metrics'::regclass").fetchone()[0] == "p"
    assert conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'pgtrack.metrics'::regclass").fetchone()[0] == 4
    assert snapshot(conn) == before
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"keep\": 9}')", (runs[0],))  # upsert
    conn.execute("SELECT pgtrack.add_metric('acc')")
    conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, '[{\"step\": 5, \"acc\": 0.9}]')", (runs[2],))
    conn.execute("SELECT pgtrack.rename_metric('acc', 'accuracy')")
    conn.execute("SELECT pgtrack.drop_metric('accuracy', force => true)")
    assert conn.execute("SELECT pgtrack.compact_metrics()").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'pgtrack.metrics'::regclass").fetchone()[0] == 4
    assert conn.execute("SELECT count(*) FROM pgtrack.best_runs(%s, 'keep')", (exp,)).fetchone()[0] == 3
    after = snapshot(conn)
    # pg_dump / pg_restore of the partitioned layout keeps every row.
    dump = tmp_path / "p.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), dbname], check=True)
    target = create_database(setup=False)
    try:
        subprocess.run(["pg_restore", "-d", target, str(dump)], check=True)
        with psycopg.connect(dbname=target, autocommit=True) as restored:
            assert snapshot(restored) == after
            restored.execute("SELECT pgtrack.run_add_metrics(%s, 7, metrics => '{\"keep\": 1}')", (runs[0],))
    finally:
        drop_database(target)
    assert conn.execute("SELECT pgtrack.partition_metrics(0)").fetchone()[0] == 0
    assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'pgtrack.metrics'::regclass").fetchone()[0] == "r"
    assert snapshot(conn) == after
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgtrack.partition_metrics(-1)")
    assert raised.value.sqlstate == "PT003"


def test_setup_can_start_partitioned():
    db = create_database(setup=False)
    try:
        with psycopg.connect(dbname=db, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pgtrack")
            conn.execute("SELECT pgtrack.setup(metrics_partitions => 8)")
            assert conn.execute("SELECT pgtrack._metrics_partitions()").fetchone()[0] == 8
            conn.execute("SELECT pgtrack.setup()")  # NULL: left as it is
            assert conn.execute("SELECT pgtrack._metrics_partitions()").fetchone()[0] == 8
    finally:
        drop_database(db)


def test_deleting_a_big_experiment_does_not_block_other_runs_logging(conn, dbname):
    """The cascade takes row locks on the deleted experiment's rows only: while it is uncommitted,
    another run's logging proceeds at once (lock_timeout would fail it otherwise)."""
    exp, runs = fill(conn)
    conn.execute("INSERT INTO pgtrack.metrics (run_id, experiment_id, step, keep) SELECT %s, %s, g, g FROM generate_series(10, 20000) g",
                 (runs[0], exp))
    other = conn.execute("SELECT pgtrack.experiment('other')").fetchone()[0]
    live = conn.execute("SELECT pgtrack.create_run(%s)", (other,)).fetchone()[0]
    with psycopg.connect(dbname=dbname) as deleter, psycopg.connect(dbname=dbname, autocommit=True) as logger:
        deleter.execute("DELETE FROM pgtrack.experiments WHERE id = %s", (exp,))  # open transaction, locks held
        logger.execute("SET lock_timeout = '1s'")
        logger.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"keep\": 1}')", (live,))
        deleter.commit()
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics WHERE run_id = ANY(%s)", (runs,)).fetchone()[0] == 0



def test_partitioning_takes_the_writers_lock_order(conn, dbname):
    """A writer touches its run (runs) and then inserts (metrics); partition_metrics must take its locks
    in that order. Interleaved for certain: the writer has touched its run when the rebuild starts,
    then writes its row. Locking metrics first made both wait for each other (40P01)."""
    import threading

    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('busy')").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    outcome = {}

    def partition():
        try:
            with psycopg.connect(dbname=dbname, autocommit=True) as admin:
                outcome["rebuild"] = admin.execute("SELECT pgtrack.partition_metrics(4)").fetchone()[0]
        except psycopg.Error as error:
            outcome["rebuild"] = error.sqlstate

    with psycopg.connect(dbname=dbname) as writer:  # one transaction, as a buffered flush's
        writer.execute("UPDATE pgtrack.runs SET time_updated = clock_timestamp() WHERE id = %s", (run,))
        rebuild = threading.Thread(target=partition)
        rebuild.start()
        time.sleep(1.0)  # the rebuild is waiting now (for runs, or holding metrics and waiting later)
        try:
            writer.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, '{\"loss\": 1}')", (run,))
            writer.commit()
            outcome["writer"] = "ok"
        except psycopg.Error as error:
            outcome["writer"] = error.sqlstate
        rebuild.join(timeout=60)
    assert outcome == {"writer": "ok", "rebuild": 4}
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics").fetchone()[0] == 1
