"""Score tables read from an nbgrader gradebook."""

import csv
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry


@dataclass
class CellScore:
    student: str
    assignment: str
    notebook: str
    cell: str
    score: float
    max_score: float


def gradebook_url(root):
    return f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"


def cell_scores(root, assignment):
    """One :class:`CellScore` per student and graded cell of ``assignment``."""
    rows = []
    with Gradebook(gradebook_url(root)) as gb:
        a = gb.find_assignment(assignment)
        for sub in sorted(a.submissions, key=lambda s: s.student.id):
            for nb in sub.notebooks:
                for grade in sorted(nb.grades, key=lambda g: g.cell.name):
                    rows.append(CellScore(sub.student.id, assignment, nb.name, grade.cell.name,
                                          float(grade.score), float(grade.max_score)))
    return rows


def format_table(rows):
    """A plain-text table: one line per student, one column per graded cell, then the total."""
    if not rows:
        return "(no graded submissions)"
    cells = sorted({r.cell for r in rows})
    students = sorted({r.student for r in rows})
    by = {(r.student, r.cell): r for r in rows}
    width = max(len("student"), *(len(s) for s in students))
    cw = [max(len(c), 7) for c in cells]
    head = "student".ljust(width) + "  " + "  ".join(c.rjust(w) for c, w in zip(cells, cw)) + "    total"
    lines = [head, "-" * len(head)]
    for s in students:
        parts, tot, mx = [], 0.0, 0.0
        for c, w in zip(cells, cw):
            r = by.get((s, c))
            if r is None:
                parts.append("-".rjust(w))
                continue
            parts.append(f"{r.score:g}/{r.max_score:g}".rjust(w))
            tot += r.score
            mx += r.max_score
        lines.append(s.ljust(width) + "  " + "  ".join(parts) + f"  {tot:g}/{mx:g}".rjust(9))
    return "\n".join(lines)


def write_csv(rows, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "notebook", "cell", "score", "max_score"])
        for r in rows:
            w.writerow([r.student, r.assignment, r.notebook, r.cell, r.score, r.max_score])
    return path


__all__ = ["CellScore", "cell_scores", "format_table", "write_csv", "MissingEntry"]
