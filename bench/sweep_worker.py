"""A worker of bench/scenario_sweep.py: drains the grid with pgtrack's claim_next, or with wallow's
README recipe for live multi-worker dispatch (claim_if_stale + heartbeat over the grid, repeated until
every config is completed). Each config is a fake 5 ms job with 3 metric steps. Every completion is
appended to the log as "config,worker,time" and flushed, so the parent can count duplicates.

    python sweep_worker.py pgtrack DBNAME NAME LOG STALE_SECONDS JOB_MS
    python sweep_worker.py wallow  DBFILE  NAME LOG STALE_SECONDS JOB_MS TOML CONFIGS
"""
import datetime as dt
import sys
import time


def pgtrack_worker(db, name, log, stale, job):
    import pgtrack

    client = pgtrack.Client(dbname=db)
    exp = pgtrack.Experiment(client, name="sweep")
    while True:
        run = exp.claim_next(dt.timedelta(seconds=stale), worker=name)
        if run is None:
            if client.value("SELECT count(*) FROM pgtrack.runs WHERE experiment_id = %s AND status <> 'COMPLETED'", (exp.id,)) == 0:
                return
            time.sleep(0.05)  # a dead worker's config comes back once it is stale
            continue
        config = run["identity"]["config"]  # read before the completion, so nothing stands between it and the log
        for step in range(3):
            time.sleep(job / 3)
            run.add_metrics(step=step, loss=1.0 / (step + 1))  # fenced by the claimed attempt
        run.stop("COMPLETED")  # PT004 if the run was taken over: then it is not a completion
        log.write(f"{config},{name},{time.time()}\n")
        log.flush()


def wallow_worker(path, name, log, stale, job, toml, configs):
    import sqlite3

    from wallow import Store, heartbeat, load_schema, register

    store = Store(path, schema=load_schema(toml), check_schema=False)
    done = sqlite3.connect(path, timeout=30)
    stale_after = dt.timedelta(seconds=stale)
    while done.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0] < configs:
        for config in range(configs):  # the README's recipe, over the whole grid
            combo = {"config": config}
            result = register(store, identifying=combo, annotating={"status": "running"},
                              on_duplicate="claim_if_stale", stale_after=stale_after)
            if result.was_skipped:
                continue  # another worker is alive on this combo
            if result.run.status == "completed":
                continue  # already done
            for step in range(3):
                time.sleep(job / 3)
                heartbeat(store, identifying=combo)
            register(store, identifying=combo, annotating={"status": "completed"}, on_duplicate="overwrite")
            log.write(f"{config},{name},{time.time()}\n")
            log.flush()
            if done.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0] >= configs:
                return


if __name__ == "__main__":
    system, target, name, log_path, stale, job_ms = sys.argv[1:7]
    with open(log_path, "a") as log:
        if system == "pgtrack":
            pgtrack_worker(target, name, log, float(stale), float(job_ms) / 1000)
        else:
            wallow_worker(target, name, log, float(stale), float(job_ms) / 1000, sys.argv[7], int(sys.argv[8]))
