-- experiment() get-or-create and the experiment_* setters, tags and relationships.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(22);

SELECT pgtrack.experiment('cifar', 'first', ARRAY['vision', 'baseline']) AS e \gset
SELECT is(pgtrack.experiment('cifar'), :e::bigint, 'same name, same id');
SELECT is(pgtrack.experiment('cifar', 'other comment', ARRAY['x']), :e::bigint, 'comment/tags ignored when it exists');
SELECT results_eq($$SELECT comment, tags FROM pgtrack.experiments WHERE name = 'cifar'$$,
    $$VALUES ('first'::text, '{"vision": true, "baseline": true}'::jsonb)$$, 'comment and tags set on creation only');
SELECT throws_ok($$SELECT pgtrack.experiment('')$$, 'PT003', NULL, 'blank name: PT003');
SELECT throws_ok($$SELECT pgtrack.experiment(NULL)$$, 'PT003', NULL, 'NULL name: PT003');
SELECT isnt(pgtrack.experiment($$x'); DROP TABLE pgtrack.runs; --$$), NULL, 'injection text is just a name');
SELECT is((SELECT count(*)::int FROM pgtrack.experiments WHERE name = $$x'); DROP TABLE pgtrack.runs; --$$), 1,
          'stored verbatim as data');

SELECT lives_ok(format('SELECT pgtrack.experiment_set_name(%s, %L)', :e, 'cifar10'), 'rename');
SELECT is((SELECT name FROM pgtrack.experiments WHERE id = :e), 'cifar10', 'renamed');
SELECT pgtrack.experiment('other') AS o \gset
SELECT throws_ok(format('SELECT pgtrack.experiment_set_name(%s, %L)', :o, 'cifar10'), 'PT003', NULL, 'name taken: PT003');
SELECT lives_ok(format('SELECT pgtrack.experiment_set_comment(%s, %L)', :e, 'c2'), 'set comment');
SELECT lives_ok(format('SELECT pgtrack.experiment_set_tags(%s, %L, %L)', :e, 'a', 'b'), 'set tags');
SELECT lives_ok(format('SELECT pgtrack.experiment_add_tags(%s, %L)', :e, 'c'), 'add tags');
SELECT lives_ok(format('SELECT pgtrack.experiment_remove_tags(%s, %L, %L)', :e, 'a', 'missing'), 'remove tags');
SELECT is((SELECT tags FROM pgtrack.experiments WHERE id = :e), '{"b": true, "c": true}'::jsonb, 'tags after edits');
SELECT throws_ok(format('SELECT pgtrack.experiment_add_tags(%s, %L)', :e, ''), 'PT003', NULL, 'blank tag: PT003');

SELECT lives_ok(format('SELECT pgtrack.experiment_add_relationship(%s, %L, %s)', :o, 'derived_from', :e), 'add relationship');
SELECT lives_ok(format('SELECT pgtrack.experiment_add_relationship(%s, %L, %s)', :o, 'derived_from', :e), 'idempotent');
SELECT is((SELECT count(*)::int FROM pgtrack.experiment_relationships WHERE from_id = :o), 1, 'one relationship row');
SELECT lives_ok(format('SELECT pgtrack.experiment_remove_relationship(%s, %L, %s)', :o, 'derived_from', :e), 'remove relationship');

SELECT throws_ok(format('SELECT pgtrack.%s', f), 'PT002', NULL, f || ' on a missing experiment: PT002')
  FROM unnest(ARRAY['experiment_set_comment(-1, ''x'')', 'experiment_add_relationship(-1, ''k'', 1)']) f;

SELECT * FROM finish();
ROLLBACK;
