"""twolayer.plotting: figures 4-11 and 4-12 for runs of any length."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from twolayer.plotting import (
    plot_accuracy,
    plot_history,
    plot_loss,
    plot_sweep_curves,
    plot_sweep_finals,
)
from twolayer.training import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_loss_figure(tmp_path):
    loss = 2.3 * np.exp(-np.arange(3000) / 500)
    figure = plot_loss(loss, tmp_path / "loss.png")
    left, right = figure.axes
    assert (left.get_xlabel(), left.get_ylabel(), right.get_xlabel()) == (
        "iteration",
        "loss",
        "iteration",
    )
    assert len(left.lines[0].get_xdata()) == 3000 and len(right.lines[0].get_xdata()) == 1000
    assert right.get_title() == "first 1,000 iterations"
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("iterations", [300, 1000])
def test_no_first_iterations_panel_when_there_are_no_more(iterations):
    (ax,) = plot_loss(np.linspace(2.3, 0.5, iterations)).axes
    assert ax.get_title() == "all iterations" and len(ax.lines[0].get_xdata()) == iterations


def test_accuracy_figure(tmp_path):
    figure = plot_accuracy([0.1, 0.8, 0.9], [0.1, 0.79, 0.88], tmp_path / "accuracy.png")
    (ax,) = figure.axes
    train, test = ax.lines
    assert (train.get_linestyle(), test.get_linestyle()) == ("-", "--")
    assert list(train.get_xdata()) == [0, 1, 2]  # the book's: measurement k at epoch k
    assert ax.get_ylim() == (0, 1) and ax.get_xlabel() == "epochs"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["train acc", "test acc"]
    assert (tmp_path / "accuracy.png").read_bytes().startswith(PNG_SIGNATURE)


def test_validation_is_a_labelled_third_line():
    (ax,) = plot_accuracy([0.1, 0.9], [0.1, 0.8], val_acc_list=[0.1, 0.7]).axes
    assert [line.get_linestyle() for line in ax.lines] == ["-", ":", "--"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "train acc",
        "val acc",
        "test acc",
    ]
    assert list(ax.lines[1].get_ydata()) == [0.1, 0.7]


def test_epoch_ticks_are_whole_numbers():
    (ax,) = plot_accuracy(
        [0.1, 0.5, 0.7], [0.1, 0.5, 0.6], iterations=[1, 601, 1000], iter_per_epoch=600
    ).axes
    figure = ax.figure
    figure.canvas.draw()  # the ticks are placed when drawn
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    assert ax.get_xlabel() == "epochs"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1 / 600, 601 / 600, 1000 / 600])


def test_a_run_shorter_than_an_epoch_is_drawn_in_iterations():
    (ax,) = plot_accuracy([0.1, 0.6], [0.1, 0.55], iterations=[1, 300], iter_per_epoch=600).axes
    assert ax.get_xlabel() == "iterations" and list(ax.lines[0].get_xdata()) == [1, 300]


@pytest.mark.parametrize(
    ("kwargs", "lengths"),
    [
        ({"test_acc_list": [0.1, 0.2]}, "{'train_acc_list': 3, 'test_acc_list': 2}"),
        ({"val_acc_list": [0.1]}, "{'train_acc_list': 3, 'test_acc_list': 3, 'val_acc_list': 1}"),
        ({"iterations": [1, 2]}, "{'train_acc_list': 3, 'test_acc_list': 3, 'iterations': 2}"),
    ],
)
def test_accuracy_lists_must_match(kwargs, lengths):
    arguments = {"train_acc_list": [0.1, 0.2, 0.3], "test_acc_list": [0.1, 0.2, 0.3], **kwargs}
    with pytest.raises(ValueError, match=f"must have the same length, got {re.escape(lengths)}"):
        plot_accuracy(**arguments)


def history(**results) -> History:
    """A run of 1,500 iterations at 600 per epoch, evaluated at iterations 0, 600 and 1,200."""
    settings = dict(
        iters_num=1500, batch_size=100, learning_rate=0.1, gradient="backprop", seed=0, input_size=784,
        hidden_size=50, output_size=10, dtype="float64", train_size=60000, test_size=10000, iter_per_epoch=600.0,
    )  # fmt: skip
    measured = dict(
        train_loss_list=list(np.linspace(2.3, 0.3, 1500)), train_acc_list=[0.1, 0.8, 0.9], test_acc_list=[0.1, 0.8, 0.88],
        epoch_iters=[0, 600, 1200], epoch_times=[0.1, 1.0, 2.0], final_train_acc=0.92, final_test_acc=0.9,
    )  # fmt: skip
    return History(**settings, **{**measured, **results})


def test_history_figures_are_written(tmp_path):
    written = plot_history(history(), tmp_path)
    assert written == [tmp_path / "loss.png", tmp_path / "accuracy.png"]
    assert all(path.read_bytes().startswith(PNG_SIGNATURE) for path in written)


def test_history_figures_include_the_final_accuracies_and_validation(tmp_path, monkeypatch):
    drawn = {}

    def record(*args, **kwargs):
        drawn.update(args=args, kwargs=kwargs)

    monkeypatch.setattr("twolayer.plotting.plot_accuracy", record)
    plot_history(
        history(validation_size=100, val_acc_list=[0.1, 0.7, 0.8], final_val_acc=0.81), tmp_path
    )
    (train, test, path), kwargs = drawn["args"], drawn["kwargs"]
    assert (
        train == [0.1, 0.8, 0.9, 0.92]
        and test == [0.1, 0.8, 0.88, 0.9]
        and path == tmp_path / "accuracy.png"
    )
    assert kwargs == {
        "val_acc_list": [0.1, 0.7, 0.8, 0.81],
        "iterations": [1, 601, 1201, 1500],
        "iter_per_epoch": 600,
    }

    plot_history(history(final_train_acc=None, final_test_acc=None, interrupted=True), tmp_path)
    assert drawn["args"][0] == [0.1, 0.8, 0.9] and drawn["kwargs"]["iterations"] == [1, 601, 1201]


def test_drawn_into_the_callers_axes(tmp_path):
    from matplotlib.figure import Figure

    figure = Figure()
    left, right, third = figure.subplots(1, 3)
    assert (
        plot_loss([2.0, 1.0, 0.5], tmp_path / "loss.png", first=2, ax=[left, right]) is figure
    )  # two panels
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
        assert base64.b64decode(result["data"]["image/png"]).startswith(PNG_SIGNATURE)


def test_a_run_interrupted_before_its_first_evaluation_still_plots(tmp_path, recwarn):
    empty = history(
        train_loss_list=[], train_acc_list=[], test_acc_list=[], epoch_iters=[], epoch_times=[],
        final_train_acc=None, final_test_acc=None, interrupted=True,
    )  # fmt: skip
    assert all(
        path.read_bytes().startswith(PNG_SIGNATURE) for path in plot_history(empty, tmp_path)
    )
    assert not recwarn.list  # no "no artists with labels" warning


def _sweep_record(lr: float, seed: int, final: float) -> dict:
    """A finished run's record, as twolayer.sweep.run_one makes it."""
    return {
        "settings": {"learning_rate": lr},
        "seed": seed,
        "status": "done",
        "epoch_iters": [0, 10, 20],
        "iterations": 30,
        "iter_per_epoch": 10.0,
        "test_acc_list": [0.1, 0.5, final - 0.05],
        "final_test_acc": final,
    }


