"""Every SQL statement the Python package sends, in one place. Each is one call of a pgtrack SQL
function (the logic lives there), except the few reads of pgtrack's tables for display.

Every type, function and catalog is named with its schema, and a comparison that PostgreSQL would
resolve through a coercion (oid with regclass, regtype with regtype) names pg_catalog's operator: the
session's search_path may hold someone else's schema, whose exact-signature shadow of an operator,
function or type name would otherwise run with the caller's rights (a default search_path with a
writable public is enough for an operator that has no exact built-in match).
tests/python/security/test_search_path.py plants such shadows and checks this file."""

# Experiments
EXPERIMENT = "SELECT pgtrack.experiment(%s, %s, %s::pg_catalog.text[], float_precision => %s)"
EXPERIMENT_BY_ID = "SELECT id, name FROM pgtrack.experiments WHERE id = %s"
EXPERIMENT_BY_NAME = "SELECT id, name FROM pgtrack.experiments WHERE name = %s"
EXPERIMENT_NAMES = "SELECT name FROM pgtrack.experiments ORDER BY name"
EXPERIMENT_SET_NAME = "SELECT pgtrack.experiment_set_name(%s, %s)"
EXPERIMENT_SET_COMMENT = "SELECT pgtrack.experiment_set_comment(%s, %s)"
EXPERIMENT_TAGS = {
    "set": "SELECT pgtrack.experiment_set_tags(%s, VARIADIC %s::pg_catalog.text[])",
    "add": "SELECT pgtrack.experiment_add_tags(%s, VARIADIC %s::pg_catalog.text[])",
    "remove": "SELECT pgtrack.experiment_remove_tags(%s, VARIADIC %s::pg_catalog.text[])",
}
EXPERIMENT_RELATIONSHIP = {
    "add": "SELECT pgtrack.experiment_add_relationship(%s, %s, %s)",
    "remove": "SELECT pgtrack.experiment_remove_relationship(%s, %s, %s)",
}

# Runs
CREATE_RUN = ("SELECT pgtrack.create_run(%s, %s, coalesce(%s::pgtrack.runstatus, 'PENDING'), %s, %s::pg_catalog.text[],"
              " %s::pg_catalog.jsonb, %s::pg_catalog.jsonb)")
# A new run, sent again unchanged after an ambiguous commit (once.sql): (request, experiment, status, ...).
CREATE_RUN_ONCE = ("SELECT pgtrack.create_run_once(%s, %s, coalesce(%s::pgtrack.runstatus, 'PENDING'), %s, %s::pg_catalog.text[],"
                   " %s::pg_catalog.jsonb, %s::pg_catalog.jsonb)")
RUN_BY_ID = "SELECT experiment_id FROM pgtrack.runs WHERE id = %s"
RUN_ROW = "SELECT r.* FROM pgtrack.runs r WHERE r.id = %s"
RUN_START = "SELECT pgtrack.run_start(%s, coalesce(%s, pg_catalog.clock_timestamp()), experiment_id => %s)"
RUN_STOP = "SELECT pgtrack.run_stop(%s, %s, %s, %s, experiment_id => %s)"
RUN_SET_STATUS = "SELECT pgtrack.run_set_status(%s, %s)"
RUN_SET_COMMENT = "SELECT pgtrack.run_set_comment(%s, %s)"
RUN_SET_TIME = {
    "created": "SELECT pgtrack.run_set_created(%s, coalesce(%s, pg_catalog.clock_timestamp()))",
    "started": "SELECT pgtrack.run_set_started(%s, coalesce(%s, pg_catalog.clock_timestamp()))",
    "updated": "SELECT pgtrack.run_set_updated(%s, coalesce(%s, pg_catalog.clock_timestamp()))",
}
RUN_TAGS = {
    "set": "SELECT pgtrack.run_set_tags(%s, VARIADIC %s::pg_catalog.text[])",
    "add": "SELECT pgtrack.run_add_tags(%s, VARIADIC %s::pg_catalog.text[])",
    "remove": "SELECT pgtrack.run_remove_tags(%s, VARIADIC %s::pg_catalog.text[])",
}
RUN_JSON = {  # (field, mode) -> statement; set/add take a JSON object, remove a list of keys
    ("args", "set"): "SELECT pgtrack.run_set_args(%s, %s::pg_catalog.jsonb)",
    ("args", "add"): "SELECT pgtrack.run_add_args(%s, %s::pg_catalog.jsonb)",
    ("args", "remove"): "SELECT pgtrack.run_remove_args(%s, VARIADIC %s::pg_catalog.text[])",
    ("env", "set"): "SELECT pgtrack.run_set_env(%s, %s::pg_catalog.jsonb)",
    ("env", "add"): "SELECT pgtrack.run_add_env(%s, %s::pg_catalog.jsonb)",
    ("env", "remove"): "SELECT pgtrack.run_remove_env(%s, VARIADIC %s::pg_catalog.text[])",
}
RUN_RELATIONSHIP = {
    "add": "SELECT pgtrack.run_add_relationship(%s, %s, %s)",
    "remove": "SELECT pgtrack.run_remove_relationship(%s, %s, %s)",
}
HEARTBEAT = "SELECT pgtrack.heartbeat(%s, %s, experiment_id => %s)"

