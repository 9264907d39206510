"""``nbgrader zip_collect`` for a hostile class: safe extraction, validated ids, re-uploads kept apart.

nbgrader's own plugins extract every archive with setuptools (entries such as
``../../x`` or a setuid bit go through, archives inside archives are unpacked
too, nothing limits the size), take any student id the file name holds (``..``
writes outside ``submitted/``) and stop the *whole class* on one re-uploaded
file ("Duplicate submission file"). ``nbgrader_config.py`` replaces both:

* :class:`SafeExtractorPlugin` extracts zip and tar archives itself, entry by
  entry: only regular files, written with mode ``0644`` (no setuid, no exec),
  never outside the extraction folder (absolute names, ``..``, backslashes,
  drive letters and control characters are refused), never an archive inside
  an archive (it is left out and reported), at most :data:`ZIP_MAX_FILE_BYTES` per
  file, :data:`ZIP_MAX_TOTAL_BYTES` per archive and :data:`ZIP_MAX_FILES` files per
  archive, counted while writing (the sizes an archive declares are not
  trusted). Whatever is refused is skipped with a one-line reason; the rest of
  the class is extracted.
* :class:`SafeCollectorPlugin` (nbgrader's ``FileNameCollectorPlugin`` with the
  course's file-name pattern) validates the student id and the file name
  (:func:`id_problem`) and skips a file with a reason instead of writing outside
  ``submitted/``; of several uploads of one file (the LMS adds ``-1``, ``-2``
  ... to re-uploads) it keeps the latest and reports the others.
"""

import os
import re
import stat
import tarfile
import unicodedata
import zipfile
from pathlib import Path

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from traitlets import Integer, List

ZIP_MAX_FILE_BYTES = 64 * 2**20  # one extracted file (a notebook with outputs is a few MiB)
ZIP_MAX_TOTAL_BYTES = 2 * 2**30  # everything extracted from one archive (a whole class)
ZIP_MAX_FILES = 20_000  # files extracted from one archive
FILE_MODE = 0o644  # every extracted file: readable, never executable, never setuid/setgid
DIR_MODE = 0o755
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".7z", ".rar")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!")
CHUNK = 1 << 20

# A student id or file name: letters, digits and . _ - @ +, starting with a letter or digit.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+\-]*")
MAX_NAME = 100


def id_problem(value, what="student id"):
    """Why ``value`` cannot be a student id (or a file name) in a path, or None when it can."""
    if not value:
        return f"the {what} is empty"
    if value in (".", ".."):
        return f"the {what} {value!r} names a folder, not a student"
    if "/" in value or "\\" in value:
        return f"the {what} {value!r} holds a path separator"
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        return f"the {what} {value!r} holds a control character"
    if value != value.strip():
        return f"the {what} {value!r} starts or ends with a space"
    if len(value) > MAX_NAME:
        return f"the {what} is longer than {MAX_NAME} characters"
    if not SAFE_NAME.fullmatch(value):
        if not SAFE_NAME.match(value):
            return f"the {what} {value!r} must start with a letter or a digit"
        bad = next(ch for ch in value if not SAFE_NAME.fullmatch("a" + ch))
        return f"the {what} {value!r} holds {bad!r} (allowed: letters, digits and . _ - @ +)"
    return None


class TooBig(Exception):
    """A file or an archive passed a size cap while it was written."""


# ----- extraction -----------------------------------------------------------------------------


def entry_problem(name):
    """Why the archive entry ``name`` may not be written, or None; the safe relative parts otherwise."""
    if "\\" in name:
        return "its name holds a backslash"
    if name.startswith("/"):
        return "its name is an absolute path"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts:
        return "its name is empty"
    for part in parts:
        if part == "..":
            return "its name leaves the extraction folder ('..')"
        if ":" in part:
            return "its name holds ':' (a drive letter or stream)"
        if any(unicodedata.category(ch).startswith("C") for ch in part):
            return "its name holds a control character"
    return None


def is_archive_name(name):
    low = name.lower()
    return low.endswith(ARCHIVE_SUFFIXES)


