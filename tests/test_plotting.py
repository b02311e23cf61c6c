"""twolayer.plotting: figures 4-11 and 4-12, and the message when matplotlib is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from twolayer.plotting import plot_accuracy, plot_loss

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_loss_figure(tmp_path):
    loss = 2.3 * np.exp(-np.arange(3000) / 500)
    figure = plot_loss(loss, tmp_path / "loss.png")
    left, right = figure.axes
    assert (left.get_xlabel(), left.get_ylabel(), right.get_xlabel()) == ("iteration", "loss", "iteration")
    assert len(left.lines[0].get_xdata()) == 3000 and len(right.lines[0].get_xdata()) == 1000
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_SIGNATURE)


def test_accuracy_figure(tmp_path):
    figure = plot_accuracy([0.1, 0.8, 0.9], [0.1, 0.79, 0.88], tmp_path / "accuracy.png")
    (ax,) = figure.axes
    train, test = ax.lines
    assert (train.get_linestyle(), test.get_linestyle()) == ("-", "--")
    assert ax.get_ylim() == (0, 1) and ax.get_xlabel() == "epochs"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["train acc", "test acc"]
    assert (tmp_path / "accuracy.png").read_bytes().startswith(PNG_SIGNATURE)


def test_accuracy_lists_must_match():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        plot_accuracy([0.1, 0.2, 0.3], [0.1, 0.2])


def test_missing_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'twolayer\[plot\]'"):
        plot_loss([1.0, 0.5])


def test_drawn_into_the_callers_axes(tmp_path):
    from matplotlib.figure import Figure

    figure = Figure()
    left, right, third = figure.subplots(1, 3)
    assert plot_loss([2.0, 1.0, 0.5], tmp_path / "loss.png", first=2, ax=[left, right]) is figure
    assert len(left.lines[0].get_xdata()) == 3 and len(right.lines[0].get_xdata()) == 2
    assert plot_accuracy([0.1, 0.8], [0.1, 0.7], ax=third) is figure and len(third.lines) == 2
    assert plot_loss([2.0, 1.0], ax=third) is figure and len(third.lines) == 3
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="ax must be one Axes or two, got 3"):
        plot_loss([1.0], ax=[left, right, third])


def test_figures_show_as_images_in_a_fresh_notebook_kernel():
    from kernel import run_cells

    loss, accuracy = run_cells(
        "from twolayer.plotting import plot_loss\nplot_loss([2.0, 1.0, 0.5])",
        "from twolayer.plotting import plot_accuracy\nplot_accuracy([0.1, 0.8], [0.1, 0.7])",
    )
    for outputs in (loss, accuracy):
        (result,) = [output for output in outputs if output["output_type"] == "execute_result"]
        assert "image/png" in result["data"], result["data"].keys()
        import base64

        assert base64.b64decode(result["data"]["image/png"]).startswith(PNG_SIGNATURE)
