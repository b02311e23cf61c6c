"""The twolayer command: train, gradcheck and plot end to end, through main() and through `python -m twolayer`."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from isolation import in_child
from pictures import digit_picture
from PIL import Image

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.datasets import image_to_mnist

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height of a PNG file, from its signature and IHDR chunk (AssertionError if it is not a PNG)."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def run_main(command: str, mnist_dir: Path, out: Path | None = None) -> int:
    """main() on `command` (its words separated by spaces) with --data-dir and, if given, --out."""
    return main(
        [*command.split(), "--data-dir", str(mnist_dir), *(["--out", str(out)] if out else [])]
    )


def test_train_end_to_end(mnist_dir, mnist, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        run_main("train --iters 120 --batch-size 50 --lr 0.5 --hidden 10 --seed 3", mnist_dir, out)
        == 0
    )

    stdout = capsys.readouterr().out
    assert stdout.startswith(
        "Training TwoLayerNet(input_size=784, hidden_size=10, output_size=10, activation=sigmoid, dtype=float64)"
    )
    assert "120 iterations, batch size 50, learning rate 0.5, backprop gradient" in stdout
    assert (
        len(re.findall(r"^train acc, test acc \| 0\.\d{4}, 0\.\d{4}$", stdout, re.M)) == 1
    )  # epoch 0 only
    assert re.search(
        r"^Done: 120 iterations in [\d.]+ s; final train acc 0\.\d{4}, test acc 0\.\d{4}$",
        stdout,
        re.M,
    )

    figures = ["accuracy.png", "confusion.png", "loss.png", "misclassified.png", "weights.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*figures, "history.json", "params.npz"])
    assert all(w > 100 and h > 100 for w, h in (png_size(out / name) for name in figures))
    history = json.loads((out / "history.json").read_text())
    assert (
        history["iters_num"],
        history["batch_size"],
        history["learning_rate"],
        history["seed"],
    ) == (120, 50, 0.5, 3)
    assert (history["hidden_size"], history["dtype"], history["gradient"]) == (
        10,
        "float64",
        "backprop",
    )
    assert len(history["train_loss_list"]) == 120 and history["epoch_iters"] == [0]
    assert history["wall_time"] > 0 and not history["interrupted"] and not history["diverged"]

    (_, _), (x_test, t_test) = mnist
    net = TwoLayerNet.load(out / "params.npz")
    assert net.hidden_size == 10 and net.accuracy(x_test, t_test) == history["final_test_acc"]
    assert f"test acc {history['final_test_acc']:.4f}" in stdout


def test_train_overfitting_settings(mnist_dir, tmp_path, capsys):
    """The README's overfitting run, shortened: shuffled epochs over 300 images, 100 held out for validation."""
    out = tmp_path / "out"
    assert (
        run_main(
            "train --sampling shuffle --train-size 300 --validation-size 100 --epochs 4 --hidden 10 --seed 1",
            mnist_dir,
            out,
        )
        == 0
    )
    stdout = capsys.readouterr().out
    assert (
        "on 300 MNIST images (100 held out for validation, 10,000 for testing): 4 epochs, batch size 100"
        in stdout
    )
    assert "backprop gradient, shuffled every epoch" in stdout
    assert (
        len(
            re.findall(
                r"^train acc, val acc, test acc \| 0\.\d{4}, 0\.\d{4}, 0\.\d{4}$", stdout, re.M
            )
        )
        == 4
    )
    assert re.search(
        r"^Done: 12 iterations in [\d.]+ s; final train acc 0\.\d{4}, val acc 0\.\d{4}, test acc",
        stdout,
        re.M,
    )
    history = json.loads((out / "history.json").read_text())
    assert (history["sampling"], history["train_size"], history["validation_size"], history["epochs"]) == (
        "shuffle", 300, 100, 4,
    )  # fmt: skip
    assert (
        history["iters_num"] == 12
        and history["epoch_iters"] == [0, 3, 6, 9]
        and len(history["val_acc_list"]) == 4
    )
    assert png_size(out / "accuracy.png")


def test_train_cheaper_evaluation(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        run_main(
            "train --iters 10 --eval-every 5 --eval-samples 500 --hidden 5 --seed 0", mnist_dir, out
        )
        == 0
    )
    lines = [
        line for line in capsys.readouterr().out.splitlines() if " acc" in line and "|" in line
    ]
    assert [line.split("|")[0] for line in lines] == [
        f"iteration {i}: train acc, test acc on 500 samples each " for i in (0, 5)
    ]
    history = json.loads((out / "history.json").read_text())
    assert (history["eval_every"], history["eval_samples"], history["epoch_iters"]) == (
        5,
        500,
        [0, 5],
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--train-size", "60001"],
            "argument --train-size: train_size must be at most 60,000 (the 60,000 training",
        ),
        (
            ["--validation-size", "60000"],
            "argument --validation-size: validation_size must leave samples to train on: at most 59,999",
        ),
        (
            ["--train-size", "100", "--eval-samples", "101"],
            "argument --eval-samples: eval_samples must be at most 100",
        ),
        (
            ["--eval-samples", "10001"],
            "eval_samples must be at most 10,000, the size of the test set, got 10,001",
        ),
    ],
)
def test_settings_too_large_for_the_data_are_usage_errors(
    mnist_dir, tmp_path, capsys, flags, message
):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["train", *flags, "--data-dir", str(mnist_dir), "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: twolayer train") and message in err
    assert not out.exists()  # nothing written


