"""Caller text is data, never code: every name and value of the hostile corpus (hostile.py), and names
Hypothesis builds from its pieces, either works as an ordinary column or value through every entry
point, or is refused with PT003, and none of it reaches generated code except as a quoted identifier
or literal. Also the schema-change seams: typed views whose names no writer can block, migrate()
refusing a shadow on the search_path, and identifiers with % in statements sent with parameters."""
import re
import time
import uuid

import psycopg
import pytest
from psycopg import sql
from hypothesis import HealthCheck, example, given, settings

import hostile
from conftest import CITUS_DIR, admin_connect, drop_roles
from test_shared_server import connect_as, is_superuser, roles  # noqa: F401  (the fixture)

GENERATED = ("_metrics_write", "_metrics_write_batch", "_metrics_copy_begin")


def _code_outside_quotes(source: str):
    """(code, comments) of a PL/pgSQL or SQL body: the text outside string literals, quoted identifiers
    and dollar quotes, and the text of its comments. Raises AssertionError on an unterminated quote,
    which is what a name ending a quote early leaves behind."""
    code, comments, i, n = [], [], 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("--", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            comments.append(source[i:end])
            i = end
        elif source.startswith("/*", i):
            depth, j = 1, i + 2
            while depth and j < n:  # PostgreSQL's block comments nest
                if source.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif source.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            assert depth == 0, f"unterminated comment at {i}"
            comments.append(source[i:j])
            i = j
        elif c in "'\"":
            j = i + 1
            escaped = c == "'" and i > 0 and source[i - 1] in "eE" and not source[i - 2:i - 1].isalnum()
            while True:
                assert j < n, f"unterminated {c} at {i}"
                if escaped and source[j] == "\\":
                    j += 2
                elif source[j] == c and source[j + 1:j + 2] == c:
                    j += 2
                elif source[j] == c:
                    break
                else:
                    j += 1
            code.append(" ")
            i = j + 1
        elif c == "$" and (m := re.match(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$", source[i:])) and not source[i - 1:i].isalnum():
            end = source.find(m.group(0), i + len(m.group(0)))
            assert end >= 0, f"unterminated {m.group(0)} at {i}"
            code.append(" ")
            i = end + len(m.group(0))
        else:
            code.append(c)
            i += 1
    return "".join(code), "\n".join(comments)


def _writer_sources(conn):
    """{generated function: (code, comments)} as the database has them now."""
    rows = conn.execute("SELECT p.proname, p.prosrc FROM pg_proc p WHERE p.pronamespace = 'pgtrack'::regnamespace "
                        "AND p.proname = ANY (%s)", (list(GENERATED),)).fetchall()
    assert len(rows) == len(GENERATED)
    return {name: _code_outside_quotes(source) for name, source in rows}


def assert_generated_code_quotes(conn, names, baseline):
    """Every generated writer's source names each of ``names`` only inside quotes. ``baseline``: the
    writers' sources with no metric column (_writer_sources of a fresh database): text they hold by
    themselves (a ';', a '/*' of their own comments) says nothing about a name."""
    for fn, (code, comments) in _writer_sources(conn).items():
        base = "\n".join(baseline[fn])
        for name in names:
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in base:
                continue  # a plain word is also a keyword or variable of the code itself
            # Operator characters alone ('>>') are also part of the code's own qualified operators, which
            # a metric column adds (OPERATOR(pg_catalog.->>) reads its JSON value): those say nothing.
            own = re.sub(r"OPERATOR\(pg_catalog\.[^\s()]+\)", " ", code) if not re.search(r"\w", name) else code
            assert name not in own, f"{name!r} outside quotes in {fn}"
            assert name not in comments, f"{name!r} in a comment of {fn}"
        assert code.count("(") == code.count(")"), fn


@pytest.fixture
def baseline(conn):
    """The generated writers of the fresh database, before any metric column."""
    assert conn.execute("SELECT count(*) FROM pgtrack.metric_columns()").fetchone()[0] == 0
    return _writer_sources(conn)


def _add(conn, name):
    """add_metric(name): True if it made the column, False if PT003 refused it (nothing changed)."""
    before = conn.execute("SELECT count(*) FROM pgtrack.metric_columns()").fetchone()[0]
    try:
        conn.execute("SELECT pgtrack.add_metric(%s)", (name,))
    except psycopg.DataError as error:  # a NUL or a lone surrogate cannot even be sent
        assert not hostile.storable(name), error
        return False
    except psycopg.Error as error:
        assert error.sqlstate == "PT003", (name, error.sqlstate, str(error))
        assert conn.execute("SELECT count(*) FROM pgtrack.metric_columns()").fetchone()[0] == before
        return False
    except UnicodeEncodeError:
        assert not hostile.storable(name)
        return False
    assert name in [r[0] for r in conn.execute("SELECT name FROM pgtrack.metric_columns()")]
    return True


@pytest.fixture
def short_admin(conn):
    """A login role with a short name (the exploit must fit in 63 bytes), granted pgtrack_admin."""
    name = f"ad{uuid.uuid4().hex[:4]}"
    with admin_connect() as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN")
    conn.execute("SELECT pgtrack.grant_roles()")
    conn.execute(f"GRANT pgtrack_admin TO {name}")
    yield name
    drop_roles(name)


def test_an_admin_cannot_become_superuser_through_a_metric_name(dbname, conn, baseline, short_admin):
    admin = short_admin
    exploit = f"*/BEGIN END$body$;ALTER ROLE {admin} SUPERUSER;SELECT $body$"  # the review's, verbatim
    with connect_as(dbname, admin) as evil:
        evil.execute("SELECT pgtrack.add_metric(%s)", (exploit,))
        evil.execute("SELECT pgtrack.rename_metric(%s, %s)", (exploit, exploit + "2"))
    # every later regeneration: the owner's setup(), and a metric logged for the first time
    conn.execute("SELECT pgtrack.setup()")
    exp = conn.execute("SELECT pgtrack.experiment('e')").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, jsonb_build_object('fresh', 1, %s::text, 2), add_missing => true)",
                 (run, exploit + "2"))
    assert not is_superuser(admin)
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s", (run,)).fetchone()[0] == 1
    assert_generated_code_quotes(conn, [exploit + "2"], baseline)


@pytest.mark.parametrize("name", ["lr$body$x", "loss /* smoothed", "acc */ top1", "cpu%", "a%s", "%(x)s"])
def test_names_that_ended_the_generated_body_are_ordinary_columns(conn, name):
    assert _add(conn, name)
    exp = conn.execute("SELECT pgtrack.experiment('e')").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, jsonb_build_object(%s::text, 0.5))", (run, name))
    conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, jsonb_build_array(jsonb_build_object('step', 2, %s::text, 0.25)))",
                 (run, name))
    query = sql.SQL("SELECT array_agg({} ORDER BY step) FROM pgtrack.metrics WHERE run_id = {}").format(
        sql.Identifier(name), sql.Literal(run))  # no parameters: the identifier's % is not a placeholder
    assert conn.execute(query).fetchone()[0] == [0.5, 0.25]


