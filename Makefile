# pgtrack: PGXS build of a SQL-only extension plus the project's test/demo/bench entry points.
#
# The install script of the version under development, extension/pgtrack--$(EXTVERSION).sql, and the
# upgrade scripts to it (one per sql/upgrade/A--$(EXTVERSION).sql) are generated from sql/ by
# tools/extension_build.py, the same code the Python build backend runs for pip; never edit them by hand.
# Released versions' scripts (install and upgrade) live in extension/ and are kept.

PG_CONFIG ?= $(shell command -v pg_config 2>/dev/null || echo /usr/lib/postgresql/15/bin/pg_config)
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" extension/pgtrack.control)
SQL_SOURCES := $(sort $(filter-out sql/upgrade/%,$(wildcard sql/*.sql sql/*/*.sql)))
UPGRADE_SOURCES := $(wildcard sql/upgrade/*--$(EXTVERSION).sql)
GENERATED_UPGRADES := $(patsubst sql/upgrade/%.sql,extension/pgtrack--%.sql,$(UPGRADE_SOURCES))
GENERATED := extension/pgtrack--$(EXTVERSION).sql

# No EXTENSION variable: the control file lives in extension/, so it is installed as DATA.
MODULEDIR = extension
DATA = extension/pgtrack.control $(GENERATED) $(GENERATED_UPGRADES) \
       $(filter-out $(GENERATED) $(GENERATED_UPGRADES),$(wildcard extension/pgtrack--*.sql))
EXTRA_CLEAN = $(GENERATED) $(GENERATED_UPGRADES)

# make installcheck (PGXS): the isolation specs (tests/isolation: interleavings of two sessions, each
# permutation against its expected output) and pgTAP (pg_prove, tests/sql) against the running server
# that PGHOST/PGPORT name, with pgtrack installed there. ISOLATION_OUT: where results and diffs go.
# Every spec in tests/isolation/specs (one: make installcheck ISOLATION=first_use_of_a_metric).
ISOLATION = $(basename $(notdir $(wildcard tests/isolation/specs/*.spec)))
ISOLATION_OUT ?= $(CURDIR)/.tmp/isolation
ISOLATION_OPTS = --inputdir=$(CURDIR)/tests/isolation --outputdir=$(ISOLATION_OUT) --load-extension=pgtrack

# The project's own targets need no PGXS (and PGXS defines a `check` that says it is unsupported), so
# it is left out when only they are asked for. On a fresh machine PGXS may be missing until `make
# test` installs postgresql-server-dev-15, so it is included only when the file exists.
OWN_GOALS := test check lint demo bench docs screenshot wheel limits
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(if $(MAKECMDGOALS),$(filter-out $(OWN_GOALS),$(MAKECMDGOALS)),all),)
all: $(GENERATED) $(GENERATED_UPGRADES)
else ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
installcheck: installcheck-tap
WITH_PGXS := 1
else
all: $(GENERATED) $(GENERATED_UPGRADES)
install:
	@echo "PGXS not found: install postgresql-server-dev-15 (apt-get install postgresql-server-dev-15)"; exit 1
endif

all: $(GENERATED) $(GENERATED_UPGRADES)

$(GENERATED) $(GENERATED_UPGRADES) &: $(SQL_SOURCES) $(wildcard sql/upgrade/*.sql) extension/pgtrack.control tools/extension_build.py
	@python3 tools/extension_build.py extension

.PHONY: test check lint installcheck-tap demo bench docs screenshot wheel limits
test: $(GENERATED) $(GENERATED_UPGRADES)
	bash tools/test.sh

# Everyday work, in under 3 minutes: ruff and mypy, then PostgreSQL 15 only: pgTAP, the isolation
# specs and the pytest tests not marked slow (tests/README.md).
ifndef WITH_PGXS
check: $(GENERATED) $(GENERATED_UPGRADES)
	bash tools/check.sh
endif

lint:
	bash tools/lint.sh

installcheck-tap:
	@mkdir -p $(ISOLATION_OUT)
	bash tools/tap.sh

demo: $(GENERATED) $(GENERATED_UPGRADES)
	bash tools/demo.sh

bench: $(GENERATED) $(GENERATED_UPGRADES)
	bash tools/bench.sh

# docs/limits.md, measured (LIMITS_SCALE=0.01 for a quick run; the full run fills 10^8 metric values).
limits: $(GENERATED) $(GENERATED_UPGRADES)
	CLUSTER_DURABLE=1 bash tools/with-cluster.sh .venv/bin/python bench/limits.py docs/limits.md

# The wheel (and sdist) in dist/; the build backend generates the extension's files into them.
wheel:
	bash tools/wheel.sh
	@ls dist/pgtrack-*.whl

screenshot: $(GENERATED) $(GENERATED_UPGRADES)
	bash tools/screenshot.sh

docs: $(GENERATED)
	bash tools/with-cluster.sh .venv/bin/python tools/gen_sql_docs.py docs/sql-api.md