def test_plot_redraws_the_figures(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        run_main("train --iters 20 --hidden 5 --validation-size 50 --eval-every 10", mnist_dir, out)
        == 0
    )
    redrawn = tmp_path / "redrawn"
    assert main(["plot", str(out / "history.json"), "--out", str(redrawn)]) == 0
    assert sorted(p.name for p in redrawn.iterdir()) == ["accuracy.png", "loss.png"]
    assert png_size(redrawn / "accuracy.png") == png_size(out / "accuracy.png")
    (out / "loss.png").unlink()
    assert main(["plot", str(out / "history.json")]) == 0  # beside the history by default
    assert (
        png_size(out / "loss.png")
        and f"Wrote {out / 'loss.png'}, {out / 'accuracy.png'}" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        (b"{", "is not a valid training history: Expecting property name"),
        (b'{"iters_num": 3}', "is not a valid training history: missing fields ['batch_size', "),
    ],
)
def test_plot_of_a_bad_history_is_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "history.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["plot", str(path), "--out", str(tmp_path / "figures")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("twolayer: error: ") and str(path) in err and message in err
    assert not (tmp_path / "figures").exists()  # nothing written


def test_plot_of_a_huge_file_is_refused(tmp_path, capsys):
    path = tmp_path / "history.json"
    with open(path, "wb") as f:
        f.truncate(2**30)  # sparse
    assert main(["plot", str(path)]) == 1
    assert (
        f"twolayer: error: {path} is larger than a training history can be (67,108,864 bytes)"
        in capsys.readouterr().err
    )


