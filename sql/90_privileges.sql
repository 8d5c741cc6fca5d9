-- Privileges. PUBLIC can do nothing: CREATE EXTENSION gives PUBLIC no USAGE on schema pgtrack, and
-- EXECUTE on every function is revoked here (the generated writers revoke it when they are created).
-- Access is granted through the roles of 70_roles.sql (SELECT pgtrack.grant_roles()) or by the DBA:
--   GRANT pgtrack_writer TO alice;
-- Functions that alter table definitions, and the lock and sequence helpers, run as the extension
-- owner (SECURITY DEFINER) and are granted per role; every other function runs with the caller's own
-- table privileges (SECURITY INVOKER).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgtrack FROM PUBLIC;
