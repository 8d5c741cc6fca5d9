"""Column names taken from pgtrack's own functions (parameters, PL/pgSQL variables, aliases in
generated SQL) cannot break pgtrack: each is either refused by the name rule (PT003) or added as a
metric and a run column, after which every function still works (0.1.0 broke on ord, p_run_id, v_id,
p_experiment_id, p_stale_after, and register(overwrite) returned an all-NULL row)."""
import re

import psycopg
import pytest

ALIASES = ["ord", "_ord", "o", "v", "r", "s", "m", "e", "f", "k", "x", "a", "n", "t", "d", "i", "value", "given", "what", "key",
           "rows", "metrics", "run_id", "step", "progress", "identity", "id", "_step", "c_index", "p_value", "v_measure", "oid"]


def function_names(conn):
    names = set(ALIASES)
    for args, src in conn.execute("SELECT coalesce(proargnames, '{}'), prosrc FROM pg_proc "
                                  "WHERE pronamespace = 'pgtrack'::regnamespace"):
        names.update(a for a in args if a)
        for block in re.findall(r"DECLARE(.*?)BEGIN", src, re.S | re.I):
            names.update(re.findall(r"^\s*([a-z_][a-z0-9_]*)\s", block, re.M))
    return sorted(n for n in names if re.match(r"^[a-z_][a-z0-9_]*$", n))


def try_add(conn, sql, name):
    try:
        return conn.execute(sql, (name,)).fetchone()[0]
    except psycopg.Error as exc:
        assert exc.sqlstate == "PT003", f"{name}: {exc.sqlstate} {exc}"
        return False


def test_names_of_pgtrack_variables_cannot_capture_them(conn):
    names = function_names(conn)
    assert {"p_run_id", "v_id", "p_experiment_id", "p_stale_after", "ord"} <= set(names)
    metrics = [n for n in names if try_add(conn, "SELECT pgtrack.add_metric(%s)", n)]
    columns = [n for n in names if try_add(conn, "SELECT pgtrack.add_run_column(%s, 'text')", n)]
    # metric names may be anything but the table's own and system columns; run columns keep the name rule
    assert {"ord", "p_run_id", "v_experiment", "p_metrics", "p_rows", "_ord"} <= set(metrics)
    assert "value" in columns and "p_run_id" not in columns
    assert len(metrics) > 10 and len(columns) > 10

    exp = conn.execute("SELECT pgtrack.experiment('capture', float_precision => 6)").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int'), pgtrack.declare_identifying(%s, 'seed', 'int', '0')", (exp, exp))
    run = conn.execute("SELECT pgtrack.create_run(%s, comment => 'c', tags => ARRAY['t'], args => '{}', env => '{}')", (exp,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_start(%s)", (run,))
    values = psycopg.types.json.Jsonb({n: 1.5 for n in metrics})
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0.5, %s)", (run, values))
    batch = psycopg.types.json.Jsonb([{"step": 2, **{n: 2.0 for n in metrics}}, {"step": 3, "ord": 3.0}])
    assert conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s)", (run, batch)).fetchone()[0] == 2
    repeated = psycopg.types.json.Jsonb([{"step": 4, "ord": 1.0}, {"step": 4, "ord": 4.0}])  # the merging path
    assert conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s)", (run, repeated)).fetchone()[0] == 1
    assert conn.execute("SELECT ord FROM pgtrack.metrics WHERE run_id = %s AND step = 4", (run,)).fetchone()[0] == 4.0
    conn.execute("SELECT pgtrack.heartbeat(%s)", (run,))
    conn.execute("SELECT pgtrack.run_stop(%s)", (run,))

    annotating = psycopg.types.json.Jsonb({n: f"val-{n}" for n in columns})
    for policy in ("raise", "return_existing", "overwrite", "skip"):
        got = conn.execute("SELECT run_id, status, was_inserted, was_updated, was_skipped FROM "
                           "pgtrack.register(%s, '{\"k\": 1}', %s, %s)", (exp, annotating, policy)).fetchone()
        assert policy == "skip" or got[0] is not None, f"{policy}: {got}"  # 0.1.0: overwrite gave all NULLs
    registered = conn.execute("SELECT pgtrack.find_run(%s, '{\"k\": 1}')", (exp,)).fetchone()[0]
    assert conn.execute(f"SELECT \"{columns[0]}\" FROM pgtrack.runs WHERE id = %s", (registered,)).fetchone()[0] == f"val-{columns[0]}"
    claim = conn.execute("SELECT run_id, attempt FROM pgtrack.register(%s, '{\"k\": 2}', %s, 'claim_if_stale', '1 hour')",
                         (exp, annotating)).fetchone()
    assert claim[1] == 1
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => %s, attempt => %s)", (claim[0], values, claim[1]))
    assert conn.execute("SELECT pgtrack.enqueue(%s, '[{\"k\": 3}, {\"k\": 4}]')", (exp,)).fetchone()[0] == 2
    assert conn.execute("SELECT attempt FROM pgtrack.claim_next(%s, '1 hour', 'w')", (exp,)).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM pgtrack.collisions_after_drop(%s, 'seed')", (exp,)).fetchone()[0] == 0
    conn.execute("SELECT pgtrack.drop_identifying(%s, 'seed')", (exp,))
    conn.execute("SELECT pgtrack.experiment('capture', float_precision => 12)")
    conn.execute("SELECT pgtrack.rename_metric('ord', 'ord2')")
    conn.execute("SELECT pgtrack.drop_metric('ord2', force => true)")
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 9, metrics => %s)", (run, psycopg.types.json.Jsonb({metrics[-1]: 1})))
