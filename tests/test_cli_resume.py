"""``twolayer train --resume``: a run stopped by Ctrl-C (a real SIGINT to the command) and
continued ends as the run never stopped; bad checkpoints and flags are usage errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twolayer.cli import main

RUN = "train --iters 3000 --train-size 2000 --eval-every 500 --hidden 20 --seed 3 --lr 0.5"


def _run(command: str, mnist_dir: Path) -> int:
    return main([*command.split(), "--data-dir", str(mnist_dir)])


def _same_run(a: Path, b: Path) -> None:
    first, second = (json.loads((d / "history.json").read_text()) for d in (a, b))
    for key in ("epoch_times", "wall_time"):
        del first[key], second[key]
    assert first == second
    with np.load(a / "params.npz") as pa, np.load(b / "params.npz") as pb:
        assert all(np.array_equal(pa[k], pb[k]) for k in ("W1", "b1", "W2", "b2"))


def test_a_run_stopped_by_sigint_and_resumed_equals_the_run_never_stopped(
    mnist_dir: Path, tmp_path: Path
) -> None:
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert _run(f"{RUN} --out {whole}", mnist_dir) == 0
    child = subprocess.Popen(
        [sys.executable, "-m", "twolayer", *RUN.split(), "--data-dir", str(mnist_dir)]
        + ["--out", str(stopped)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        while "train acc" not in child.stdout.readline():  # its first evaluation: under way
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    assert f"--resume {stopped}" in out
    assert (stopped / "checkpoint.zip").exists()
    assert _run(f"train --resume {stopped}", mnist_dir) == 0
    _same_run(whole, stopped)


def test_checkpoint_every_and_resume(mnist_dir: Path, tmp_path: Path) -> None:
    whole, kept = tmp_path / "whole", tmp_path / "kept"
    short = RUN.replace("3000", "700")
    assert _run(f"{short} --out {whole}", mnist_dir) == 0
    assert _run(f"{short} --out {kept} --checkpoint-every 300", mnist_dir) == 0
    (kept / "history.json").unlink()
    assert _run(f"train --resume {kept}", mnist_dir) == 0  # from iteration 600
    _same_run(whole, kept)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("--lr 0.2", "drop --lr"),
        ("--hidden 30", "drop --hidden"),
        ("", "holds no checkpoint"),
    ],
)
def test_bad_resumes_are_usage_errors(
    mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _run(f"train --resume {tmp_path} {extra}", mnist_dir)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_damaged_checkpoint_is_a_usage_error_and_overwrites_nothing(
    mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "checkpoint.zip").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "history.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_:
        _run(f"train --resume {tmp_path}", mnist_dir)
    assert exit_.value.code == 2
    assert "is not a readable checkpoint" in capsys.readouterr().err
    assert (tmp_path / "history.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.zip", "history.json"]
