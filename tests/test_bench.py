"""bench/run.py --quick: every benchmark runs and every comparison agrees (no speed is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
