"""register() finding an existing key writes nothing: no registry lock, no transaction id (so at
PostgreSQL's default durability no commit to wait for), and it works in a read-only transaction. A key
sent in canonical form is found before normalising; the strict types still hold (an int field refuses
1.0 even though jsonb holds 1.0 = 1)."""
import psycopg
import pytest


@pytest.fixture
def experiment(conn):
    exp = conn.execute("SELECT pgtrack.experiment('hits')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int'), pgtrack.declare_identifying(%s, 'lr', 'float')", (exp, exp))
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'opt', 'string', '\"sgd\"')", (exp,))
    return exp


def register(conn, exp, key, policy="return_existing"):
    return conn.execute("SELECT run_id, was_inserted, was_skipped FROM pgtrack.register(%s, %s::jsonb, on_duplicate => %s)",
                        (exp, key, policy)).fetchone()


@pytest.mark.parametrize("key", [
    '{"k": 1, "lr": 0.3, "opt": "sgd"}',            # canonical: found before normalising
    '{"k": 1, "lr": 0.30000000000000004}',          # normalised first (rounded, default filled), then found
    '{"opt": "sgd", "lr": 3e-1, "k": 1}',
])
def test_a_hit_writes_nothing(conn, experiment, key):
    run = register(conn, experiment, '{"k": 1, "lr": 0.3}')[0]
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        assert register(conn, experiment, key) == (run, False, False)
        assert register(conn, experiment, key, "skip") == (None, False, True)
        with pytest.raises(psycopg.Error, match="duplicate run"):
            with conn.transaction():
                register(conn, experiment, key, "raise")
        assert conn.execute("SELECT pg_current_xact_id_if_assigned()").fetchone()[0] is None


def test_a_new_key_still_writes(conn, experiment):
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            register(conn, experiment, '{"k": 2, "lr": 0.1}')


def test_an_int_field_refuses_a_float_that_equals_a_stored_int(conn, experiment):
    register(conn, experiment, '{"k": 1, "lr": 0.3}')
    with pytest.raises(psycopg.Error, match="expects a JSON integer"):
        register(conn, experiment, '{"k": 1.0, "lr": 0.3, "opt": "sgd"}')


def test_a_hit_does_not_wait_for_a_change_of_the_fields(dbname, conn, experiment):
    """declare_identifying holds the registry lock exclusively until it commits; a hit reads the
    committed identities and returns without waiting, a new key waits for the change."""
    run = register(conn, experiment, '{"k": 1, "lr": 0.3}')[0]
    with psycopg.connect(dbname=dbname) as admin:
        admin.execute("SELECT pgtrack.declare_identifying(%s, 'depth', 'int', '3')", (experiment,))  # not committed
        conn.execute("SET lock_timeout = '2s'")
        assert register(conn, experiment, '{"k": 1, "lr": 0.3, "opt": "sgd"}')[0] == run
        with pytest.raises(psycopg.errors.LockNotAvailable):
            register(conn, experiment, '{"k": 5, "lr": 0.3}')
        admin.commit()
    conn.execute("RESET lock_timeout")
    assert register(conn, experiment, '{"k": 1, "lr": 0.3, "opt": "sgd", "depth": 3}')[0] == run
