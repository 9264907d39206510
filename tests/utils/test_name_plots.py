"""The Going-further figures label what they show in words, not with internal keys."""

import matplotlib

matplotlib.use("Agg")

from coursetools.settings import MODELS_DIR  # noqa: E402
from utils.name_eval import RNN_VARIANTS, load_course_rnn  # noqa: E402
from utils.name_plots import plot_rnn_curves, rnn_variant_label  # noqa: E402


def test_variant_labels_are_readable():
    labels = {name: rnn_variant_label(name, {"description": d}) for name, d in RNN_VARIANTS.items()}
    assert labels["carry_long"] == "175k iterations, hidden state carried"
    assert labels["carry"] == "35k iterations, hidden state carried"
    assert rnn_variant_label("mine", {}) == "mine"


def test_rnn_curves_legend_shows_no_internal_keys(tmp_path):
    fig = plot_rnn_curves(load_course_rnn(MODELS_DIR / "course_rnn.npz"), path=tmp_path / "curves.png")
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    texts += [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts and (tmp_path / "curves.png").is_file()
    for text in texts:
        assert not any(key in text for key in RNN_VARIANTS if "_" in key), text
        assert "carry" not in text and "reset_" not in text, text
    assert "hidden state carried" in " ".join(texts) and "stop here" in " ".join(texts)
