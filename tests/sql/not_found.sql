-- Every function given a nonexistent experiment or run id raises PT002, never a bare FK error.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(30);
SELECT pgtrack.add_metric('loss');
SELECT pgtrack.create_run(pgtrack.experiment('nf')) AS r \gset

SELECT throws_ok('SELECT pgtrack.' || call, 'PT002', NULL, call || ': PT002')
  FROM unnest(ARRAY[
    'experiment_set_name(-1, ''n'')', 'experiment_set_comment(-1, ''c'')', 'experiment_set_tags(-1, ''t'')',
    'experiment_add_tags(-1, ''t'')', 'experiment_remove_tags(-1, ''t'')',
    'experiment_add_relationship(-1, ''k'', -2)', 'experiment_remove_relationship(-1, ''k'', -2)',
    'create_run(-1)', 'run_start(-1)', 'run_stop(-1)', 'run_set_status(-1, ''RUNNING'')',
    'run_set_created(-1)', 'run_set_started(-1)', 'run_set_updated(-1)', 'run_set_comment(-1, ''c'')',
    'run_set_tags(-1, ''t'')', 'run_add_tags(-1, ''t'')', 'run_remove_tags(-1, ''t'')',
    'run_set_args(-1, ''{}'')', 'run_add_args(-1, ''{}'')', 'run_remove_args(-1, ''k'')',
    'run_set_env(-1, ''{}'')', 'run_add_env(-1, ''{}'')', 'run_remove_env(-1, ''k'')',
    'run_add_relationship(-1, ''k'', -2)', 'run_remove_relationship(-1, ''k'', -2)',
    'run_add_metrics(-1, 0, 0, ''{"loss": 1}'')', 'run_add_metrics_batch(-1, ''[{"loss": 1}]'')',
    'heartbeat(-1)']) AS call;
SELECT throws_ok(format('SELECT pgtrack.run_add_relationship(%s, %L, -2)', :r, 'k'), 'PT002', NULL,
                 'relationship to a missing run: PT002');

SELECT * FROM finish();
ROLLBACK;
