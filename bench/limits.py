"""make limits: the tested limits of one server, written to docs/limits.md (never by hand).

At PostgreSQL's default durability, on the throwaway cluster of tools/with-cluster.sh:
1. metric values: per-step write cost (run_add_metrics, one committed call per step) and the best-run
   query (best_runs of one 100-run experiment) at 10^6, 10^7 and 10^8 values, for an ordinary and an
   8-way hash-partitioned pgtrack.metrics side by side (interleaved rounds, medians);
2. register (new keys) and claim_next (+ run_stop) throughput with 1 to 16 worker processes, with
   10^5 and 10^6 runs in the experiment;
3. live metric columns: how many add_metric accepts, and how many non-null double values fit in a row;
4. heartbeats: an hour of heartbeats of N runs every 30 s replayed flat out; the sustained rate, the
   HOT-update ratio and the runs table's size before and after.
LIMITS_SCALE (default 1) scales every count down for a quick run (e.g. 0.01); the page says which.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

SCALE = float(os.environ.get("LIMITS_SCALE", "1"))
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/limits.md")
METRICS = ("train_loss", "val_loss", "acc", "lr")
STEPS_PER_RUN, RUNS_PER_EXPERIMENT = 1000, 100
lines = []


def say(text=""):
    print(text, flush=True)
    lines.append(text)


def admin():
    return psycopg.connect(dbname="postgres", autocommit=True)


def fresh_db(name, partitions=0):
    with admin() as a:
        a.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        a.execute(f'CREATE DATABASE "{name}"')
    conn = psycopg.connect(dbname=name, autocommit=True)
    conn.execute("CREATE EXTENSION pgtrack")
    conn.execute("SELECT pgtrack.setup(metrics_partitions => %s)", (partitions,))
    for m in METRICS:
        conn.execute("SELECT pgtrack.add_metric(%s)", (m,))
    return conn


def median_ms(fn, rounds=5):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# -- 1. metric values --------------------------------------------------------------------------

def grow(conn, values):
    """Bulk-fill (as the owner) until the table holds `values` metric values (4 per row)."""
    have = conn.execute("SELECT count(*) * 4 FROM pgtrack.metrics").fetchone()[0]
    runs = max(0, (values - have) // (4 * STEPS_PER_RUN))
    if runs == 0:
        return
    experiments = -(-runs // RUNS_PER_EXPERIMENT)
    conn.execute("INSERT INTO pgtrack.experiments (name) SELECT 'fill-' || gen_random_uuid() FROM generate_series(1, %s)",
                 (experiments,))
    conn.execute("""INSERT INTO pgtrack.runs (experiment_id, status)
                    SELECT e.id, 'COMPLETED' FROM pgtrack.experiments e CROSS JOIN generate_series(1, %s)
                     WHERE NOT EXISTS (SELECT FROM pgtrack.runs r WHERE r.experiment_id = e.id)""", (RUNS_PER_EXPERIMENT,))
    conn.execute(f"""INSERT INTO pgtrack.metrics (run_id, experiment_id, step, {', '.join(METRICS)})
                     SELECT r.id, r.experiment_id, s, random(), random(), random(), 0.1 FROM pgtrack.runs r, generate_series(1, %s) s
                      WHERE NOT EXISTS (SELECT FROM pgtrack.metrics m WHERE m.run_id = r.id)""", (STEPS_PER_RUN,))
    conn.execute("VACUUM ANALYZE pgtrack.metrics")


def write_cost_us(conn, calls=200):
    exp = conn.execute("SELECT pgtrack.experiment('writer')").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    step = [0]

    def once():
        for _ in range(calls):
            step[0] += 1
            conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, metrics => %s::jsonb)",
                         (run, step[0], '{"train_loss": 0.5, "val_loss": 0.6, "acc": 0.7, "lr": 0.1}'))
    return median_ms(once) * 1000 / calls


def best_run_ms(conn):
    exp = conn.execute("SELECT min(id) FROM pgtrack.experiments WHERE name LIKE 'fill-%'").fetchone()[0]
    return median_ms(lambda: conn.execute("SELECT count(*) FROM pgtrack.best_runs(%s, 'val_loss')", (exp,)).fetchone())


def metric_values():
    say("## 1. Metric values: per-step write and best-run query, ordinary vs 8 hash partitions")
    say()
    say("Each step is one `run_add_metrics` call (4 metrics) committed on its own; the best-run query is "
        f"`best_runs()` of one {RUNS_PER_EXPERIMENT}-run experiment ({RUNS_PER_EXPERIMENT * STEPS_PER_RUN:,} rows). "
        "Medians of 5 rounds, the two layouts measured back to back at each size.")
    say()
    say("| metric values | rows | write, ordinary (us/step) | write, partitioned | best run, ordinary (ms) | best run, partitioned | size, ordinary | size, partitioned |")
    say("|---|---|---|---|---|---|---|---|")
    plain, parted = fresh_db("limits_plain"), fresh_db("limits_parted", 8)
    for exponent in (6, 7, 8):
        values = int(10 ** exponent * SCALE)
        grow(plain, values)
        grow(parted, values)
        rows = plain.execute("SELECT count(*) FROM pgtrack.metrics").fetchone()[0]
        w = [write_cost_us(plain), write_cost_us(parted)]
        b = [best_run_ms(plain), best_run_ms(parted)]
        size = [c.execute("""SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c
                              WHERE c.oid = 'pgtrack.metrics'::regclass OR c.oid IN
                                    (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'pgtrack.metrics'::regclass)""").fetchone()[0]
                for c in (plain, parted)]
        say(f"| {values:.0e} | {rows:,} | {w[0]:.0f} | {w[1]:.0f} | {b[0]:.1f} | {b[1]:.1f} | {size[0]} | {size[1]} |")
    wr, br = w[1] / w[0], b[1] / b[0]
    if br < 0.9 and wr <= 1.1:
        verdict = "partitioning helps here: a faster best-run query, writes as fast"
    elif br < 0.9:
        verdict = (f"a trade-off: partitioning makes the best-run query {1 / br:.1f}x faster and each logged step "
                   f"{wr:.2f}x slower; partition when analysis matters more than logging cost")
    elif wr > 1.1 or br > 1.1:
        verdict = "partitioning does not pay at this size: keep the ordinary table"
    else:
        verdict = "the layouts are within 10% of each other: keep the ordinary table (simpler)"
    say()
    say(f"At the largest size: writes {wr:.2f}x and the best-run query {br:.2f}x (partitioned / ordinary): "
        f"**{verdict}**. Either way, hash partitions make VACUUM, index rebuilds and compact_metrics() work "
        "partition-sized pieces of the table.")
    # Deleting an experiment with 10^7 metric rows while another run logs: the slowest logging call.
    say()
    doomed_rows = int(10 ** 7 * SCALE)
    exp = plain.execute("SELECT pgtrack.experiment('doomed')").fetchone()[0]
    plain.execute("INSERT INTO pgtrack.runs (experiment_id, status) SELECT %s, 'COMPLETED' FROM generate_series(1, 1000)", (exp,))
    plain.execute(f"""INSERT INTO pgtrack.metrics (run_id, experiment_id, step, {', '.join(METRICS)})
                      SELECT r.id, r.experiment_id, s, random(), random(), random(), 0.1 FROM pgtrack.runs r, generate_series(1, %s) s
                       WHERE r.experiment_id = %s""", (doomed_rows // 1000, exp))
    stop = mp.Event()
    result = mp.Queue()
    logger = mp.Process(target=_log_while, args=("limits_plain", stop, result))
    logger.start()
    time.sleep(2)
    start = time.perf_counter()
    plain.execute("DELETE FROM pgtrack.experiments WHERE id = %s", (exp,))
    took = time.perf_counter() - start
    stop.set()
    worst, median, calls = result.get(timeout=600)
    logger.join()
    say(f"Deleting an experiment with {doomed_rows:,} metric rows took {took:.1f} s (one transaction, the cascade); "
        f"meanwhile another run logged {calls:,} steps, median {median:.1f} ms, slowest {worst:.1f} ms: the cascade "
        "locks only the deleted rows, so other runs' logging never waits on it (it only shares the disk).")
    say()
    plain.close()
    parted.close()


def _log_while(db, stop, result):
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        exp = conn.execute("SELECT pgtrack.experiment('bystander')").fetchone()[0]
        run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
        took, step = [], 0
        while not stop.is_set():
            step += 1
            start = time.perf_counter()
            conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, metrics => '{\"acc\": 1}')", (run, step))
            took.append((time.perf_counter() - start) * 1000)
        result.put((max(took), statistics.median(took), step))


# -- 2. registry throughput --------------------------------------------------------------------

def _worker(db, exp, kind, index, seconds, barrier, result, base):
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        barrier.wait()
        done, start = 0, time.monotonic()
        while time.monotonic() < start + seconds:
            if kind == "register":
                conn.execute("SELECT * FROM pgtrack.register(%s, %s::jsonb, on_duplicate => 'raise')",
                             (exp, f'{{"k": {base + index * 10**7 + done}}}'))
            else:
                row = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, stale_after => '1 hour')", (exp,)).fetchone()
                if row is None or row[0] is None:
                    raise RuntimeError("the queue ran dry: enqueue more")
                conn.execute("SELECT pgtrack.run_stop(%s, 'COMPLETED', attempt => %s)", row)
            done += 1
        result.put((done, time.monotonic() - start))


_calls = iter(range(1, 10**6))


def throughput(db, exp, kind, workers, seconds=5.0):
    barrier, result, base = mp.Barrier(workers), mp.Queue(), next(_calls) * 10**9  # keys new in every call
    procs = [mp.Process(target=_worker, args=(db, exp, kind, i, seconds, barrier, result, base)) for i in range(workers)]
    for p in procs:
        p.start()
    outcomes = [result.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    return sum(n for n, _ in outcomes) / max(t for _, t in outcomes)


def registry():
    say("## 2. Registry throughput (operations per second, all workers together)")
    say()
    say("`register` of new keys (`on_duplicate => 'raise'`), and `claim_next` + `run_stop` draining a queue, "
        "each for 5 s, with the experiment already holding the given number of runs (all but the queue COMPLETED).")
    say()
    say("| runs in the experiment | operation | 1 worker | 2 | 4 | 8 | 16 |")
    say("|---|---|---|---|---|---|---|")
    for exponent in (5, 6):
        existing = int(10 ** exponent * SCALE)
        conn = fresh_db("limits_registry")
        exp = conn.execute("SELECT pgtrack.experiment('registry')").fetchone()[0]
        conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
        conn.execute("""INSERT INTO pgtrack.runs (experiment_id, identity, status)
                        SELECT %s, jsonb_build_object('k', g), 'COMPLETED' FROM generate_series(1, %s) g""", (exp, existing))
        conn.execute("VACUUM ANALYZE pgtrack.runs")
        cells = {"register": [], "claim_next": []}
        for workers in (1, 2, 4, 8, 16):
            cells["register"].append(throughput("limits_registry", exp, "register", workers))
            base = next(_calls) * 10**9  # a fresh queue of new keys, larger than 5 s of claims can drain
            conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', -%s - g)) FROM generate_series(1, 30000) g))",
                         (exp, base))
            conn.execute("ANALYZE pgtrack.runs")
            cells["claim_next"].append(throughput("limits_registry", exp, "claim_next", workers))
            conn.execute("DELETE FROM pgtrack.runs WHERE experiment_id = %s AND status <> 'COMPLETED'", (exp,))
        for kind, row in cells.items():
            say(f"| {existing:.0e} | {kind} | " + " | ".join(f"{v:,.0f}" for v in row) + " |")
        conn.close()
    say()


# -- 3. live metric columns --------------------------------------------------------------------

def columns():
    say("## 3. Live metric columns")
    say()
    conn = fresh_db("limits_columns")
    conn.execute("SELECT pgtrack.drop_metric(name) FROM pgtrack.metric_columns()")
    conn.execute("SELECT pgtrack.compact_metrics()")
    added, error = 0, None
    while error is None:
        try:
            conn.execute("SELECT pgtrack.add_metric(%s)", (f"c{added}",))
            added += 1
        except psycopg.Error as exc:
            error = f"{exc.sqlstate}: {exc.diag.message_primary}"
    exp = conn.execute("SELECT pgtrack.experiment('wide')").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    low, high = 1, added
    while low < high:  # the most non-null double values one row (one step) can hold
        mid = (low + high + 1) // 2
        names = ", ".join(f"c{i}" for i in range(mid))
        try:
            conn.execute(f"INSERT INTO pgtrack.metrics (run_id, experiment_id, step, {names}) VALUES (%s, %s, %s, {', '.join(['1.5'] * mid)})",
                         (run, exp, mid))
            low = mid
        except psycopg.Error:
            high = mid - 1
    say(f"- `add_metric` accepted **{added:,}** metric columns (PostgreSQL's 1,600 attributes less run_id, step and "
        f"progress); the next one: `{error}`.")
    say(f"- One row (one step of one run) holds at most **{low:,}** non-null `double precision` values: a row must fit "
        "in an 8 kB page and fixed-width values are not TOASTed; NULLs cost a bit each, so sparse rows are fine. Log "
        "wider steps as several progress values, or use `real` columns (4 bytes).")
    say("- Dropped metrics keep counting against the 1,600 until `compact_metrics()` (add_metric does it itself from 800 "
        "attributes on when the table is at most 1 GB; a larger one gets PT005 naming it near the limit). Every "
        "ALTER TABLE slows down as dropped attributes pile up, which is why small tables are compacted early.")
    say()
    conn.close()


# -- 4. heartbeats -----------------------------------------------------------------------------

def _beat(db, run_ids, rounds, result, experiment):
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        start = time.perf_counter()
        for _ in range(rounds):
            for run in run_ids:  # the call track()'s background thread makes
                conn.execute("SELECT pgtrack.heartbeat(%s, %s, experiment_id => %s)", (run, None, experiment))
        result.put((len(run_ids) * rounds, time.perf_counter() - start))


def heartbeats():
    runs, period, workers = max(10, int(1000 * SCALE)), 15, 4  # track()'s default heartbeat
    rounds = 3600 // period
    say("## 4. Heartbeats")
    say()
    conn = fresh_db("limits_heartbeat")
    exp = conn.execute("SELECT pgtrack.experiment('beats')").fetchone()[0]
    ids = [conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0] for _ in range(runs)]
    conn.execute("UPDATE pgtrack.runs SET status = 'RUNNING', time_started = now()")
    conn.execute("VACUUM ANALYZE pgtrack.runs")
    size_before = conn.execute("SELECT pg_total_relation_size('pgtrack.runs')").fetchone()[0]
    wal_before = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    result = mp.Queue()
    procs = [mp.Process(target=_beat, args=("limits_heartbeat", ids[i::workers], rounds, result, exp)) for i in range(workers)]
    for p in procs:
        p.start()
    outcomes = [result.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    beats = sum(n for n, _ in outcomes)
    rate = beats / max(t for _, t in outcomes)
    wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (wal_before,)).fetchone()[0] / beats
    time.sleep(1)  # let the statistics arrive
    upd, hot = conn.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'pgtrack.runs'::regclass").fetchone()
    size_after = conn.execute("SELECT pg_total_relation_size('pgtrack.runs')").fetchone()[0]
    say(f"{runs:,} RUNNING runs, each heartbeating every {period} s for an hour ({beats:,} heartbeats), replayed flat out by "
        f"{workers} processes: **{rate:,.0f} heartbeats/s** sustained, i.e. about {rate * period:,.0f} runs at one heartbeat "
        f"per {period} s. HOT updates: **{hot / max(upd, 1):.0%}** of {upd:,} updates (no index covers the heartbeat "
        f"columns, so most updates stay on their page). runs table with indexes: {size_before / 1024:,.0f} kB before, "
        f"{size_after / 1024:,.0f} kB after an hour's worth (autovacuum on, defaults).")
    say()
    say(f"**The cost at 1,000 concurrent tracked runs** (track() heartbeats every {period} s by default, so a dead run shows "
        f"as LOST within about {3 * period} s): {1000 / period:,.0f} heartbeats/s, **{1000 / period / rate:.1%}** of the "
        f"rate above, and {float(wal) * 1000 / period / 1024:,.0f} kB of WAL a second ({float(wal):,.0f} bytes a heartbeat, "
        f"measured). The limit is connections, not heartbeats: each tracked run holds two "
        f"(the training thread's and its background thread's, opened on first use), so 1,000 concurrent runs need "
        f"max_connections above 2,000 (PostgreSQL's default is 100), or a pooler in session mode in front of the server.")
    say()
    conn.close()


def merged(old: str, new: str) -> str:
    """The new page, keeping the old page's sections (## headings) that this run did not measure."""
    def sections(text):
        parts = text.split("\n## ")
        return parts[0], {p.split("\n", 1)[0][:2]: "## " + p for p in parts[1:]}
    head, fresh = sections(new)
    _, kept = sections(old)
    kept.update(fresh)
    return head.rstrip("\n") + "\n\n" + "".join(kept[k].rstrip("\n") + "\n\n" for k in sorted(kept))


def main():
    with admin() as a:
        version = a.execute("SHOW server_version").fetchone()[0]
    say("# Tested limits of one server")
    say()
    say(f"Written by `make limits` (bench/limits.py) on {dt.date.today().isoformat()}: {os.cpu_count()} cores, "
        f"PostgreSQL {version}, default durability (fsync and synchronous_commit on)"
        + (f", **counts scaled by {SCALE}** (LIMITS_SCALE)" if SCALE != 1 else "") + ". Numbers from a shared, noisy "
        "machine: read the ratios and the trends; absolute times will differ on yours.")
    say()
    sections = os.environ.get("LIMITS_SECTIONS", "values,registry,columns,heartbeats").split(",")
    for name, fn in (("values", metric_values), ("registry", registry), ("columns", columns), ("heartbeats", heartbeats)):
        if name in sections:
            fn()
    OUT.write_text(merged(OUT.read_text() if OUT.exists() else "", "\n".join(lines) + "\n"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
