"""Folders a student or a grading kernel wrote are untrusted: keep regular files only.

A submission folder (``submitted/<student>/<assignment>/``) and whatever a
grading kernel leaves in ``autograded/`` may hold things that make a later
step of the grader do harm: a symbolic link (nbgrader's copy follows it and
reads a secret, its permission step ``chmod``-s the target, feedback copies
it out), a hard link, a fifo (a copy blocks forever), a device, a set-user-id
or set-group-id file, a huge file. Here they are never followed, copied or
``chmod``-ed: they are dropped, and each drop is reported as a
:class:`Dropped` (path and reason).

- :func:`scan` lists what would be dropped, changing nothing;
- :func:`sweep` removes it in place (an ``autograded/`` folder after the
  kernel is gone);
- :func:`safe_copy` copies a folder keeping only directories and plain
  regular files (a submission, before nbgrader sees it: ``submitted/``
  itself is never modified);
- :func:`notebook_problem` says why an expected notebook is not a plain file
  (a symlinked notebook is an invalid submission).

Every walk works on directory file descriptors opened with ``O_NOFOLLOW``,
so a link swapped in during the walk is not followed either.
"""

import os
import shutil
import stat
from dataclasses import dataclass

MiB = 1024**2
MAX_FILE_BYTES = 100 * MiB  # one file of a submission or of what a kernel left
MAX_TOTAL_BYTES = 500 * MiB  # a whole submission folder
MAX_ENTRIES = 10_000  # files and folders of one submission folder
MAX_DEPTH = 32  # nesting of folders

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Dropped:
    """One entry that was not kept: its path relative to the folder, and why."""

    path: str
    why: str

    def __str__(self):
        return f"dropped {self.path}: {self.why}"


def _kind(st):
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link (never followed)"
    if stat.S_ISFIFO(mode):
        return "a fifo (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "not a regular file"
    return None


def why_untrusted(st, max_file_bytes=MAX_FILE_BYTES):
    """Why an entry with ``lstat`` result ``st`` is not kept, or ``None`` when it is a plain file or folder."""
    kind = _kind(st)
    if kind:
        return kind
    if stat.S_ISDIR(st.st_mode):
        return None
    if st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        return "a set-user-id/set-group-id file"
    if st.st_nlink > 1:
        return f"a hard link ({st.st_nlink} names for one file)"
    if max_file_bytes is not None and st.st_size > max_file_bytes:
        return f"too large ({st.st_size / MiB:.1f} MiB; at most {max_file_bytes / MiB:.0f} MiB per file)"
    return None


def _entries(dfd):
    with os.scandir(dfd) as it:
        return sorted(e.name for e in it)


def _walk(dfd, rel, out, max_file_bytes, remove, depth):
    for name in _entries(dfd):
        path = os.path.join(rel, name) if rel else name
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        why = why_untrusted(st, max_file_bytes)
        if why is None and stat.S_ISDIR(st.st_mode) and depth >= MAX_DEPTH:
            why = f"folders nested more than {MAX_DEPTH} deep"
        if why is not None:
            out.append(Dropped(path, why))
            if remove:
                _remove(dfd, name, st)
            continue
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            try:
                _walk(sub, path, out, max_file_bytes, remove, depth + 1)
            finally:
                os.close(sub)


def _remove(dfd, name, st):
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dfd)
    else:
        os.unlink(name, dir_fd=dfd)  # a link itself, never its target


def _open_root(folder):
    return os.open(folder, _DIR_FLAGS)


def scan(folder, max_file_bytes=MAX_FILE_BYTES):
    """What :func:`sweep` would drop from ``folder`` (nothing is changed)."""
    if not os.path.isdir(folder) or os.path.islink(folder):
        return []
    out = []
    dfd = _open_root(folder)
    try:
        _walk(dfd, "", out, max_file_bytes, False, 0)
    finally:
        os.close(dfd)
    return out