# Metrics
ADD_METRICS = ("SELECT pgtrack.run_add_metrics(%s, %s, %s, %s::pg_catalog.jsonb, %s, attempt => %s, add_missing => %s, "
               "experiment_id => %s)")
ADD_METRICS_BATCH = ("SELECT pgtrack.run_add_metrics_batch(%s, %s::pg_catalog.jsonb, %s, attempt => %s, add_missing => %s, "
                     "experiment_id => %s)")
# name, and whether buffered flushes may COPY it (double precision, on one server: on Citus the upsert)
METRIC_NAMES = ("SELECT name, type OPERATOR(pg_catalog.=) 'pg_catalog.float8'::pg_catalog.regtype AND NOT pgtrack._is_distributed(), "
                "type OPERATOR(pg_catalog.=) 'pg_catalog.float8'::pg_catalog.regtype FROM pgtrack.metric_columns()")
# the server's statement for one unbuffered step of these double precision metrics (python/pgtrack/_columns.py)
METRICS_STATEMENT = "SELECT pgtrack._metrics_statement(%s::pg_catalog.text[])"
COUNT_REJECTED = "SELECT pgtrack.run_count_rejected(%s, %s, attempt => %s, experiment_id => %s)"
ADD_METRIC = "SELECT pgtrack.add_metric(%s, %s::pg_catalog.regtype, %s)"
ADD_RUN_COLUMN = "SELECT pgtrack.add_run_column(%s, %s::pg_catalog.regtype, %s, %s)"
RUN_COLUMN_TYPES = ("SELECT attname::pg_catalog.text, pg_catalog.format_type(atttypid, NULL) FROM pg_catalog.pg_attribute"
                    " WHERE attrelid OPERATOR(pg_catalog.=) 'pgtrack.runs'::pg_catalog.regclass"
                    " AND attname OPERATOR(pg_catalog.=) ANY (%s::pg_catalog.text[]) AND attnum > 0 AND NOT attisdropped")

# Registry
REGISTRATION = "run_id, run_uuid, status::pg_catalog.text, attempt, was_inserted, was_updated, was_skipped"
# register() and claim_next() as the Python API sends them: the first parameter is the call's request (a uuid), so the same
# statement sent again after a lost reply returns what the first one took (once.sql).
REGISTER_ONCE = f"SELECT {REGISTRATION} FROM pgtrack.register_once(%s, %s, %s::pg_catalog.jsonb, %s::pg_catalog.jsonb, %s, %s)"
CLAIM_NEXT_ONCE = f"SELECT {REGISTRATION} FROM pgtrack.claim_next_once(%s, %s, %s, %s, %s)"
FIND_RUN = "SELECT pgtrack.find_run(%s, %s::pg_catalog.jsonb)"
ENQUEUE = "SELECT pgtrack.enqueue(%s, %s::pg_catalog.jsonb)"
DECLARE_IDENTIFYING = "SELECT pgtrack.declare_identifying(%s, %s, %s, %s::pg_catalog.jsonb, %s)"
DROP_IDENTIFYING = "SELECT pgtrack.drop_identifying(%s, %s, %s)"
COLLISIONS_AFTER_DROP = "SELECT identity, run_ids FROM pgtrack.collisions_after_drop(%s, %s)"
IDENTIFYING_FIELDS = ("SELECT name, type, default_value, doc FROM pgtrack.identifying_fields"
                      " WHERE experiment_id = %s ORDER BY name")
