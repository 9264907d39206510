"""Grade a whole class in parallel on Dask: ``python -m coursetools grade-parallel``.

nbgrader grades one student after the other (its oldest open request, issue
#174, asks for more). This module spreads the students over the workers of a
Dask cluster:

* a :class:`distributed.LocalCluster` on this machine by default (one worker
  process per CPU core), or an existing cluster with ``--scheduler
  tls://host:port`` (a department's Dask cluster, or Slurm/PBS through
  ``dask-jobqueue``; TLS with certificates only: :mod:`coursetools.grading.dask_security`).
  Workers must see the course folder at the same path (a shared filesystem)
  and run the course's Python environment with ``coursetools`` installed.
* **Isolation**: every student is graded by :func:`coursetools.grading.submission.grade_submission`
  (the same function as the sequential ``grade`` command: pre-checks, one
  ``nbgrader autograde --student``, forked from the worker's warm nbgrader
  server, statuses) inside a scratch course of its
  own in the worker's temporary folder: a copy of the assignment's template
  gradebook (made once with ``nbgrader generate_assignment``), the source and
  release folders, the course's config, and that one student's submission.
  Students never share a kernel, a folder or a database.
* **One gradebook**: results travel back to this process, which alone writes
  the course's ``gradebook.db`` (the same rows ``nbgrader autograde`` writes:
  the submission, its timestamp, every grade and comment), the student's
  ``autograded/`` folder and ``reports/<assignment>.status.json``. Grades are
  identical to the sequential command's (``tests/grading/test_parallel.py``).
* **Failures are never dropped**: a task that raises (a worker killed, a full
  disk) is reported on the console and retried, on any worker; after
  ``retries`` more attempts the student is recorded with status ``grading
  error`` and the reason, like any submission that could not be graded.
* A progress bar shows the batch; peak memory of each student's grading
  (nbgrader plus its kernel) is measured and reported.
"""

import atexit
import concurrent.futures
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import nbgrader
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from ..course import ignore_caches, make_course, run_nbgrader, tool_env
from ..layout import CourseLayout
from ..security import untrusted
from ..security.gradebook_guard import GradebookGuard
from ..settings import SUBMISSION_TIMEOUT_S
from . import statuses, submission
from .dask_security import InsecureScheduler, external_security, local_security
from .memory import PeakMemory
from .statuses import StudentResult
from .warm_nbgrader import WarmNbgrader

DEFAULT_RETRIES = 2
# Dask's housekeeping, turned down for a local cluster of long tasks: the worker's statistical profiler
# (a stack sample every 10 ms), the event loops' 20 ms tick and the system monitor's 0.5 s samples keep an
# idle worker and the scheduler measurably busy; these settings remove most of it (docs/performance.md).
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
}
CONNECT_TIMEOUT = "20s"  # to reach an existing scheduler
TEMPLATE_STAMP = ".template-fingerprint"  # in a template folder: the fingerprint of what it was made from


class ParallelGradingError(RuntimeError):
    """The batch cannot start (no Dask, no scheduler, no such assignment); the message says why."""


@dataclass
class TaskOutcome:
    """What a grading task sends back to the client (plain data, picklable)."""

    result: dict  # asdict(StudentResult)
    timestamp: str = None
    grades: list = field(default_factory=list)  # (notebook, cell, auto, manual, extra_credit, failed_tests)
    comments: list = field(default_factory=list)  # (notebook, cell, auto_comment, manual_comment)
    flagged: dict = field(default_factory=dict)  # notebook -> bool
    autograded_tar: bytes = None  # the student's autograded/<student>/<assignment>/ folder
    worker: str = ""
    attempt: int = 1
    peak_tree_rss: int = 0  # bytes: nbgrader + kernel, sampled
    peak_kernel_rss: int = 0  # bytes: the largest single process (the kernel, normally)


# ----- on the worker -------------------------------------------------------------------------


