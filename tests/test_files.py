"""Files at the edges: only regular files are read (a FIFO, a device or a directory is refused at once, never waited
on), and atomic_write cleans up after dead writers without touching a live one's file."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twolayer import TwoLayerNet
from twolayer._files import atomic_write, open_regular
from twolayer.datasets import read_idx
from twolayer.training import History

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX's")


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize(
    "read", [TwoLayerNet.load, History.from_json, read_idx], ids=["load", "history", "read_idx"]
)
def test_only_regular_files_are_read(read, kind, fifo, tmp_path):
    path = {"fifo": fifo, "directory": tmp_path, "device": Path("/dev/zero")}[kind]
    what = {
        "fifo": "a FIFO (named pipe)",
        "directory": "a directory",
        "device": "a character device",
    }[kind]
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path} is {what}, not a file')}$"):
        read(path)


def test_a_link_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "file").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    with open_regular(tmp_path / "link") as f:
        assert f.read() == b"data"


@pytest.mark.parametrize(
    "command", ["plot {fifo}", "predict {params} {fifo}", "predict {fifo} {image}"]
)
def test_the_commands_refuse_a_fifo_at_once(command, fifo, tmp_path):
    """In a child with a deadline: a FIFO with no writer would block open() forever."""
    params, image = tmp_path / "params.npz", tmp_path / "digit.png"
    TwoLayerNet(784, 5, 10, seed=0).save(params)
    argv = command.format(fifo=fifo, params=params, image=image).split()
    done = subprocess.run(
        [sys.executable, "-m", "twolayer", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done
    assert f"twolayer: error: {fifo} is a FIFO (named pipe), not a file" in done.stderr


def _leftover(folder: Path, name: str, age: float) -> Path:
    path = folder / name
    path.write_bytes(b"partial")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_a_dead_writers_temporary_files_are_removed_at_the_next_write(tmp_path):
    dead = [
        _leftover(tmp_path, ".summary.md.k3v_9xq1.tmp", 3600),
        _leftover(tmp_path, ".a.npz.abcdefgh.tmp", 120),
    ]
    fresh = _leftover(
        tmp_path, ".history.json.0123abcd.tmp", 1
    )  # perhaps a writer between mkstemp and its lock
    others = [
        _leftover(tmp_path, name, 3600)
        for name in (".notes.tmp", "results.tmp", ".x.y.short.tmp", "keep")
    ]
    live = _leftover(tmp_path, ".loss.png.zzzzzzzz.tmp", 3600)
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a live atomic_write holds its file
        with atomic_write(tmp_path / "new.json") as f:
            f.write(b"{}")
    assert not any(path.exists() for path in dead)
    assert fresh.exists() and live.exists() and all(path.exists() for path in others)
    assert (tmp_path / "new.json").read_bytes() == b"{}"


def test_a_writer_in_progress_keeps_its_temporary_file(tmp_path):
    """Two writers in one folder: the second's clean-up leaves the first's file alone, even once it is old."""
    with atomic_write(tmp_path / "first.json") as first:
        first.write(b"1")
        [tmp] = [p for p in tmp_path.iterdir() if p.name.startswith(".first.json.")]
        os.utime(tmp, (time.time() - 3600,) * 2)
        with atomic_write(tmp_path / "second.json") as second:
            second.write(b"2")
        assert tmp.exists()
    assert (tmp_path / "first.json").read_bytes() == b"1" and sorted(os.listdir(tmp_path)) == [
        "first.json",
        "second.json",
    ]


def test_atomic_write_errors_name_the_file_not_the_temporary_one(tmp_path):
    (tmp_path / "params.npz").mkdir()  # the final rename fails
    with pytest.raises(IsADirectoryError) as info, atomic_write(tmp_path / "params.npz") as f:
        f.write(b"data")
    assert info.value.filename == str(tmp_path / "params.npz") and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == ["params.npz"]