def test_the_whole_corpus_is_a_column_or_pt003_and_never_code(dbname, conn, baseline):
    added = [name for name in hostile.metric_names() if _add(conn, name)]
    assert {"lr$body$x", "acc */ top1", "cpu%", "<!--<script>"} <= set(added)
    assert_generated_code_quotes(conn, added, baseline)
    exp = conn.execute("SELECT pgtrack.experiment('corpus')").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    payload = {name: float(i) for i, name in enumerate(added)}
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, %s::jsonb)", (run, psycopg.types.json.Jsonb(payload)))
    stored = dict(conn.execute("SELECT metric, value FROM pgtrack.final_metrics(%s)", (run,)).fetchall())
    assert stored == payload
    # the typed view of the experiment takes every one of them
    conn.execute("SELECT pgtrack.experiment_view('corpus')")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile.names_strategy())
@example(name=">>")  # also part of the qualified operator ->> that a metric column brings into the writers
def test_generated_names_are_columns_or_pt003(conn, baseline, name):
    if _add(conn, name):
        assert_generated_code_quotes(conn, [name], baseline)
        exp = conn.execute("SELECT pgtrack.experiment('h')").fetchone()[0]
        run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, jsonb_build_object(%s::text, 3))", (run, name))
        assert conn.execute("SELECT value FROM pgtrack.final_metrics(%s) WHERE metric = %s", (run, name)).fetchone()[0] == 3
        conn.execute("SELECT pgtrack.drop_metric(%s, force => true)", (name,))


