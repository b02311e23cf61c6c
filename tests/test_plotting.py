"""twolayer.plotting: figures 4-11 and 4-12."""

from __future__ import annotations

import numpy as np
import pytest

from twolayer.plotting import plot_accuracy, plot_loss

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