# The identifying float fields, whose whole values JSON reads back as ints (pgtrack._identity).
FLOAT_FIELDS = "SELECT name FROM pgtrack.identifying_fields WHERE experiment_id = %s AND type = 'float'"

# Every run's shown status (LOST for a live run whose worker went silent, pgtrack.is_lost) as a derived
# table with the columns of pgtrack.runs_status(): run_id, experiment_id, lost, shown_status, last_seen,
# silent_for. Join it as "JOIN <RUN_STATUS> s ON s.run_id = r.id AND s.experiment_id = r.experiment_id":
# written inline, and joined on the distribution column, so that on Citus the whole query runs on the
# shards (a function that queries the tables cannot be joined with them there).
# The rules are the server's (pgtrack.last_seen, run_is_lost, shown_status); only the join is written here.
_SEEN = "pgtrack.last_seen(x.time_updated, x.time_started, x.time_created)"
_LOST = "pgtrack.run_is_lost(x.status, x.time_updated, x.time_started, x.time_created, x.heartbeat_every, xe.lost_after)"
SET_HEARTBEAT = "SELECT pgtrack.run_set_heartbeat(%s, pg_catalog.make_interval(secs => %s), attempt => %s, experiment_id => %s)"
SET_LOST_AFTER = "SELECT pgtrack.experiment_set_lost_after(%s, %s::pg_catalog.interval)"
RUN_STATUS = (
    f"(SELECT x.id AS run_id, x.experiment_id, {_LOST} AS lost, pgtrack.shown_status(x.status, {_LOST}) AS shown_status, "
    f"{_SEEN} AS last_seen, pg_catalog.clock_timestamp() - {_SEEN} AS silent_for "
    "FROM pgtrack.runs x JOIN pgtrack.experiments xe ON xe.id = x.experiment_id)")
RUN_STATUS_JOIN = "JOIN " + RUN_STATUS + " s ON s.run_id = r.id AND s.experiment_id = r.experiment_id"

# Command line (pgtrack.cli): its reads for display, and the few statements only it sends
# The experiment named or numbered ref, a name winning over a number: (ref, ref, ref) -> (id, name)
EXPERIMENT_BY_REF = "SELECT id, name FROM pgtrack.experiments WHERE id::pg_catalog.text = %s OR name = %s ORDER BY name = %s DESC LIMIT 1"
# Every experiment's name, in no order: the candidates of a "did you mean"
EXPERIMENT_NAMES_UNORDERED = "SELECT name FROM pgtrack.experiments"
# The experiment's name by id
EXPERIMENT_NAME = "SELECT name FROM pgtrack.experiments WHERE id = %s"
# The experiment's lost time as text (interval output), after experiment_set_lost_after
EXPERIMENT_LOST_AFTER = "SELECT lost_after::pg_catalog.text FROM pgtrack.experiments WHERE id = %s"
# What deleting the experiment would take: (name, runs, metric rows), asked before DELETE_EXPERIMENT
EXPERIMENT_SIZE = (
    "SELECT e.name, pg_catalog.count(r.id), coalesce(pg_catalog.sum((SELECT pg_catalog.count(*) FROM pgtrack.metrics m "
    "WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id)), 0) "
    "FROM pgtrack.experiments e LEFT JOIN pgtrack.runs r ON r.experiment_id = e.id WHERE e.id = %s GROUP BY e.name")
# The experiment with its runs and metric rows: (runs, metric_rows) deleted, or PT002 (not found)
DELETE_EXPERIMENT = "SELECT runs, metric_rows FROM pgtrack.delete_experiment(%s)"
# Every experiment with its runs counted by status (LOST ones apart, RUN_STATUS_JOIN), oldest first
EXPERIMENT_LISTING = ("""
        SELECT e.id, e.name, pg_catalog.count(r.id) AS runs,
               pg_catalog.count(r.id) FILTER (WHERE r.status = 'RUNNING' AND NOT s.lost) AS running,
               pg_catalog.count(r.id) FILTER (WHERE s.lost) AS lost,
               pg_catalog.count(r.id) FILTER (WHERE r.status = 'COMPLETED') AS completed,
               pg_catalog.count(r.id) FILTER (WHERE r.status IN ('FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'TIMEOUT', 'BOOT_FAIL', """
    """'DEADLINE')) AS failed,
               pg_catalog.count(r.id) FILTER (WHERE r.status IN ('CANCELLED', 'PREEMPTED', 'REVOKED')) AS cancelled,
               e.time_created AS created, e.comment
          FROM pgtrack.experiments e LEFT JOIN pgtrack.runs r ON r.experiment_id = e.id
          LEFT """ + RUN_STATUS_JOIN + """
         GROUP BY e.id ORDER BY e.id""")
