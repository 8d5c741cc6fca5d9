"""Where pgtrack and the peers differ, on purpose or not yet, and the peers' examples that fail anyway:
each entry is a test, a name, a block or a step that fails on pgtrack, with the reason.

The harness checks them both ways (wallow's tests as ``xfail(strict=True)``): an entry that starts
passing fails the run, and so does a failure not listed, so this list only ever says what is true.
The reasons name docs/python.md's "Switching from wallow" / "Switching from SQLTrack" where pgtrack
documents the difference.
"""

# test_ergonomics.py's DSL tests: group "DSL" with test_dsl.py; the rest of the file is group "portable".
DSL_ERGONOMICS = {
    "test_F_with_schema_validates_eagerly", "test_F_with_schema_known_name_succeeds", "test_F_without_schema_defers_validation",
    "test_schema_f_attribute_access", "test_schema_f_unknown_name_raises_attribute_error", "test_schema_f_dir_lists_fields",
    "test_F_eager_propagates_through_json_path", "test_schema_f_runs_in_real_query", "test_dsl_normalises_identifying_float_eq",
    "test_dsl_normalises_identifying_float_in",
}

_SQLITE = ("SQLite PRAGMAs read through store.session() and SQLAlchemy's text(): pgtrack has no SQLite file and no "
           "SQLAlchemy session (journal_mode= and busy_timeout_ms= are accepted and have no effect)")
_ORM = ("schema.Run, wallow's generated SQLAlchemy model (its table, constraints, server defaults): pgtrack has no ORM "
        "model; a schema's runs are rows of pgtrack.runs, identifying values in their identity")
_BACKDATE = "makes a run look stale by writing updated_at through schema.Run and store.session() (SQLAlchemy)"
_STATUS_WORD = ("annotating status is the run's runstatus enum: the free text {!r} is refused (wallow stored any string; "
                "docs/python.md, Switching from wallow: annotating status strings)")
_STATUS_NULL = "a run always has a status: a new run is PENDING, never NULL (docs/python.md: status NULL)"
_NO_FIELDDECL = ("pgtrack has no FieldDecl: a Schema is not iterable and has no field(name); schema.identifying and "
                 "schema.annotating are dicts of the file's tables")
_KEYS = "SchemaValidationError has no .missing_keys / .extra_keys (its message names the field)"
_DDL = "wallow.schema._server_default_literal renders SQLAlchemy DDL defaults for Alembic: pgtrack has neither"

WALLOW_TESTS = {
    # test_paths.py
    "test_paths.py::test_substitute_layout_unknown_placeholder_raises":
        "pgtrack.paths.substitute_layout raises ValueError for a placeholder with no value (wallow: SchemaValidationError)",
    "test_paths.py::test_substitute_layout_empty_substitution_raises":
        "pgtrack.paths.substitute_layout raises ValueError for a value that sanitises to nothing (wallow: SchemaValidationError)",
    # test_store.py
    "test_store.py::test_register_omitted_annotating_defaults_to_null": _STATUS_NULL,
    "test_store.py::test_on_duplicate_return_existing": _STATUS_WORD.format("different"),
    "test_store.py::test_invalid_on_duplicate_raises":
        "a bad on_duplicate is SchemaValidationError, PT003 (wallow: ValueError; docs/python.md, Switching from wallow)",
    "test_store.py::test_register_missing_identifying_key": _KEYS,
    "test_store.py::test_register_extra_identifying_key": _KEYS,
    "test_store.py::test_register_unjsonable_rejected":
        "a set in a json field is stored as a list (pgtrack's JSON encoding); wallow refused it as not JSON-serialisable",
    "test_store.py::test_wal_journal_mode_on_file_db": _SQLITE,
    "test_store.py::test_journal_mode_param_override": _SQLITE,
    "test_store.py::test_journal_mode_env_override": _SQLITE,
    "test_store.py::test_busy_timeout_default_and_override": _SQLITE,
    "test_store.py::test_journal_mode_falls_back_when_wal_unavailable": _SQLITE + "; it calls Store._apply_journal_mode",
    "test_store.py::test_foreign_keys_pragma_on": _SQLITE,
    "test_store.py::test_migrate_no_alembic_ini_raises_clear_error":
        "no store.migrate(): no Alembic; a Store applies its schema when it opens, pgtrack setup upgrades pgtrack itself",
    "test_store.py::test_register_inserts_uuid":
        "uuids are PostgreSQL uuids, 36 characters (wallow: 12 hex digits; docs/python.md, Switching from wallow)",
    "test_store.py::test_artefacts_dir_requires_root":
        "artefacts_dir without an artefacts_root raises ValueError (wallow: WallowError)",
    # test_schema.py
    "test_schema.py::test_parse_each_type": _NO_FIELDDECL,
    "test_schema.py::test_identifying_defaults": _NO_FIELDDECL,
    "test_schema.py::test_annotating_defaults": _NO_FIELDDECL,
    "test_schema.py::test_default_int_to_float_coerces": _NO_FIELDDECL,
    "test_schema.py::test_schema_field_lookup_unknown_raises": _NO_FIELDDECL,
    "test_schema.py::test_fielddecl_is_frozen": _NO_FIELDDECL,
    "test_schema.py::test_run_columns_match_schema": _ORM,
    "test_schema.py::test_unique_constraint_uses_sorted_identifying": _ORM,
    "test_schema.py::test_indexes_on_identifying_and_indexed_annotating": _ORM,
    "test_schema.py::test_two_loads_isolated_metadata": _ORM,
    "test_schema.py::test_server_default_rendered_on_identifying_with_default": _ORM,
    "test_schema.py::test_no_server_default_on_annotating_with_default": _ORM,
    "test_schema.py::test_server_default_for_bool_identifying": _ORM,
    "test_schema.py::test_uuid_column_present_on_run": _ORM,
    "test_schema.py::test_uuid_default_generates_12_char_hex": _ORM,
    "test_schema.py::test_server_default_literal": _DDL,
    "test_schema.py::test_server_default_literal_float_preserves_precision": _DDL,
    # test_ergonomics.py, portable
    "test_ergonomics.py::test_register_missing_field_without_default_still_errors": _KEYS,
    "test_ergonomics.py::test_claim_if_stale_skips_fresh_row": _STATUS_WORD.format("claimed_by_other"),
    "test_ergonomics.py::test_claim_if_stale_claims_stale_row": _BACKDATE,
    "test_ergonomics.py::test_claim_if_stale_requires_stale_after":
        "claim_if_stale without stale_after is SchemaValidationError (wallow: ValueError; docs/python.md, Registry)",
    "test_ergonomics.py::test_heartbeat_bumps_updated_at": _BACKDATE,
    "test_ergonomics.py::test_heartbeat_raises_for_missing_row":
        "heartbeat of a run that does not exist raises NotFoundError (wallow: SchemaValidationError)",
    "test_ergonomics.py::test_heartbeat_then_claim_keeps_row_fresh": _BACKDATE,
    # test_ergonomics.py, DSL
    "test_ergonomics.py::test_F_without_schema_defers_validation":
        "compiles the expression against schema.Run (SQLAlchemy); pgtrack's F is checked when the query runs "
        "(store.where(F('typo') == 4).count() raises SchemaValidationError, as wallow's deferred check does)",
    # test_dsl.py
    "test_dsl.py::test_is_null_and_not_null": _STATUS_NULL,
    "test_dsl.py::test_eq_none_means_is_null": _STATUS_NULL,
    "test_dsl.py::test_iter_uses_yield_per":
        "spies on SQLAlchemy's ScalarResult.yield_per (streaming 100 at a time): pgtrack's Query has no SQLAlchemy and "
        "reads the matching runs in one statement",
}

