"""Tests of training.evaluate (the table command, the course-RNN variants) and the
Going_Further notebook run top to bottom in a released layout (quick check mode)."""

import shutil

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from coursetools.course import copy_shared
from coursetools.settings import ASSIGNMENTS, COURSE, MODELS_DIR
from training import evaluate
from utils.name_eval import CHAR_TO_IX, IX_TO_CHAR, RNN_VARIANTS, encode_name, load_course_rnn

ASSIGNMENT = ASSIGNMENTS["going_further"]
NOTEBOOK = COURSE.source(ASSIGNMENT.name) / ASSIGNMENT.notebooks[0]


@pytest.fixture(scope="module")
def split():
    return evaluate.load_split()


def test_course_rnn_loop_is_the_assignments_model(solution, split):
    train, test, fit, dev = split
    ours, log = evaluate.train_course_rnn(solution, fit, 300, reset=False, dev=dev, log_every=100)
    ref = solution.model("\n".join(fit), IX_TO_CHAR, CHAR_TO_IX, num_iterations=300, verbose=False)
    for k in ref:
        np.testing.assert_array_equal(ours[k], ref[k])
    assert log["iterations"] == [100, 200, 300] and len(log["dev_nll"]) == 3


def test_reset_variant_starts_every_name_from_zero(solution, split):
    train, test, fit, dev = split
    ours, _ = evaluate.train_course_rnn(solution, fit, 2, reset=True)
    examples = list(fit)
    np.random.seed(0)
    np.random.shuffle(examples)
    p = solution.initialize_parameters(50, 27, 27)
    for name in examples[:2]:
        X, Y = encode_name(name)
        solution.optimize(X, Y, np.zeros((50, 1)), p, learning_rate=0.01)
    for k in p:
        np.testing.assert_array_equal(ours[k], p[k])


def test_shipped_course_rnn_variants():
    assert "models/course_rnn.npz" in ASSIGNMENT.shared
    variants = load_course_rnn(MODELS_DIR / "course_rnn.npz")
    assert set(variants) == set(RNN_VARIANTS)
    for v in variants.values():
        assert v["parameters"]["Waa"].shape == (50, 50)
        assert len(v["iterations"]) == len(v["dev_nll"]) == len(v["train_loss"]) > 0


@pytest.mark.slow
def test_table_command_prints_every_model(capsys):
    assert evaluate.main([]) == 0
    out = capsys.readouterr().out
    assert "1965 characters" in out
    for label in ("uniform", "unigram", "bigram (add-k)", "trigram (add-k)", "Kneser-Ney 2-gram",
                  "Kneser-Ney 3-gram", "Kneser-Ney 4-gram", "Kneser-Ney 5-gram", "the assignment's recipe",
                  "reset per name", "175k iterations"):
        assert label in out, label
    if evaluate.LSTM_PATH.is_file():
        assert "LSTM" in out


def _outputs(nb, output_type):
    return [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == output_type]


# Quick check mode: a tiny LSTM trained for two epochs (the notebook imports these very dicts afterwards).
QUICK_CELL = ("import utils.name_models as _quick\n"
              "_quick.LSTM_MODEL.update(hidden=16)\n"
              "_quick.LSTM_FIT.update(epochs=2)\n")


@pytest.mark.slow  # executes the notebook
def test_notebook_runs_top_to_bottom(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    copy_shared(ASSIGNMENT.name, tmp_path)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(QUICK_CELL))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert not _outputs(nb, "error")
    stdout = "".join(o["text"] for o in _outputs(nb, "stream") if o.get("name") == "stdout")
    assert "'hidden': 16" in stdout  # quick check mode
    assert "test names: 152" in stdout and "Test NLL per predicted character (1965 characters)" in stdout
    assert "novelty rate" in stdout and "T = 1.3" in stdout
    for png in ("course_rnn_curves.png", "lstm_curves.png", "test_nll.png"):
        assert (tmp_path / "figures" / png).stat().st_size > 10_000
    assert len(_outputs(nb, "display_data")) >= 3  # the figures are shown, not only saved
