"""Run.artefacts_dir(): sanitised components, never outside the root."""
import pytest

import pgtrack
from pgtrack.paths import artefacts_path, sanitise_for_path


@pytest.mark.parametrize("value, expected", [
    ("simple", "simple"), ("Hello World", "Hello_World"), ("café", "cafe"), ("résumé", "resume"),
    ("with/slashes", "with_slashes"), ("multi   spaces", "multi_spaces"), ("uPpEr_LoWeR-1.2", "uPpEr_LoWeR-1.2"),
    ("trailing.dots...", "trailing.dots"), ("__leading_underscores", "leading_underscores"),
    ("a_b!c@d#e%f", "a_b_c_d_e_f"), (123, "123"), (1.5, "1.5"), (True, "True"), ("../../etc", "etc"),
    ("a\x00b", "a_b"),
])
def test_sanitise(value, expected):
    assert sanitise_for_path(value) == expected


@pytest.mark.parametrize("value", ["...", "!!!", "", "..", "/"])
def test_values_that_sanitise_to_nothing_are_refused(value):
    with pytest.raises(ValueError, match="empty"):
        sanitise_for_path(value)


@pytest.mark.parametrize("layout", ["../{uuid}", "/etc/{uuid}", "a/../../{uuid}", "a//{uuid}", "./{uuid}",
                                    "a\x00/{uuid}", "a\\..\\{uuid}", "{uuid", "{{uuid}}", "C:/x/{uuid}"])
def test_layouts_that_could_escape_are_refused(tmp_path, layout):
    with pytest.raises(ValueError):
        artefacts_path(tmp_path, layout, {"uuid": "abc"})


def test_values_and_parts_cannot_escape(tmp_path):
    path = artefacts_path(tmp_path, "{label}/{uuid}", {"label": "../../../etc", "uuid": "/abs\x00x"}, ["..", "ok.pt"][1:])
    assert path == (tmp_path / "etc" / "abs_x" / "ok.pt").resolve()
    with pytest.raises(ValueError):
        artefacts_path(tmp_path, "{uuid}", {"uuid": "a"}, [".."])


def test_symlink_out_of_root_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="escape"):
        artefacts_path(tmp_path / "root", "link/{uuid}/..x", {"uuid": "abc"}) and None
    assert artefacts_path(tmp_path / "root", "x/{uuid}", {"uuid": "abc"}).is_relative_to((tmp_path / "root").resolve())


def test_run_artefacts_dir_with_parts_and_mkdir(client, tmp_path):
    exp = pgtrack.Experiment(client, name="paths")
    exp.declare_identifying("architecture", "string")
    run = exp.register({"architecture": "resnet18"}, on_duplicate="raise").run
    assert run.artefacts_dir(tmp_path) == (tmp_path / run.uuid).resolve()
    assert run.artefacts_dir(tmp_path, "{architecture}/{uuid}") == (tmp_path / "resnet18" / run.uuid).resolve()
    logs = run.artefacts_dir(tmp_path, None, "logs", mkdir=True)
    assert logs.is_dir() and logs == (tmp_path / run.uuid / "logs").resolve()
    with pytest.raises(ValueError, match="no value"):
        run.artefacts_dir(tmp_path, "{missing}")
    with pytest.raises(ValueError, match="root"):
        run.artefacts_dir()
