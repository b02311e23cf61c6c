"""The twolayer command's flags: book-style aliases, no abbreviations, "did you mean", one name for
one thing across commands."""

from __future__ import annotations

import json

import pytest

from twolayer import TwoLayerNet
from twolayer.cli import _parser, main
from twolayer.settings import SETTINGS


def usage_error(argv: list[str], capsys) -> str:
    """What main(argv) writes to stderr, once it is known to exit with status 2."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "name", "value"),
    [
        (["--iters-num", "7"], "iters_num", 7),
        (["--iters_num", "7"], "iters_num", 7),
        (["--learning-rate", "0.5"], "learning_rate", 0.5),
        (["--learning_rate", "0.5"], "learning_rate", 0.5),
        (["--hidden-size", "9"], "hidden_size", 9),
        (["--hidden_size", "9"], "hidden_size", 9),
        (["--batch_size", "20"], "batch_size", 20),
        (["--train_size", "300"], "train_size", 300),
    ],
)
def test_book_style_names_are_aliases(flags, name, value):
    args = _parser().parse_args(["train", *flags])
    assert getattr(args, name) == value
    assert getattr(_parser().parse_args(["train"]), name) == SETTINGS[name].default


def test_an_alias_trains_as_the_short_flag_does(mnist_dir, tmp_path):
    out = tmp_path / "out"
    argv = ["train", "--iters_num", "6", "--learning-rate", "0.5", "--hidden-size", "4"]
    assert main([*argv, "--batch_size", "10", "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    assert (history["iters_num"], history["learning_rate"]) == (6, 0.5)
    assert (history["hidden_size"], history["batch_size"]) == (4, 10)


def test_an_alias_is_named_as_typed_in_a_bad_value(capsys):
    err = usage_error(["train", "--learning-rate", "-1"], capsys)
    assert "argument --learning-rate: must be a finite number > 0, got '-1'" in err


def test_a_setting_too_large_for_the_data_names_the_short_flag(mnist_dir, tmp_path, capsys):
    err = usage_error(["train", "--train_size", "70000", "--data-dir", str(mnist_dir)], capsys)
    assert err.startswith("usage: twolayer train") and "argument --train-size: train_size" in err


def test_more_evaluations_than_a_history_holds_is_a_usage_error(
    mnist_dir, tmp_path, capsys, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError("a step was taken")  # at once, rather than after a long run

    monkeypatch.setattr(TwoLayerNet, "train_step", never)
    out = tmp_path / "out"
    argv = ["train", "--iters", "1000000", "--eval-every", "1", "--data-dir", str(mnist_dir)]
    err = usage_error([*argv, "--out", str(out)], capsys)
    assert (
        "argument --eval-every: eval_every: a run of 1,000,000 iterations evaluated every 1" in err
    )
    assert not out.exists()  # refused before anything is written


@pytest.mark.parametrize(
    ("argv", "command", "suggestion"),
    [
        (["train", "--batch", "50"], "train", "--batch-size"),  # no silent abbreviation
        (["train", "--hiden", "5"], "train", "--hidden"),
        (["train", "--learningrate", "0.1"], "train", "--learning-rate"),
        (["gradcheck", "--hidden-sise", "5"], "gradcheck", "--hidden-size"),
        (["sweep", "--sead", "1"], "sweep", "--seeds"),
        (["plot", "h.json", "--outt", "x"], "plot", "--out"),
    ],
)
def test_an_unknown_flag_gets_its_commands_usage_and_a_suggestion(
    argv, command, suggestion, capsys
):
    err = usage_error(argv, capsys)
    assert err.startswith(f"usage: twolayer {command}")
    assert f"unrecognized arguments: {' '.join(argv[-2:])}" in err
    assert f"did you mean {suggestion}?" in err


def test_no_suggestion_when_nothing_is_close(capsys):
    err = usage_error(["train", "--zzzzzz"], capsys)
    assert "unrecognized arguments: --zzzzzz" in err and "did you mean" not in err


def test_no_flag_is_taken_as_an_abbreviation(capsys):
    for argv in (["train", "--valid", "5"], ["sweep", "--trial", "2"], ["gradcheck", "--hid", "3"]):
        assert "unrecognized arguments" in usage_error(argv, capsys)


@pytest.mark.parametrize(
    "argv",
    [["inspect", "p.npz", "--ou", "x"], ["draw", "p.npz", "--no-brow"], ["plot", "h", "--ou", "x"]],
)
def test_every_command_refuses_abbreviations_with_its_own_usage(argv, capsys):
    err = usage_error(argv, capsys)
    assert err.startswith(f"usage: twolayer {argv[0]}") and "unrecognized arguments" in err


def test_gradcheck_takes_batch_size_as_train_does_and_its_old_batch():
    assert _parser().parse_args(["gradcheck", "--batch-size", "4"]).batch_size == 4
    assert _parser().parse_args(["gradcheck", "--batch", "4"]).batch_size == 4
    assert _parser().parse_args(["gradcheck"]).batch_size == 3


def test_the_sweep_takes_the_same_flags_and_names_them_in_errors(tmp_path, capsys):
    args = _parser().parse_args(["sweep", "--learning-rate", "0.1", "1", "--hidden_size", "5"])
    assert vars(args)["setting:learning_rate"] == [0.1, 1]
    assert vars(args)["setting:hidden_size"] == [5]
    out = tmp_path / "out"
    assert main(["sweep", "--lr", "0.1", "-1", "--out", str(out)]) == 2
    assert "argument --lr: settings lr -1.0: learning_rate must be" in capsys.readouterr().err
    assert main(["sweep", "--batch-size", "0", "--out", str(out)]) == 2
    assert "argument --batch-size: " in capsys.readouterr().err
    assert not out.exists()


def test_help_lists_the_book_style_aliases(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    assert "--lr LR" in help_text and "(also --learning-rate)" in help_text
    assert "--learning_rate" not in help_text  # accepted, not listed twice