@pytest.mark.parametrize("name", ["cpu%", "a%s", "%(x)s", "100%_done"])
def test_a_percent_in_a_metric_name_breaks_no_reader(dbname, name):
    import pgtrack
    from pgtrack._runtable import run_table

    client = pgtrack.Client(dbname=dbname)
    exp = pgtrack.Experiment(client, name="pct")
    run = exp.get_run()
    run.add_metrics(step=1, **{name: 0.5, "loss": 1.0})  # unbuffered: the typed statement names the column
    with run.track(heartbeat=None):
        run.add_metrics(step=2, **{name: 0.25})
    table = run_table(client, exp.id)
    assert table.rows[0][f"final {name}"] == 0.25 and table.rows[0][f"best {name}"] == 0.25
    pytest.importorskip("pandas")
    import pgtrack.pandas

    history = pgtrack.pandas.history([run.id], [name], client=client)
    assert list(history["value"]) == [0.5, 0.25]
    client.close()


def test_an_identifying_field_named_like_a_metric_column_blocks_nothing(conn):
    exp = conn.execute("SELECT pgtrack.experiment('sweep')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'final_lr', 'float')", (exp,))
    conn.execute("SELECT pgtrack.experiment_view('sweep')")
    conn.execute("SELECT pgtrack.add_metric('lr')")  # 42701 before: final_lr twice in the view
    columns = [r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'pgtrack_views.sweep'::regclass "
                                          "AND attnum > 0 ORDER BY attnum")]
    assert "final_lr" in columns and "best_lr" in columns and "final_lr_2" in columns


@pytest.mark.skipif(bool(CITUS_DIR), reason="roles on a cluster: test_distributed.py")
def test_a_writer_cannot_take_the_view_name_the_admin_needs(dbname, conn, roles):  # noqa: F811
    conn.execute("SELECT pgtrack.grant_roles()")
    conn.execute(f'GRANT pgtrack_writer TO "{roles["writer"]}"')
    other = conn.execute("SELECT pgtrack.experiment('other')").fetchone()[0]
    long_name = conn.execute("SELECT pgtrack.experiment(repeat('x', 70))").fetchone()[0]  # its view: experiment_<id>
    conn.execute("SELECT pgtrack.experiment_view('other')")
    with connect_as(dbname, roles["writer"]) as writer:
        writer.execute("UPDATE pgtrack.experiments SET name = %s WHERE id = %s", (f"experiment_{long_name}", other))
    conn.execute("SELECT pgtrack.experiment_view(%s)", (str(long_name),))  # 42P07 before
    conn.execute("SELECT pgtrack.add_metric('loss')")
    conn.execute("SELECT pgtrack.experiment_set_name(%s, 'renamed')", (other,))
    views = dict(conn.execute("SELECT obj_description(c.oid), c.relname FROM pg_class c "
                              "WHERE c.relnamespace = 'pgtrack_views'::regnamespace AND c.relkind = 'v'").fetchall())
    assert set(views) == {f"pgtrack experiment {long_name}", f"pgtrack experiment {other}"}


