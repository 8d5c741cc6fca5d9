"""pgtrack.install.install_extension writes each file whole (a temporary name, renamed over the old
one), and a name planted at that temporary path (a symlink to another file) is removed, never written
through: as root into a share directory, that would overwrite the link's target. No server needed."""
import os

from pgtrack import install


def test_a_planted_temporary_name_is_not_written_through(tmp_path):
    (tmp_path / "extension").mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep")
    first = install.extension_files()[0]
    os.symlink(victim, tmp_path / "extension" / f".{first.name}.{os.getpid()}.tmp")
    written = install.install_extension(share=tmp_path)
    assert victim.read_text() == "keep"
    assert [p.name for p in written] == [p.name for p in install.extension_files()]
    for path in written:
        assert not path.is_symlink() and path.read_bytes() == (first.parent / path.name).read_bytes()
        assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in (tmp_path / "extension").iterdir()) == sorted(p.name for p in written)  # no temporary left
