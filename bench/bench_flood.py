"""The grader's memory while a submission floods it, beside the solution's: ``python -m bench.bench_flood``.

Grades, one after the other with ``course grade``'s core and the course's own caps, in a scratch course:

* ``solution``: the reference solution;
* ``flood``: the solution whose ``clip`` displays 50 MB of HTML on every call (the displays reach the grader
  while the hidden and visible tests call it), plus a cell that updates one display 50 times with 2 MB each
  and a cell that opens 300 widgets.

and prints, for each, the status, the peak RSS of the grader (the forked nbgrader, where the verdicts are
computed), of the largest process and of all of them together, and the size of the graded notebook. The
goal: the flood grows the grader by at most 100 MiB over the solution (figures: docs/performance.md).
"""

import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from coursetools.course import add_submission, make_course, run_nbgrader
from coursetools.grading.memory import PeakMemory
from coursetools.grading.sequential import grade_batch
from coursetools.layout import CourseLayout
from coursetools.settings import ASSIGNMENTS, DEFAULT_ASSIGNMENT
from zoo.build import filled

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]
MiB = 2**20
FLOOD_CALLS = '''from IPython.display import HTML, display
_real_clip = clip

def clip(gradients, maxValue):
    for _ in range(50):
        display(HTML("x" * 1_000_000))
    return _real_clip(gradients, maxValue)
'''
FLOOD_CELLS = [
    "from IPython.display import HTML, display\nh = display(HTML('small'), display_id=True)\n"
    "for _ in range(50):\n    h.update(HTML('y' * 2_000_000))",
    "import ipywidgets as w\nsliders = [w.IntSlider(value=i, description='z' * 10_000) for i in range(300)]",
]


def submissions(course):
    layout = CourseLayout(course)
    release = nbformat.read(layout.release(ASSIGNMENT) / NOTEBOOK, as_version=4)
    solution = filled(release, nbformat.read(layout.source(ASSIGNMENT) / NOTEBOOK, as_version=4))
    flood = nbformat.from_dict(solution)
    clip_at = next(i for i, c in enumerate(flood.cells) if "def clip(" in c.source)
    flood.cells[clip_at + 1:clip_at + 1] = [new_code_cell(FLOOD_CALLS)]
    flood.cells += [new_code_cell(code) for code in FLOOD_CELLS]
    return {"solution": solution, "flood": flood}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp) / "course", [ASSIGNMENT])
        run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
        layout = CourseLayout(course)
        for student, nb in submissions(course).items():
            folder = add_submission(course, student, ASSIGNMENT, layout.release(ASSIGNMENT))
            nbformat.write(nb, folder / NOTEBOOK)
        print(f"{'submission':12s} {'status':10s} {'grader':>8s} {'largest':>8s} {'all':>8s} {'notebook':>9s} {'time':>7s}")
        rows = {}
        for student in ("solution", "flood"):
            t0 = time.perf_counter()
            with PeakMemory() as mem:
                [result] = grade_batch(course, ASSIGNMENT, [student], log=lambda *_: None)
            graded = layout.autograded(student, ASSIGNMENT) / NOTEBOOK
            size = graded.stat().st_size if graded.exists() else 0
            rows[student] = mem.grader
            print(f"{student:12s} {result.status:10s} {mem.grader / MiB:6.0f} MiB {mem.single / MiB:6.0f} MiB "
                  f"{mem.tree / MiB:6.0f} MiB {size / MiB:7.1f} MiB {time.perf_counter() - t0:5.1f} s")
        print(f"the flood grew the grader by {(rows['flood'] - rows['solution']) / MiB:.0f} MiB (goal: at most 100)")


if __name__ == "__main__":
    main()
