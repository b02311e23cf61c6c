"""twolayer.plotting's figures of a trained network: plot_weights, plot_misclassified, plot_confusion."""

from __future__ import annotations

import base64
import math
import re

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.plotting import confusion_matrix, plot_confusion, plot_misclassified, plot_weights

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def test_set(mnist):
    return mnist[1]


@pytest.mark.parametrize("hidden", [50, 1000, 7])
def test_weights_one_tile_per_hidden_unit(hidden, tmp_path):
    net = TwoLayerNet(784, hidden, 10, seed=1)
    figure = plot_weights(net, tmp_path / "weights.png")
    ax = figure.axes[0]
    (image,) = ax.images
    mosaic = np.ma.filled(image.get_array().astype(float), np.nan)
    columns = math.ceil(math.sqrt(hidden))
    rows = math.ceil(hidden / columns)
    assert mosaic.shape == (29 * rows - 1, 29 * columns - 1)  # 28x28 tiles, a pixel apart
    w1 = net.params["W1"]
    for k in (0, hidden // 2, hidden - 1):  # tile k is column k of W1, in reading order
        row, column = divmod(k, columns)
        tile = mosaic[29 * row : 29 * row + 28, 29 * column : 29 * column + 28]
        np.testing.assert_array_equal(tile, w1[:, k].reshape(28, 28))
    assert np.isnan(mosaic).sum() == mosaic.size - w1.size  # nothing but the tiles and the gaps
    low, high = image.get_clim()
    assert low == -high == -np.abs(w1).max()  # one scale, symmetric about 0
    assert f"{hidden:,} hidden units" in ax.get_title()
    assert figure.axes[1].get_ylabel() == "weight"  # the colour bar
    assert (tmp_path / "weights.png").read_bytes().startswith(PNG_SIGNATURE)


def test_weights_need_square_pictures():
    with pytest.raises(ValueError, match="inputs must form a square picture .* got 10"):
        plot_weights(TwoLayerNet(10, 4, 3))


def _labels(ax) -> list[tuple[int, int, float]]:
    """(true, guess, probability) of each digit of a gallery, in reading order."""
    found = [re.fullmatch(r"(\d)→(\d) (0\.\d\d|1\.00)", text.get_text()) for text in ax.texts]
    assert all(found), [text.get_text() for text in ax.texts]
    return [(int(m[1]), int(m[2]), float(m[3])) for m in found if m]


def test_misclassified_shows_only_mistakes_with_their_labels(book_net, test_set, tmp_path):
    x, t = test_set
    y = book_net.predict(x)
    wrong = np.flatnonzero(y.argmax(axis=1) != t)
    figure = plot_misclassified(book_net, x, t, tmp_path / "misclassified.png", count=25)
    (ax,) = figure.axes
    labels = _labels(ax)
    assert len(labels) == 25
    mosaic = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    step = 28 + 14
    for k, (true, guess, p) in enumerate(labels):
        row, column = divmod(k, 10)
        tile = mosaic[step * row : step * row + 28, step * column : step * column + 28]
        (i,) = np.flatnonzero((x == tile.reshape(-1)).all(axis=1))  # the test digit drawn there
        assert i == wrong[k] and true == t[i] != guess == y[i].argmax()
        assert p == pytest.approx(y[i, guess], abs=0.005)
    assert f"{len(wrong):,} of 10,000" in ax.get_title()
    assert (tmp_path / "misclassified.png").read_bytes().startswith(PNG_SIGNATURE)


def test_misclassified_reads_one_hot_labels_and_shows_fewer_when_fewer(book_net, test_set):
    x, t = test_set
    (ax,) = plot_misclassified(book_net, x[:200], np.eye(10)[t[:200]]).axes
    wrong = int((book_net.predict(x[:200]).argmax(axis=1) != t[:200]).sum())
    assert 0 < wrong < 40 and len(_labels(ax)) == wrong
    guesses = book_net.predict(x[:200]).argmax(axis=1)
    (ax,) = plot_misclassified(book_net, x[:200], guesses).axes  # labels it gets all right
    assert not ax.texts and not ax.images and "none shown" in ax.get_title()


def test_confusion_matrix_sums_to_the_test_set_and_its_diagonal_is_the_accuracy(
    book_net, test_set, tmp_path
):
    x, t = test_set
    figure = plot_confusion(book_net, x, t, tmp_path / "confusion.png")
    ax = figure.axes[0]
    counts = np.asarray(ax.images[0].get_array())
    assert counts.shape == (10, 10) and counts.sum() == len(x) == 10_000
    assert np.trace(counts) / len(x) == book_net.accuracy(x, t)
    assert (counts.sum(axis=1) == np.bincount(t, minlength=10)).all()  # rows: the true labels
    guesses = book_net.predict(x).argmax(axis=1)
    assert (counts.sum(axis=0) == np.bincount(guesses, minlength=10)).all()  # columns: the guesses
    np.testing.assert_array_equal(counts, confusion_matrix(book_net, x, t))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("guess", "true label")
    assert f"accuracy {book_net.accuracy(x, t):.4f}" in ax.get_title()
    cells = {
        (round(text.get_position()[1]), round(text.get_position()[0])): text.get_text()
        for text in ax.texts
    }
    assert all(cells[i, j] == str(counts[i, j]) for i, j in zip(*np.nonzero(counts)))
    (right,) = ax.child_axes  # the accuracy of each class beside its row
    per_class = [label.get_text() for label in right.get_yticklabels()]
    assert per_class == [f"{counts[k, k] / counts[k].sum():.1%}" for k in range(10)]
    assert (tmp_path / "confusion.png").read_bytes().startswith(PNG_SIGNATURE)


def test_drawn_into_the_callers_axes():
    from matplotlib.figure import Figure

    net = TwoLayerNet(784, 9, 10, seed=0)
    x = np.random.default_rng(0).random((30, 784))
    t = np.arange(30) % 10
    figure = Figure()
    axes = figure.subplots(1, 3)
    assert plot_weights(net, ax=axes[0]) is figure
    assert plot_misclassified(net, x, t, ax=axes[1]) is figure
    assert plot_confusion(net, x, t, ax=axes[2]) is figure
    assert all(ax.images for ax in axes)


@pytest.mark.parametrize(
    ("t", "message"),
    [
        (np.zeros(29, int), r"t must have shape \(30,\) or \(30, 10\), got \(29,\)"),
        (np.full(30, 10), "t's labels must be from 0 to 9, got 10 to 10"),
        (np.full(30, 0.5), "t must hold integer labels, got dtype float64"),
    ],
)
def test_bad_labels_are_named(t, message):
    net = TwoLayerNet(784, 9, 10, seed=0)
    x = np.zeros((30, 784))
    for plot in (plot_misclassified, plot_confusion):
        with pytest.raises(ValueError, match=message):
            plot(net, x, t)
    with pytest.raises(ValueError, match="count must be a positive integer, got 0"):
        plot_misclassified(net, x, np.zeros(30, int), count=0)


def test_figures_show_as_images_in_a_fresh_notebook_kernel():
    from kernel import run_cells

    (outputs,) = run_cells(
        "import numpy as np\nfrom twolayer import TwoLayerNet\nfrom twolayer.plotting import plot_confusion\n"
        "plot_confusion(TwoLayerNet(784, 5, 10, seed=0), np.zeros((3, 784)), [0, 1, 2])"
    )
    (result,) = [output for output in outputs if output["output_type"] == "execute_result"]
    assert base64.b64decode(result["data"]["image/png"]).startswith(PNG_SIGNATURE)