@pytest.mark.skipif(bool(CITUS_DIR), reason="roles on a cluster: test_distributed.py")
def test_a_readers_view_on_a_typed_view_blocks_no_schema_change(dbname, conn, roles):  # noqa: F811
    conn.execute("SELECT pgtrack.grant_roles()")
    conn.execute(f'GRANT pgtrack_reader TO "{roles["reader"]}"')
    conn.execute("SELECT pgtrack.add_metric('loss')")
    conn.execute("SELECT pgtrack.experiment('sweep')")
    conn.execute("SELECT pgtrack.experiment_view('sweep')")
    with connect_as(dbname, roles["reader"]) as reader:
        reader.execute("CREATE TEMP VIEW mine AS SELECT * FROM pgtrack_views.sweep")
        conn.execute("SELECT pgtrack.add_metric('acc')")  # 2BP01 before
        conn.execute("SELECT pgtrack.rename_metric('acc', 'top1')")
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT pgtrack.drop_metric('loss', force => true)")  # the reader's view reads it
        assert info.value.sqlstate == "PT005" and "mine" in info.value.diag.message_primary
        assert "temporary" in info.value.diag.message_primary
    for _ in range(100):  # the reader's backend drops its temporary objects as it exits, not before close() returns
        if conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'mine' AND relpersistence = 't'").fetchone()[0] == 0:
            break
        time.sleep(0.1)
    conn.execute("SELECT pgtrack.drop_metric('loss', force => true)")  # the session is gone
    conn.execute("SELECT pgtrack.add_metric('later')")
    assert conn.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'pgtrack_views.sweep'::regclass "
                        "AND attname = 'final_later'").fetchone()[0] == 1


@pytest.mark.skipif(bool(CITUS_DIR), reason="roles on a cluster: test_distributed.py")
@pytest.mark.parametrize("plant, script", [
    ("CREATE TABLE public.metrics (a int)", "ALTER TABLE metrics ADD COLUMN zz float8"),
    ("CREATE FUNCTION public.add_metric(text) RETURNS boolean LANGUAGE sql AS $$SELECT true$$",
     "SELECT add_metric('zz')"),
])
def test_migrate_refuses_a_writers_shadow_on_the_search_path(dbname, conn, roles, plant, script):  # noqa: F811
    conn.execute("SELECT pgtrack.grant_roles()")
    writer = roles["writer"]
    conn.execute(f'GRANT pgtrack_writer TO "{writer}"')
    conn.execute(f'GRANT CREATE ON SCHEMA public TO "{writer}"')
    with connect_as(dbname, writer) as evil:
        evil.execute(plant.replace("SELECT true", f'ALTER ROLE "{writer}" SUPERUSER; SELECT true')
                     if "FUNCTION" in plant else plant)
        with pytest.raises(psycopg.Error):  # the writer cannot make itself superuser by itself
            evil.execute(f'ALTER ROLE "{writer}" SUPERUSER')
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.migrate('m1', %s)", (script,))
    assert info.value.sqlstate == "PT005" and "public" in info.value.diag.message_primary
    assert not is_superuser(writer)
    assert conn.execute("SELECT count(*) FROM pgtrack.applied_migrations").fetchone()[0] == 0
    # with the writer's CREATE revoked and the shadow gone, the same script reaches pgtrack's objects
    conn.execute(f'REVOKE CREATE ON SCHEMA public FROM "{writer}"')
    with pytest.raises(psycopg.Error) as info:  # a shadow in a schema nobody else can write: still refused
        conn.execute("SELECT pgtrack.migrate('m1', %s)", (script,))
    assert info.value.sqlstate == "PT005" and "public." in info.value.diag.message_primary
    conn.execute("DROP TABLE IF EXISTS public.metrics; DROP FUNCTION IF EXISTS public.add_metric(text)")
    assert conn.execute("SELECT pgtrack.migrate('m1', %s)", (script,)).fetchone()[0] is True
    assert conn.execute("SELECT count(*) FROM pgtrack.metric_columns() WHERE name = 'zz'").fetchone()[0] == 1


