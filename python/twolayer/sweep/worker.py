"""One run of a sweep wherever it executes (only its settings come in and only its record goes
out), and the executors that run them: local processes, or a Dask cluster."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import ctypes
import functools
import importlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from .._cpus import available_cpus
from .._threads import get_num_threads, set_num_threads
from .log import DIVERGED, DONE, FAILED, INTERRUPTED
from .plan import check_count, split

__all__ = ["dask_executor", "local_executor", "run_one", "share_of_cpus"]


def share_of_cpus(workers: int) -> int:
    """The threads of the core for each of `workers` local processes: an equal share of the CPUs
    available, at least one, so that the machine is not oversubscribed."""
    return max(1, available_cpus() // workers)


def run_one(
    settings: Mapping[str, Any], seed: int, threads: int | None = None, data_dir: str | None = None
) -> dict[str, Any]:
    """Train a fresh network with `settings` and `seed` on `threads` threads of the core (default:
    as set), with MNIST from `data_dir` (default: the cache), and return the run's record for
    runs.jsonl.

    Never raises for the run's own sake: a diverged run is recorded as such, any other error as
    "failed" with its message. A Ctrl-C during training gives status "interrupted" (not recorded by
    a sweep)."""
    from ..training import DivergedError, train

    record = new_record(settings, seed)
    record["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    start = time.perf_counter()
    try:
        net, data, train_settings = fresh_run(settings, seed, data_dir)
        with _interruptible(), _thread_count(threads):
            record["threads"] = get_num_threads()
            history = train(net, *data, **train_settings, seed=seed, progress=False)
        record["status"] = INTERRUPTED if history.interrupted else DONE
    except DivergedError as exc:
        history, record["status"], record["error"] = exc.history, DIVERGED, str(exc)
    except Exception as exc:  # the run's failure, recorded; the sweep goes on
        record.update(
            status=FAILED,
            error=f"{type(exc).__name__}: {exc}",
            wall_time=time.perf_counter() - start,
        )
        return record
    results = asdict(history)
    record["iterations"] = len(history.train_loss_list)
    record["iter_per_epoch"] = history.iter_per_epoch
    record.update(
        {
            k: v
            for k, v in results.items()
            if k.endswith("_acc_list")
            or k.startswith("final_")
            or k in ("epoch_iters", "wall_time")
        }
    )
    return record


def new_record(settings: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The record of a run of `settings` and `seed` as it starts: done, unless it says otherwise."""
    return {"settings": dict(settings), "seed": seed, "status": DONE, "error": None}


def fresh_run(
    settings: Mapping[str, Any], seed: int, data_dir: str | None
) -> tuple[Any, tuple[np.ndarray, ...], dict[str, Any]]:
    """What a run of `settings` and `seed` trains: a fresh net, MNIST from `data_dir` (x_train,
    t_train, x_test, t_test, as train takes them) and the run's settings of train."""
    from ..datasets import MNIST_CLASSES
    from ..net import TwoLayerNet

    (x_train, t_train), (x_test, t_test) = _mnist(data_dir)
    net_settings, train_settings = split(settings)
    net = TwoLayerNet(x_train.shape[1], output_size=MNIST_CLASSES, seed=seed, **net_settings)
    return net, (x_train, t_train, x_test, t_test), train_settings


