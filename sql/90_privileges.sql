-- Privileges. Functions that alter the data tables run as the extension owner (SECURITY DEFINER), so
-- they are not for everyone: EXECUTE is revoked from PUBLIC and granted by the DBA, e.g.
--   GRANT EXECUTE ON FUNCTION pgtrack.add_metric(text, regtype, text) TO ml_team;
-- Every other function runs with the caller's privileges on the tables (SECURITY INVOKER).
REVOKE EXECUTE ON FUNCTION pgtrack.setup() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.add_metric(text, regtype, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.drop_metric(text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.rename_metric(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.add_run_column(text, regtype, boolean, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack._regenerate_writers() FROM PUBLIC;