def test_python_dash_m(mnist_dir, tmp_path):
    out = tmp_path / "out"
    flags = ["--iters", "30", "--hidden", "5", "--dtype", "float32", "--num-threads", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "twolayer", "train", *flags, "--data-dir", str(mnist_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "train acc, test acc | " in result.stdout and "Done: 30 iterations" in result.stdout
    assert json.loads((out / "history.json").read_text())["dtype"] == "float32"
    assert png_size(out / "loss.png") and png_size(out / "accuracy.png")


def test_gradcheck(mnist_dir, capsys):
    assert run_main("gradcheck --hidden 8 --seed 0", mnist_dir) == 0
    stdout = capsys.readouterr().out
    rows = re.findall(r"^(W1|b1|W2|b2) +(naive|incremental) +(\S+) +(\S+)$", stdout, re.M)
    assert [(key, method) for key, method, _, _ in rows] == [
        (key, method) for method in ("naive", "incremental") for key in ("W1", "b1", "W2", "b2")
    ]
    # The book's check: tiny differences (about 1e-7 at most, from the 1e-7 inside the book's log).
    assert all(float(mean) <= float(largest) < 1e-6 for _, _, mean, largest in rows)


def test_gradcheck_of_chapter_5s_relu_network(mnist_dir, capsys):
    assert run_main("gradcheck --activation relu --hidden 8 --seed 0", mnist_dir) == 0
    stdout = capsys.readouterr().out
    assert "activation=relu" in stdout.splitlines()[0]
    rows = re.findall(r"^(W1|b1|W2|b2) +(naive|incremental) +(\S+) +(\S+)$", stdout, re.MULTILINE)
    assert len(rows) == 8 and all(
        float(mean) <= float(largest) < 1e-6 for _, _, mean, largest in rows
    )


def test_train_relu_saves_a_relu_network(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_main("train --activation relu --iters 20 --hidden 6 --seed 1", mnist_dir, out) == 0
    assert "activation=relu" in capsys.readouterr().out.splitlines()[0]
    assert TwoLayerNet.load(out / "params.npz").activation == "relu"


def test_interrupted_run_keeps_what_it_recorded(mnist_dir, tmp_path, monkeypatch, capsys):
    calls = []
    train_step = TwoLayerNet.train_step  # the step train takes with this package's net

    def interrupted_at_25(self, *args, **kwargs):
        if len(calls) == 25:
            raise KeyboardInterrupt
        calls.append(1)
        return train_step(self, *args, **kwargs)

    monkeypatch.setattr(TwoLayerNet, "train_step", interrupted_at_25)
    out = tmp_path / "out"
    assert run_main("train --hidden 5", mnist_dir, out) == 130
    assert "Interrupted after 25 of 10,000 iterations" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert history["interrupted"] and len(history["train_loss_list"]) == 25
    assert (out / "params.npz").exists() and (out / "loss.png").exists()


def test_diverged_run_is_an_error(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_main("train --iters 20 --hidden 20 --seed 0", mnist_dir, out) == 0
    assert (out / "params.npz").exists() and (out / "weights.png").exists()
    capsys.readouterr()
    assert (
        run_main("train --iters 50 --hidden 20 --dtype float32 --lr 1e38 --seed 0", mnist_dir, out)
        == 1
    )
    printed = capsys.readouterr()
    assert "twolayer: error: training diverged at iteration" in printed.err
    assert json.loads((out / "history.json").read_text())["diverged"]
    # NaN parameters are not saved, and the earlier run's are not left to be taken for them.
    assert not (out / "params.npz").exists()
    assert f"Removed {out / 'params.npz'}, an earlier run's" in printed.out
    assert not any(
        (out / name).exists() for name in ("weights.png", "misclassified.png", "confusion.png")
    )
    assert f"Removed {out / 'weights.png'}, an earlier run's" in printed.out


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(
        "TWOLAYER_MNIST_URL", "http://127.0.0.1:9/"
    )  # refused at once: no network needed
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--data-dir", str(empty), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "twolayer: error: no valid copy of the MNIST file train-images-idx3-ubyte"
    )
    assert str(empty) in err and "t10k-labels-idx1-ubyte" in err
    assert not (tmp_path / "out").exists()


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    stdout = capsys.readouterr().out
    assert "train" in stdout and "gradcheck" in stdout and "plot" in stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "--iters", "ten"], "argument --iters: must be a positive integer, got 'ten'"),
        (["train", "--iters", "0"], "argument --iters: must be a positive integer, got '0'"),
        (["train", "--lr", "nan"], "argument --lr: must be a finite number > 0, got 'nan'"),
        (["train", "--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
        (["gradcheck", "--gradient", "numerical"], "unrecognized arguments: --gradient numerical"),
        (["train", "--activation", "tanh"], "argument --activation: invalid choice: 'tanh'"),
        (["gradcheck", "--activation", "ReLU"], "argument --activation: invalid choice: 'ReLU'"),
        (
            ["train", "--iters", "10", "--epochs", "2"],
            "argument --epochs: not allowed with argument --iters",
        ),
        (["train", "--epochs", "0"], "argument --epochs: must be a positive integer, got '0'"),
        (["train", "--sampling", "random"], "argument --sampling: invalid choice: 'random'"),
        (
            ["train", "--train-size", "0"],
            "argument --train-size: must be a positive integer, got '0'",
        ),
        (
            ["train", "--validation-size", "-1"],
            "argument --validation-size: must be a non-negative integer, got '-1'",
        ),
        (
            ["train", "--eval-every", "0"],
            "argument --eval-every: must be a positive integer, got '0'",
        ),
        (
            ["train", "--eval-samples", "x"],
            "argument --eval-samples: must be a positive integer, got 'x'",
        ),
        (["plot"], "the following arguments are required: HISTORY"),
        (["plot", "h.json", "--seed", "1"], "unrecognized arguments: --seed 1"),
    ],
)
def test_bad_flags_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: twolayer") and message in err


def test_python_dash_m_bad_flag():
    result = subprocess.run(
        [sys.executable, "-m", "twolayer", "train", "--batch-size", "-3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        result.returncode == 2
        and "argument --batch-size: must be a positive integer, got '-3'" in result.stderr
    )
    assert result.stderr.startswith("usage: twolayer train")


@pytest.fixture
def pictures(book_net, mnist, tmp_path):
    """params.npz of the book's network, and pictures of three test digits it recognises, with their labels."""
    book_net.save(tmp_path / "params.npz")
    _, (x_test, t_test) = mnist
    recognised = [i for i in range(100) if book_net.predict(x_test[i]).argmax() == t_test[i]][:3]
    paths = []
    for n, i in enumerate(recognised):
        paths.append(tmp_path / f"digit{n}.{'png' if n % 2 else 'jpg'}")
        digit_picture(x_test[i], 200 + 50 * n, (400, 300), (30 * n, 40)).save(paths[-1])
    return tmp_path / "params.npz", paths, [int(t_test[i]) for i in recognised]


def test_predict_end_to_end(pictures, tmp_path, capsys):
    params, paths, labels = pictures
    assert (
        main(
            [
                "predict",
                str(params),
                *map(str, paths),
                "--save-preprocessed",
                str(tmp_path / "seen"),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line, path, label in zip(lines, paths, labels):
        match = re.fullmatch(
            rf"{re.escape(str(path))}: (\d) \((0\.\d{{3}}|1\.000)\), \d \(0\.\d{{3}}\), \d \(0\.\d{{3}}\)",
            line,
        )
        assert match and int(match[1]) == label, line
    for path in paths:  # what the network saw, as 28x28 8-bit grey
        seen = np.asarray(Image.open(tmp_path / "seen" / f"{path.stem}.png"))
        np.testing.assert_allclose(seen / 255, image_to_mnist(path).reshape(28, 28), atol=0.5 / 255)


def test_predict_reports_bad_files_and_goes_on(pictures, tmp_path, capsys):
    params, paths, labels = pictures
    (tmp_path / "notes.png").write_text("not a picture")
    (tmp_path / "cut.png").write_bytes(paths[1].read_bytes()[:300])
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    bad = [
        tmp_path / "notes.png",
        tmp_path / "cut.png",
        tmp_path / "blank.png",
        tmp_path / "missing.png",
    ]
    argv = ["predict", str(params), str(bad[0]), str(paths[0]), *map(str, bad[1:]), "--json"]
    assert main(argv) == 1

    out, err = capsys.readouterr()
    results = json.loads(out)
    assert [result["image"] for result in results] == [
        str(bad[0]),
        str(paths[0]),
        *map(str, bad[1:]),
    ]
    good = results[1]
    assert good["top"][0][0] == labels[0] and len(good["top"]) == 3
    assert (
        good["top"][0][1] >= good["top"][1][1] >= good["top"][2][1]
        and sum(p for _, p in good["top"]) <= 1
    )
    errors = [result["error"] for result in results if "error" in result]
    for error, path, what in zip(
        errors,
        bad,
        ("is not an image", "is a truncated or damaged image", "holds no ink", "No such file"),
    ):
        assert str(path) in error and what in error
        assert f"twolayer: error: {error}" in err


def test_predict_with_a_network_that_is_not_for_mnist(tmp_path, capsys):
    TwoLayerNet(10, 4, 3, seed=0).save(tmp_path / "small.npz")
    assert main(["predict", str(tmp_path / "small.npz"), "digit.png"]) == 1
    assert "small.npz: the network takes 10 inputs, not MNIST's 784" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "none.npz"), "digit.png"]) == 1
    assert "none.npz" in capsys.readouterr().err


# --- The command line: bad flags are usage errors (exit status 2) naming the flag ---------------

# fmt: off
BAD_FLAGS = [
    (["train", "--num-threads", "2000"], "argument --num-threads: must be between 1 and 1024, got 2000"),
    (["train", "--num-threads", "0"], "argument --num-threads: must be between 1 and 1024, got 0"),
    (["train", "--num-threads", "two"], "argument --num-threads: must be an integer, got 'two'"),
    (["train", "--seed", "-1"], "argument --seed: must be a non-negative integer, got '-1'"),
    (["gradcheck", "--seed", "1e3"], "argument --seed: must be a non-negative integer, got '1e3'"),
    (["gradcheck", "--hidden", "2.5"], "argument --hidden: must be a positive integer, got '2.5'"),
    (["gradcheck", "--batch", "0"], "argument --batch: must be a positive integer, got '0'"),
    (["train", "--batch-size", "-3"], "argument --batch-size: must be a positive integer, got '-3'"),
    (["train", "--lr", "-0.1"], "argument --lr: must be a finite number > 0, got '-0.1'"),
    (["train", "--lr", "inf"], "argument --lr: must be a finite number > 0, got 'inf'"),
    (["train", "--gradient", "adam"], "argument --gradient: invalid choice: 'adam'"),
    (["gradcheck", "--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    (["train", "--data-dir"], "argument --data-dir: expected one argument"),
    (["train", "--iters", "ten"], "argument --iters: must be a positive integer, got 'ten'"),
]
# fmt: on


def _run_cli(argv: list[str]) -> tuple[int, str]:
    """main(argv) in a forked child: its exit status and what it wrote to stderr."""
    import contextlib
    import io

    from twolayer.cli import main

    def run():
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        return code, err.getvalue()

    return in_child(run)


@pytest.mark.parametrize(("argv", "message"), BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_command_line_flags(argv: list[str], message: str) -> None:
    code, err = _run_cli(argv)
    assert code == 2 and message in err, (code, err)


def test_a_network_too_large_is_an_error_not_a_traceback(mnist_dir, tmp_path) -> None:
    code, err = _run_cli(["gradcheck", "--hidden", str(10**18), "--data-dir", str(mnist_dir)])
    assert code == 1, err
    assert err.startswith("twolayer: error: a 784-1000000000000000000-10 network"), err
    assert "too large to allocate" in err