@functools.lru_cache(maxsize=1)
def _mnist(
    data_dir: str | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST, loaded once per worker process and kept for its next runs."""
    from ..datasets import load_mnist

    return load_mnist(data_dir=data_dir)


@contextlib.contextmanager
def _thread_count(threads: int | None) -> Iterator[None]:
    """The core on `threads` threads (None: as it is) for the block; as it was afterwards, so that
    an in-process run leaves the caller's setting alone."""
    before = get_num_threads()
    if threads is not None:
        set_num_threads(threads)
    try:
        yield
    finally:
        set_num_threads(before)


_ignoring_ctrl_c_when_idle = False  # set in local worker processes by _init_worker


def _init_worker(threads: int, parent: int) -> None:
    """Start a local worker process of the sweep process `parent`: it dies with the sweep (see
    _die_with_parent), its share of the cores, and Ctrl-C ignored between runs, so that a Ctrl-C
    stops the runs in progress (see _interruptible) but never kills a worker waiting for work."""
    global _ignoring_ctrl_c_when_idle
    _die_with_parent(parent)
    set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _ignoring_ctrl_c_when_idle = True


def _die_with_parent(parent: int) -> None:
    """End this worker when the sweep process `parent` ends, however it ends (a SIGKILL too), so
    that no worker outlives its sweep, holding memory and the caller's output pipe. On Linux the
    kernel's parent-death signal; elsewhere a thread waiting on the pipe multiprocessing keeps to
    the parent, which closes when the parent ends."""
    if _parent_death_signal():
        if os.getppid() != parent:  # the parent ended before the signal was asked for
            os._exit(1)
        return
    _watch_parent_pipe()


def _watch_parent_pipe() -> None:
    """End this process when its multiprocessing parent ends: a thread waits on the pipe that
    multiprocessing keeps to the parent, which the OS closes when the parent ends."""
    watched = multiprocessing.parent_process()
    if watched is not None:
        threading.Thread(target=_exit_after, args=(watched.sentinel,), daemon=True).start()


_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def _parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent ends; False elsewhere, or where the C
    library cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)


def _exit_after(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """In a local worker process, let Ctrl-C reach train() (which then stops cleanly) during the
    run.
    """
    if not _ignoring_ctrl_c_when_idle:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int, threads_per_worker: int | None = None) -> cf.ProcessPoolExecutor:
    """`workers` local processes, each with `threads_per_worker` threads of the core (default: an
    equal share of the CPUs, at least one), so that the machine is not oversubscribed. Use it in a
    ``with`` block."""
    check_count("workers", workers)
    if threads_per_worker is None:
        threads_per_worker = share_of_cpus(workers)
    check_count("threads_per_worker", threads_per_worker)
    # "spawn": a fresh interpreter, not a fork of one whose core has threads running (and the same
    # on every OS).
    return cf.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads_per_worker, os.getpid()),
    )


@contextlib.contextmanager
def dask_executor(address: str, *, timeout: float = 10.0) -> Iterator[tuple[cf.Executor, int]]:
    """Connect to the Dask scheduler at `address` (``tcp://host:8786``); yield an executor that runs
    on its workers and how many runs they run at once (their threads). Close the connection at the
    end of the ``with`` block.

    Raises ImportError (saying how to install Dask) without it, ConnectionError when the scheduler
    cannot be reached, does not answer as a scheduler (silence, garbage, a frame too large), or no
    worker joins it within `timeout` seconds."""
    try:  # imported by name: Dask has no type annotations to check against
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise ImportError(
            "running on a Dask cluster needs Dask, an optional extra: pip install 'twolayer[dask]'"
        ) from None
    _probe(distributed, address, timeout)
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConnectionError(
            f"cannot reach a Dask scheduler at {address!r} within {timeout} s: {exc}"
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"no Dask worker joined the scheduler at {address!r} within {timeout} s"
            ) from exc
        yield client.get_executor(pure=False), sum(client.nthreads().values())
    finally:
        client.close()


def _probe(distributed: Any, address: str, timeout: float) -> None:
    """Ask the peer at `address` who it is, all within `timeout` seconds whatever it does: the
    handshake is cancelled at the deadline (Client's own timeout covers only the connection, and a
    peer that accepts and stays silent held it for minutes). ConnectionError unless it answers as
    a Dask scheduler; a reply Dask cannot read (a frame announcing 2**62 bytes) is one."""

    async def identify() -> Any:
        comm = await distributed.comm.connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def deadline() -> Any:
        return await asyncio.wait_for(identify(), timeout)

    with cf.ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever the caller runs
        answer = thread.submit(asyncio.run, deadline())
        try:
            identity = answer.result()
        except (asyncio.TimeoutError, TimeoutError):
            raise ConnectionError(
                f"cannot reach a Dask scheduler at {address!r} within {timeout} s: no answer"
            ) from None
        except OSError as exc:  # refused, closed
            raise ConnectionError(
                f"cannot reach a Dask scheduler at {address!r} within {timeout} s: {exc}"
            ) from None
        except Exception as exc:  # garbage, a frame too large to hold
            raise ConnectionError(
                f"the peer at {address!r} is not a Dask scheduler: {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise ConnectionError(
            f"the peer at {address!r} is not a Dask scheduler (it answered {str(identity)[:80]})"
        )
