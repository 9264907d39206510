"""The notebook's teaching figures: committed, equal to what `python -m coursetools.figures` draws, shown with alt text."""

import re

import matplotlib.image
import nbformat
import numpy as np
import pytest

from coursetools import figures
from coursetools.settings import ASSIGNMENTS, COURSE, DEFAULT_ASSIGNMENT, ROOT
from tests.helpers import feedback_html

ASSIGNMENT = DEFAULT_ASSIGNMENT
NOTEBOOK = ASSIGNMENTS[ASSIGNMENT].notebooks[0]
IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\((images/[^)\s]+)\)")


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    figures.write_figures(out)
    return out


@pytest.mark.parametrize("name", sorted(figures.FIGURES))
def test_committed_image_equals_what_the_script_draws(drawn, name):
    committed = figures.IMAGES_DIR / name
    assert committed.is_file(), f"{committed} is missing: run `python -m coursetools.figures`"
    want, got = matplotlib.image.imread(drawn / name), matplotlib.image.imread(committed)
    assert got.shape == want.shape and np.array_equal(got, want), (
        f"{committed} differs from what the script draws now: run `python -m coursetools.figures` and commit")


def test_drawing_twice_gives_the_same_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    figures.write_figures(first)
    figures.write_figures(second)
    for name in figures.FIGURES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"{name} is not deterministic"


def test_gradient_clipping_figure_shows_what_its_title_says():
    """Without clipping one step at the cliff is huge; with clipping every step is at most lr * max_value per axis."""
    plain = figures.descend((-2.6, 1.4), 40, 0.1)
    clipped = figures.descend((-2.6, 1.4), 40, 0.1, max_value=1.0)
    assert np.max(np.linalg.norm(np.diff(plain, axis=0), axis=1)) > 5
    assert np.max(np.abs(np.diff(clipped, axis=0))) <= 0.1 + 1e-12
    assert clipped[-1, 0] > 0.3, "the clipped path crosses the cliff (w1 + 0.3 w2 = 0)"


@pytest.mark.parametrize("folder", [COURSE.source(ASSIGNMENT), COURSE.release(ASSIGNMENT)], ids=["source", "release"])
def test_notebook_shows_every_figure_with_alt_text(folder):
    nb = nbformat.read(folder / NOTEBOOK, as_version=4)
    links = [m for cell in nb.cells if cell.cell_type == "markdown" for m in IMAGE_LINK.finditer(cell.source)]
    shown = {path: alt for alt, path in (m.groups() for m in links)}
    assert set(shown) == {f"images/{name}" for name in figures.FIGURES}
    assert len(links) == len(shown), "a figure is shown twice"
    for path, alt in shown.items():
        assert len(alt.split()) >= 6, f"{path} needs alt text that describes the figure, got {alt!r}"
        assert (folder / path).is_file(), f"{folder.relative_to(ROOT)}/{path} is missing"


def test_the_cli_draws_the_figures(tmp_path, capsys):
    assert figures.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(figures.FIGURES)
    assert "wrote" in capsys.readouterr().out


def test_feedback_html_carries_the_figures_inside():
    """Feedback is HTML that nbgrader's release_feedback sends alone (the .html file only), so with the
    course's configuration the feedback page embeds the notebook's figures (the instructor's, from source/) as
    data URIs."""
    folder = COURSE.release(ASSIGNMENT)
    html = feedback_html(folder / NOTEBOOK, COURSE.source(ASSIGNMENT))
    sources = re.findall(r'<img alt="([^"]*)" src="([^"]{0,40})', html)
    assert len(sources) == len(figures.FIGURES)
    for alt, src in sources:
        assert src.startswith("data:image/png;base64,"), f"the figure {alt[:40]!r}... is linked, not embedded"


def test_the_course_command_has_a_figures_verb(tmp_path, capsys):
    from coursetools.cli import main

    assert main(["figures", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(figures.FIGURES)
