"""What nbgrader loads to collect submissions that no student can forge: ``nbgrader collect`` on one machine.

nbgrader's default exchange is a shared folder: a student's ``nbgrader submit``
writes ``inbound/<student>+<assignment>+<time>+<random>/`` there, as that
student's Unix user. Its collect believes the folder's *name* for the student
and the time, only logs when the folder's owner differs ("cheating attempt?"),
and copies with ``shutil.copytree`` and the grader's rights, following links.
A student could hand in as a classmate (and overwrite their grade), date a
submission 2000-01-01, or link to the gradebook and have the grader copy it.

:class:`OwnerCollect` (``c.ExchangeFactory.collect`` in ``nbgrader_config.py``,
so the formgrader's *Collect* button and the command line both use it) keeps
nbgrader's exchange layout and submit, fetch and list unchanged, and trusts
only what the operating system says:

* **who**: a submission belongs to the Unix owner of its inbound folder,
  whatever its name says (a name that disagrees is logged); folders owned by
  root or by the collecting account, and entries that are not plain folders
  (a link), are not collected. ``--student`` selects by owner.
* **when**: the server's clock: the latest change time (``ctime``) of anything
  in the folder, which no owner can set back. The name's time and the
  student's own ``timestamp.txt`` are ignored; the collected folder gets a
  ``timestamp.txt`` written by the grader.
* **what**: plain folders and regular files only, never through a link, with
  the size caps of :func:`coursetools.security.untrusted.safe_copy`; nbgrader's
  ignore patterns apply as before. What is left out is logged.
"""

import datetime
import fnmatch
import glob
import os
import pwd
import shutil
import stat

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect, groupby
from nbgrader.utils import check_mode

from ..security import untrusted

TIMESTAMP = "timestamp.txt"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's own format, for a UTC time


def owner_of(st):
    """The Unix user name owning a file (its ``stat`` result), or None for a uid with no name."""
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return None


def last_change(folder):
    """The latest ``ctime`` of ``folder`` and of everything in it, links not followed: a naive UTC datetime,
    as nbgrader's ``parse_utc`` gives (due dates and ``timestamp.txt`` are compared with it)."""
    latest = os.lstat(folder).st_ctime
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            try:
                latest = max(latest, os.lstat(os.path.join(root, name)).st_ctime)
            except FileNotFoundError:
                continue
    return datetime.datetime.fromtimestamp(latest, tz=datetime.timezone.utc).replace(tzinfo=None)


class OwnerCollect(ExchangeCollect):
    """nbgrader's collect, with the student, the time and the files taken from the system (see the module)."""

    def _path_to_record(self, path):
        """``{username, filename, timestamp}`` of an inbound entry, or None when it is not collected."""
        filename = os.path.basename(path)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            self.log.warning("not collected: %s is not a folder (a link or a file)", filename)
            return None
        owner = owner_of(st)
        if owner is None or st.st_uid in (0, os.geteuid()):
            self.log.warning("not collected: %s is owned by %s, not by a student", filename, owner or f"uid {st.st_uid}")
            return None
        named = filename.rsplit("+", 3)[0]
        if named != owner:
            self.log.warning("%s is named for %r but was handed in by %r: it is collected as %r's",
                             filename, named, owner, owner)
        return {"username": owner, "filename": filename, "timestamp": last_change(path)}

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail("Course not found: {}".format(self.inbound_path))
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail("You don't have read permissions for the directory: {}".format(self.inbound_path))
        # Every submission of the assignment, whatever student its name gives: the owner decides.
        pattern = os.path.join(glob.escape(self.inbound_path), "*+{}+*".format(glob.escape(self.coursedir.assignment_id)))
        records = [r for r in (self._path_to_record(f) for f in sorted(glob.glob(pattern))) if r is not None]
        if self.coursedir.student_id:
            records = [r for r in records if fnmatch.fnmatchcase(r["username"], self.coursedir.student_id)]
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = []
        for group in groupby(records, lambda r: r["username"]).values():
            newest_first = self._sort_by_timestamp(group)
            on_time = [r for r in newest_first if self.duedate is not None and r["timestamp"] <= self.duedate]
            self.src_records.append(on_time[0] if self.before_duedate and on_time else newest_first[0])

    def do_copy(self, src, dest, log=None):
        """Copy one submission: plain files only, nbgrader's ignore patterns, the grader's timestamp."""
        dropped = untrusted.safe_copy(src, dest)
        for line in untrusted.notes(dropped):
            self.log.warning("%s: %s", os.path.basename(src), line)
        ignore = shutil.ignore_patterns(*self.coursedir.ignore, TIMESTAMP)
        for root, dirs, files in os.walk(dest):
            for name in ignore(root, dirs + files):
                path = os.path.join(root, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
                if name in dirs:
                    dirs.remove(name)
        name = os.path.basename(src)
        when = next((r["timestamp"] for r in self.src_records if r["filename"] == name), None) or last_change(src)
        with open(os.path.join(dest, TIMESTAMP), "w") as f:
            f.write(when.strftime(TIMESTAMP_FORMAT))
