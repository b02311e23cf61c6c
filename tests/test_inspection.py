"""twolayer.inspection: the network's figures that `twolayer train` writes, and `twolayer inspect`."""

from __future__ import annotations

import numpy as np
from test_cli import png_size

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.inspection import NET_FIGURES, plot_net


def test_plot_net_writes_the_three_figures(tmp_path):
    net = TwoLayerNet(784, 12, 10, seed=0)
    x = np.random.default_rng(0).random((50, 784))
    paths = plot_net(net, x, np.arange(50) % 10, tmp_path)
    assert (
        [path.name for path in paths]
        == list(NET_FIGURES)
        == ["weights.png", "misclassified.png", "confusion.png"]
    )
    assert all(path.parent == tmp_path and min(png_size(path)) > 300 for path in paths)


def test_inspect_draws_a_saved_network(mnist_dir, book_net, tmp_path, capsys):
    book_net.save(tmp_path / "params.npz")
    assert main(["inspect", str(tmp_path / "params.npz"), "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    # Beside the net by default.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["params.npz", *NET_FIGURES])
    assert out.startswith(f"{book_net!r}: test accuracy 0.9")
    assert main(["inspect", str(tmp_path / "params.npz"), "--data-dir", str(mnist_dir), "--out",
                 str(tmp_path / "a" / "b")]) == 0  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == sorted(NET_FIGURES)


def test_inspect_errors_name_the_file(mnist_dir, tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "none.npz"), "--data-dir", str(mnist_dir)]) == 1
    assert "none.npz" in capsys.readouterr().err
    TwoLayerNet(10, 4, 3).save(tmp_path / "small.npz")
    assert main(["inspect", str(tmp_path / "small.npz"), "--data-dir", str(mnist_dir)]) == 1
    assert "small.npz: the network takes 10 inputs, not MNIST's 784" in capsys.readouterr().err
    assert not (tmp_path / "weights.png").exists()


def test_inspect_checks_its_output_folder_first(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    # Checked before the network or the data are read: neither exists here.
    assert main(["inspect", str(tmp_path / "none.npz"), "--out", str(tmp_path / "file")]) == 2
    assert f"argument --out: {tmp_path / 'file'} is a file, not a folder" in capsys.readouterr().err