def sweep(folder, max_file_bytes=MAX_FILE_BYTES):
    """Remove from ``folder`` every entry that is not a plain folder or regular file; return the drops.

    Set-user-id/set-group-id files, hard links and files over
    ``max_file_bytes`` are removed too. Links are removed, never followed.
    """
    if not os.path.isdir(folder) or os.path.islink(folder):
        return []
    out = []
    dfd = _open_root(folder)
    try:
        _walk(dfd, "", out, max_file_bytes, True, 0)
    finally:
        os.close(dfd)
    return out


def safe_copy(src, dest, max_file_bytes=MAX_FILE_BYTES, max_total_bytes=MAX_TOTAL_BYTES, max_entries=MAX_ENTRIES):
    """Copy folder ``src`` to ``dest`` (created) keeping only folders and plain regular files; return the drops.

    Copied files get mode 0644 (0755 when executable by the owner); nothing
    of ``src`` is changed. Past ``max_total_bytes`` or ``max_entries`` the
    rest is dropped.
    """
    os.makedirs(dest, exist_ok=True)
    out = []
    budget = {"bytes": max_total_bytes, "entries": max_entries}
    sfd = _open_root(src)
    try:
        _copy(sfd, dest, "", out, max_file_bytes, budget, 0)
    finally:
        os.close(sfd)
    return out


def _copy(sfd, dest, rel, out, max_file_bytes, budget, depth):
    for name in _entries(sfd):
        path = os.path.join(rel, name) if rel else name
        try:
            st = os.stat(name, dir_fd=sfd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        why = why_untrusted(st, max_file_bytes)
        if why is None and stat.S_ISDIR(st.st_mode) and depth >= MAX_DEPTH:
            why = f"folders nested more than {MAX_DEPTH} deep"
        if why is None and budget["entries"] <= 0:
            why = f"the submission has more than {MAX_ENTRIES} files and folders"
        if why is None and not stat.S_ISDIR(st.st_mode) and st.st_size > budget["bytes"]:
            why = "the submission is larger than the limit for a whole folder"
        if why is not None:
            out.append(Dropped(path, why))
            continue
        budget["entries"] -= 1
        target = os.path.join(dest, name)
        if stat.S_ISDIR(st.st_mode):
            os.makedirs(target, exist_ok=True)
            sub = os.open(name, _DIR_FLAGS, dir_fd=sfd)
            try:
                _copy(sub, target, path, out, max_file_bytes, budget, depth + 1)
            finally:
                os.close(sub)
            continue
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), dir_fd=sfd)
        try:
            fst = os.fstat(fd)
            if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino) or why_untrusted(fst, max_file_bytes):
                out.append(Dropped(path, why_untrusted(fst, max_file_bytes) or "changed while it was copied"))
                continue
            mode = 0o755 if fst.st_mode & stat.S_IXUSR else 0o644
            budget["bytes"] -= _copy_bytes(fd, target, mode, fst.st_size)
        finally:
            os.close(fd)


def _copy_bytes(fd, target, mode, limit):
    """Copy at most ``limit`` bytes from ``fd`` into a new file ``target``; return the bytes copied."""
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    copied = 0
    try:
        os.fchmod(out, mode)
        while copied < limit:
            chunk = os.read(fd, min(1 << 20, limit - copied))
            if not chunk:
                break
            os.write(out, chunk)
            copied += len(chunk)
    finally:
        os.close(out)
    return copied


def notebook_problem(folder, name):
    """Why ``folder/name`` (an expected notebook) is not a plain regular file, or ``None``.

    Only the entry itself is looked at (``lstat``): a symlink to a
    classmate's notebook is reported, never read.
    """
    try:
        st = os.lstat(os.path.join(folder, name))
    except FileNotFoundError:
        return None  # missing: the pre-check reports it with the names found
    if stat.S_ISDIR(st.st_mode):
        return f"{name} is a folder, not a notebook file"
    why = why_untrusted(st, None)
    if why:
        return f"{name} is {why}, not a plain notebook file: invalid submission"
    return None


def notes(dropped, limit=10):
    """Report lines for drops (the first ``limit``, then a count)."""
    lines = [str(d) for d in dropped[:limit]]
    if len(dropped) > limit:
        lines.append(f"dropped {len(dropped) - limit} more untrusted entries")
    return lines
