"""The gradebook is written only by the grader: check it before, during and after a batch.

A grading kernel that reaches ``gradebook.db`` (a sandbox failure, plain
``nbgrader autograde`` without one) could rewrite a classmate's grades, or
leave a trigger or a view that rewrites them later. :class:`GradebookGuard`
makes that visible and stops the batch:

* **schema**: the database holds nbgrader's own schema and nothing else, the
  tables, indexes, triggers and views that a fresh gradebook made by this
  nbgrader version holds (made once in a temporary folder and compared
  object by object, SQL text included);
* **rows**: every row that does not belong to the submission being graded is
  snapshotted and compared after that submission, so a change to a classmate's
  grades, another assignment, the cell definitions or the student list shows
  up, named, right after the submission that made it.

The batch commands (``grade``, ``grade-parallel``) call :meth:`GradebookGuard.start`
before the first student and :meth:`GradebookGuard.check` after each one; a
difference raises :class:`GradebookTampered` (a :class:`GradebookError`: the
command prints it and exits 1).
"""

import functools
import json
import os
import re
import sqlite3
import tempfile
from importlib.metadata import version
from pathlib import Path

from .. import settings
from ..layout import CourseLayout

MAX_NAMED = 8  # differences named in the message; the rest are counted

# Which student and assignment own a row of nbgrader's tables (None: the course's own rows).
# Each query returns (rowid, student id, assignment name, cell or notebook name) for the rows of that table.
_OWNER = {
    "student": "SELECT s.rowid, s.id, NULL, NULL FROM student s",
    "submitted_assignment": (
        "SELECT sa.rowid, sa.student_id, a.name, NULL FROM submitted_assignment sa "
        "LEFT JOIN assignment a ON a.id = sa.assignment_id"),
    "submitted_notebook": (
        "SELECT sn.rowid, sa.student_id, a.name, nb.name FROM submitted_notebook sn "
        "LEFT JOIN notebook nb ON nb.id = sn.notebook_id "
        "LEFT JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
        "LEFT JOIN assignment a ON a.id = sa.assignment_id"),
    "grade": (
        "SELECT g.rowid, sa.student_id, a.name, bc.name FROM grade g "
        "LEFT JOIN base_cell bc ON bc.id = g.cell_id "
        "LEFT JOIN submitted_notebook sn ON sn.id = g.notebook_id "
        "LEFT JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
        "LEFT JOIN assignment a ON a.id = sa.assignment_id"),
    "comment": (
        "SELECT c.rowid, sa.student_id, a.name, bc.name FROM comment c "
        "LEFT JOIN base_cell bc ON bc.id = c.cell_id "
        "LEFT JOIN submitted_notebook sn ON sn.id = c.notebook_id "
        "LEFT JOIN submitted_assignment sa ON sa.id = sn.assignment_id "
        "LEFT JOIN assignment a ON a.id = sa.assignment_id"),
}


class GradebookError(RuntimeError):
    """The gradebook cannot be guarded (there is none); the message says what to do."""


class GradebookTampered(GradebookError):
    """The gradebook differs from what the grader wrote; the message names the differences."""


def _read_only(db_path):
    """A read-only connection to the SQLite file ``db_path`` (the guard never writes the gradebook)."""
    return sqlite3.connect(Path(db_path).resolve().as_uri() + "?mode=ro", uri=True)


def _norm_sql(sql):
    return re.sub(r"\s+", " ", sql or "").strip()


def schema_of(db_path):
    """``{(type, name): normalised SQL}`` of every object in the SQLite file ``db_path``."""
    con = _read_only(db_path)
    try:
        rows = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    finally:
        con.close()
    return {(t, n): _norm_sql(s) for t, n, s in rows}


def _schema_cache_file():
    """Where the fresh gradebook's schema is kept: one file per nbgrader, SQLAlchemy, alembic and SQLite version."""
    key = "-".join([*(version(p) for p in ("nbgrader", "sqlalchemy", "alembic")), sqlite3.sqlite_version])
    return settings.CACHE_DIR / f"nbgrader-schema-{key}.json"


def _read_cached_schema(path):
    try:
        rows = json.loads(path.read_text())
        if type(rows) is list and all(type(r) is list and len(r) == 3 and all(type(x) is str for x in r) for r in rows):
            return {(t, n): s for t, n, s in rows}
    except (OSError, ValueError):
        pass
    return None  # missing or unreadable: made again


@functools.lru_cache(maxsize=1)
def nbgrader_schema():
    """The schema of a fresh gradebook made by the installed nbgrader.

    Making one runs nbgrader's alembic set-up (seconds), so it is made once per
    machine and package versions, in a temporary folder, and kept in
    :data:`~coursetools.settings.CACHE_DIR`; a cache file that is not what this
    function writes is ignored and written again.
    """
    cache = _schema_cache_file()
    schema = _read_cached_schema(cache)
    if schema is not None:
        return schema
    # Only when the cache misses: a cached schema needs no nbgrader.
    from nbgrader.api import Gradebook

    with tempfile.TemporaryDirectory(prefix="fresh-gradebook-") as tmp:
        db = Path(tmp) / "gradebook.db"
        Gradebook(f"sqlite:///{db}").close()
        schema = schema_of(db)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_suffix(f".{os.getpid()}.tmp")  # written whole, then renamed: readers never see half
        part.write_text(json.dumps(sorted([t, n, s] for (t, n), s in schema.items()), indent=0))
        part.replace(cache)
    except OSError:  # a read-only home: the schema is simply made again next time
        pass
    return schema


