"""Successive halving: rungs and promotions on known accuracies; the same promotions in this
process and on local workers; a sweep stopped by Ctrl-C mid-rung finishes the same search; bad
--halving settings are usage errors."""

from __future__ import annotations

import json
import math
import signal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import twolayer.sweep.halving as halving
from twolayer.cli import main
from twolayer.settings import SettingError
from twolayer.sweep import local_executor, plan_runs, promoted, rungs
from twolayer.sweep.halving import halving_sweep


def test_rungs_are_epochs_divided_by_powers_of_eta() -> None:
    assert rungs(27, 3) == [1, 3, 9, 27]
    assert rungs(10, 3) == [Fraction(10, 9), Fraction(10, 3), 10]
    assert rungs(4, 2) == [1, 2, 4]
    assert rungs(3, 3) == [1, 3]


@pytest.mark.parametrize(("epochs", "eta", "message"), [(2, 3, "two rungs"), (5, 1, ">= 2")])
def test_bad_halving_settings_are_setting_errors(epochs: int, eta: int, message: str) -> None:
    with pytest.raises(SettingError, match=message) as error:
        rungs(epochs, eta)
    assert error.value.setting == "halving"


def test_promotions_keep_the_best_fraction_ties_to_the_first_planned() -> None:
    accuracies = [0.50, 0.91, 0.30, 0.91, 0.88, 0.10, 0.70, 0.05, 0.60]
    assert promoted(accuracies, 3) == [1, 3, 4]
    assert promoted(accuracies, 2) == [1, 3, 4, 6]
    assert promoted([0.2, 0.9, 0.9], 3) == [1]  # a tie: the one planned first
    assert promoted([math.nan, 0.1, math.nan, 0.2], 2) == [1, 3]  # diverged ones never continue
    assert promoted([0.3], 3) == [0]  # at least one


SPACE: dict[str, Any] = {
    "learning_rate": [0.05, 0.3, 1.0, 3.0],
    "hidden_size": [10],
    "epochs": [4],
    "train_size": [600],
    "validation_size": [300],
}


def _fates(out: Path) -> dict[str, tuple[Any, ...]]:
    records = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    return {
        json.dumps(r["settings"], sort_keys=True): (
            r["rung"],
            r["status"],
            r["val_acc_list"],
            r["final_val_acc"],
        )
        for r in records
    }


def test_the_same_promotions_in_this_process_and_on_local_workers(
    mnist_dir: Path, tmp_path: Path
) -> None:
    runs = plan_runs(SPACE)
    here = halving_sweep(runs, out=tmp_path / "here", eta=2, data_dir=mnist_dir, progress=False)
    assert [r["rung"] for r in here.records] and not here.interrupted
    fates = _fates(tmp_path / "here")
    assert sorted(f[0] for f in fates.values()) == [0, 0, 1, 2]  # 4 trials, then 2, then 1
    assert sorted(f[1] for f in fates.values()) == ["done", "stopped", "stopped", "stopped"]
    with local_executor(2, 1) as executor:
        halving_sweep(
            runs,
            out=tmp_path / "workers",
            eta=2,
            executor=executor,
            slots=2,
            data_dir=mnist_dir,
            progress=False,
        )
    assert _fates(tmp_path / "workers") == fates
    assert "1 done" in here.summary and "3 stopped early" in here.summary
    # The trial run to the end ranks first, then the stopped ones by the rung they reached.
    table = [line for line in here.summary.splitlines() if line.startswith("| ") and "/1" in line]
    assert "| 1/1 |" in table[0]
    reached = [float(line.split("stopped at ")[1].split()[0]) for line in table[1:]]
    assert (
        len(reached) == 3 and reached == sorted(reached, reverse=True) and reached[0] > reached[-1]
    )
    assert (tmp_path / "here" / "halving.png").stat().st_size > 0


def test_a_sweep_stopped_by_ctrl_c_mid_rung_finishes_the_same_search(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = plan_runs(SPACE)
    halving_sweep(runs, out=tmp_path / "whole", eta=2, data_dir=mnist_dir, progress=False)
    calls = []
    run_rung = halving.run_rung

    def ctrl_c_at_the_sixth(*args: Any) -> Any:  # the second trial of the second rung
        calls.append(1)
        if len(calls) == 6:
            signal.raise_signal(signal.SIGINT)
        return run_rung(*args)

    monkeypatch.setattr(halving, "run_rung", ctrl_c_at_the_sixth)
    out = tmp_path / "stopped"
    first = halving_sweep(runs, out=out, eta=2, data_dir=mnist_dir, progress=False)
    assert first.interrupted and first.remaining == 2
    monkeypatch.setattr(halving, "run_rung", run_rung)
    again = halving_sweep(runs, out=out, eta=2, data_dir=mnist_dir, progress=False)
    assert not again.interrupted and again.remaining == 0
    assert _fates(out) == _fates(tmp_path / "whole")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("--halving 1 --epochs 4 --validation-size 100", "--halving: must be an integer >= 2"),
        ("--halving 3 --epochs 2 --validation-size 100", "needs at least two rungs"),
        ("--halving 2 --epochs 4", "give a --validation-size"),
        ("--halving 2 --iters 50 --validation-size 100", "one --epochs value"),
    ],
)
def test_bad_halving_flags_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: str, message: str
) -> None:
    argv = ["sweep", "--lr", "0.1", "0.2", *flags.split(), "--out", str(tmp_path / "out")]
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code  # type: ignore[assignment]
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
