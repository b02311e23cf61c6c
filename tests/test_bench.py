"""bench/run.py --quick: every benchmark runs and every comparison agrees (no speed is asserted), and
says it is a smoke test; its figures; bench/sweep.py --quick."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import twolayer

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmarks_run_and_agree(tmp_path, mnist_dir_if_any):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--json",
            str(out),
            "--mnist",
            str(mnist_dir_if_any),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["failures"] == []
    benchmarks = {row["benchmark"] for row in results["rows"]}
    assert benchmarks >= {
        "gradient, batch 100",
        "accuracy",
        "numerical_gradient, batch 100",
        "the book's full run",
        "numerical-gradient training",
        "scaling: gradient",
        "shared: interleaved with NumPy",
        "activation: gradient, batch 100",
        "activation: numerical_gradient, batch 100",
    }
    for row in results["rows"]:
        assert row["seconds"] and all(seconds > 0 for seconds in row["seconds"].values())
        assert row["agreement"] and all(a["agree"] for a in row["agreement"].values()), row
    assert "| benchmark |" in done.stdout  # the markdown table
    assert "| sigmoid / ReLU |" in done.stdout  # the activations side by side
    # A smoke test, and says so: no peak, no share of it, no distance from the limit.
    assert done.stdout.startswith("# twolayer benchmarks: smoke test (--quick)")
    assert "not a measurement" in done.stdout
    assert "Peak (" not in done.stdout and "% of peak" not in done.stdout
    assert "distance from the limit" not in done.stdout
    # The machine as the core reports it.
    assert (
        results["machine"]["kernels"]
        == twolayer.show_config("dicts")["runtime"]["kernels"]["float64"]
    )
    assert results["machine"]["build"] == twolayer.show_config("dicts")["build"]
    for figure in ("scaling", "runs"):  # beside the JSON
        with Image.open(tmp_path / f"results-{figure}.png") as image:
            assert image.format == "PNG" and image.width > 400 and image.height > 300


def test_quick_sweep_benchmark_runs_and_agrees(mnist_dir, tmp_path):
    out = tmp_path / "sweep.json"
    bench = [sys.executable, str(ROOT / "bench" / "sweep.py"), "--quick", "--mnist", str(mnist_dir)]
    done = subprocess.run(
        [*bench, "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["agree"] and results["runs"] == 4
    assert {"sequential, default threads", "--workers 2"} <= set(results["median"])
    assert "| --workers 2 |" in done.stdout


@pytest.fixture
def figures():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import figures

        yield figures
    finally:
        sys.path.remove(str(ROOT / "bench"))


def _scaling_row(dtype, batch, hidden, seconds):
    return {"benchmark": "scaling: gradient", "dtype": dtype, "batch": batch, "hidden": hidden,
            "seconds": seconds}  # fmt: skip


def test_figures_of_the_rows_there_are(figures, tmp_path):
    json_path = tmp_path / "out.json"
    scaling = [
        _scaling_row(dtype, n, h, {"ours": 1e-6 * n * h, "numpy": 3e-6 * n * h, "torch": 2e-6 * n * h})
        for dtype in ("float64", "float32") for n in (1, 100) for h in (50, 100)
    ]  # fmt: skip
    assert figures.draw({"rows": scaling, "quick": False}, json_path) == [
        tmp_path / "out-scaling.png"
    ]
    run = {"seconds": 2.0, "limit": {"fmas": 1e9, "seconds_at_peak": 0.1}}
    whole = {"benchmark": "the book's full run", "dtype": "float64",
             "runs": {"ours": {"seconds": 3.0}, "ours, train": run, "numpy": {"seconds": 9.0}}}  # fmt: skip
    drawn = figures.draw({"rows": [*scaling, whole], "quick": True}, json_path)
    assert drawn == [tmp_path / "out-scaling.png", tmp_path / "out-runs.png"]
    for path in drawn:
        with Image.open(path) as image:
            assert image.format == "PNG"
    assert figures.draw({"rows": [], "quick": True}, tmp_path / "none.json") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-runs.png", "out-scaling.png"]
