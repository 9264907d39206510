"""The gradebook guard: nbgrader's schema and nothing else, no row outside the graded submission changed."""

import shutil
import sqlite3

import nbformat

import pytest

from coursetools.layout import CourseLayout
from coursetools.security.gradebook_guard import GradebookError, GradebookGuard, GradebookTampered, schema_differences

ASSIGNMENT = "a"
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own add_submission


@pytest.fixture(scope="module")
def graded_gradebook(tmp_path_factory):
    """A gradebook with one assignment (two graded cells), students alice and bob, both graded.

    Built once (nbgrader creates its schema with alembic, which takes seconds); each test gets a copy.
    """
    from nbgrader.api import Gradebook

    path = CourseLayout(tmp_path_factory.mktemp("template")).gradebook
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment(ASSIGNMENT)
        gb.add_assignment("other")
        for name in (ASSIGNMENT, "other"):
            gb.add_notebook("A", name)
            gb.add_grade_cell("test-f", "A", name, max_score=1, cell_type="code")
            gb.add_grade_cell("test-g", "A", name, max_score=2, cell_type="code")
        for student in ("alice", "bob"):
            gb.add_student(student)
            for name in (ASSIGNMENT, "other"):
                gb.add_submission(name, student)
                for cell, score in (("test-f", 1), ("test-g", 2)):
                    gb.find_grade(cell, "A", name, student).auto_score = score
        gb.db.commit()
    return path


@pytest.fixture
def course(tmp_path, graded_gradebook):
    """A course folder holding a fresh copy of :func:`graded_gradebook`."""
    shutil.copy(graded_gradebook, CourseLayout(tmp_path).gradebook)
    return tmp_path


def sql(course, statement, *args):
    con = sqlite3.connect(CourseLayout(course).gradebook)
    with con:
        con.execute(statement, args)
    con.close()


def set_score(course, student, cell, score, assignment=ASSIGNMENT):
    sql(course, "UPDATE grade SET auto_score = ? WHERE id = (SELECT g.id FROM grade g "
        "JOIN base_cell c ON c.id = g.cell_id JOIN submitted_notebook n ON n.id = g.notebook_id "
        "JOIN submitted_assignment s ON s.id = n.assignment_id JOIN assignment a ON a.id = s.assignment_id "
        "WHERE s.student_id = ? AND c.name = ? AND a.name = ?)", score, student, cell, assignment)


def test_a_fresh_nbgrader_gradebook_has_nothing_extra(course):
    assert schema_differences(CourseLayout(course).gradebook) == []
    GradebookGuard(course, ASSIGNMENT).start().check(None)


def test_the_graded_students_own_rows_may_change(course):
    guard = GradebookGuard(course, ASSIGNMENT).start()
    set_score(course, "alice", "test-g", 0)
    guard.check("alice")  # the grader wrote alice's new grades
    from nbgrader.api import Gradebook

    with Gradebook(CourseLayout(course).gradebook_url) as gb:  # a regrade: remove and add, as nbgrader does
        gb.remove_submission(ASSIGNMENT, "bob")
        gb.add_submission(ASSIGNMENT, "bob")
    guard.check("bob")


def test_a_classmates_changed_grade_stops_the_batch_and_is_named(course):
    guard = GradebookGuard(course, ASSIGNMENT).start()
    set_score(course, "bob", "test-g", 0)
    with pytest.raises(GradebookTampered) as err:
        guard.check("alice")
    msg = str(err.value)
    assert "grade of cell test-g of student 'bob' (a) was changed" in msg and "after grading 'alice'" in msg


def test_the_graded_students_other_assignment_is_protected(course):
    guard = GradebookGuard(course, ASSIGNMENT).start()
    set_score(course, "alice", "test-f", 0, assignment="other")
    with pytest.raises(GradebookTampered, match=r"test-f of student 'alice' \(other\) was changed"):
        guard.check("alice")


def test_course_data_and_deleted_or_added_rows_are_named(course):
    guard = GradebookGuard(course, ASSIGNMENT).start()
    sql(course, "UPDATE grade_cells SET max_score = 100 WHERE rowid = 1")
    sql(course, "DELETE FROM grade WHERE notebook_id IN (SELECT n.id FROM submitted_notebook n "
        "JOIN submitted_assignment s ON s.id = n.assignment_id WHERE s.student_id = 'bob')")
    sql(course, "INSERT INTO student (id) VALUES ('mallory')")
    with pytest.raises(GradebookTampered) as err:
        guard.check("alice")
    msg = str(err.value)
    assert "grade_cells row 1 (course data) was changed" in msg
    assert "grade of cell test-f of student 'bob' (a) was deleted" in msg
    assert "student record of student 'mallory' was added" in msg