def test_a_batch_over_the_limits_is_refused_and_changes_nothing(conn):
    conn.execute("SELECT pgtrack.add_metric('loss')")
    exp = conn.execute("SELECT pgtrack.experiment('big')").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    for rows in ("(SELECT jsonb_agg(jsonb_build_object('step', i, 'loss', 1)) FROM generate_series(1, 10001) i)",
                 "jsonb_build_array(jsonb_build_object('step', 1, 'loss', 1, 'pad', repeat('x', 5000000)))"):
        with pytest.raises(psycopg.Error) as info:
            conn.execute(f"SELECT pgtrack.run_add_metrics_batch(%s, {rows})", (run,))
        assert info.value.sqlstate == "PT003" and "at most 10000 rows and 4 MiB" in info.value.diag.message_primary
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics").fetchone()[0] == 0
    conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, (SELECT jsonb_agg(jsonb_build_object('step', i, 'loss', 1)) "
                 "FROM generate_series(1, 10000) i))", (run,))
    assert conn.execute("SELECT count(*) FROM pgtrack.metrics").fetchone()[0] == 10000


def test_the_client_splits_a_large_flush(client):
    import pgtrack
    from pgtrack._jsonvalues import json_batches

    client.execute("SELECT pgtrack.add_metric('note', 'text')")  # a text column: the batch path, not COPY
    run = pgtrack.Experiment(client, name="big").get_run()
    with run.track(heartbeat=None, max_rows=25_000, max_seconds=3600):
        for step in range(25_000):
            run.add_metrics(step=step, loss=float(step), note="x" * 100)
    assert client.value("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s AND note IS NOT NULL", (run.id,)) == 25_000
    parts = list(json_batches([{"step": i, "note": "x" * 100} for i in range(25_000)]))
    assert len(parts) >= 3 and all(len(p) <= 2 * 1024 * 1024 for p in parts)


@pytest.mark.parametrize("name", ["c_index", "p_value", "v_measure", "_step", "oid", "p_run_id", "v_experiment", "_ord"])
def test_library_metric_names_are_ordinary_columns(client, name):
    """scikit-survival's c_index, scipy's p_value, sklearn's v_measure, a logger's _step: logged as they
    are, buffered and unbuffered, through every writer (names like pgtrack's own variables included)."""
    import pgtrack

    run = pgtrack.Experiment(client, name="libs").get_run()
    run.add_metrics(step=1, **{name: 0.7})
    with run.track(heartbeat=None):
        run.add_metrics(step=2, **{name: 0.8})
        run.add_metrics(step=2, **{name: 0.9})  # the merging path
    query = sql.SQL("SELECT array_agg({} ORDER BY step) FROM pgtrack.metrics WHERE run_id = {}").format(
        sql.Identifier(name), sql.Literal(run.id))
    assert client.value(query) == [0.7, 0.9]


@pytest.mark.parametrize("name, why", [("run_id", "own columns"), ("xmin", "system column")])
def test_a_name_that_cannot_be_a_column_is_refused_once_with_a_hint_that_works(client, name, why):
    import pgtrack
    from pgtrack.errors import SchemaValidationError

    run = pgtrack.Experiment(client, name="reserved").get_run()
    with pytest.raises(SchemaValidationError) as info:
        run.add_metrics(step=1, **{name: 1.0})
    assert why in info.value.message and f"'{name}_'" in str(info.value)
    run.add_metrics(step=1, **{f"{name}_": 1.0})  # the hint's name works
    assert client.value("SELECT count(*) FROM pgtrack.metric_columns() WHERE name = %s", (f"{name}_",)) == 1



