"""twolayer.history: History's fields from the settings' declarations, its JSON file written and
read back within bounds and checked, and the bound checked before a run starts."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from recording import RecordingNet, id_data

from twolayer._history_size import json_bytes_at_most, most_evaluations
from twolayer._losses import INLINE_LOSSES
from twolayer.settings import NetSettings, SettingError, TrainSettings
from twolayer.training import MAX_HISTORY_BYTES, History, check_settings, train


def test_history_round_trip(tmp_path):
    history = train(
        RecordingNet(), *id_data(103), validation_size=10, iters_num=5, seed=0, progress=False
    )
    history.train_loss_list[2] = math.nan  # written as null, read back as NaN
    history.to_json(tmp_path / "history.json")
    again = History.from_json(tmp_path / "history.json")
    assert again.to_json() == history.to_json() and math.isnan(again.train_loss_list[2])
    assert again.val_acc_list == history.val_acc_list and again.final_val_acc == 0.5


def test_history_from_before_the_new_settings_loads(tmp_path):
    history = train(RecordingNet(), *id_data(103), iters_num=5, seed=0, progress=False)
    data = json.loads(history.to_json())
    for key in (
        "epochs", "sampling", "validation_size", "eval_every", "eval_samples", "activation", "val_acc_list",
        "final_val_acc",
    ):  # fmt: skip
        del data[key]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert History.from_json(tmp_path / "old.json") == history


def test_history_too_large_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(
            MAX_HISTORY_BYTES + 1
        )  # sparse: no disk space, and reading it would take a while
    with pytest.raises(
        ValueError, match=f"{path} is larger than a training history can be \\(67,108,864 bytes\\)"
    ):
        History.from_json(path)


def valid_history_data():
    return json.loads(train(RecordingNet(), *id_data(103), validation_size=10, iters_num=5, seed=0, progress=False)
                      .to_json())  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: "[1, 2", "Expecting"),
        (lambda d: "[1, 2]", "expected a JSON object, got list"),
        (lambda d: json.dumps(d).replace('"wall_time": ', '"wall_time": NaN, "x": '), "NaN is not valid JSON"),
        (lambda d: {**d, "nesterov": 0.9}, r"unknown fields \['nesterov'\]"),
        (lambda d: {k: v for k, v in d.items() if k != "batch_size"}, r"missing fields \['batch_size'\]"),
        (lambda d: {**d, "batch_size": "100"}, "batch_size must be int, got '100'"),
        (lambda d: {**d, "batch_size": True}, "batch_size must be int, got True"),
        (lambda d: {**d, "train_acc_list": [0.5, "x"]}, "train_acc_list must be list"),
        (
            lambda d: json.dumps({**d, "wall_time": 0.5}).replace('"wall_time": 0.5', '"wall_time": 1e400'),
            "wall_time must be float, got inf",
        ),
        (lambda d: {**d, "sampling": "random"}, "sampling must be one of"),
        (lambda d: {**d, "batch_size": 0}, "batch_size, train_size and test_size must be >= 1"),
        (lambda d: {**d, "test_acc_list": d["test_acc_list"][:-1]}, "one entry per evaluation"),
        (lambda d: {**d, "val_acc_list": []}, "one entry per evaluation"),
        (lambda d: {**d, "epoch_iters": [0, 1, 2, 3, 7]}, "epoch_iters must be increasing iterations of the run"),
        (lambda d: {**d, "final_test_acc": 1.5}, r"accuracies must lie in \[0, 1\]"),
        (lambda d: {**d, "iters_num": 2}, "more losses than iters_num"),
    ],
)  # fmt: skip
def test_invalid_history_is_a_clear_error(tmp_path, change, message):
    changed = change(valid_history_data())
    path = tmp_path / "history.json"
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    with pytest.raises(ValueError, match=f"{path} is not a valid training history: .*{message}"):
        History.from_json(path)


def test_numpy_integer_settings_are_written_as_numbers(tmp_path):
    sizes = {"train_size": np.int64(50), "validation_size": np.int32(10), "epochs": np.int64(2)}
    history = train(
        RecordingNet(), *id_data(103), eval_samples=np.int64(5), progress=False, seed=0, **sizes
    )
    history.to_json(tmp_path / "history.json")
    data = json.loads((tmp_path / "history.json").read_text())
    assert (data["train_size"], data["validation_size"], data["epochs"], data["eval_samples"]) == (
        50,
        10,
        2,
        5,
    )
    assert History.from_json(tmp_path / "history.json") == history


# Its fields, from the settings' declarations.


def test_a_history_has_a_field_for_every_setting_a_run_records():
    fields = {f.name: f for f in dataclasses.fields(History)}
    declared = {**TrainSettings.declared(), **NetSettings.declared()}
    recorded = {name for name, spec in declared.items() if spec.recorded}
    assert recorded == set(declared) - {"weight_init_std"} and recorded <= set(fields)
    for name in recorded - {"iters_num", "train_size"}:  # those two it holds completed
        assert fields[name].type == declared[name].annotation, name
    assert fields["iters_num"].type == fields["train_size"].type == "int"
    required = {
        n for n, f in fields.items() if f.default is f.default_factory is dataclasses.MISSING
    }
    first = {name for name in recorded if declared[name].in_every_history}
    assert required == first | {"input_size", "output_size", "test_size", "iter_per_epoch"}
    for name in recorded - first:  # a history.json from before the setting reads as its default
        assert fields[name].default == declared[name].default, name


# Its bound, checked before a run starts.


@pytest.mark.parametrize("iterations", [0, 7, 1_000, INLINE_LOSSES + 1])
def test_a_history_json_is_never_larger_than_its_bound_says(iterations, tmp_path):
    """Every number at the longest JSON a float has, and a seed of 20 digits: within the bound
    (which grows by the same bytes for every loss and every evaluation, so that a run of the most
    evaluations allowed fits)."""
    longest, seed, evaluations = -2.2250738585072014e-308, 2**64, 500
    history = History(
        iters_num=iterations, batch_size=100, learning_rate=0.1, gradient="backprop", seed=seed,
        input_size=784, hidden_size=50, output_size=10, dtype="float64", train_size=60000,
        test_size=10000, iter_per_epoch=600.0, validation_size=10000,
        train_loss_list=[longest] * iterations,
        train_acc_list=[longest] * evaluations, val_acc_list=[longest] * evaluations,
        test_acc_list=[longest] * evaluations, epoch_times=[longest] * evaluations,
        epoch_iters=[max(iterations - 1, 0)] * evaluations, final_train_acc=longest,
        final_val_acc=longest, final_test_acc=longest, wall_time=longest,
    )  # fmt: skip
    history.to_json(tmp_path / "history.json")  # the losses of the longest run beside it
    size = (tmp_path / "history.json").stat().st_size
    assert size <= json_bytes_at_most(iterations, evaluations, seed), size
    most = most_evaluations(iterations, seed)
    assert json_bytes_at_most(iterations, most, seed) <= MAX_HISTORY_BYTES
    assert json_bytes_at_most(iterations, most + 1, seed) > MAX_HISTORY_BYTES


class NeverTrainedNet(RecordingNet):
    """A RecordingNet whose first step fails the test at once (rather than after a long run)."""

    def gradient(self, x, t):
        raise AssertionError("a step was taken")


def test_a_run_with_more_evaluations_than_a_history_holds_is_refused_before_it_starts():
    net = NeverTrainedNet()
    message = (
        r"eval_every: a run of 1,000,000 iterations evaluated every 1 makes 1,000,000 evaluations, "
        r"more than its history.json can hold within 67,108,864 bytes \(at most 363,\d{3}\): "
        r"evaluate less often, or train for fewer iterations"
    )
    with pytest.raises(SettingError, match=message) as info:
        train(net, *id_data(103), iters_num=10**6, eval_every=1, seed=0, progress=False)
    assert info.value.setting == "eval_every"
    assert net.trained == [] and net.measured == []  # no step taken, nothing evaluated
    with pytest.raises(SettingError, match=message):
        check_settings({"iters_num": 10**6, "eval_every": 1}, data_sizes=(103, 20))
    # An evaluation every epoch: 103 samples make an epoch of one iteration.
    for length, named in (({"epochs": 10**6}, "epochs"), ({"iters_num": 10**6}, "iters_num")):
        with pytest.raises(SettingError, match=f"{named}: a run of 1,000,000 iterations") as info:
            check_settings({**length, "batch_size": 103}, data_sizes=(103, 20))
        assert info.value.setting == named
    check_settings({"iters_num": 10**6, "eval_every": 3}, data_sizes=(103, 20))  # 333,334: they fit
    # Losses beside the JSON, past INLINE_LOSSES iterations, leave it more room.
    check_settings({"iters_num": 10**7, "eval_every": 20}, data_sizes=(103, 20))
