"""zip_collect for a hostile class: zip slip, nested archives, setuid bits, zip bombs, re-uploads, odd ids."""

import io
import logging
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from coursetools.layout import CourseLayout
from coursetools.plugins.zip_collect import SafeCollectorPlugin, SafeExtractorPlugin, id_problem
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT
from tests.helpers import release_notebook

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK_NAME = ASSIGNMENTS[ASSIGNMENT].notebooks[0]
FILE_ID = Path(NOTEBOOK_NAME).stem  # what nbgrader calls the notebook in a collected file's name
CANVAS = "{login}_{late}123_456_" + FILE_ID + "{suffix}.ipynb"
NOTEBOOK = nbformat.writes(release_notebook()).encode()


def canvas(login, suffix="", late=""):
    return CANVAS.format(login=login, suffix=suffix, late=late)


def extract(tmp_path, caplog, **caps):
    archive, out = tmp_path / "archive", tmp_path / "extracted"
    out.mkdir(exist_ok=True)
    plugin = SafeExtractorPlugin(**caps)
    with caplog.at_level(logging.WARNING):
        plugin.extract(str(archive), str(out))
    return out


def write_zip(tmp_path, entries, name="submissions.zip"):
    """``entries``: (ZipInfo or name, bytes)."""
    folder = tmp_path / "archive"
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as z:
        for entry, data in entries:
            z.writestr(entry, data)
    return folder / name


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("value, words", [
    ("..", "names a folder"), (".", "names a folder"), ("a/b", "path separator"), ("a\\b", "path separator"),
    ("bob\x00", "control character"), ("bob\n", "control character"), ("bob ", "starts or ends with a space"),
    ("alice[1]", "holds '['"), ("", "is empty"), (".hidden", "must start with a letter or a digit"),
])
def test_unsafe_ids_are_refused_with_a_reason(value, words):
    assert words in id_problem(value)


@pytest.mark.parametrize("value", ["smithjane", "jane.smith", "j-smith2", "jane@uni.edu"])
def test_ordinary_ids_pass(value):
    assert id_problem(value) is None


def test_zip_slip_absolute_and_backslash_entries_stay_out(tmp_path, caplog):
    write_zip(tmp_path, [("../../evil.ipynb", b"x"), ("/etc/evil.ipynb", b"x"), ("a\\..\\..\\evil.ipynb", b"x"),
                         ("C:/evil.ipynb", b"x"), (canvas("jane"), NOTEBOOK)])
    out = extract(tmp_path, caplog)
    assert files_under(tmp_path) == ["archive/submissions.zip", f"extracted/submissions/{canvas('jane')}"]
    for words in ("leaves the extraction folder", "absolute path", "backslash", "drive letter"):
        assert words in caplog.text
    assert (out / "submissions" / canvas("jane")).read_bytes() == NOTEBOOK


def test_nested_archives_are_not_extracted(tmp_path, caplog):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr(canvas("victim"), b"forged")
    write_zip(tmp_path, [("mallory_1_2_inner.zip", inner.getvalue()), ("disguised.txt", inner.getvalue()),
                         (canvas("jane"), NOTEBOOK)])
    out = extract(tmp_path, caplog)
    assert files_under(out) == [f"submissions/{canvas('jane')}"]
    assert caplog.text.count("an archive inside the archive is not extracted") == 2


