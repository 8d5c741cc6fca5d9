"""Query plans that the registry's speed depends on, checked with auto_explain on nested statements.

Both failures seen in benchmarks came from the planner, not from the SQL's meaning:
- an identity lookup planned on the status index scans every run of the experiment when the
  experiment grew faster than autovacuum analyzed it (stale statistics);
- claim_next ordered by id alone may walk the primary key past other experiments' runs.
"""
import re

import psycopg
import pytest


def _nested_plans(conn, sql, params):
    notices = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    conn.execute("LOAD 'auto_explain'")
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


@pytest.mark.parametrize("warm_up", [0, 7], ids=["first-call", "after-plan-cache-warm-up"])
def test_claim_next_reads_the_queue_in_index_order(dbname, conn, crowded, warm_up):
    with psycopg.connect(dbname=dbname, autocommit=True) as fresh:
        for _ in range(warm_up):
            fresh.execute("SELECT pgtrack.claim_next(%s, '1 hour')", (crowded,))
        plans = _nested_plans(fresh, "SELECT pgtrack.claim_next(%s, '1 hour')", (crowded,))
    assert "runs_experiment_status_idx" in plans
    assert _max_rows_removed(plans) < 10, plans
