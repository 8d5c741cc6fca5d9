"""Run.track(): every way a block can end, each in a real child process that gets the real signal
(SQLTrack 0.1.4 left a SIGTERMed run RUNNING forever and recorded sys.exit(0) as FAILED)."""
import signal

import pytest

from conftest import run_python

CHILD = """
import os, sys, time, signal, pgtrack
client = pgtrack.Client(dbname=sys.argv[1])
run = pgtrack.Experiment(client, name="track").get_run()
print(run.id, flush=True)
with run.track():
    for step in range(3):
        run.add_metrics(step=step, loss=1.0 / (step + 1))
    {body}
"""


def outcome(client, run_id):
    return client.one("SELECT status::text, error, time_finished IS NOT NULL, "
                      "(SELECT count(*) FROM pgtrack.metrics m WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id) FROM pgtrack.runs r WHERE id = %s", (run_id,))


def run_child(client, dbname, body, **kwargs):
    code, out, err = run_python(CHILD.replace("{body}", body), dbname, **kwargs)
    run_id = int(out.split()[0])
    return code, out, err, outcome(client, run_id)


def test_normal_exit_completes_and_flushes(client, dbname):
    code, _, err, (status, error, finished, rows) = run_child(client, dbname, "pass")
    assert (code, status, error, finished, rows) == (0, "COMPLETED", None, True, 3), err


def test_exception_fails_with_type_message_and_traceback(client, dbname):
    code, _, err, (status, error, _, rows) = run_child(client, dbname, "raise ValueError('bad config 42')")
    assert code == 1 and "ValueError: bad config 42" in err
    assert status == "FAILED" and rows == 3
    assert error.startswith("ValueError: bad config 42") and "Traceback" in error and 'File "<string>"' in error


def test_keyboard_interrupt_cancels(client, dbname):
    code, _, _, (status, error, _, rows) = run_child(
        client, dbname, "print('ready', flush=True); time.sleep(30)", signal_after="ready", signum=signal.SIGINT)
    assert code != 0 and (status, error, rows) == ("CANCELLED", "KeyboardInterrupt", 3)


def test_sigterm_cancels_flushes_and_exits_143(client, dbname):
    code, _, _, (status, error, finished, rows) = run_child(
        client, dbname, "print('ready', flush=True); time.sleep(30)", signal_after="ready", signum=signal.SIGTERM)
    assert code == 143
    assert (status, finished, rows) == ("CANCELLED", True, 3) and "SIGTERM" in error


@pytest.mark.parametrize("exit_code, status", [(0, "COMPLETED"), (None, "COMPLETED"), (3, "FAILED")])
def test_sys_exit(client, dbname, exit_code, status):
    code, _, _, (got, error, _, _) = run_child(client, dbname, f"sys.exit({exit_code})")
    assert code == (exit_code or 0) and got == status
    assert error == (None if status == "COMPLETED" else "SystemExit: 3")


def test_custom_statuses(client, dbname):
    code, out, err = run_python("""
        import sys, pgtrack
        client = pgtrack.Client(dbname=sys.argv[1])
        run = pgtrack.Experiment(client, name="track").get_run()
        try:
            with run.track(exception="OUT_OF_MEMORY"):
                raise MemoryError()
        except MemoryError:
            print(run.refresh().status)
    """, dbname)
    assert code == 0 and err == "" and out.strip() == "OUT_OF_MEMORY"


def test_sigterm_handler_restored_and_previous_handler_called(client, dbname):
    code, out, err = run_python("""
        import signal, sys, pgtrack
        calls = []
        def mine(signum, frame):
            calls.append(signum)
        signal.signal(signal.SIGTERM, mine)
        client = pgtrack.Client(dbname=sys.argv[1])
        run = pgtrack.Experiment(client, name="track").get_run()
        try:
            with run.track():
                signal.raise_signal(signal.SIGTERM)
        except pgtrack.Terminated:
            pass
        print(calls, signal.getsignal(signal.SIGTERM) is mine, run.refresh().status)
    """, dbname)
    assert code == 0, err
    assert out.strip() == "[15] True CANCELLED"


def test_track_outside_main_thread_warns_and_still_tracks(client, dbname):
    code, out, err = run_python("""
        import sys, threading, warnings, pgtrack
        client = pgtrack.Client(dbname=sys.argv[1])
        run = pgtrack.Experiment(client, name="track").get_run()
        caught = []
        def body():
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                with run.track():
                    run.add_metrics(step=1, loss=0.5)
                caught.extend(str(x.message) for x in w)
        t = threading.Thread(target=body); t.start(); t.join()
        print(run.refresh().status, any("SIGTERM" in m for m in caught))
    """, dbname)
    assert code == 0, err
    assert out.strip() == "COMPLETED True"
