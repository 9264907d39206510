"""A grading task's ``autograded/`` archive is stored only if it holds plain files and folders inside the folder.

(``grading/parallel.py:extract_plain``; ``test_parallel_untrusted.py`` sends such an archive through a real
cluster.) The check is the course's own: Python 3.11 before 3.11.4 has no tarfile extraction filter.
"""

import io
import tarfile

import pytest

from coursetools.grading.parallel import extract_plain


def archive(*members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name, data=None, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if data is not None:
        info.size = len(data)
    info.mode = 0o4777  # setuid and world-writable: never kept
    return info, data


def extract(raw, dest):
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        extract_plain(tar, dest)


def test_plain_files_and_folders_are_stored_with_safe_modes(tmp_path):
    extract(archive(member(".", kind=tarfile.DIRTYPE), member("./sub", kind=tarfile.DIRTYPE),
                    member("./sub/nb.ipynb", b"{}")), tmp_path)  # as grade_task archives a folder
    assert (tmp_path / "sub" / "nb.ipynb").read_bytes() == b"{}"
    mode = (tmp_path / "sub" / "nb.ipynb").stat().st_mode
    assert mode & 0o7022 == 0 and mode & 0o600 == 0o600  # no setuid, nobody else writes; the owner reads


@pytest.mark.parametrize("bad", [
    member("leak", kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
    member("hard", kind=tarfile.LNKTYPE, linkname="nb.ipynb"),
    member("../../../outside.txt", b"owned"),
    member("/abs.txt", b"owned"),
    member("dev", kind=tarfile.CHRTYPE),
    member("fifo", kind=tarfile.FIFOTYPE),
], ids=["symlink", "hardlink", "dotdot", "absolute", "device", "fifo"])
def test_anything_else_refuses_the_whole_archive(tmp_path, bad):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(tarfile.TarError):
        extract(archive(member("nb.ipynb", b"{}"), bad), dest)
    assert list(dest.iterdir()) == []  # nothing was stored
    assert not (tmp_path / "outside.txt").exists()