@pytest.mark.parametrize("statement, named", [
    ("CREATE TRIGGER zero AFTER INSERT ON grade BEGIN UPDATE grade SET auto_score = 0; END", "unexpected trigger 'zero'"),
    ("CREATE VIEW v AS SELECT * FROM grade", "unexpected view 'v'"),
    ("CREATE TABLE notes (x)", "unexpected table 'notes'"),
    ("CREATE INDEX i ON grade (auto_score)", "unexpected index 'i'"),
    ("DROP TABLE comment", "table 'comment' is missing"),
])
def test_anything_beyond_nbgraders_schema_stops_the_batch_before_it_starts(course, statement, named):
    sql(course, statement)
    with pytest.raises(GradebookTampered) as err:
        GradebookGuard(course, ASSIGNMENT).start()
    assert named in str(err.value) and "before grading" in str(err.value)


def test_a_trigger_left_during_the_batch_is_found_after_that_student(course):
    guard = GradebookGuard(course, ASSIGNMENT).start()
    sql(course, "CREATE TRIGGER t AFTER UPDATE ON grade BEGIN SELECT 1; END")
    with pytest.raises(GradebookTampered, match="after grading 'alice' holds more than nbgrader's schema: unexpected trigger 't'"):
        guard.check("alice")


def test_a_changed_table_definition_is_named(course):
    con = sqlite3.connect(CourseLayout(course).gradebook)
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET sql = replace(sql, 'auto_score FLOAT', 'auto_score FLOAT DEFAULT 0') "
                "WHERE name = 'grade'")
    con.commit()
    con.close()
    assert schema_differences(CourseLayout(course).gradebook) == ["table 'grade' differs from nbgrader's definition"]


def test_no_gradebook_is_a_clear_error(tmp_path):
    with pytest.raises(GradebookError, match="no gradebook"):
        GradebookGuard(tmp_path, ASSIGNMENT).start()


@pytest.mark.slow
def test_a_real_batch_passes_the_guard_and_a_left_trigger_stops_the_next_batch(tmp_path):
    """nbgrader's own writes during `course grade` are what the guard allows; a trigger left in the gradebook
    stops the next batch before any student is graded, with the trigger named."""
    from coursetools.course import CONFIG_STUB, run_nbgrader
    from coursetools.grading.sequential import grade_batch
    from coursetools.settings import COURSE
    from tests.helpers import release_notebook

    course = tmp_path / "course"
    layout = CourseLayout(course)
    layout.source(ASSIGNMENT).mkdir(parents=True)
    layout.config.write_text(CONFIG_STUB.format(config=str(COURSE.config)))
    nbformat.write(release_notebook(), layout.source(ASSIGNMENT) / "A.ipynb")
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    for student, answer in (("alice", "def f():\n    return 1"), ("bob", "def f():\n    return 2")):
        nb = release_notebook()
        nb.cells[0].source = answer
        layout.submitted(student, ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, layout.submitted(student, ASSIGNMENT) / "A.ipynb")
    results = grade_batch(course, ASSIGNMENT, log=lambda *_: None)
    assert [(r.student, r.status) for r in results] == [("alice", "graded"), ("bob", "graded")]
    results = grade_batch(course, ASSIGNMENT, log=lambda *_: None)  # a regrade too
    assert [r.status for r in results] == ["graded", "graded"]
    sql(course, "CREATE TRIGGER zero AFTER INSERT ON grade BEGIN UPDATE grade SET auto_score = 0; END")
    before = layout.gradebook.read_bytes()
    with pytest.raises(GradebookTampered, match="unexpected trigger 'zero'"):
        grade_batch(course, ASSIGNMENT, log=lambda *_: None)
    assert layout.gradebook.read_bytes() == before  # nobody was graded


def test_the_fresh_schema_is_made_once_per_versions_and_a_damaged_cache_is_made_again(tmp_path, monkeypatch,
                                                                                      graded_gradebook):
    """nbgrader's schema is kept in the cache folder; read back without nbgrader; a bad file is replaced."""
    from importlib.metadata import version

    import nbgrader.api

    from coursetools import settings
    from coursetools.security import gradebook_guard as guard

    monkeypatch.setattr(settings, "CACHE_DIR", tmp_path / "cache")
    guard.nbgrader_schema.cache_clear()
    try:
        made = guard.nbgrader_schema()
        files = list((tmp_path / "cache").glob("nbgrader-schema-*.json"))
        assert len(files) == 1 and version("nbgrader") in files[0].name
        assert made == guard.schema_of(graded_gradebook)  # what nbgrader itself made for the fixture

        def no_gradebook(*args, **kwargs):
            raise AssertionError("the cached schema should have been used")

        guard.nbgrader_schema.cache_clear()
        monkeypatch.setattr(nbgrader.api, "Gradebook", no_gradebook)
        assert guard.nbgrader_schema() == made
        monkeypatch.undo()
        monkeypatch.setattr(settings, "CACHE_DIR", tmp_path / "cache")
        for damaged in ("", "[1, 2]", '[["table", "grade"]]', "{not json"):
            files[0].write_text(damaged)
            guard.nbgrader_schema.cache_clear()
            assert guard.nbgrader_schema() == made
            assert guard._read_cached_schema(files[0]) == made  # written again
    finally:
        guard.nbgrader_schema.cache_clear()