@pytest.mark.skipif(bool(CITUS_DIR), reason="roles on a cluster: test_distributed.py")
def test_migrate_runs_only_on_a_path_nobody_else_can_write(dbname, conn, roles):  # noqa: F811
    """The red team's variants: an exact-type operator and a function that win overload resolution
    over pg_catalog's, planted in a schema another role may create in, before the script or while it
    runs (a slow first statement): migrate() refuses such a path before running anything."""
    conn.execute("SELECT pgtrack.grant_roles(), pgtrack.add_metric('loss')")
    writer = roles["writer"]
    conn.execute(f'GRANT pgtrack_writer TO "{writer}"')
    conn.execute("CREATE SCHEMA shared")
    conn.execute(f'GRANT USAGE, CREATE ON SCHEMA shared TO "{writer}"')
    with connect_as(dbname, writer) as evil:
        evil.execute(f"""CREATE FUNCTION shared.pwn(float8, numeric) RETURNS boolean LANGUAGE plpgsql AS
                         $$BEGIN EXECUTE 'ALTER ROLE "{writer}" SUPERUSER'; RETURN true; END$$""")
        evil.execute("CREATE OPERATOR shared.= (LEFTARG = float8, RIGHTARG = numeric, FUNCTION = shared.pwn)")
    conn.execute("SET search_path = shared, public")
    for script in ("DELETE FROM metrics WHERE progress = 0.5", "SELECT pg_sleep(0.1); SELECT add_metric('x')"):
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT pgtrack.migrate('m', %s)", (script,))
        assert info.value.sqlstate == "PT005" and "shared" in info.value.diag.message_primary
        assert writer in info.value.diag.message_primary
    assert not is_superuser(writer)
    conn.execute("SET search_path = public")  # a path nobody else can write: the migration runs
    assert conn.execute("SELECT pgtrack.migrate('m', 'DELETE FROM metrics WHERE progress = 0.5')").fetchone()[0] is True


def test_no_call_takes_an_unbounded_input(conn, client):
    """The red team's list: every input a call works on is bounded (PT003, nothing written), and the
    Python client splits what it may split."""
    import pgtrack

    exp = conn.execute("SELECT pgtrack.experiment('bounded')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    big = "(SELECT jsonb_agg(jsonb_build_object('k', i)) FROM generate_series(1, 10001) i)"
    huge = "(SELECT jsonb_object_agg('a' || i, repeat('x', 100)) FROM generate_series(1, 50000) i)"
    for statement in (f"SELECT pgtrack.enqueue({exp}, {big})",
                      f"SELECT pgtrack.create_run({exp}, args => {huge})",
                      f"SELECT pgtrack.register({exp}, '{{\"k\": 1}}', jsonb_build_object('env', {huge}), 'raise')",
                      f"SELECT pgtrack.experiment_add_tags({exp}, VARIADIC (SELECT array_agg('t' || i) FROM generate_series(1, 10001) i))"):
        with pytest.raises(psycopg.Error) as info:
            conn.execute(statement)
        assert info.value.sqlstate == "PT003" and "at most" in info.value.diag.message_primary, statement
    assert conn.execute("SELECT count(*) FROM pgtrack.runs").fetchone()[0] == 0
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    with pytest.raises(psycopg.Error) as info:  # 5,000 unknown names: the message lists 20
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, (SELECT jsonb_object_agg('u' || i, 1) FROM generate_series(1, 5000) i))",
                     (run,))
    assert "and 4980 more" in info.value.diag.message_primary and len(info.value.diag.message_primary) < 2000
    experiment = pgtrack.Experiment(client, name="bounded")
    assert experiment.enqueue({"k": i} for i in range(25_000)) == 25_000


def test_an_integration_maps_a_name_no_column_can_have(client):
    """What the Lightning/HF/Keras callbacks share (RunHolder.log): a name no column can have is stored
    as name_ with one warning per name, and a name like step never collides with log's own step."""
    import pgtrack
    from pgtrack.integrations._holder import RunHolder

    holder = RunHolder(pgtrack.Experiment(client, name="mapped"), client=client, heartbeat=None)
    with pytest.warns(RuntimeWarning) as seen:
        holder.log(1, {"step": 3, "xmin": 1.0, "c_index": 0.7, "run_id": 9})
        holder.log(2, {"step": 4, "xmin": 2.0})
    assert sorted(str(w.message).split("'")[1] for w in seen if "is stored as" in str(w.message)) == ["run_id", "step", "xmin"]
    holder.close()
    rows = client.execute('SELECT step, step_, xmin_, c_index, run_id_ FROM pgtrack.metrics WHERE run_id = %s ORDER BY step',
                          (holder.run.id,))
    assert rows == [(1, 3.0, 1.0, 0.7, 9.0), (2, 4.0, 2.0, None, None)]
