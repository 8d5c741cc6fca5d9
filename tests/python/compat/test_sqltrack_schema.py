"""``Client(schema=...)``, SQLTrack's search_path shorthand (issue 34): SQL written for SQLTrack
(``SELECT ... FROM runs``) reaches pgtrack's tables by their plain names, on every connection the
Client opens, with pg_catalog first and pgtrack before any other schema, and a hostile schema value
stays a name (it adds no connection option)."""
import psycopg
import pytest
from psycopg import sql

import pgtrack as sqltrack
from pgtrack.config import ConfigError


def path_of(client):
    return client.value("SELECT pg_catalog.current_setting('search_path')")


def test_sqltracks_queries_by_plain_names(dbname):
    client = sqltrack.Client(dbname=dbname, schema="pgtrack")
    assert client.schema == "pgtrack"
    exp = sqltrack.Experiment(client, name="plain")
    run = exp.get_run()
    run.add_metrics(step=1, loss=0.5)
    run.flush()
    with client.cursor() as cursor:  # as SQLTrack's docs query, unqualified
        cursor.execute("SELECT r.id, r.status::text, m.step, m.loss FROM runs r JOIN metrics m ON m.run_id = r.id "
                       "JOIN experiments e ON e.id = r.experiment_id WHERE e.name = %s", ("plain",))
        assert cursor.fetchall() == [(run.id, "PENDING", 1, 0.5)]
    assert client.value("SELECT pg_catalog.current_schemas(true)") == ["pg_catalog", "pgtrack"]
    client.close()


def test_every_connection_of_the_client_gets_it(dbname, conn):
    client = sqltrack.Client(dbname=dbname, schema="pgtrack", read_dsn=f"dbname={dbname}")
    expected = "pg_catalog,pgtrack"
    assert path_of(client) == expected
    conn.execute("SELECT pg_terminate_backend(%s, 5000)", (client.connection().info.backend_pid,))
    assert client.value("SELECT count(*) FROM runs") == 0 and path_of(client) == expected  # reconnected
    clone = client.clone(options="-c statement_timeout=30s")  # as track()'s background thread clones
    assert path_of(clone) == expected and clone.value("SHOW statement_timeout") == "30s"
    assert path_of(sqltrack.Client.from_params(client.params)) == expected  # a sweep's worker process
    assert path_of(client.for_reading()) == expected  # the replica's reader
    for c in (client, clone):
        c.close()