def test_sweep_curves_draw_the_mean_of_each_setting_and_its_spread(tmp_path):
    best = [_sweep_record(0.1, 0, 0.9), _sweep_record(0.1, 1, 0.8)]
    other = [_sweep_record(1.0, 0, 0.5)]
    curves = [("lr 0.1", best), ("lr 1.0", other)]
    figure = plot_sweep_curves(curves, "final_test_acc", tmp_path / "c.png", settings=5)
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.lines] == ["lr 0.1", "lr 1.0"]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 1, 2, 2.9])
    np.testing.assert_allclose(ax.lines[0].get_ydata()[-1], 0.85)  # the mean over seeds
    assert ax.get_title().startswith("the 2 best of 5 settings")
    assert ax.get_ylabel() == "test accuracy"
    assert (tmp_path / "c.png").read_bytes().startswith(PNG_SIGNATURE)


def test_sweep_finals_label_each_axis_as_its_flag(tmp_path):
    records = [_sweep_record(lr, 0, acc) for lr, acc in ((0.01, 0.3), (0.1, 0.9), (1.0, 0.6))]
    figure = plot_sweep_finals(
        records, "final_test_acc", {"learning_rate": "lr"}, tmp_path / "f.png"
    )
    (ax,) = figure.axes
    assert ax.get_xlabel() == "lr" and ax.get_xscale() == "log"
    assert ax.get_ylabel() == "final test accuracy"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.3, 0.9, 0.6])
    assert (tmp_path / "f.png").read_bytes().startswith(PNG_SIGNATURE)