class Extraction:
    """Writes the regular files of one archive below ``dest`` under the caps; records what it skipped."""

    def __init__(self, archive, dest, max_file, max_total, max_files, log):
        self.archive, self.dest = Path(archive), Path(dest)
        self.max_file, self.max_total, self.max_files = max_file, max_total, max_files
        self.log = log
        self.total = self.count = 0
        self.skipped = []  # (entry name, reason)
        self.stopped = None  # why the rest of the archive was not extracted

    def skip(self, name, reason):
        self.skipped.append((name, reason))
        self.log.warning("zip_collect: skipped %s in %s: %s", name, self.archive.name, reason)

    def add(self, name, stream):
        """Write one regular file of the archive; ``stream`` reads its content."""
        problem = entry_problem(name)
        if problem:
            return self.skip(name, problem)
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if is_archive_name(parts[-1]):
            return self.skip(name, "an archive inside the archive is not extracted (upload the notebook itself)")
        if self.count >= self.max_files:
            self.stopped = f"more than {self.max_files} files"
            return self.skip(name, f"the archive holds more than {self.max_files} files")
        target = self.dest.joinpath(*parts)
        folder = self.dest
        for part in parts[:-1]:  # create folders one by one: never through a link
            folder = folder / part
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                return self.skip(name, f"{part} is not a folder")
            folder.mkdir(mode=DIR_MODE, exist_ok=True)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        except FileExistsError:
            return self.skip(name, "the archive holds this name twice; the first copy is kept")
        written, head = 0, b""
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    if not head:
                        head = chunk[:8]
                        if head.startswith(ARCHIVE_MAGIC) and not parts[-1].endswith(".ipynb"):
                            raise ValueError("an archive inside the archive is not extracted (upload the notebook itself)")
                    written += len(chunk)
                    if written > self.max_file:
                        raise TooBig(f"it expands to more than {self.max_file / 2**20:g} MiB (the cap for one file)")
                    if self.total + written > self.max_total:
                        self.stopped = f"more than {self.max_total / 2**20:g} MiB in all"
                        raise TooBig(f"the archive expands to more than {self.max_total / 2**20:g} MiB in all")
                    out.write(chunk)
            os.chmod(target, FILE_MODE)  # whatever the umask and the archive said
        except (TooBig, ValueError, OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
            target.unlink(missing_ok=True)
            return self.skip(name, str(exc) or type(exc).__name__)
        self.total += written
        self.count += 1

    def zip(self):
        with zipfile.ZipFile(self.archive) as z:
            infos = z.infolist()
            for i, info in enumerate(infos):
                if self.stopped:
                    return self.skip(info.filename, f"this and the {len(infos) - i - 1} entries after it were "
                                                    f"not extracted: the archive holds {self.stopped}")
                if info.is_dir():
                    continue
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind and kind != stat.S_IFREG:
                    self.skip(info.filename, "not a regular file (a link or a device)")
                    continue
                try:
                    with z.open(info) as stream:
                        self.add(info.filename, stream)
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                    self.skip(info.filename, f"unreadable entry ({type(exc).__name__}: {exc})")

    def tar(self):
        with tarfile.open(self.archive, "r:*") as t:
            for member in t:
                if self.stopped:
                    return self.skip(member.name, f"this and the entries after it were not extracted: "
                                                  f"the archive holds {self.stopped}")
                if member.isdir():
                    continue
                if not member.isreg():
                    self.skip(member.name, "not a regular file (a link, a device or a fifo)")
                    continue
                self.add(member.name, t.extractfile(member))

    def copy(self):
        """A plain file next to the archives: copied as one entry."""
        with open(self.archive, "rb") as stream:
            self.add(self.archive.name, stream)


class SafeExtractorPlugin(ExtractorPlugin):
    """Extract the LMS download without writing outside ``extracted/``, under size and count caps."""

    max_file_bytes = Integer(ZIP_MAX_FILE_BYTES, help="largest file extracted from an archive").tag(config=True)
    max_total_bytes = Integer(ZIP_MAX_TOTAL_BYTES, help="most bytes extracted from one archive").tag(config=True)
    max_files = Integer(ZIP_MAX_FILES, help="most files extracted from one archive").tag(config=True)
    zip_ext = List([".zip", ".gz", ".tgz", ".tar"]).tag(config=True)

    def extract(self, archive_path, extracted_path):
        archive_path, extracted_path = Path(archive_path), Path(extracted_path)
        if not any(archive_path.iterdir()):
            self.log.warning("No files found in directory: %s", archive_path)
            return
        done, skipped = 0, 0
        for root, dirs, files in os.walk(archive_path):  # never follows links to folders
            dirs[:] = sorted(d for d in dirs if not (Path(root) / d).is_symlink())
            rel = Path(root).relative_to(archive_path)
            for name in sorted(files):
                path = Path(root) / name
                if path.is_symlink() or not path.is_file():
                    self.log.warning("zip_collect: skipped %s: not a regular file (a link or a device)", path)
                    skipped += 1
                    continue
                if name.endswith(tuple(self.zip_ext)):
                    stem = name[:-7] if name.endswith(".tar.gz") else name.rsplit(".", 1)[0]
                    dest = extracted_path / rel / stem
                else:
                    dest = extracted_path / rel
                dest.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                job = Extraction(path, dest, self.max_file_bytes, self.max_total_bytes, self.max_files, self.log)
                try:
                    if name.endswith(".zip"):
                        self.log.info("Extracting from: %s", path)
                        job.zip()
                    elif name.endswith(tuple(self.zip_ext)):
                        self.log.info("Extracting from: %s", path)
                        job.tar()
                    else:
                        job.copy()
                except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
                    job.skip(name, f"not a readable archive ({type(exc).__name__}: {exc})")
                done += job.count
                skipped += len(job.skipped)
        msg = f"zip_collect: extracted {done} file(s)"
        if skipped:
            self.log.warning(msg + f"; skipped {skipped} (reasons above)")
        else:
            self.log.info(msg)


# ----- collection -----------------------------------------------------------------------------


class SafeCollectorPlugin(FileNameCollectorPlugin):
    """nbgrader's file-name collector with validated ids and re-uploads resolved.

    The ``named_regexp`` may capture ``upload`` (the LMS's ``-<n>`` suffix of a
    re-upload): of the files of one student with one file id, the one with the
    highest number (no suffix counts as 0) is collected, the others are skipped
    and reported. ``student_id`` and ``file_id`` pass :func:`id_problem`, or the
    file is skipped with the reason.
    """

    def _info(self, path):
        """``(groupdict, reason)``: the match of ``path`` with ``upload`` removed, or None and why not."""
        path = str(path)
        if os.path.splitext(path)[1] not in self.valid_ext:
            return None, None
        match = re.match(self.named_regexp, path) if self.named_regexp else None
        if not match:
            return None, None  # nbgrader's own warning names it
        info = {k: v for k, v in match.groupdict().items() if v is not None}
        upload = int(info.pop("upload", 0) or 0)
        for key, what in (("student_id", "student id"), ("file_id", "file name")):
            problem = id_problem(info.get(key, ""), what)
            if problem:
                return None, problem
        return (info, upload), None

    def _latest(self, path):
        """The path of the latest upload among the files that share ``path``'s student and file id."""
        if getattr(self, "_winners", None) is None:
            self._winners = {}
            root = Path(path).parent
            parent = getattr(self, "parent", None)
            if parent is not None and hasattr(parent, "_format_collect_path"):
                root = Path(parent._format_collect_path(parent.extracted_directory))
            for dirpath, _, files in os.walk(root):
                for name in sorted(files):
                    p = os.path.join(dirpath, name)
                    got, _ = self._info(p)
                    if got:
                        info, upload = got
                        key = (info["student_id"], os.path.splitext(info["file_id"])[0], os.path.splitext(p)[1])
                        best = self._winners.get(key)
                        if best is None or (upload, p) > best:
                            self._winners[key] = (upload, p)
        got, _ = self._info(path)
        info, _ = got
        key = (info["student_id"], os.path.splitext(info["file_id"])[0], os.path.splitext(path)[1])
        return self._winners.get(key, (0, str(path)))[1]

    def collect(self, submitted_file):
        got, problem = self._info(submitted_file)
        if problem:
            self.log.warning("zip_collect: skipped %s: %s (rename the file, or copy it into submitted/ by hand)",
                             os.path.basename(submitted_file), problem)
            return None
        if got is None:
            return super().collect(submitted_file)  # not a notebook, or no match: nbgrader says so
        info, _ = got
        latest = self._latest(submitted_file)
        if os.path.abspath(latest) != os.path.abspath(submitted_file):
            self.log.warning("zip_collect: skipped %s: an earlier upload of %s by %s; kept the latest, %s",
                             os.path.basename(submitted_file), info["file_id"], info["student_id"],
                             os.path.basename(latest))
            return None
        return info
