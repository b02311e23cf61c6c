"""twolayer.settings: each setting declared once, and what is derived from the declarations."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.settings import (
    SETTINGS,
    Either,
    Int,
    NetSettings,
    OneOf,
    Real,
    Setting,
    SettingError,
    SettingTypeError,
    TrainSettings,
    setting,
)
from twolayer.sweep import plan_runs, setting_names
from twolayer.training import History, check_settings, train


def test_every_setting_is_declared_once_with_a_flag_and_help():
    assert set(SETTINGS) == {*TrainSettings.declared(), *NetSettings.declared()}
    flags = [flag for spec in SETTINGS.values() for flag in spec.flags]
    assert len(flags) == len(set(flags))  # no flag names two settings
    for name, spec in SETTINGS.items():
        assert spec.name == name and spec.help and spec.flag.startswith("--")
        assert spec.check(spec.default) == spec.default  # every default passes its own check


def test_book_style_names_are_aliases_of_the_short_flags():
    assert SETTINGS["learning_rate"].flags == ("--lr", "--learning-rate", "--learning_rate")
    assert SETTINGS["iters_num"].flags == ("--iters", "--iters-num", "--iters_num")
    assert SETTINGS["hidden_size"].flags == ("--hidden", "--hidden-size", "--hidden_size")
    assert SETTINGS["batch_size"].flags == ("--batch-size", "--batch_size")
    assert SETTINGS["learning_rate"].label == "lr"


@pytest.mark.parametrize(
    ("values", "setting", "error"),
    [
        ({"learning_rate": 0}, "learning_rate", SettingError),
        ({"learning_rate": "0.1"}, "learning_rate", SettingTypeError),
        ({"batch_size": 2.0}, "batch_size", SettingTypeError),
        ({"gradient": "adam"}, "gradient", SettingError),
        ({"iters_num": 5, "epochs": 2}, "epochs", SettingError),
        ({"gamma": 0.9}, "gamma", SettingTypeError),
    ],
)
def test_a_refused_setting_carries_its_name(values, setting, error):
    with pytest.raises(error) as info:
        TrainSettings.from_mapping(values, "training")
    assert info.value.setting == setting and setting in str(info.value)
    # A SettingError is a ValueError; a SettingTypeError a TypeError as well.
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError) == (error is SettingTypeError)


def test_data_sizes_are_checked_against_the_data_naming_the_setting():
    with pytest.raises(SettingError, match="train_size must be at most 900") as info:
        TrainSettings(train_size=901, validation_size=100).check_data(1000, 500)
    assert info.value.setting == "train_size"
    with pytest.raises(SettingError) as info:
        check_settings({"eval_samples": 501}, data_sizes=(1000, 500))
    assert info.value.setting == "eval_samples"


def test_values_are_held_as_the_setting_holds_them():
    checked = TrainSettings(learning_rate=1, batch_size=np.int64(7), seed=np.int32(3))
    assert type(checked.learning_rate) is float and checked.learning_rate == 1.0
    assert type(checked.batch_size) is int and type(checked.seed) is int
    assert NetSettings(dtype=np.float32).dtype == "float32"
    assert SETTINGS["dtype"].canonical(np.dtype("f4")) == "float32"
    assert SETTINGS["learning_rate"].canonical(1) == 1.0


def test_the_network_refuses_through_the_same_declarations():
    with pytest.raises(SettingError) as info:
        TwoLayerNet(4, 3, 2, activation="tanh")
    assert info.value.setting == "activation"
    with pytest.raises(SettingTypeError) as info:
        TwoLayerNet(4, 3, 2, dtype=np.float16)
    assert info.value.setting == "dtype"


def test_trains_signature_lists_the_declared_settings_with_their_defaults():
    parameters = inspect.signature(train).parameters
    declared = {name: spec.default for name, spec in TrainSettings.declared().items()}
    assert {name: parameters[name].default for name in declared} == declared
    assert list(parameters)[:5] == ["net", "x_train", "t_train", "x_test", "t_test"]
    assert list(parameters)[-1] == "progress"
    with pytest.raises(TypeError, match="unexpected keyword argument 'gamma'"):
        train(None, np.zeros((1, 1)), [0], np.zeros((1, 1)), [0], gamma=0.9)


def test_history_records_every_training_setting():
    recorded = {f.name for f in dataclasses.fields(History)}
    assert set(TrainSettings.declared()) <= recorded
    assert set(NetSettings.declared()) - {"weight_init_std"} <= recorded


def test_the_sweep_varies_every_setting_but_the_seed():
    assert set(setting_names()) == set(SETTINGS) - {"seed"}
    assert setting_names()["hidden_size"] == 50


def test_the_command_line_parses_as_the_setting_checks():
    assert Int(1).parse("3") == 3
    with pytest.raises(ValueError, match="must be a positive integer, got '0'"):
        Int(1).parse("0")
    with pytest.raises(ValueError, match="must be a non-negative integer, got '-1'"):
        Int(0).parse("-1")
    with pytest.raises(ValueError, match="must be a finite number > 0, got 'inf'"):
        Real(above=0).parse("inf")
    assert OneOf(("a", "b")).choices == ("a", "b")


def test_a_number_or_one_of_some_names():
    # As an initial weight scale that is a number or "he"/"xavier" would be declared.
    scale = Either(Real(above=0), OneOf(("he", "xavier")))
    assert scale.check("scale", "he") == "he" and scale.check("scale", 1) == 1.0
    assert scale.parse("xavier") == "xavier" and scale.parse("0.5") == 0.5
    with pytest.raises(
        SettingError, match="scale must be a number or one of 'he', 'xavier', got 'lecun'"
    ):
        scale.check("scale", "lecun")
    with pytest.raises(SettingError, match="scale must be finite and > 0"):
        scale.check("scale", -1)
    assert scale.canonical(1) == 1.0 and scale.canonical("he") == "he"


def test_a_new_setting_is_one_declaration():
    """What adding a setting takes: a field whose metadata the rest reads."""

    @dataclasses.dataclass(frozen=True)
    class Extended(TrainSettings):
        momentum: float = setting(0.9, Real(above=0), "momentum (default: %(default)s)")

    spec = Extended.declared()["momentum"]
    assert isinstance(spec, Setting) and spec.flags == ("--momentum",)
    assert Extended(momentum=1).momentum == 1.0
    with pytest.raises(SettingError) as info:
        Extended(momentum=0)
    assert info.value.setting == "momentum"


def test_sweep_planning_names_the_setting():
    with pytest.raises(SettingError) as info:
        plan_runs({"learning_rate": [0.1, -1]})
    assert info.value.setting == "learning_rate"
    with pytest.raises(SettingError) as info:
        plan_runs({"hidden_size": [10**16]})
    assert info.value.setting == "hidden_size"


def test_a_real_within_bounds():
    momentum = Real(at_least=0, below=1)
    assert momentum.check("momentum", 0) == 0.0 and momentum.parse("0.9") == 0.9
    with pytest.raises(SettingError, match="momentum must be finite and >= 0 and < 1, got 1"):
        momentum.check("momentum", 1)
    with pytest.raises(ValueError, match="must be a finite number >= 0 and < 1, got '-0.5'"):
        momentum.parse("-0.5")
    with pytest.raises(SettingError, match="std must be finite, got nan"):
        Real().check("std", float("nan"))


def test_a_setting_error_pickles_with_its_setting():
    import pickle

    for error in (SettingError("batch_size", "bad"), SettingTypeError("seed", "worse")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and copy.setting == error.setting
        assert str(copy) == str(error)


# Settings that depend on the network (its dtype, its sizes) are checked before any work too.


def _status(argv: list[str]) -> int:
    """main()'s exit status, whether it returns it or argparse exits with it."""
    from twolayer.cli import main

    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_a_learning_rate_beyond_float32_is_refused_before_any_work(
    command, mnist_dir, tmp_path, capsys
):
    argv = [command, "--lr", "1e39", "--dtype", "float32", "--iters", "10"]
    assert _status([*argv, "--data-dir", str(mnist_dir), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "--lr: " in captured.err and "learning_rate must be finite in float32" in captured.err
    assert "Training" not in captured.out and not (tmp_path / "out" / "runs.jsonl").exists()


def test_the_learning_rate_in_the_dtype_of_the_network_is_one_check():
    with pytest.raises(SettingError, match="learning_rate must be finite in float32"):
        plan_runs({"learning_rate": [0.1, 1e39], "dtype": ["float32"]})
    plan_runs({"learning_rate": [1e39], "dtype": ["float64"]})  # float64 holds it
    net = TwoLayerNet(784, 5, 10, dtype=np.float32)
    x, t = np.zeros((20, 784), np.float32), np.zeros(20, np.int64)
    with pytest.raises(SettingError, match="learning_rate must be finite in float32") as caught:
        train(net, x, t, x, t, learning_rate=1e39, iters_num=1, progress=False)
    assert caught.value.setting == "learning_rate"


def test_a_batch_larger_than_the_memory_is_refused_naming_it(mnist_dir, tmp_path, capsys):
    argv = ["train", "--batch-size", "1000000000", "--iters", "1", "--out", str(tmp_path)]
    assert _status([*argv, "--data-dir", str(mnist_dir)]) == 2
    err = capsys.readouterr().err
    assert "argument --batch-size: batch_size 1,000,000,000 needs about" in err
    assert "GiB of memory" in err and "MemoryError" not in err
    with pytest.raises(SettingError, match="batch_size 1,000,000,000 needs about"):
        plan_runs({"batch_size": [100, 10**9]})
    plan_runs({"batch_size": [10**9], "sampling": ["shuffle"]})  # shuffled: at most the data