def test_mode_bits_are_cleared_and_links_are_not_written(tmp_path, caplog):
    setuid = zipfile.ZipInfo(canvas("jane"))
    setuid.external_attr = (stat.S_IFREG | stat.S_ISUID | stat.S_ISGID | 0o777) << 16
    link = zipfile.ZipInfo("link.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    write_zip(tmp_path, [(setuid, NOTEBOOK), (link, b"/home/instructor/.ssh/id_rsa")])
    out = extract(tmp_path, caplog)
    path = out / "submissions" / canvas("jane")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not (out / "submissions" / "link.ipynb").exists() and "not a regular file" in caplog.text


def test_tar_archives_get_the_same_treatment(tmp_path, caplog):
    folder = tmp_path / "archive"
    folder.mkdir()
    with tarfile.open(folder / "class.tar.gz", "w:gz") as t:
        for name, data, mode in ((canvas("jane"), NOTEBOOK, 0o4755), ("../evil.ipynb", b"x", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            t.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("key.ipynb")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(link)
    out = extract(tmp_path, caplog)
    assert files_under(out) == [f"class/{canvas('jane')}"]
    assert stat.S_IMODE((out / "class" / canvas("jane")).stat().st_mode) == 0o644
    assert "leaves the extraction folder" in caplog.text and "not a regular file" in caplog.text


def test_a_zip_bomb_is_capped_and_the_class_is_still_extracted(tmp_path, caplog):
    """334 KB that expand to 300 MB (one entry of zeros): stopped at the per-file cap, classmates extracted."""
    folder = tmp_path / "archive"
    folder.mkdir()
    with zipfile.ZipFile(folder / "submissions.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(canvas("jane"), NOTEBOOK)
        bomb = zipfile.ZipInfo(canvas("bomber"))
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with z.open(bomb, "w", force_zip64=True) as f:  # streamed: the test never holds 300 MB
            zeros = bytes(2**20)
            for _ in range(300):
                f.write(zeros)
        z.writestr(canvas("zoe"), NOTEBOOK)
    assert (folder / "submissions.zip").stat().st_size < 400_000
    out = extract(tmp_path, caplog)
    assert files_under(out) == [f"submissions/{canvas('jane')}", f"submissions/{canvas('zoe')}"]
    assert "expands to more than 64 MiB (the cap for one file)" in caplog.text


def test_total_size_and_file_count_are_capped(tmp_path, caplog):
    write_zip(tmp_path, [(f"s{i}_1_2_A.ipynb", bytes(1000)) for i in range(5)])
    out = extract(tmp_path, caplog, max_total_bytes=2500)
    assert len(files_under(out)) == 2 and "more than" in caplog.text and "in all" in caplog.text
    shutil.rmtree(out)
    caplog.clear()
    out = extract(tmp_path, caplog, max_files=3)
    assert len(files_under(out)) == 3 and "more than 3 files" in caplog.text


def collect(tmp_path, names, caplog):
    """Run the collector over files ``names`` in ``extracted/`` (as ZipCollectApp does): ``{name: info}``."""
    folder = tmp_path / "extracted"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(NOTEBOOK)
    plugin = SafeCollectorPlugin(named_regexp=_course_regexp(COURSE.config))
    got = {}
    with caplog.at_level(logging.WARNING):
        for path in sorted(folder.iterdir()):
            got[path.name] = plugin.collect(str(path))
    return got


def _course_regexp(config):
    """The file-name pattern the course's nbgrader_config.py (``config``) sets."""
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader(config.name, path=str(config.parent)).load_config()
    return cfg.SafeCollectorPlugin.named_regexp


def test_re_uploads_keep_the_latest_and_report_the_rest(tmp_path, caplog):
    got = collect(tmp_path, [canvas("jane"), canvas("jane", "-1"), canvas("jane", "-2", "LATE_"), canvas("zoe")],
                  caplog)
    kept = [name for name, info in got.items() if info]
    assert kept == [canvas("jane", "-2", "LATE_"), canvas("zoe")]
    assert got[canvas("zoe")] == {"student_id": "zoe", "file_id": FILE_ID}
    assert caplog.text.count(f"an earlier upload of {FILE_ID} by jane; kept the latest") == 2


def test_bad_student_ids_are_skipped_with_a_reason(tmp_path, caplog):
    got = collect(tmp_path, [canvas("alice[1]"), canvas("bob "), canvas(".."), canvas("zoe")], caplog)
    assert [n for n, info in got.items() if info] == [canvas("zoe")]
    assert "holds '['" in caplog.text and "starts or ends with a space" in caplog.text


def _course(tmp_path):
    course = CourseLayout(tmp_path / "course")
    course.release(ASSIGNMENT).mkdir(parents=True)
    (course.release(ASSIGNMENT) / NOTEBOOK_NAME).write_bytes(NOTEBOOK)
    course.config.write_text(f"c = get_config()\nload_subconfig({str(COURSE.config)!r})\n")
    return course


@pytest.mark.slow
def test_nbgrader_zip_collect_survives_a_hostile_class(tmp_path):
    """The real command with the course's config: every attack above in one download; the class is collected."""
    from coursetools.course import run_nbgrader

    course = _course(tmp_path)
    archive = course.downloaded(ASSIGNMENT) / "archive"
    archive.mkdir(parents=True)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr(canvas("victim"), b"forged")
    setuid = zipfile.ZipInfo(canvas("jane", "-1"))
    setuid.external_attr = (stat.S_IFREG | stat.S_ISUID | 0o755) << 16
    with zipfile.ZipFile(archive / "submissions.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(canvas("jane"), b"old")
        z.writestr(setuid, NOTEBOOK)
        z.writestr(canvas(".."), b"escape")
        z.writestr("../" + canvas("slip"), b"slip")
        z.writestr(canvas("alice[1]"), NOTEBOOK)
        z.writestr(canvas("bob "), NOTEBOOK)
        z.writestr("mallory_1_2_x.zip", inner.getvalue())
        z.writestr(canvas("zoe"), NOTEBOOK)
    proc = run_nbgrader(["zip_collect", ASSIGNMENT, "--force"], course.root, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert sorted(p.name for p in course.submitted().iterdir()) == ["jane", "zoe"]
    jane = course.submitted("jane", ASSIGNMENT) / NOTEBOOK_NAME
    assert jane.read_bytes() == NOTEBOOK and stat.S_IMODE(jane.stat().st_mode) & 0o7111 == 0
    assert files_under(course.downloaded(ASSIGNMENT)) == sorted([
        "archive/submissions.zip", f"extracted/submissions/{canvas('..')}", f"extracted/submissions/{canvas('alice[1]')}",
        f"extracted/submissions/{canvas('bob ')}", f"extracted/submissions/{canvas('jane')}",
        f"extracted/submissions/{canvas('jane', '-1')}", f"extracted/submissions/{canvas('zoe')}"])
    assert not (tmp_path / "slip").exists() and not list(tmp_path.glob("**/*victim*"))
    for words in (f"an earlier upload of {FILE_ID} by jane", "holds '['", "starts or ends with a space",
                  "names a folder", "leaves the extraction folder", "an archive inside the archive"):
        assert words in log, words