# Public names of the peers' packages that pgtrack does not have (module.name, or module.Class.member).
_SETUP = "sqltrack 0.1.4's commands.setup module: pgtrack's has setup(client, scripts), not its constants"
_CONSTANT = "a constant of SQLTrack's implementation, not in its documentation"
_VALIDATE = ("wallow's Schema checks values in Python; pgtrack's server does (register, find and queries raise "
             "SchemaValidationError)")
NAMES = {
    "wallow.FieldDecl": _NO_FIELDDECL,
    "wallow.FieldDecl.python_type": _NO_FIELDDECL,
    "wallow.FieldDecl.sa_type": _NO_FIELDDECL,
    "wallow.Schema.field": _NO_FIELDDECL,
    "wallow.Schema.fill_identifying_defaults": _VALIDATE,
    "wallow.Schema.normalise_identifying_value": _VALIDATE,
    "wallow.Schema.validate_annotating_keys": _VALIDATE,
    "wallow.Schema.validate_identifying_keys": _VALIDATE,
    "wallow.Schema.validate_layout": _VALIDATE + "; a bad layout is refused by load_schema",
    "wallow.Schema.validate_value": _VALIDATE,
    "wallow.Store.engine": "the SQLAlchemy engine: pgtrack has none (store.client is the pgtrack.Client)",
    "wallow.Store.execute": "runs a SQLAlchemy statement: pgtrack has none (store.client.execute runs SQL)",
    "wallow.Store.session": "a SQLAlchemy session: pgtrack has none (store.client.connect() is a transaction)",
    "wallow.Store.migrate": "Alembic: pgtrack has no migrations of the registry (a Store applies its schema file)",
    "wallow.Store.journal_mode": "SQLite's journal mode: pgtrack has no SQLite file",
    "wallow.current_revision": "Alembic's revision of a database: pgtrack has none (pgtrack's version: pgtrack status)",
    "wallow.head_revision": "Alembic's head revision: pgtrack has none",
    "sqltrack.commands.setup.SQL_DIR": _SETUP + "; " + _CONSTANT,
    "sqltrack.args.DOCOPT_DECORATORS": _CONSTANT,
    "sqltrack.notebook.COLORS": _CONSTANT,
    "sqltrack.notebook.CSS_DIR": _CONSTANT,
    "sqltrack.notebook.DEFAULT_MAPPING": _CONSTANT,
}

# README and docs blocks ("<document>:<line of the fence>") that fail on pgtrack.
BLOCKS = {
    "wallow README.md:482": ("the analysis of the ML sweep recipe reads the runs its dispatcher (the block before, an excerpt: "
                             "build_grid and train are not defined) would have made; in a fresh database best is None and "
                             "store.artefacts_dir(None) fails, on wallow as on pgtrack"),
}

# Steps of tests/peers/examples that fail on pgtrack.
EXAMPLES = {
}