def _tar_folder(folder):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def _read_scratch_gradebook(course, assignment, student):
    with Gradebook(CourseLayout(course).gradebook_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None, [], [], {}
        grades, comments, flagged = [], [], {}
        for nb in sub.notebooks:
            flagged[nb.name] = bool(nb.flagged)
            for g in nb.grades:
                grades.append((nb.name, g.name, g.auto_score, g.manual_score, g.extra_credit,
                               getattr(g, "failed_tests", None)))
            for c in nb.comments:
                comments.append((nb.name, c.name, c.auto_comment, c.manual_comment))
        stamp = sub.timestamp.isoformat() if sub.timestamp else None
        return stamp, grades, comments, flagged


_WARM = None


def worker_nbgrader():
    """This worker process's :class:`WarmNbgrader`: nbgrader's start-up paid once per worker, not per student."""
    global _WARM
    if _WARM is None:
        _WARM = WarmNbgrader(env=tool_env())
        atexit.register(_WARM.close)
    return _WARM.spawn()  # the first run waits for it; a server that cannot start falls back to a new nbgrader


def start_worker_nbgrader():
    """Run on every worker as the batch starts (``Client.run``): the warm server imports while the template is made."""
    worker_nbgrader()


def grade_task(course, template, assignment, student, timeout_s, notebooks, attempt=1, unsafe=False,
               accept_renamed=False):
    """Grade one student in a scratch course of its own; runs on a Dask worker.

    ``course`` is the shared course folder (read only: ``submitted/<student>``
    and the config), ``template`` the scratch-course template made by
    :func:`make_template`. Returns a :class:`TaskOutcome`; raises only for
    failures of the machinery (which the client retries).
    """
    course, template = Path(course), Path(template)
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = "local"
    scratch = Path(tempfile.mkdtemp(prefix=f"grade-{assignment}-"))
    try:
        shutil.copytree(template, scratch, dirs_exist_ok=True)
        src, dest = CourseLayout(course).submitted(student, assignment), CourseLayout(scratch).submitted(student, assignment)
        dropped = []
        status, reason, _ = submission.precheck(src, notebooks)  # a symlinked notebook is invalid, not missing
        if status == statuses.INVALID:
            result = StudentResult(student, assignment, status, reason)
            return TaskOutcome(asdict(result), worker=worker, attempt=attempt)
        if src.is_dir() and not src.is_symlink():  # plain files only (untrusted.py); never through a link
            dropped = untrusted.notes(untrusted.safe_copy(src, dest))
        else:  # a missing folder is reported by grade_student's pre-check
            dest.parent.mkdir(parents=True)
        with PeakMemory() as mem:
            result = submission.grade_submission(scratch, assignment, student, timeout_s, notebooks, unsafe,
                                                 worker_nbgrader(), accept_renamed)
        result.notes[:0] = dropped
        outcome = TaskOutcome(asdict(result), worker=worker, attempt=attempt,
                              peak_tree_rss=mem.tree, peak_kernel_rss=mem.single)
        if result.graded:
            stamp, grades, comments, flagged = _read_scratch_gradebook(scratch, assignment, student)
            outcome.timestamp, outcome.grades, outcome.comments, outcome.flagged = stamp, grades, comments, flagged
            folder = CourseLayout(scratch).autograded(student, assignment)
            if folder.is_dir():
                outcome.autograded_tar = _tar_folder(folder)
        return outcome
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ----- on the client -------------------------------------------------------------------------


def make_template(course, assignment, dest=None):
    """A scratch-course template for ``assignment``: config stub, source, release, fresh gradebook.

    The gradebook is made by ``nbgrader generate_assignment`` from the
    course's own ``source/``, so it defines the same notebooks and cells as
    the course's gradebook, and holds no student. That costs a cold nbgrader
    and its database set-up, the costliest part of a batch's start, so a template whose
    inputs have not changed since the last batch (:func:`template_fingerprint`)
    is kept; any change makes it again, whole, in place of the old one.
    """
    course = Path(course).resolve()
    layout = CourseLayout(course)
    dest = Path(dest) if dest else layout.parallel_template(assignment)
    if not layout.config.is_file():
        raise ParallelGradingError(f"{course} has no nbgrader_config.py: is it a course folder?")
    src = layout.source(assignment)
    if not src.is_dir():
        raise ParallelGradingError(f"no source folder {src}: is {assignment!r} an assignment of this course?")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{assignment}-", dir=dest.parent))
    try:
        make_course(staging, [assignment], root=course)
        fingerprint = template_fingerprint(course, staging, assignment)
        stamp = dest / TEMPLATE_STAMP
        if stamp.is_file() and stamp.read_text() == fingerprint and CourseLayout(dest).gradebook.is_file():
            return dest
        run_nbgrader(["generate_assignment", assignment, "--force"], staging)
        released, staged = layout.release(assignment), CourseLayout(staging).release(assignment)
        if released.is_dir():  # the course's own release, for tampering notes
            shutil.rmtree(staged)
            shutil.copytree(released, staged, ignore=ignore_caches)
        (staging / TEMPLATE_STAMP).write_text(fingerprint)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
        return dest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def template_fingerprint(course, staging, assignment):
    """What a template is made from: the copied source folder, the course's config and release, nbgrader's version."""
    digest = hashlib.sha256(f"nbgrader {nbgrader.__version__}\n".encode())
    folders = [("source", CourseLayout(staging).source(assignment)), ("release", CourseLayout(course).release(assignment))]
    for label, folder in folders:
        files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
        for rel in files:
            if ignore_caches(str(folder), list(rel.parts)):
                continue  # the copies leave caches out too
            path = folder / rel
            digest.update(f"{label}/{rel}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(CourseLayout(course).config.read_bytes())
    return digest.hexdigest()


def _write_gradebook(url, assignment, student, outcome):
    with Gradebook(url) as gb:  # a regrade replaces the old submission, as nbgrader autograde --force
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
    with Gradebook(url) as gb:
        kwargs = {"timestamp": outcome.timestamp} if outcome.timestamp else {}
        sub = gb.add_submission(assignment, student, **kwargs)
        for nb in sub.notebooks:
            nb.flagged = outcome.flagged.get(nb.name, False)
        for nb_name, cell, auto, manual, extra, failed in outcome.grades:
            g = gb.find_grade(cell, nb_name, assignment, student)
            g.auto_score, g.manual_score, g.extra_credit = auto, manual, extra
            if failed is not None and hasattr(g, "failed_tests"):
                g.failed_tests = failed
        for nb_name, cell, auto, manual in outcome.comments:
            c = gb.find_comment(cell, nb_name, assignment, student)
            c.auto_comment, c.manual_comment = auto, manual
        gb.db.commit()


def merge_outcome(course, assignment, outcome):
    """Write one task's outcome into the course: gradebook rows and ``autograded/`` folder."""
    course = Path(course)
    student = outcome.result["student"]
    if outcome.result["status"] != statuses.GRADED:
        submission.forget(course, assignment, student)  # as the sequential batch: no half-written trace
        return
    url = CourseLayout(course).gradebook_url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own add_submission trips SQLAlchemy 2
        _write_gradebook(url, assignment, student, outcome)
    dest = CourseLayout(course).autograded(student, assignment)
    if dest.exists():
        shutil.rmtree(dest)
    if outcome.autograded_tar:
        dest.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(outcome.autograded_tar), mode="r:gz") as tar:
            extract_plain(tar, dest)


def extract_plain(tar, dest):
    """Extract a task's ``autograded/`` archive into ``dest``: folders and regular files inside it, nothing else.

    A worker sends the archive back; a compromised or buggy one could put a link,
    a device or a path out of the folder in it. Any such member refuses the whole
    archive (``tarfile.TarError``; the student's status then says the graded folder
    could not be stored). This check is the course's own, so it holds on every
    Python 3.11 (tarfile's ``filter="data"`` exists only from 3.11.4, and is applied too where it does).
    """
    members = []
    for member in tar.getmembers():
        parts = PurePosixPath(member.name).parts
        if member.isdir() and not parts:  # the folder itself (".")
            continue
        if not (member.isreg() or member.isdir()) or not parts or parts[0] == "/" or ".." in parts:
            raise tarfile.TarError(f"archive member {member.name!r} refused: only plain files and folders "
                                   "inside the student's folder")
        member.mode = (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)
        members.append(member)
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=members, filter="data")
    else:
        tar.extractall(dest, members=members)