def schema_differences(db_path):
    """What the schema of ``db_path`` has beyond, or lacks from, nbgrader's; empty when identical."""
    want, got = nbgrader_schema(), schema_of(db_path)
    out = [f"unexpected {t} {n!r} (nbgrader's gradebook has no such {t})" for t, n in sorted(set(got) - set(want))]
    out += [f"{t} {n!r} is missing" for t, n in sorted(set(want) - set(got))]
    out += [f"{t} {n!r} differs from nbgrader's definition" for t, n in sorted(set(want) & set(got))
            if want[(t, n)] != got[(t, n)]]
    return out


def snapshot(db_path):
    """Every row of nbgrader's tables: ``{(table, rowid): (owner, row values)}``.

    ``owner`` is ``(student id, assignment name, cell or notebook name)`` for a
    student's rows (the assignment is None for the ``student`` row itself) and None for the course's
    rows (course, assignments, notebooks, cells, the alembic version).
    """
    con = _read_only(db_path)
    try:
        tables = [n for t, n in nbgrader_schema() if t == "table"]
        rows = {}
        for table in tables:
            owners = {}
            if table in _OWNER:
                owners = {rid: (sid, a, what) for rid, sid, a, what in con.execute(_OWNER[table])}
            for row in con.execute(f'SELECT rowid, * FROM "{table}"'):
                rows[(table, row[0])] = (owners.get(row[0]), tuple(row[1:]))
        return rows
    finally:
        con.close()


def _describe(table, rowid, owner):
    if owner is None:
        return f"{table} row {rowid} (course data)"
    student, assignment, what = owner
    thing = {"grade": "grade of cell", "comment": "comment of cell", "submitted_notebook": "submitted notebook",
             "submitted_assignment": "submission", "student": "student record"}[table]
    return f"{thing} {what + ' ' if what else ''}of student {student!r}" + (f" ({assignment})" if assignment else "")


def row_differences(before, after, allowed=lambda owner: False):
    """Rows added, removed or changed between two snapshots, except those whose owner is ``allowed``."""
    out = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[0], k[1])):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        owners = [x[0] for x in (old, new) if x is not None]
        if all(allowed(o) for o in owners):
            continue
        table, rowid = key
        what = _describe(table, rowid, owners[0])
        if old is None:
            out.append(f"{what} was added")
        elif new is None:
            out.append(f"{what} was deleted")
        else:
            out.append(f"{what} was changed")
    return out


def _summary(items):
    named = "; ".join(items[:MAX_NAMED])
    more = f"; and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return named + more


class GradebookGuard:
    """Check the gradebook of ``course`` around a batch of ``assignment``.

    ``start()`` checks the schema and takes the first snapshot; ``check(student)``
    after each graded student accepts changes to that student's rows of this
    assignment (and the student's own row, which nbgrader creates) and to
    nothing else, then takes the next snapshot. ``check(None)`` accepts no change.
    """

    def __init__(self, course, assignment):
        self.db = CourseLayout(course).gradebook
        self.assignment = assignment
        self.rows = None

    def _schema(self, when):
        diffs = schema_differences(self.db)
        if diffs:
            raise GradebookTampered(
                f"the gradebook {self.db} {when} holds more than nbgrader's schema: {_summary(diffs)}. "
                "Something other than the grader wrote to it (a trigger or view runs code on every later "
                "write): grading stopped. Restore gradebook.db from a backup, or drop the objects named "
                "here (sqlite3 gradebook.db 'DROP TRIGGER ...'), check the grades, then grade again.")

    def start(self):
        """Check the schema and snapshot every row; raise :class:`GradebookTampered` on a difference."""
        if not self.db.exists():
            raise GradebookError(f"no gradebook at {self.db}: run `nbgrader generate_assignment "
                               f"{self.assignment}` (or `course release`) first")
        self._schema("before grading")
        self.rows = snapshot(self.db)
        return self

    def check(self, student=None):
        """After grading ``student``: schema unchanged, no row changed outside that student's submission."""
        if self.rows is None:
            self.start()
        when = f"after grading {student!r}" if student is not None else "during grading"
        self._schema(when)
        after = snapshot(self.db)

        def allowed(owner):
            return student is not None and owner is not None and owner[0] == student \
                and owner[1] in (self.assignment, None)

        diffs = row_differences(self.rows, after, allowed)
        if diffs:
            raise GradebookTampered(
                f"the gradebook {self.db} changed {when} outside that submission: {_summary(diffs)}. "
                "Only the grader may write the gradebook: grading stopped. Restore gradebook.db from a "
                "backup (or regrade the students named here), and look at the submission graded last.")
        self.rows = after

