"""The peers' own tests and documented programs, run on pgtrack with only their imports changed (issue 34).

At test time the released sdists of wallow 0.2.1 and SQLTrack 0.1.4 are fetched into a cache outside
the clone (tests/peers/sdists.py); the project holds none of their code, only the adapter
(tests/peers/wallow_private.py, no_sqlalchemy.py, wallow_conftest.py with its fixture schema), the import
translation (translate.py) and the expected differences (expected.py). What runs:

- wallow's test files, in two groups, each one pytest child process on one database: "portable"
  (test_store, test_schema, test_lifecycle, test_paths, test_ergonomics less its DSL tests) and "dsl"
  (test_dsl and test_ergonomics's DSL tests). test_migrations and test_cli test Alembic and wallow's
  command line, which pgtrack does not have (`pgtrack setup`, `pgtrack.migrate` instead): left out.
- the public names of both packages (read from their source, never run) looked up in pgtrack;
- the code blocks of both READMEs and of SQLTrack's docs (../shared/seeds/000_*.txt beside the clone,
  when it is there): programs run as scripts and SQL schema scripts through `pgtrack setup`, each in a
  fresh database; which blocks are programs is decided by rule (tests/peers/blocks.py);
- pgtrack's own programs in the style of wallow's GitHub examples (tests/peers/examples/).

Every expected difference is checked both ways: it must fail, and anything not listed must pass. A
download that fails skips these tests, or fails them when CI is set. Each test prints its counts.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import create_database, drop_database

PEERS = Path(__file__).resolve().parents[2] / "peers"
ROOT = Path(__file__).resolve().parents[3]


def _load(name: str):
    """tests/peers/NAME.py under a name of its own (not on sys.path: ``names`` or ``translate`` there
    would shadow any module of that name for the rest of the session). The children that run the
    peers' code get tests/peers on PYTHONPATH instead."""
    spec = importlib.util.spec_from_file_location(f"pgtrack_peers_{name}", PEERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


blocks, expected, names, sdists = (_load(name) for name in ("blocks", "expected", "names", "sdists"))
translate = _load("translate").translate

# The files of each group, and how many tests each group collects from wallow 0.2.1 (pinned by hash):
# a count that moves means the selection went wrong, not that pgtrack got better.
GROUPS = {
    "portable": (["test_store.py", "test_schema.py", "test_lifecycle.py", "test_paths.py", "test_ergonomics.py"], "not dsl", 133),
    "dsl": (["test_dsl.py", "test_ergonomics.py"], "dsl", 47),
}
# The modules whose public names code written for each peer reaches.
MODULES = {
    "wallow": ("src/wallow", ["wallow", "wallow.contrib.lifecycle"]),
    "sqltrack": ("sqltrack", ["sqltrack", "sqltrack.args", "sqltrack.commands", "sqltrack.commands.setup", "sqltrack.notebook",
                              "sqltrack.pandas", "sqltrack.queries", "sqltrack.sigterm", "sqltrack.util"]),
}


def say(capsys, line: str) -> None:
    """A count on the terminal, whatever pytest's capture (make test shows it in its log)."""
    with capsys.disabled():
        print(f"\n[peers] {line}")


def fetch(name: str) -> Path:
    try:
        return sdists.sdist(name)
    except sdists.Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the {name} sdist is needed on CI: {exc}")
        pytest.skip(f"the {name} sdist could not be fetched: {exc}")


def child_env(dbname: str, **extra: str) -> dict:
    """This environment for a child on ``dbname`` as the default database, without this pytest's own
    variables (xdist's, PYTEST_ADDOPTS), with tests/peers importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") or k == "PYTEST_DEBUG_TEMPROOT"}
    path = os.pathsep.join(p for p in (str(PEERS), os.environ.get("PYTHONPATH")) if p)
    return dict(env, PGDATABASE=dbname, PGTRACK_EMBEDDED="0", PYTHONPATH=path, PYTHONUNBUFFERED="1", **extra)


def check_expected(results: dict, listed: dict, what: str) -> None:
    """results: key -> None (passed) or the failure; listed: key -> reason. Both ways, one message."""
    wrong = [f"{key}: fails, not listed in tests/peers/expected.py ({results[key]})"
             for key in results if results[key] is not None and key not in listed]
    wrong += [f"{key}: passes, but is listed as an expected difference; remove it" for key in results
              if results[key] is None and key in listed]
    wrong += [f"{key}: listed, but there is no such {what}" for key in listed if key not in results]
    assert not wrong, "\n".join(wrong)


# -- wallow's own tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_wallows_own_tests(group, tmp_path, capsys):
    files, marks, total = GROUPS[group]
    source = fetch("wallow") / "tests"
    suite = tmp_path / "wallow-tests"
    (suite / "fixtures").mkdir(parents=True)
    for name in files:
        (suite / name).write_text(translate((source / name).read_text(), "wallow")[0])
    shutil.copy(PEERS / "wallow_conftest.py", suite / "conftest.py")
    shutil.copy(PEERS / "example_wallow.toml", suite / "fixtures" / "example_wallow.toml")
    (suite / "pytest.ini").write_text("[pytest]\n")  # not the project's settings
    results = tmp_path / "results.json"
    dbname = create_database()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(suite / "pytest.ini"),
                               "--rootdir", str(suite), "-m", marks, "-rfE", "--tb=short", *files],
                              cwd=suite, env=child_env(dbname, PGTRACK_PEER_RESULTS=str(results)),
                              capture_output=True, text=True, timeout=600)
    finally:
        drop_database(dbname)
    outcomes = json.loads(results.read_text()) if results.exists() else {}
    counts = {kind: sum(1 for o in outcomes.values() if o == kind) for kind in ("passed", "xfailed", "failed", "xpassed", "skipped")}
    say(capsys, f"wallow 0.2.1 {group}: {counts['passed']}/{len(outcomes)} pass on pgtrack, {counts['xfailed']} expected "
                f"differences, {counts['failed']} failed, {counts['xpassed']} listed but passing")
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    assert len(outcomes) == total and counts["passed"] + counts["xfailed"] == total, counts


# -- their public names ---------------------------------------------------------------------------------


def present(module, dotted: str) -> bool:
    """``module.a.b`` exists; a last part set on instances in ``__init__`` (``self.b = ...``) counts."""
    import inspect
    import re

    obj = module
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if i == len(parts) - 1 and isinstance(obj, type):
            try:
                source = inspect.getsource(obj.__init__)
            except (TypeError, OSError):
                return False
            return re.search(rf"\bself\.{part}\s*(?::[^=\n]*)?(?:=(?!=)|,)", source) is not None
        return False
    return True


@pytest.mark.parametrize("peer", MODULES)
def test_their_public_names_are_in_pgtrack(peer, capsys):
    import importlib

    package, modules = MODULES[peer]
    found = names.public_names(fetch(peer) / package, modules)
    results = {}
    for module, public in found.items():
        try:
            target = importlib.import_module("pgtrack" + module[len(peer):])
        except ImportError as exc:
            results.update({f"{module}.{name}": f"no module: {exc}" for name in public})
            continue
        results.update({f"{module}.{name}": None if present(target, name) else "absent" for name in public})
    missing = sorted(key for key, value in results.items() if value)
    say(capsys, f"{peer} names: {len(results) - len(missing)}/{len(results)} in pgtrack; not: {', '.join(missing) or 'none'}")
    check_expected(results, {k: v for k, v in expected.NAMES.items() if k.split(".")[0] == peer}, "name")


# -- README and docs blocks -----------------------------------------------------------------------------


def run_blocks(document: str, text: str, peer: str, tmp_path: Path) -> dict:
    """Each program and SQL script of ``text`` in a fresh database: key -> None or why it failed."""
    results = {}
    for block in blocks.blocks(text):
        if not (block.is_program or block.is_script):
            continue
        key = f"{document}:{block.line}"
        where = tmp_path / f"block{block.line}"
        where.mkdir()
        dbname = create_database()
        try:
            if block.is_program:
                if block.toml:
                    (where / "wallow.toml").write_text(block.toml)
                (where / "block.py").write_text(translate(block.code, peer)[0])
                command = [sys.executable, "block.py"]
            else:
                (where / "v001.sql").write_text(block.code)
                command = [sys.executable, "-m", "pgtrack", "setup", "v001.sql"]  # SQLTrack: sqltrack setup v001.sql
            done = subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=300,
                                  env=child_env(dbname, PGTRACK_SPILL_DIR=str(where / "spill")))
        finally:
            drop_database(dbname)
        failed = done.returncode != 0 or "Traceback" in done.stderr
        results[key] = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1] if failed else None
    return results


def check_imports(text: str, peer: str) -> dict:
    """Every import of the peer in any block (excerpts and fragments too), translated, in this process."""
    results = {}
    for block in blocks.blocks(text):
        for statement in blocks.peer_imports(block.code, peer):
            try:
                exec(translate(statement, peer, placeholders=False)[0], {})
                results[statement] = None
            except ImportError as exc:
                results[statement] = str(exc)
    return results


def document_test(document: str, text: str, peer: str, tmp_path: Path, capsys) -> None:
    found = blocks.blocks(text)
    results = run_blocks(document, text, peer, tmp_path)
    imports = check_imports(text, peer)
    kinds = {}
    for block in found:
        kind = block.kind.split(" (")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    passed = sum(1 for v in results.values() if v is None)
    say(capsys, f"{document}: {passed}/{len(results)} programs and SQL scripts pass on pgtrack "
                f"({len(found)} blocks: {', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
                f"imports {sum(1 for v in imports.values() if v is None)}/{len(imports)}")
    assert not [f"{s!r}: {e}" for s, e in imports.items() if e], imports
    check_expected(results, {k: v for k, v in expected.BLOCKS.items() if k.startswith(document + ":")}, "block")


@pytest.mark.parametrize("peer", ["wallow", "sqltrack"])
def test_readme_blocks_run(peer, tmp_path, capsys):
    document_test(f"{peer} README.md", (fetch(peer) / "README.md").read_text(), peer, tmp_path, capsys)


def test_sqltrack_docs_blocks_run(tmp_path, capsys):
    seeds = sorted((ROOT.parent / "shared" / "seeds").glob("000_*.txt"))
    if not seeds:
        say(capsys, f"SQLTrack docs: no {ROOT.parent / 'shared' / 'seeds' / '000_*.txt'} beside the clone (CI has it): skipped")
        pytest.skip("SQLTrack's docs (../shared/seeds/000_*.txt) are not beside this clone")
    document_test("sqltrack docs", seeds[0].read_text(), "sqltrack", tmp_path, capsys)


# -- programs in the style of wallow's GitHub examples -----------------------------------------------------

# example -> [(command, or a file put in place of another, and what it must print)]; one fresh database per
# example. The lines are what wallow 0.2.1 prints for the same steps (run once with wallow installed,
# matching_feedback with `wallow migrate generate` and `apply` where the schema file changes).
EXAMPLES = {
    "ml_sweep": [
        (["sweep.py", "--workers", "3"], ["sweep: 12 combos, 11 trained, 1 failed, 0 already complete"]),
        (["sweep.py", "--workers", "2"], ["sweep: 12 combos, 1 trained, 0 failed, 11 already complete"]),
        (["sweep.py", "--workers", "2"], ["sweep: 12 combos, 0 trained, 0 failed, 12 already complete"]),
        (["analyse.py"], [
            "progress: 12/12 completed",
            "best: vit_small lr=0.0003 seed=0 val_accuracy=0.865",
            "leader mlp: lr=0.0003 seed=0 val_accuracy=0.7003",
            "leader resnet18: lr=0.0003 seed=1 val_accuracy=0.8037",
            "leader vit_small: lr=0.0003 seed=0 val_accuracy=0.865",
            "top 3 of resnet18 and vit_small: [('vit_small', 0.0003, 0), ('vit_small', 0.0003, 1), ('vit_small', 0.001, 0)]",
            "failed: 0, slow learning rate at least 0.9 of the best: 4",
            "lookup: vit_small lr=0.0003 seed=0, by uuid the same run: True",
            "best checkpoint: epoch_4.pt in the run's artefacts directory: True, under artefacts/vit_small: True, exists: True",
        ]),
    ],
    "matching_feedback": [
        (["dispatcher.py"], ["dispatch: 48 new, 0 already done"]),
        (["dispatcher.py"], ["dispatch: 0 new, 48 already done"]),
        # wallow: wallow migrate generate "add warmup_steps" && wallow migrate apply; pgtrack applies the file
        (("wallow_v2.toml", "wallow.toml"), None),
        (["dispatcher.py", "--warmup", "0", "100"], ["dispatch: 48 new, 48 already done"]),
        (["analysis.py"], [
            "top of cell_k 4: [(0.05, 1, 0, 100), (0.05, 0, 3, 100), (0.05, 1, 3, 100)]",
            "cell_sigma in (0.05, 0.1), generation 1: 48",
            "with a T_88 entry: 32",
            "warmup 100 better than 0.5: 18 of 48",
            "found with defaults: 0 0 True",
            "if warmup_steps were dropped: 48 groups would collapse, of sizes [2]",
        ]),
    ],
}


@pytest.mark.parametrize("example", EXAMPLES)
def test_wallow_style_examples(example, tmp_path, capsys):
    where = tmp_path / example
    shutil.copytree(PEERS / "examples" / example, where)
    for script in where.glob("*.py"):
        script.write_text(translate(script.read_text(), "wallow")[0])
    dbname = create_database()
    results = {}
    try:
        for number, (step, wanted) in enumerate(EXAMPLES[example], 1):
            if isinstance(step, tuple):  # a new schema file in place of the old
                shutil.copy(where / step[0], where / step[1])
                continue
            done = subprocess.run([sys.executable, *step], cwd=where, capture_output=True, text=True, timeout=300,
                                  env=child_env(dbname))
            lines = done.stdout.strip().splitlines()
            results[f"{example} step {number}: {' '.join(step)}"] = (
                None if done.returncode == 0 and lines == wanted else
                f"exit {done.returncode}, printed {lines}, wanted {wanted}; {done.stderr.strip()[-2000:]}")
    finally:
        drop_database(dbname)
    passed = sum(1 for v in results.values() if v is None)
    say(capsys, f"wallow-style example {example}: {passed}/{len(results)} steps pass on pgtrack")
    check_expected(results, {k: v for k, v in expected.EXAMPLES.items() if k.startswith(example + " ")}, "step")
