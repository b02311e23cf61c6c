"""A sweep at its edges: one sweep per folder, workers that die with their sweep, SIGTERM as
Ctrl-C, runs.jsonl checked record by record within its bound, and a Dask scheduler that is silent
or speaks garbage, or that no worker joins, bounded by --connect-timeout."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from twolayer.cli import main
from twolayer.sweep import RunLog, plan_runs, run_one
from twolayer.sweep.lock import LOCK_FILE, FolderBusyError, holding

LINUX = sys.platform.startswith("linux")


def _sweep(out: Path, mnist_dir: Path, *more: str) -> list[str]:
    return [
        *(sys.executable, "-m", "twolayer", "sweep", "--lr", "0.1", "0.5", "1", "--iters", "800"),
        *("--hidden", "20", "--seeds", "2", "--out", str(out), "--data-dir", str(mnist_dir), *more),
    ]


def _lines(out: Path) -> int:
    path = out / "runs.jsonl"
    return len(path.read_bytes().splitlines()) if path.exists() else 0


# One sweep per folder.


def test_a_second_sweep_on_a_folder_says_who_holds_it_and_exits_2(tmp_path, capsys):
    code = (
        "import sys, time; from pathlib import Path; from twolayer.sweep.lock import holding\n"
        "with holding(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        started = time.monotonic()
        assert main(["sweep", "--iters", "10", "--out", str(tmp_path)]) == 2
        assert time.monotonic() - started < 5
        err = capsys.readouterr().err
        assert f"is in use by another sweep ({socket.gethostname()}:{holder.pid})" in err
        assert not (tmp_path / "runs.jsonl").exists()
    finally:
        holder.kill()
        holder.communicate()
    with holding(tmp_path):  # the lock went with its holder, killed
        with pytest.raises(FolderBusyError):  # and one holder at a time, in one process too
            with holding(tmp_path):
                pass


def test_a_second_halving_sweep_says_who_holds_the_folder_and_exits_2(mnist_dir, tmp_path, capsys):
    halving = ["sweep", "--epochs", "27", "--halving", "3", "--validation-size", "1000"]
    more = ["--lr", "0.1", "0.5", "1", "--seeds", "3", "--data-dir", str(mnist_dir)]  # 54 epochs
    holder = subprocess.Popen(
        [sys.executable, "-m", "twolayer", *halving, *more, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().startswith(b"Rung 1 of 4")
        started = time.monotonic()
        assert main([*halving, "--out", str(tmp_path)]) == 2
        assert time.monotonic() - started < 5
        err = capsys.readouterr().err
        assert f"is in use by another sweep ({socket.gethostname()}:{holder.pid})" in err
        holder.terminate()  # SIGTERM stops a halving sweep as Ctrl-C does, its reports written
        out, err = holder.communicate(timeout=60)
        assert holder.returncode == 130, out + err
        assert b"Traceback" not in err and (tmp_path / "summary.md").exists()
    finally:
        holder.kill()
        holder.communicate()


def test_the_lock_file_is_never_followed_as_a_link(tmp_path):
    target = tmp_path / "elsewhere"
    (tmp_path / "out").mkdir()
    os.symlink(target, tmp_path / "out" / LOCK_FILE)
    with pytest.raises(OSError):
        with holding(tmp_path / "out"):
            pass
    assert not target.exists()


def test_a_run_writes_nothing_where_it_runs(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a worker's folder: only its record goes back to the sweep
    record = run_one({"iters_num": 5, "hidden_size": 5}, 0, data_dir=str(mnist_dir))
    assert record["status"] == "done" and list(tmp_path.iterdir()) == []


# Workers die with their sweep.


def _session(sid: int) -> set[int]:
    """The processes of session `sid`: a sweep started in a session of its own, and its children."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    found.add(int(entry))
            except OSError:  # gone meanwhile
                pass
    return found


def _started(command: list[str], out: Path, lines: int) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 180
    while _lines(out) < lines and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    if _lines(out) < lines:
        os.killpg(child.pid, signal.SIGKILL)
        pytest.fail(f"the sweep did not finish {lines} run(s): {child.communicate()}")
    return child


@pytest.mark.skipif(not LINUX, reason="finds a session's processes in /proc")
def test_a_killed_sweep_leaves_no_worker_nor_resource_tracker(mnist_dir, tmp_path):
    child = _started(_sweep(tmp_path, mnist_dir, "--workers", "2"), tmp_path, 1)
    try:
        assert len(_session(child.pid)) >= 3  # the sweep, its workers, the resource tracker
        child.kill()
        deadline = time.monotonic() + 5
        while _session(child.pid) - {child.pid} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session(child.pid) - {child.pid} == set()
    finally:
        for pid in _session(child.pid) - {child.pid}:
            os.kill(pid, signal.SIGKILL)
        child.communicate()  # no worker holds its output pipes open


