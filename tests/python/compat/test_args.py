"""pgtrack.args: SQLTrack's docopt helpers, JSON-safe, raising instead of exiting."""
import json

import pytest

from pgtrack import args

pytest.importorskip("docopt")

SCRIPT = '''"""Train.

Usage:
    train.py [options] <data_path> [--tag=T]...

Options:
    -e --epochs=N       epochs [default: 90]
    --lr=X              learning rate [default: 0.1]
    --out-path=P        where [default: /tmp/out]
    --scale-float=S     a float [default: nan]
    --z-complex=Z       complex [default: 1+2j]
    --extra-json=J      json [default: {"a": [1, 2]}]
    --amp               mixed precision
"""
from pgtrack.args import docopt_arguments

@docopt_arguments
def main(args):
    return args
'''


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    return path


def test_detect_args_converts_to_json_safe_values(script):
    parsed = args.detect_args(script, argv=["data", "-e", "180", "--tag=a", "--tag=7", "--amp"])
    assert parsed == {"epochs": 180, "lr": 0.1, "out_path": "/tmp/out", "scale_float": "NaN", "z_complex": "(1+2j)",
                      "extra_json": {"a": [1, 2]}, "amp": True, "data_path": "data", "tag": ["a", 7]}
    json.dumps(parsed, allow_nan=False)  # storable as jsonb


def test_mismatch_raises_instead_of_exiting(script):
    with pytest.raises(ValueError, match="matches no usage"):
        args.detect_args(script, argv=["--bogus"])


def test_not_a_script_raises():
    with pytest.raises(ValueError):
        args.detect_args("/nonexistent/notebook")


def test_conversions_by_name_and_registration():
    assert args.convert_argument("n_int", "3") == 3 and args.convert_argument("x", "2.5") == 2.5
    assert args.convert_argument("model_str", "12") == "12" and args.convert_argument("p_path", "a/b") == "a/b"
    assert args.convert_argument("x", "inf") == "Infinity" and args.convert_argument("x", "word") == "word"
    args.register_conversion("upper", args.make_conversion("*_upper", str.upper))
    assert args.convert_argument("name_upper", "abc") == "ABC"
    assert args.convert_arguments({"--batch-size": "64", "<file>": "f"}) == {"batch_size": 64, "file": "f"}
    assert args.convert_arguments(None) is None


def test_decorator_merges_overrides(script, monkeypatch):
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("train_mod", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["train.py", "data", "-e", "180"])
    result = module.main({"amp": True, "epochs": 360})
    assert result["epochs"] == 360 and result["amp"] is True and result["data_path"] == "data"