# The labels of pgtrack.runstatus (the Slurm job states), to check a status asked for
RUN_STATUSES = "SELECT pg_catalog.enum_range(NULL::pgtrack.runstatus)::pg_catalog.text[]"

# The run listing's lost flag and shown status: the run's own (RUN_STATUS_JOIN), or judged with
# --lost-after for this listing only.
_OVERRIDDEN_LOST = "pgtrack.is_lost(r.status, s.last_seen, %(l)s::pg_catalog.interval)"
_OVERRIDDEN_SHOWN = f"pgtrack.shown_status(r.status, {_OVERRIDDEN_LOST})"


def _run_listing(lost: str, shown: str) -> str:
    """Runs newest first, of experiment %(e)s (NULL: all) and shown status %(s)s (NULL: any), at most %(n)s;
    a lost run's duration stops at its last sign of life instead of growing."""
    return f"""
        SELECT r.id, e.name AS experiment, {shown} AS status, coalesce(r.identity, r.args) AS config,
               r.attempt, r.worker, r.time_started AS started,
               coalesce(r.time_finished, CASE WHEN {lost} THEN s.last_seen ELSE pg_catalog.clock_timestamp() END)
                 - r.time_started AS duration,
               s.silent_for AS updated_ago,
               pg_catalog.split_part(r.error, E'\\n', 1) AS error
          FROM pgtrack.runs r JOIN pgtrack.experiments e ON e.id = r.experiment_id
         {RUN_STATUS_JOIN}
         WHERE (%(e)s::pg_catalog.int8 IS NULL OR r.experiment_id = %(e)s) AND (%(s)s::pg_catalog.text IS NULL OR {shown} = %(s)s)
         ORDER BY r.id DESC LIMIT %(n)s"""


# The run listing with each run's own lost time; ..._LOST_AFTER with %(l)s (an interval) for every run
RUN_LISTING = _run_listing("s.lost", "s.shown_status")
RUN_LISTING_LOST_AFTER = _run_listing(_OVERRIDDEN_LOST, _OVERRIDDEN_SHOWN)
# One run with its experiment's name, every column of pgtrack.runs
RUN_WITH_EXPERIMENT = ("SELECT r.*, e.name AS experiment FROM pgtrack.runs r JOIN pgtrack.experiments e ON e.id = r.experiment_id "
                       "WHERE r.id = %s")
# Whether the run is lost, and how long it has been silent: (experiment_id, run_id) -> (lost, silent_for)
RUN_LOST = "SELECT lost, silent_for FROM pgtrack.runs_status(%s) WHERE run_id = %s"
# The last non-null value of each metric the run logged: (metric, value as jsonb, step, progress) rows
FINAL_METRICS = "SELECT * FROM pgtrack.final_metrics(%s)"
# The run's relationships to other runs, as (kind, to_id)
RUN_RELATIONSHIPS_FROM = "SELECT kind, to_id FROM pgtrack.run_relationships WHERE from_id = %s ORDER BY 1, 2"
# The metric columns for display: name, type (its SQL name), comment
METRIC_LISTING = "SELECT name, type::pg_catalog.text AS type, comment FROM pgtrack.metric_columns()"
# pgtrack setup: the extension when neither it nor a plain install is there, then the data tables (returns the layout)
CREATE_EXTENSION = "CREATE EXTENSION pgtrack"
SETUP = "SELECT pgtrack.setup()"
# pgtrack status: the server, database and user it is connected as, pgtrack's layout, and counts
SERVER_VERSION = "SHOW server_version"
CURRENT_DATABASE = "SELECT pg_catalog.current_database()"
CURRENT_USER = "SELECT current_user"
LAYOUT_VERSION = "SELECT value FROM pgtrack.meta WHERE key = 'layout_version'"
EXPERIMENT_COUNT = "SELECT pg_catalog.count(*) FROM pgtrack.experiments"
METRIC_COLUMN_COUNT = "SELECT pg_catalog.count(*) FROM pgtrack.metric_columns()"
RUN_COUNTS = "SELECT shown_status, pg_catalog.count(*) FROM pgtrack.runs_status() GROUP BY 1 ORDER BY 1"