WATCHED_POOL = """
import concurrent.futures as cf, multiprocessing, os, time
from twolayer.sweep import worker
spawn = multiprocessing.get_context("spawn")
with cf.ProcessPoolExecutor(1, mp_context=spawn, initializer={initializer}) as pool:
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


@pytest.mark.skipif(not LINUX, reason="reads a process's state in /proc")
@pytest.mark.parametrize(
    ("initializer", "stays"), [("worker._watch_parent_pipe", False), ("None", True)]
)
def test_the_pipe_watch_ends_a_worker_whose_parent_is_killed(initializer, stays):
    """The watch used where there is no parent-death signal (not Linux), on a local worker of a
    parent killed by SIGKILL; without it (None) the worker stays."""
    parent = subprocess.Popen(
        [sys.executable, "-c", WATCHED_POOL.format(initializer=initializer)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    worker_pid = int(parent.stdout.readline())
    try:
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(worker_pid) == stays
    finally:
        if _alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
        parent.stdout.close()  # the worker held it open while it lived


@pytest.mark.skipif(not LINUX, reason="finds a session's processes in /proc")
def test_sigterm_ends_the_workers_and_writes_the_reports_as_ctrl_c_does(mnist_dir, tmp_path):
    child = _started(_sweep(tmp_path, mnist_dir, "--workers", "2"), tmp_path, 1)
    try:
        child.terminate()  # the sweep alone, as `kill` or a batch system sends it
        out, err = child.communicate(timeout=60)
        assert child.returncode == 130, out + err
        assert "Interrupted:" in out and "Traceback" not in err
        assert (tmp_path / "summary.md").exists() and (tmp_path / "summary.csv").exists()
        kept = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
        assert 1 <= len(kept) < 6 and all(r["status"] == "done" for r in kept)
        deadline = time.monotonic() + 5
        while _session(child.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session(child.pid) == set()
    finally:
        for pid in _session(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.communicate()


# runs.jsonl checked on read.

RUNS = plan_runs({"iters_num": [100]}, seeds=3)
GOOD = {
    "settings": {"iters_num": 100},
    "seed": 0,
    "status": "done",
    "error": None,
    "worker": "host:1",
    "threads": 1,
    "iterations": 100,
    "iter_per_epoch": 600.0,
    "train_acc_list": [0.1],
    "val_acc_list": [],
    "test_acc_list": [0.1],
    "epoch_iters": [0],
    "final_train_acc": 0.9,
    "final_val_acc": None,
    "final_test_acc": 0.9,
    "wall_time": 1.5,
}


def _log(tmp_path: Path, *lines: str) -> RunLog:
    (tmp_path / "runs.jsonl").write_text("".join(line + "\n" for line in lines))
    return RunLog(tmp_path / "runs.jsonl")


def _with(**changes: object) -> str:
    record = {**GOOD, "seed": 1, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not _DROP})


_DROP = object()


def test_good_records_are_read(tmp_path):
    failed = {"settings": {"iters_num": 100}, "seed": 2, "status": "failed", "error": "E"}
    records = _log(tmp_path, json.dumps(GOOD), _with(), json.dumps(failed)).read(RUNS)
    assert len(records) == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (_with(final_test_acc="0.9"), "'final_test_acc' must be a number in \\[0, 1\\] or null"),
        (_with(test_acc_list=None), "'test_acc_list' must be a list of numbers in \\[0, 1\\]"),
        (_with(status=_DROP), "no 'status'"),
        (_with(final_test_acc=1e300), "'final_test_acc' must be a number in \\[0, 1\\]"),
        (_with(final_test_acc=-7), "'final_test_acc' must be a number in \\[0, 1\\]"),
        (_with(train_acc_list=[0.5, 2]), "'train_acc_list' must be a list of numbers"),
        (_with(train_acc_list=[True]), "'train_acc_list' must be a list of numbers"),
        (_with(status="finished"), "'status' must be 'done', 'diverged', 'failed' or 'stopped'"),
        (_with(status="interrupted"), "'status' must be"),
        (_with(seed=-1), "'seed' must be a non-negative integer"),
        (_with(settings=[1]), "'settings' must be a JSON object"),
        (_with(wall_time=_DROP), "no 'wall_time'"),
        (_with(wall_time="1"), "'wall_time' must be a non-negative number"),
        (_with(epoch_iters=[0.5]), "'epoch_iters' must be a list of non-negative integers"),
        (_with(surprise=1), "unknown field 'surprise'"),
        ("[1, 2]", "a record is a JSON object, got list"),
        (_with(final_test_acc=float("nan")), "'final_test_acc' must be a number in \\[0, 1\\]"),
        ('{"settings": {}, "se', "line 1 column 21"),
    ],
)
def test_each_malformed_record_is_an_error_naming_its_line(tmp_path, line, message):
    with pytest.raises(ValueError, match=rf"runs\.jsonl, line 2: not a run record \(.*{message}"):
        _log(tmp_path, json.dumps(GOOD), line).read(RUNS)


def test_a_malformed_record_stops_the_sweep_before_any_run(tmp_path, capsys):
    _log(tmp_path, _with(final_test_acc=-7))
    assert main(["sweep", "--iters", "100", "--seeds", "3", "--out", str(tmp_path)]) == 1
    assert "runs.jsonl, line 1: not a run record" in capsys.readouterr().err
    assert not (tmp_path / "summary.md").exists()


def test_more_lines_than_the_plan_makes_are_refused(tmp_path):
    lines = [_with(seed=seed) for seed in range(4)]
    with pytest.raises(ValueError, match=r"more than the 3 records that this sweep's 3 runs make"):
        _log(tmp_path, *lines).read(RUNS)


def test_a_line_longer_than_a_run_can_write_is_refused_unread(tmp_path):
    # 100 iterations: at most 102 evaluations; a line of 1 MB cannot be this plan's.
    with pytest.raises(ValueError, match=r"line 2: longer than a run's record"):
        _log(tmp_path, json.dumps(GOOD), _with(error="x" * 2**20)).read(RUNS)


def test_a_runs_file_that_is_a_link_is_refused(tmp_path):
    os.symlink(tmp_path / "outside.jsonl", tmp_path / "runs.jsonl")  # dangling
    with pytest.raises(ValueError, match="is a symbolic link"):
        RunLog(tmp_path / "runs.jsonl").read(RUNS)
    assert not (tmp_path / "outside.jsonl").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_runs_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "runs.jsonl")
    with pytest.raises(ValueError, match="is a FIFO"):
        RunLog(tmp_path / "runs.jsonl").read(RUNS)


# A Dask scheduler that never speaks, or speaks garbage: bounded by --connect-timeout.


@pytest.fixture
def peer() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A TCP server on loopback that accepts connections and sends each the bytes in its list
    (none: silent), then keeps it open until the test ends."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    replies: list[bytes] = []
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)
            for reply in replies:
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server, replies
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def _against(server: socket.socket, tmp_path: Path) -> tuple[int, float]:
    port = server.getsockname()[1]
    argv = ["sweep", "--scheduler", f"tcp://127.0.0.1:{port}", "--connect-timeout", "2"]
    started = time.monotonic()
    status = main([*argv, "--iters", "10", "--out", str(tmp_path / "out")])
    return status, time.monotonic() - started


def test_a_silent_scheduler_is_a_usage_error_within_the_timeout(peer, tmp_path, capsys):
    pytest.importorskip(
        "distributed", reason="Dask is an optional extra: pip install 'twolayer[dask]'"
    )
    server, _ = peer
    status, seconds = _against(server, tmp_path)
    assert status == 2 and seconds < 5
    port = server.getsockname()[1]
    assert f"cannot reach a Dask scheduler at 'tcp://127.0.0.1:{port}' within 2.0 s: no answer" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "reply",
    [struct.pack("<Q", 2**62) + b"\0" * 64, b"HTTP/1.1 200 OK\r\n\r\n" + os.urandom(256)],
    ids=["a 2**62-byte frame", "garbage"],
)
def test_a_garbage_speaking_scheduler_is_a_usage_error_naming_it(peer, tmp_path, capsys, reply):
    pytest.importorskip(
        "distributed", reason="Dask is an optional extra: pip install 'twolayer[dask]'"
    )
    server, replies = peer
    replies.append(reply)
    status, seconds = _against(server, tmp_path)
    err = capsys.readouterr().err
    assert status == 2 and seconds < 5, err
    assert f"'tcp://127.0.0.1:{server.getsockname()[1]}'" in err and "Traceback" not in err


def test_a_scheduler_no_worker_joins_is_a_usage_error_within_the_timeout(tmp_path, capsys):
    pytest.importorskip(
        "distributed", reason="Dask is an optional extra: pip install 'twolayer[dask]'"
    )
    file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        + ["--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        address = _scheduler_address(file)
        argv = ["sweep", "--scheduler", address, "--connect-timeout", "2", "--iters", "10"]
        started = time.monotonic()
        status = main([*argv, "--out", str(tmp_path / "out")])
        seconds = time.monotonic() - started
        err = capsys.readouterr().err
        assert status == 2 and seconds < 6, err  # the handshake is quick: the 2 s are the wait
        assert f"no Dask worker joined the scheduler at {address!r} within 2.0 s" in err
    finally:
        scheduler.kill()
        scheduler.wait()


def _scheduler_address(file: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return str(json.loads(file.read_text())["address"])
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            time.sleep(0.1)
    pytest.fail("the Dask scheduler did not start within 60 s")
