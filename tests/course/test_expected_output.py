"""The notebook's "Expected output" of the full training is what the reference solution prints.

Checkpoints up to ``EXACT_UNTIL`` (the assignment's published values) must match digit for
digit on any machine; later ones depend on the machine's BLAS kernel (measured by
``bench/bench_blas_spread.py``), so only what holds everywhere is checked there.
"""

import re

import nbformat
import pytest

from training.expected_output import (
    CELL_ID, EXACT_UNTIL, LATE_LOSS_TOLERANCE, MARKER, NUM_ITERATIONS, checkpoints, expected_cell_source,
    notebook_expected_output, notebook_path, reference_training_output,
)

NAME = re.compile(r"[A-Z][a-z]*")


def committed_cell():
    nb = nbformat.read(notebook_path(), as_version=4)
    return next(cell for cell in nb.cells if cell.get("id") == CELL_ID)


def test_expected_output_cell_says_which_lines_depend_on_the_machine():
    text = notebook_expected_output()
    assert committed_cell().source == expected_cell_source(text.replace(MARKER + "\n\n", "")), (
        "the expected-output cell is generated: rerun `python -m training.expected_output`")
    before, marker, after = text.partition(MARKER)
    assert marker, "the expected output marks where the machine-dependent lines start"
    assert max(checkpoints(before)) == EXACT_UNTIL and min(checkpoints(after)) == EXACT_UNTIL + 2000
    assert f"Up to `Iteration: {EXACT_UNTIL}`" in committed_cell().source


def test_published_checkpoints_are_in_the_notebook():
    committed = checkpoints(notebook_expected_output())
    assert sorted(committed) == list(range(0, NUM_ITERATIONS, 2000))
    assert committed[0][0] == 23.087336 and committed[2000][0] == 27.884160
    assert committed[0][1][:3] == ["Nkzxwtdmfqoeyhsqwasjkjvu", "Kneb", "Kzxwtdmfqoeyhsqwasjkjvu"]


@pytest.mark.slow
def test_committed_expected_output_matches_reference_training():
    committed = checkpoints(notebook_expected_output())
    fresh = checkpoints(reference_training_output())
    assert sorted(committed) == sorted(fresh)
    for it in sorted(fresh):
        (c_loss, c_names), (f_loss, f_names) = committed[it], fresh[it]
        if it <= EXACT_UNTIL:
            assert (c_loss, c_names) == (f_loss, f_names), (
                f"checkpoint {it} differs: rerun `python -m training.expected_output`")
        else:  # machine-dependent: the loss stays close, the names are names
            assert abs(c_loss - f_loss) < LATE_LOSS_TOLERANCE, f"checkpoint {it}: {c_loss} vs {f_loss}"
            for names in (c_names, f_names):
                assert 1 <= len(names) <= 7 and all(NAME.fullmatch(n) for n in names), names


def test_a_rerun_on_another_machine_leaves_the_notebook_unchanged(tmp_path, monkeypatch):
    """`make expected-output` keeps the committed machine-dependent lines when a rerun differs only as machines
    do (same checkpoints, losses within the tolerance, other names); a change of the published part is written."""
    import shutil

    import training.expected_output as eo

    path = tmp_path / "notebook.ipynb"
    shutil.copy(notebook_path(), path)
    exact, late = eo.split_late(notebook_expected_output(path))
    assert exact and late
    other_machine = re.sub(r"Loss: ([0-9.]+)", lambda m: f"Loss: {float(m.group(1)) + 0.1:f}", late)
    other_machine = re.sub(r"^[A-Z][a-z]+$", "Othername", other_machine, flags=re.M)
    assert "Othername" in other_machine and "Loss" in other_machine
    monkeypatch.setattr(eo, "reference_training_output", lambda: exact + other_machine)
    before = path.read_bytes()
    assert eo.update_notebook(path, log=lambda *a: None) is False
    assert path.read_bytes() == before
    far_off = re.sub(r"Loss: ([0-9.]+)", lambda m: f"Loss: {float(m.group(1)) + 2 * LATE_LOSS_TOLERANCE:f}", late)
    monkeypatch.setattr(eo, "reference_training_output", lambda: exact + far_off)
    assert eo.update_notebook(path, log=lambda *a: None) is True  # beyond what machines do: written
    changed = exact.replace("Iteration: 0, Loss: 23.087336", "Iteration: 0, Loss: 23.000000")
    monkeypatch.setattr(eo, "reference_training_output", lambda: changed + late)
    assert eo.update_notebook(path, log=lambda *a: None) is True
    assert "Iteration: 0, Loss: 23.000000" in notebook_expected_output(path)
