"""W&B as a peer, offline: no account, no network. wandb.init(mode="offline") writes a run directory
with a .wandb file (wandb's transaction log: LevelDB's log format, records of wandb_internal.proto),
which `wandb sync` would upload. An offline run has no query API: to read its history back one parses
that file, as history() below does, with the protobuf classes wandb ships (the fastest reader there is
short of uploading it to a W&B server and querying that).
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from typing import Dict, Iterator, List

BLOCK = 32 * 1024  # LevelDB log block
HEADER = 7         # ":W&B", magic 0xBEE1, version byte


def version() -> str:
    import wandb

    return wandb.__version__


@contextlib.contextmanager
def offline_run(directory: str = None) -> Iterator[object]:
    import wandb

    os.environ.update(WANDB_SILENT="true", WANDB_MODE="offline", WANDB_DISABLE_GIT="true")
    run = wandb.init(mode="offline", dir=directory or tempfile.mkdtemp(prefix="wandb-bench-"), project="bench",
                     settings=wandb.Settings(silent=True, x_disable_stats=True, x_disable_meta=True))
    try:
        yield run
    finally:
        run.finish()


def run_file(directory: str) -> str:
    return glob.glob(os.path.join(directory, "wandb", "offline-run-*", "run-*.wandb"))[0]


def _records(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    pos, pending = HEADER, b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # block trailer
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:      # FULL
            yield chunk
        elif kind == 2:    # FIRST
            pending = chunk
        elif kind == 3:    # MIDDLE
            pending += chunk
        elif kind == 4:    # LAST
            yield pending + chunk


def history(path: str) -> List[Dict[str, object]]:
    """Every logged step of the run in the .wandb file: {metric: value, "_step": n, ...}."""
    from wandb.proto import wandb_internal_pb2 as pb

    rows = []
    for data in _records(path):
        record = pb.Record()
        record.ParseFromString(data)
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item})
    return rows