def failed_outcome(assignment, student, attempts, error):
    """The record of a student whose grading task kept failing: status ``grading error``."""
    reason = f"the grading task failed {attempts} time(s); last error: {type(error).__name__}: {error}"
    result = StudentResult(student, assignment, statuses.ERROR, reason[:500])
    return TaskOutcome(asdict(result), attempt=attempts)


def cluster_security(scheduler, tls=None):
    """The :class:`distributed.Security` of the batch: temporary credentials for a local cluster; for an
    external ``scheduler``, TLS with the client's certificates ``tls`` (or :class:`ParallelGradingError`)."""
    if not scheduler:
        return local_security()
    try:
        return external_security(scheduler, tls)
    except InsecureScheduler as exc:
        raise ParallelGradingError(str(exc)) from None


def _client(scheduler, workers, security):
    """A client of the external ``scheduler``, or of a new local cluster; both speak only mutual TLS."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParallelGradingError("Dask distributed is not installed: pip install 'distributed'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT, security=security), None
        except (OSError, TimeoutError) as exc:
            raise ParallelGradingError(f"cannot reach the Dask scheduler at {scheduler} with these certificates: "
                                       f"{exc}") from None
    import dask

    with dask.config.set(QUIET_DASK):  # read as the scheduler, the nannies and their workers start
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               memory_limit=0, dashboard_address=None, protocol="tls://", security=security)
        return Client(cluster, security=security), cluster


@dataclass
class BatchReport:
    outcomes: list  # TaskOutcome per student, in student order
    seconds: float
    workers: int
    retried: list  # (student, attempt, error text)

    @property
    def results(self):
        return [StudentResult(**o.result) for o in self.outcomes]


def grade_parallel(course, assignment, students=None, scheduler=None, workers=None,
                   timeout_s=SUBMISSION_TIMEOUT_S, retries=DEFAULT_RETRIES,
                   progress=True, log=print, task=grade_task, tls=None, unsafe=False, accept_renamed=False):
    """Autograde ``students`` (default: every submission) of ``assignment`` on Dask.

    ``scheduler``: address of an existing Dask scheduler (``tls://host:port``, with the
    client's certificates ``tls``, a :class:`~coursetools.grading.dask_security.TLSFiles`);
    default: a :class:`~distributed.LocalCluster` with ``workers`` processes
    (default: one per CPU core). ``retries``: extra attempts for a task that
    raises. Returns a :class:`BatchReport`; the gradebook, ``autograded/`` and
    the status file are updated as with ``python -m coursetools grade``.
    """
    course = Path(course).resolve()
    security = cluster_security(scheduler, tls)  # before anything else: refuse tcp:// at once
    submission.ensure_assignment(course, assignment)
    submission.check_sandbox(unsafe)
    notebooks = submission.expected_notebooks(course, assignment)
    students = list(students) if students else statuses.students_of(course, assignment)
    guard = GradebookGuard(course, assignment).start()  # the gradebook is written only by the grader
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="template") as pool:
        # nbgrader generate_assignment runs (a process of its own) while the cluster starts
        template_job = pool.submit(make_template, course, assignment)
        client, cluster = _client(scheduler, workers, security)
        try:
            if task is grade_task:
                client.run(start_worker_nbgrader)
        except Exception as exc:  # noqa: BLE001 (an optimisation: each worker starts its server with its first student)
            log(f"the workers' warm nbgrader servers start with their first student ({type(exc).__name__}: {exc})")
    outcomes, retried = {}, []
    try:
        from distributed import as_completed

        template = template_job.result()
        n_workers = len(client.scheduler_info()["workers"])
        log(f"grading {len(students)} submission(s) of {assignment} on {n_workers} Dask worker(s)"
            + (f" at {scheduler}" if scheduler else " (local cluster)"))

        def submit(student, attempt):
            return client.submit(task, str(course), str(template), assignment, student, timeout_s, notebooks,
                                 attempt, **({"unsafe": True} if unsafe else {}),
                                 **({"accept_renamed": True} if accept_renamed else {}),
                                 key=f"grade-{assignment}-{student}-{attempt}", pure=False)

        futures = {submit(s, 1): (s, 1) for s in students}
        bar = None
        if progress:
            bar = tqdm(total=len(students), desc="grading", unit="student", file=sys.stderr)
        pending = as_completed(list(futures))
        for fut in pending:
            student, attempt = futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # the machinery failed, not the submission
                retried.append((student, attempt, f"{type(exc).__name__}: {exc}"))
                if attempt <= retries:
                    msg = f"task for {student} failed ({type(exc).__name__}: {exc}); retrying ({attempt + 1}/{retries + 1})"
                    (bar.write if bar else log)(msg)
                    new = submit(student, attempt + 1)
                    futures[new] = (student, attempt + 1)
                    pending.add(new)
                    continue
                (bar.write if bar else log)(f"task for {student} failed {attempt} time(s): recorded as a grading error")
                outcome = failed_outcome(assignment, student, attempt, exc)
            try:
                merge_outcome(course, assignment, outcome)
            except (tarfile.TarError, OSError, ValueError) as exc:  # a bad folder fails its student, not the batch
                submission.forget(course, assignment, student)
                result = StudentResult(student, assignment, statuses.ERROR,
                                             f"its graded folder could not be stored: {type(exc).__name__}: {exc}"[:300])
                outcome = TaskOutcome(asdict(result), worker=outcome.worker, attempt=outcome.attempt)
            guard.check(student)
            outcomes[student] = outcome
            if bar:
                bar.update(1)
                bar.set_postfix(failed=len(retried), refresh=False)
            else:
                r = outcome.result
                log(f"[{len(outcomes)}/{len(students)}] {student}: {r['status']}"
                    + (f": {r['reason']}" if r["reason"] else "") + f" ({r['seconds']:.1f} s)")
        if bar:
            bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    ordered = [outcomes[s] for s in students]
    statuses.write_statuses(course, assignment, [StudentResult(**o.result) for o in ordered])
    return BatchReport(ordered, time.perf_counter() - t0, n_workers, retried)


def format_summary(report):
    """Lines for the console: counts by status, time, memory, retried tasks."""
    counts = Counter(o.result["status"] for o in report.outcomes)
    n = len(report.outcomes)
    lines = [f"{n} submission(s) in {report.seconds:.1f} s on {report.workers} worker(s)"
             + (f" ({report.seconds / n:.2f} s per submission)" if n else "")]
    lines.append("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    peaks = [o.peak_kernel_rss for o in report.outcomes if o.peak_kernel_rss]
    if peaks:
        lines.append(f"peak memory of one grading process: {max(peaks) / 2**20:.0f} MiB")
    for student, attempt, err in report.retried:
        lines.append(f"task failure: {student} (attempt {attempt}): {err}")
    return lines