def test_settings_from_every_source(dbname, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [k for k in __import__("os").environ if k.startswith(("PGTRACK_", "SQLTRACK_"))]:
        monkeypatch.delenv(name)
    (tmp_path / "sqltrack.conf").write_text(f"dbname={dbname}\nschema=from_file\n")
    assert path_of(sqltrack.Client()) == 'pg_catalog,pgtrack,"from_file"'
    monkeypatch.setenv("SQLTRACK_DSN_SCHEMA", "from_sqltrack_env")
    assert path_of(sqltrack.Client()) == 'pg_catalog,pgtrack,"from_sqltrack_env"'
    monkeypatch.setenv("PGTRACK_DSN_SCHEMA", "pgtrack")
    assert path_of(sqltrack.Client()) == "pg_catalog,pgtrack"
    assert path_of(sqltrack.Client(schema="Lab")) == 'pg_catalog,pgtrack,"Lab"'  # a name as stored, case kept


def test_options_already_given_are_kept(dbname, monkeypatch):
    client = sqltrack.Client(dbname=dbname, schema="pgtrack", options="-c work_mem=7MB")
    assert (client.value("SHOW work_mem"), path_of(client)) == ("7MB", "pg_catalog,pgtrack")
    client = sqltrack.Client(dsn=f"dbname={dbname} options='-c work_mem=9MB -c search_path=public'", schema="pgtrack")
    assert (client.value("SHOW work_mem"), path_of(client)) == ("9MB", "pg_catalog,pgtrack")  # schema wins
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=11MB")
    client = sqltrack.Client(dbname=dbname, schema="pgtrack")
    assert (client.value("SHOW work_mem"), path_of(client)) == ("11MB", "pg_catalog,pgtrack")
    client = sqltrack.Client(dbname=dbname)  # no schema: the connection settings as they were
    assert (client.value("SHOW work_mem"), path_of(client)) == ("11MB", '"$user", public')


HOSTILE = ["pgtrack -c default_transaction_read_only=on", "x' options='-c default_transaction_read_only=on",
           'a" , public, "b', "back\\slash\\ -c\\ default_transaction_read_only=on", "lab;SET ROLE postgres", "Ünï code"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_schema_value_is_one_quoted_name(dbname, conn, name):
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE TABLE {}.only_here (x int)").format(sql.Identifier(name)))
    client = sqltrack.Client(dbname=dbname, schema=name)
    assert client.value("SHOW default_transaction_read_only") == "off"
    assert client.value("SELECT pg_catalog.current_schemas(false)") == ["pg_catalog", "pgtrack", name]
    assert client.value("SELECT count(*) FROM only_here") == 0  # the name reached the server exactly
    client.close()


@pytest.mark.parametrize("name", ["a\x00b", "a\nb", "tab\there", "x" * 64, "é" * 32])
def test_a_schema_that_cannot_be_a_name_is_refused_before_connecting(dbname, name):
    with pytest.raises(ConfigError):
        sqltrack.Client(dbname=dbname, schema=name)


def test_no_other_schema_takes_the_place_of_pgtracks_tables(dbname, conn):
    """public holds tables named like pgtrack's (SQLTrack's old ones, or planted): with schema=public
    they are still reachable qualified, but plain names are pgtrack's; without a schema, plain names
    are public's (the control)."""
    conn.execute("CREATE TABLE public.runs (id bigint, planted boolean DEFAULT true)")
    conn.execute("INSERT INTO public.runs (id) SELECT g FROM generate_series(1, 5) g")
    client = sqltrack.Client(dbname=dbname, schema="public")
    sqltrack.Experiment(client, name="e").get_run()
    assert client.value("SELECT pg_catalog.current_schemas(false)") == ["pg_catalog", "pgtrack", "public"]
    assert client.value("SELECT count(*) FROM runs") == 1
    assert client.value("SELECT count(*) FROM public.runs") == 5
    assert sqltrack.Client(dbname=dbname).value("SELECT count(*) FROM runs") == 5
    client.close()


def test_setup_with_sqltracks_old_tables_in_the_clients_schema(dbname, conn):
    """A database SQLTrack set up with schema=lab: its tables stay in lab, and a migration through a
    Client(schema="lab") alters pgtrack's metrics. With lab first on the path (a session's own
    search_path), migrate() still refuses: its plain names would reach lab's tables."""
    from pgtrack.commands import setup

    conn.execute("CREATE SCHEMA lab")
    conn.execute("CREATE TABLE lab.runs (id bigint PRIMARY KEY)")
    conn.execute("CREATE TABLE lab.metrics (run_id bigint, step bigint, progress float8)")
    client = sqltrack.Client(dbname=dbname, schema="lab")
    assert setup(client, [("v001.sql", "BEGIN;\nALTER TABLE metrics ADD COLUMN lab_acc FLOAT;\nEND;\n")]) == [("v001.sql", True)]
    where = "SELECT attrelid::regclass::text FROM pg_attribute WHERE attname = 'lab_acc' AND NOT attisdropped"
    assert [r[0] for r in conn.execute(where).fetchall()] == ["pgtrack.metrics"]
    assert path_of(client) == 'pg_catalog,pgtrack,"lab"'  # nothing leaked out of migrate()
    first = sqltrack.Client(dbname=dbname, options="-c search_path=lab")
    with pytest.raises(sqltrack.PgtrackError, match="table lab.metrics"):
        setup(first, [("v002.sql", "ALTER TABLE metrics ADD COLUMN other FLOAT;")])
    client.close()
    first.close()


def test_the_cli_passes_its_schema_option(dbname):
    from pgtrack.cli import client_from, parse

    client = client_from(parse(["-d", dbname, "-s", "pgtrack", "runs"]))  # SQLTrack's -s SCHEMA
    assert path_of(client) == "pg_catalog,pgtrack"
    client.close()


def test_unqualified_create_with_a_schema_is_refused_clearly(dbname):
    """pg_catalog comes first, so a plain CREATE has no schema of the user's to go to: the error says
    pg_catalog, and nothing is made anywhere (qualify new objects: CREATE TABLE lab.t ...)."""
    client = sqltrack.Client(dbname=dbname, schema="pgtrack")
    with pytest.raises(psycopg.Error, match="pg_catalog"):
        client.execute("CREATE TABLE my_table (x int)")
    assert client.value("SELECT to_regclass('my_table')") is None
    client.close()


@pytest.mark.parametrize("script", ["CREATE FUNCTION helper() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                                    "CREATE DOMAIN positive AS int CHECK (VALUE > 0)"])
def test_a_migration_cannot_create_in_pg_catalog(dbname, conn, script):
    """With pg_catalog first, a superuser's plain CREATE FUNCTION or DOMAIN would land in pg_catalog,
    where pg_dump never looks: migrate() rolls the script back (PT005); qualified, it runs."""
    from pgtrack.commands import setup

    client = sqltrack.Client(dbname=dbname, schema="pgtrack")
    assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    with pytest.raises(sqltrack.PgtrackError, match="pg_catalog") as info:
        setup(client, [("v001.sql", "ALTER TABLE metrics ADD COLUMN kept_out FLOAT;\n" + script)])
    assert info.value.sqlstate == "PT005"
    found = "SELECT count(*) FROM pg_proc WHERE proname = 'helper' UNION ALL SELECT count(*) FROM pg_type WHERE typname = 'positive'"
    assert [r[0] for r in conn.execute(found).fetchall()] == [0, 0]
    assert conn.execute("SELECT count(*) FROM pgtrack.applied_migrations WHERE name = 'v001.sql'").fetchone()[0] == 0
    conn.execute("CREATE SCHEMA lab")
    qualified = script.replace("helper()", "lab.helper()").replace("DOMAIN positive", "DOMAIN lab.positive")
    assert setup(client, [("v001.sql", qualified)]) == [("v001.sql", True)]
    assert [r[0] for r in conn.execute(found).fetchall()] == [1 if "helper" in script else 0, 1 if "positive" in script else 0]
    client.close()
