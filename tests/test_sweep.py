"""twolayer.sweep and `twolayer sweep`: grids and random search end to end, resuming after Ctrl-C,
diverged and failed runs among good ones, local processes against in-process runs, a Dask
cluster, and bad input caught before any run starts."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twolayer.cli import main
from twolayer.sweep import (
    LogRange,
    Run,
    RunLog,
    SweepOptions,
    halving_sweep,
    local_executor,
    plan_runs,
    run_sweep,
    sweep,
)

SHORT = {"iters_num": [40], "hidden_size": [10]}  # a run of well under a second
HALVING = {"epochs": [2], "validation_size": [100]}
PNG = b"\x89PNG\r\n\x1a\n"


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]


def _finals(records: list[dict]) -> dict[str, float]:
    return {Run(r["settings"], r["seed"]).key: r["final_test_acc"] for r in records}


def _summary_rows(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_grid_end_to_end(mnist_dir, tmp_path):
    space = {**SHORT, "learning_rate": [0.1, 1], "hidden_size": [10, 20]}
    result = sweep(space, out=tmp_path, seeds=2, data_dir=mnist_dir, progress=False)

    records = _records(tmp_path)
    assert len(records) == len(result.records) == 8 and result.remaining == 0
    assert len(_finals(records)) == 8  # every setting and seed once
    assert {(r["settings"]["learning_rate"], r["settings"]["hidden_size"]) for r in records} == {
        (0.1, 10),
        (0.1, 20),
        (1.0, 10),
        (1.0, 20),
    }
    assert {r["seed"] for r in records} == {0, 1}
    for r in records:
        assert r["status"] == "done" and r["error"] is None
        assert len(r["train_acc_list"]) == len(r["test_acc_list"]) == len(r["epoch_iters"]) == 1
        assert 0 <= r["final_test_acc"] <= 1 and r["wall_time"] > 0

    rows = _summary_rows(tmp_path)
    assert len(rows) == 4
    means = [float(row["test_acc_mean"]) for row in rows]
    assert means == sorted(means, reverse=True)
    best = rows[0]
    seeds_of_best = [
        r["final_test_acc"]
        for r in records
        if r["settings"]["learning_rate"] == float(best["learning_rate"])
        and r["settings"]["hidden_size"] == int(best["hidden_size"])
    ]
    assert float(best["test_acc_mean"]) == pytest.approx(sum(seeds_of_best) / 2)
    assert all(row["runs"] == row["done"] == "2" for row in rows)

    markdown = (tmp_path / "summary.md").read_text()
    assert "8 runs of 4 settings: 8 done, 0 diverged, 0 failed" in markdown
    assert "Every run: iters 40." in markdown
    assert "test data ranks the settings" in markdown  # no validation set: said so
    assert markdown.count("\n| ") == 1 + 4  # header and four settings
    for name in ("accuracy.png", "final-accuracy.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_random_search_end_to_end_and_rerun(mnist_dir, tmp_path, capsys):
    # As in ch. 6: a validation set held out of the training data chooses the settings.
    argv = ["sweep", "--trials", "5", "--lr", "1e-3:1", "--hidden", "8:32", "--iters", "40"]
    argv += ["--validation-size", "2000"]
    argv += ["--seeds", "1", "--out", str(tmp_path), "--data-dir", str(mnist_dir)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("[") >= 5 and "[5/5]" in printed  # a line per finished run
    assert "| rank | lr | hidden |" in printed  # and the summary

    records = _records(tmp_path)
    assert len(records) == 5
    for r in records:
        lr, hidden = r["settings"]["learning_rate"], r["settings"]["hidden_size"]
        assert 1e-3 <= lr <= 1 and isinstance(lr, float)
        assert 8 <= hidden <= 32 and isinstance(hidden, int)
    assert len({json.dumps(r["settings"]) for r in records}) == 5  # five different draws
    assert all(len(r["val_acc_list"]) == 1 and r["final_val_acc"] is not None for r in records)
    rows = _summary_rows(tmp_path)
    assert len(rows) == 5
    val = [float(row["val_acc_mean"]) for row in rows]
    assert val == sorted(val, reverse=True)
    best = max(records, key=lambda r: r["final_val_acc"])
    assert float(rows[0]["learning_rate"]) == best["settings"]["learning_rate"]
    summary = (tmp_path / "summary.md").read_text()
    assert "Ranked by the mean final val acc over seeds" in summary
    assert "test data ranks" not in summary

    # The same command plans the same trials: nothing is left to run.
    assert main(argv) == 0
    assert "5 of 5 runs found in runs.jsonl" in capsys.readouterr().out
    assert _records(tmp_path) == records


def test_a_diverging_setting_is_recorded_among_good_ones(mnist_dir, tmp_path):
    # As test_cli's diverging run: a float32 network with a learning rate near float32's largest.
    space = {
        "iters_num": [50],
        "hidden_size": [20],
        "learning_rate": [0.1, 1e38],
        "dtype": ["float32"],
    }
    sweep(space, out=tmp_path, seeds=2, data_dir=mnist_dir, progress=False)
    by_status = {}
    for r in _records(tmp_path):
        by_status.setdefault(r["status"], []).append(r["settings"]["learning_rate"])
    assert by_status == {"done": [0.1, 0.1], "diverged": [1e38, 1e38]}
    diverged = next(r for r in _records(tmp_path) if r["status"] == "diverged")
    assert "training diverged at iteration" in diverged["error"]
    assert diverged["final_test_acc"] is None
    rows = _summary_rows(tmp_path)
    assert [(row["learning_rate"], row["done"], row["diverged"]) for row in rows] == [
        ("0.1", "2", "0"),
        ("1e+38", "0", "2"),
    ]
    assert "2 done, 2 diverged" in (tmp_path / "summary.md").read_text()


class _LosesTheSecondRun(cf.ThreadPoolExecutor):
    """Any Executor will do; this one loses one run, as a cluster might."""

    def submit(self, fn, /, *args, **kwargs):
        if args[1] == 1:  # the seed
            lost: cf.Future = cf.Future()
            lost.set_exception(OSError("the worker went away"))
            return lost
        return super().submit(fn, *args, **kwargs)


def test_a_run_the_executor_loses_is_recorded_failed(mnist_dir, tmp_path):
    with _LosesTheSecondRun(max_workers=1) as executor:
        sweep(SHORT, out=tmp_path, seeds=3, executor=executor, data_dir=mnist_dir, progress=False)
    statuses = {r["seed"]: (r["status"], r["error"]) for r in _records(tmp_path)}
    assert statuses == {
        0: ("done", None),
        1: ("failed", "OSError: the worker went away"),
        2: ("done", None),
    }
    assert "1 failed" in (tmp_path / "summary.md").read_text()
    # The CLI says so in its exit status.
    argv = ["sweep", "--iters", "40", "--hidden", "10", "--seeds", "3", "--out", str(tmp_path)]
    assert main([*argv, "--data-dir", str(mnist_dir)]) == 1


def test_local_processes_give_the_in_process_results(mnist_dir, tmp_path):
    space = {**SHORT, "learning_rate": [0.5, 1], "batch_size": [50, 100]}
    sweep(space, out=tmp_path / "here", seeds=2, threads=1, data_dir=mnist_dir, progress=False)
    with local_executor(2) as executor:
        sweep(
            space,
            out=tmp_path / "pool",
            seeds=2,
            executor=executor,
            slots=2,
            threads=1,
            data_dir=mnist_dir,
            progress=False,
        )
    here, pool = _records(tmp_path / "here"), _records(tmp_path / "pool")
    assert _finals(here) == _finals(pool)
    assert len({r["worker"] for r in pool}) == 2 and {r["threads"] for r in pool} == {1}
    assert {r["worker"] for r in here} == {f"{socket.gethostname()}:{os.getpid()}"}


def _sweep_command(out: Path, mnist_dir: Path, *more: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "twolayer",
        "sweep",
        "--lr",
        "0.1",
        "0.5",
        "1",
        "--iters",
        "600",
        "--hidden",
        "20",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--data-dir",
        str(mnist_dir),
        *more,
    ]


def test_ctrl_c_keeps_finished_runs_and_the_same_command_resumes(mnist_dir, tmp_path):
    command = _sweep_command(tmp_path, mnist_dir, "--workers", "2")
    # Its own process group, as a terminal's Ctrl-C reaches the command and its workers alike.
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while len(_lines(tmp_path)) < 2 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert len(_lines(tmp_path)) >= 2, child.communicate()
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130, out + err
    assert "Interrupted:" in out and "Traceback" not in err
    kept = _records(tmp_path)
    assert 2 <= len(kept) < 6 and all(r["status"] == "done" for r in kept)

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(kept)} of 6 runs found in runs.jsonl" in again.stdout
    records = _records(tmp_path)
    assert records[: len(kept)] == kept and len(records) == 6  # nothing redone, nothing repeated
    assert len(_finals(records)) == 6


def _lines(out: Path) -> list[str]:
    path = out / "runs.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_a_torn_last_line_is_dropped_and_its_run_redone(mnist_dir, tmp_path):
    sweep(SHORT, out=tmp_path, seeds=2, data_dir=mnist_dir, progress=False)
    whole = (tmp_path / "runs.jsonl").read_bytes()
    first, second = whole.splitlines(keepends=True)
    (tmp_path / "runs.jsonl").write_bytes(first + second[:25])  # as if cut short while writing
    result = sweep(SHORT, out=tmp_path, seeds=2, data_dir=mnist_dir, progress=False)
    assert len(result.records) == 2 and _finals(_records(tmp_path)) == _finals(
        [json.loads(first), json.loads(second)]
    )


def test_a_damaged_run_log_is_an_error_naming_the_line(tmp_path):
    failed = '{"settings": {}, "seed": 0, "status": "failed", "error": "E"}'
    (tmp_path / "runs.jsonl").write_text(f"{failed}\nnot json\n{{}}\n")
    with pytest.raises(ValueError, match=r"runs\.jsonl, line 2: not a run record"):
        RunLog(tmp_path / "runs.jsonl").read(plan_runs({}, seeds=3))


# Bad input: each a usage error before any run starts (nothing is written).


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr"], "expected at least one argument"),
        (["--lr", "1e-4:"], "a range is written LOW:HIGH with two numbers, got '1e-4:'"),
        (["--lr", "1:x", "--trials", "2"], "two numbers, got '1:x'"),
        (["--lr", "0:1", "--trials", "2"], "needs 0 < low <= high, got 0:1"),
        (["--lr", "1e-4:1"], "learning_rate: a range (0.0001:1) needs random search (trials)"),
        (["--workers", "0"], "argument --workers: must be a positive integer, got '0'"),
        (["--seeds", "0"], "argument --seeds: must be a positive integer"),
        (["--lr", "0.1", "-1"], "settings lr -1.0: learning_rate must be finite and > 0, got -1.0"),
        (["--gradient", "magic"], "gradient must be one of ('backprop', 'numerical'), got 'magic'"),
        (["--batch-size", "0"], "batch_size must be >= 1, got 0"),
        (["--iters", "-5"], "iters_num must be >= 0, got -5"),
        (["--hidden", "0"], "hidden_size"),
        (["--dtype", "float16"], "dtype must be float64 or float32"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with argument"),
    ],
)
def test_bad_input_is_a_usage_error(flags, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert _exit_status(["sweep", *flags, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def _exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("space", "kwargs", "error", "message"),
    [
        ({"learning_rate": []}, {}, ValueError, "learning_rate: expected at least one value"),
        ({"gamma": [0.9]}, {}, ValueError, "unknown setting 'gamma'; the settings are"),
        ({"learning_rate": 0.1}, {}, TypeError, "learning_rate: expected a list of values"),
        ({}, {"seeds": 0}, ValueError, "seeds must be >= 1, got 0"),
        ({}, {"seeds": [1, 1]}, ValueError, "seeds must not repeat"),
        ({}, {"trials": 0}, ValueError, "trials must be >= 1, got 0"),
        ({"learning_rate": LogRange(1e-4, 1)}, {}, ValueError, "needs random search"),
        # Refused by the network's own check, as MNIST's 784-50-10 would be built: not allocated.
        ({"hidden_size": [10**16]}, {}, ValueError, "a 784-10000000000000000-10 network"),
        ({"dtype": ["float16"]}, {}, TypeError, "dtype must be float64 or float32"),
    ],
)
def test_bad_plans_are_caught_before_any_run(space, kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_runs(space, **kwargs)


def test_an_unreachable_scheduler_is_a_usage_error_within_the_timeout(tmp_path, capsys):
    pytest.importorskip(
        "distributed", reason="Dask is an optional extra: pip install 'twolayer[dask]'"
    )
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    argv = ["sweep", "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "2"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert time.monotonic() - started < 30
    assert f"cannot reach a Dask scheduler at 'tcp://127.0.0.1:{port}' within 2.0 s" in (
        capsys.readouterr().err
    )


def test_without_dask_the_scheduler_option_says_how_to_install_it(tmp_path):
    code = (
        "import sys; sys.modules['distributed'] = None\n"  # as if Dask were not installed
        "from twolayer.cli import main\n"
        f"sys.exit(main(['sweep', '--scheduler', 'tcp://127.0.0.1:1', '--out', {str(tmp_path)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "needs Dask, an optional extra: pip install 'twolayer[dask]'" in done.stderr


def test_planning_builds_no_network_and_draws_nothing_from_numpy():
    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    # A trillion hidden units would take 6 PB: planning checks the setting without allocating.
    runs = plan_runs({"hidden_size": [10, 10**12], "weight_init_std": [0.01]})
    assert [run.settings["hidden_size"] for run in runs] == [10, 10**12]
    assert np.random.rand() == expected  # the book's global generator is the user's, untouched


def test_dtypes_as_numpy_names_them_are_one_setting(mnist_dir, tmp_path):
    runs = plan_runs({"dtype": [np.float32, np.dtype("float64"), "float32"]})
    assert [run.settings["dtype"] for run in runs] == ["float32", "float64"]
    json.dumps([run.settings for run in runs])  # as runs.jsonl records them


def test_settings_with_and_without_a_validation_set_in_one_sweep(mnist_dir, tmp_path):
    space = {**SHORT, "validation_size": [0, 1000]}
    result = sweep(space, out=tmp_path, seeds=1, data_dir=mnist_dir, progress=False)
    assert [r["status"] for r in result.records] == ["done", "done"]
    rows = _summary_rows(tmp_path)
    assert [row["validation_size"] for row in rows] == ["1000", "0"]  # ranked by what has one
    assert rows[1]["val_acc_mean"] == ""
    for name in ("accuracy.png", "final-accuracy.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_the_options_are_one_object_or_its_fields_as_keywords(tmp_path):
    with pytest.raises(TypeError, match="slotz"):  # a mistyped option is named, nothing written
        run_sweep([], out=tmp_path / "typo", slotz=2)
    with pytest.raises(TypeError, match="slotz"):
        halving_sweep(plan_runs(HALVING), out=tmp_path / "typo", eta=2, slotz=2)
    assert not (tmp_path / "typo").exists()
    base = SweepOptions(slots=3, progress=False)
    assert SweepOptions.of(base, {"threads": 2}) == SweepOptions(slots=3, threads=2, progress=False)
    assert SweepOptions.of(None, {}) == SweepOptions() and base.directory is None
    assert SweepOptions(data_dir=tmp_path).directory == str(tmp_path)
