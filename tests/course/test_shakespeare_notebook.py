"""The Shakespeare notebook runs top to bottom, quietly, in a released layout.

The notebook is executed with nbclient from a temporary folder laid out like
the released assignment (the notebook, ``utils/``, ``data/shakespeare.txt``,
``models/shakespeare_lstm.keras`` and its record) with ``SHAKESPEARE_FAST=1``,
which shortens the extra epoch to a few batches and supplies the sentence that
a student would type. About a minute on 2 CPU cores.
"""

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from coursetools.course import copy_shared
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT, MODELS_DIR

ASSIGNMENT = ASSIGNMENTS["writing_like_shakespeare"]
NOTEBOOK = COURSE.source(ASSIGNMENT.name) / ASSIGNMENT.notebooks[0]

TF_NOISE = ("absl::InitializeLog", "cudart_stub", "oneDNN custom operations", "cpu_feature_guard",
            "I0000", "W0000", "E0000", "Could not find cuda")


def _layout(dest):
    """Copy the notebook and what the release ships with it into ``dest``."""
    shutil.copy(NOTEBOOK, dest / NOTEBOOK.name)
    copy_shared(ASSIGNMENT.name, dest)


def _outputs(nb, output_type=None, name=None):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if output_type and out.get("output_type") != output_type:
                continue
            if name and out.get("name") != name:
                continue
            yield cell, out


def test_shakespeare_notebook_is_ungraded_and_released_with_its_model():
    assert ASSIGNMENT.graded is False
    assert "models/shakespeare_lstm.keras" in ASSIGNMENT.shared
    assert (MODELS_DIR / "shakespeare_lstm.keras").is_file()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    grade_cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert not grade_cells
    # the dinosaur notebook must never pull in TensorFlow
    dino = COURSE.source(DEFAULT_ASSIGNMENT) / ASSIGNMENTS[DEFAULT_ASSIGNMENT].notebooks[0]
    if dino.is_file():
        code = "\n".join(c.source for c in nbformat.read(dino, as_version=4).cells
                         if c.cell_type == "code")
        for needle in ("tensorflow", "keras", "shakespeare"):
            assert needle not in code.lower()


@pytest.mark.slow  # executes the notebook (TensorFlow)
def test_shakespeare_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    _layout(tmp_path)
    monkeypatch.setenv("SHAKESPEARE_FAST", "1")
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    errors = [out for _, out in _outputs(nb, "error")]
    assert not errors
    stdout = "".join(out["text"] for _, out in _outputs(nb, "stream", "stdout"))
    stderr = "".join(out["text"] for _, out in _outputs(nb, "stream", "stderr"))
    for marker in TF_NOISE:
        assert marker not in stdout + stderr, f"TensorFlow log noise in the notebook: {marker}"
    assert "quick check mode" in stdout
    assert "X: (25442, 40)  Y: (25442, 40)" in stdout
    assert "this LSTM" in stdout and "Kneser-Ney 5-gram" in stdout and "mixture" in stdout
    assert "dev NLL on 300 characters" in stdout
    assert "Here is your poem" in stdout and "forsooth, this is but a test" in stdout
    assert "same seed, same poem: True" in stdout
    poem_cell = next(c for c in nb.cells if "generate_output(model, my_sentence" in c.source)
    assert not [o for o in poem_cell.outputs if o["output_type"] == "execute_result"], "the poem was echoed as Out[]"


@pytest.mark.slow  # a real kernel with TensorFlow
def test_a_student_types_a_sentence_in_a_real_kernel(tmp_path):
    """The notebook's ``generate_output(model, None, ...)`` asks through Jupyter's stdin, prints the poem once."""
    from queue import Empty

    from jupyter_client.manager import start_new_kernel

    _layout(tmp_path)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        code = ("from utils.shakespeare import load_model, generate_output\n"
                "model = load_model()\n"
                "generate_output(model, None, length=60, seed=0)")  # the cell's last line: no Out[] echo
        msg_id = kc.execute(code, allow_stdin=True)
        request = kc.get_stdin_msg(timeout=120)
        assert request["msg_type"] == "input_request"
        assert "beginning of your poem" in request["content"]["prompt"]
        kc.input("My love is as a fever, longing still")
        stdout, status, results = "", None, []
        while status != "idle":
            try:
                msg = kc.get_iopub_msg(timeout=120)
            except Empty:
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                stdout += msg["content"]["text"]
            elif msg["msg_type"] == "execute_result":
                results.append(msg["content"]["data"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status":
                status = msg["content"]["execution_state"]
        assert "my love is as a fever, longing still" in stdout
        poem = stdout.split("Here is your poem: \n\n")[1][:-1]
        assert len(poem) == len("my love is as a fever, longing still") + 60
        assert results == [], f"the poem was echoed again as Out[]: {results}"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
