"""Race-freedom of the core API with real concurrent connections in separate processes."""
from parallel import run_parallel


def _experiment(conn, _index, name):
    return conn.execute("SELECT pgtrack.experiment(%s)", (name,)).fetchone()[0]


def _add_metric(conn, _index, name):
    return conn.execute("SELECT pgtrack.add_metric(%s)", (name,)).fetchone()[0]


def test_twelve_processes_creating_one_experiment_get_one_id(dbname, conn):
    for trial in range(3):
        results = run_parallel(dbname, _experiment, 12, (f"x{trial}",))
        assert all(status == "ok" for status, _ in results), results
        ids = {value for _, value in results}
        assert len(ids) == 1
        assert conn.execute("SELECT count(*) FROM pgtrack.experiments WHERE name = %s", (f"x{trial}",)).fetchone()[0] == 1


def test_six_processes_adding_one_metric_exactly_one_adds(dbname, conn):
    results = run_parallel(dbname, _add_metric, 6, ("m",))
    assert all(status == "ok" for status, _ in results), results
    assert sorted(value for _, value in results) == [False] * 5 + [True]
    assert conn.execute("SELECT count(*) FROM pgtrack.metric_columns() WHERE name = 'm'").fetchone()[0] == 1


def test_concurrent_explicit_and_generated_run_ids_never_collide(dbname, conn):
    """Explicit ids (Slurm job ids) are spaced so that only a sequence that fails to move past them
    could hand one out again; get-or-create of an id the sequence already issued is not tested here."""
    exp = _experiment(conn, 0, "ids")

    def create(c, i):
        out = []
        for k in range(40):
            explicit = 1_000_000 * (k + 1) + 1_000 * i if k % 2 else None
            run = c.execute("SELECT pgtrack.create_run(%s, %s)", (exp, explicit)).fetchone()[0]
            assert explicit is None or run == explicit
            out.append(run)
        return out

    results = run_parallel(dbname, create, 4, ())
    assert all(status == "ok" for status, _ in results), results
    ids = [i for _, values in results for i in values]
    assert len(ids) == len(set(ids)) == 160
    new_id = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    assert new_id > max(ids)
