"""Threads and processes: the core releases the GIL, nets used from several Python threads give the
sequential results (one net's calls take turns on its lock), thread-count changes take effect,
and fork() after the thread pool has run does not hang.

Each test runs in a forked child with a timeout (``isolation.in_child``): a deadlock fails the
test instead of blocking the run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import select
import shutil
import signal
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from isolation import in_child, run_python

import twolayer
from twolayer import TwoLayerNet
from twolayer.reference import mnist_like_batch

# Big enough that the gradient splits the batch over threads (512 rows each at least) and that
# predict and loss run several chunks in parallel; small enough to stay fast under ASan.
N, D, H, C = 1200, 64, 16, 10
TIMEOUT = 120


def _problem(seed: int, dtype: Any = np.float64) -> tuple[TwoLayerNet, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(D, H, C, weight_init_std=0.3, dtype=dtype, seed=seed)
    x = mnist_like_batch(rng, N, D, np.float32)
    t = rng.integers(0, C, N)
    return net, x, t


def _work(net: TwoLayerNet, x: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    """A bit of every pass; the numerical gradient on a few rows only."""
    return {
        "predict": net.predict(x),
        "loss": net.loss(x, t),
        "accuracy": net.accuracy(x, t),
        "gradient": {k: v.copy() for k, v in net.gradient(x, t).items()},
        "numerical": net.numerical_gradient(x[:20], t[:20]),
    }


def _assert_identical(got: dict, expected: dict, what: str) -> None:
    for name, value in expected.items():
        if isinstance(value, dict):
            for key in value:
                np.testing.assert_array_equal(
                    got[name][key], value[key], err_msg=f"{what}: {name} {key}"
                )
        else:
            np.testing.assert_array_equal(got[name], value, err_msg=f"{what}: {name}")


def _in_threads(jobs: list, threads: int) -> list:
    """Runs the callables on `threads` Python threads at once; their results in order."""
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result(timeout=TIMEOUT) for f in futures]


def _python_runs_during(call: Any) -> tuple[float, int]:
    """How long call() took, and how often another Python thread got to run in the middle half
    of it (a thread that counts in pure Python and notes the time every 1000 steps)."""
    stamps, done = [], threading.Event()

    def count():
        n = 0
        while not done.is_set():
            n += 1
            if n % 1000 == 0:
                stamps.append(time.perf_counter())

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.05)
    start = time.perf_counter()
    call()
    end = time.perf_counter()
    done.set()
    counter.join()
    quarter = (end - start) / 4
    return end - start, sum(start + quarter < s < end - quarter for s in stamps)


GIL_CALLS = {
    "predict": lambda net, x, t: net.predict(x),
    "gradient": lambda net, x, t: net.gradient(x, t),
    # 1000 samples: the incremental method takes about 15 ms for 100 on one thread, too short to tell
    "numerical_gradient": lambda net, x, t: net.numerical_gradient(x[:1000], t[:1000]),
    # the control: a builtin that holds the GIL throughout, which the measurement must catch
    "control-holding-the-gil": lambda net, x, t: sum(range(2 * 10**7)),
}


@pytest.mark.parametrize("call", GIL_CALLS)
def test_the_core_releases_the_gil(call: str) -> None:
    """While one thread is inside a long C++ call, other threads keep running Python."""

    def run():
        twolayer.set_num_threads(1)  # leave a core to the counting thread
        rng = np.random.default_rng(0)
        net = TwoLayerNet(784, 50, 10, seed=0)
        # 60,000 rows: with the vector kernels, 20,000 took under the 50 ms needed to tell.
        x, t = mnist_like_batch(rng, 60000, 784, np.float32), rng.integers(0, 10, 60000)
        return _python_runs_during(lambda: GIL_CALLS[call](net, x, t))

    seconds, runs = in_child(run, timeout=TIMEOUT)
    assert seconds > 0.05, "the call is too short to tell"  # ten switch intervals of the GIL
    if call.startswith("control"):
        assert runs == 0
    else:
        assert runs > 0, f"no other thread ran during {seconds:.2f} s inside {call}"


@pytest.mark.parametrize("threads", [2, 4])
def test_different_nets_in_threads_match_sequential_calls(threads: int) -> None:
    def run():
        problems = [
            _problem(seed, dtype) for seed in range(4) for dtype in (np.float64, np.float32)
        ]
        sequential = [_work(*p) for p in problems]
        concurrent = _in_threads([lambda p=p: _work(*p) for p in problems * 2], threads)
        return sequential, concurrent

    sequential, concurrent = in_child(run, timeout=TIMEOUT)
    for i, got in enumerate(concurrent):
        _assert_identical(got, sequential[i % len(sequential)], f"net {i % len(sequential)}")


def test_one_net_from_many_threads_is_serialised_and_never_corrupt() -> None:
    """Calls on one net share its scratch space; its lock makes them take turns, so every result
    is exactly the sequential one."""

    def run():
        net, x, t = _problem(1)
        batches = [(x[i::3], t[i::3]) for i in range(3)]
        sequential = [_work(net, *b) for b in batches]
        concurrent = _in_threads([lambda b=b: _work(net, *b) for b in batches * 4], 6)
        return sequential, concurrent

    sequential, concurrent = in_child(run, timeout=TIMEOUT)
    for i, got in enumerate(concurrent):
        _assert_identical(got, sequential[i % 3], f"batch {i % 3}")


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_thread_count_changes_take_effect() -> None:
    """set_num_threads(n) while idle: the next call runs on n threads (the pool is rebuilt). The
    results do not depend on n, except for the gradient's rounding: the batch is cut into a part
    per thread, and the parts' sums are added in order."""

    def run():
        net, x, t = _problem(2)
        base = _os_threads()  # a forked child starts with one thread and no pool
        seen = {}
        for n in (4, 2, 3):
            twolayer.set_num_threads(n)
            results = _work(net, x, t)
            seen[n] = (twolayer.get_num_threads(), _os_threads() - base, results)
        return seen

    seen = in_child(run, timeout=TIMEOUT)
    for n, (reported, extra_threads, _) in seen.items():
        assert reported == n
        assert extra_threads == n - 1, f"{n} threads asked, {extra_threads} workers running"
    for n in (2, 3):
        got, expected = dict(seen[n][2]), dict(seen[4][2])
        got_gradient, expected_gradient = got.pop("gradient"), expected.pop("gradient")
        for key, value in expected_gradient.items():
            np.testing.assert_allclose(
                got_gradient[key], value, rtol=1e-12, atol=1e-17, err_msg=key
            )
        _assert_identical(got, expected, f"{n} threads vs 4")


def test_thread_count_changes_during_calls_are_safe() -> None:
    """Changing the thread count while other threads are inside calls never corrupts them: each
    call runs with the count it started with. (The gradient's rounding depends on how many parts
    the batch was cut into, so each result must be exactly one of the results for 1 to 4
    threads.)"""

    def run():
        problems = [_problem(seed) for seed in range(2)]
        expected = {}
        for n in (1, 2, 3, 4):
            twolayer.set_num_threads(n)
            expected[n] = [_work(*p) for p in problems]
        stop = threading.Event()
        count = [0]

        def toggle():
            while not stop.is_set():
                twolayer.set_num_threads(1 + count[0] % 4)
                count[0] += 1
                time.sleep(0.001)
            return count[0]

        def toggles_seen():
            return count[0]

        def calls(p):  # enough calls to outlast ten toggles, however fast the core
            runs = [_work(*p) for _ in range(3)]
            while len(runs) < 100 and toggles_seen() < 20:
                runs.append(_work(*p))
            return runs

        with ThreadPoolExecutor(3) as pool:
            toggler = pool.submit(toggle)
            results = [pool.submit(calls, p) for p in problems]
            got = [r.result(timeout=TIMEOUT) for r in results]
            stop.set()
            toggles = toggler.result(timeout=TIMEOUT)
        return expected, got, toggles

    expected, got, toggles = in_child(run, timeout=TIMEOUT)
    assert toggles > 10
    for i, runs in enumerate(got):
        for result in runs:
            for name, value in result.items():
                candidates = [expected[n][i][name] for n in expected]
                assert any(_equal(value, c) for c in candidates), (
                    f"net {i}: {name} matches no thread count"
                )


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return all(np.array_equal(a[k], b[k]) for k in b)
    return np.array_equal(a, b)


@contextlib.contextmanager
def _no_fork_warning() -> Iterator[None]:
    """Python 3.12+ warns that forking a multi-threaded process may deadlock the child: these
    tests fork on purpose, and their timeouts turn any deadlock into a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _forked(fn: Any, timeout: float = 60) -> Any:
    """fn() in a child made by a bare os.fork() of the calling process; its result (via a pipe),
    or a failure if the child hangs or dies."""
    read, write = os.pipe()
    with _no_fork_warning():
        pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code
        status = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as out:
                pickle.dump(fn(), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    data, deadline = b"", time.monotonic() + timeout
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while True:  # read as the child writes (a full pipe would block it), until it closes
            if not select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"the forked child hung for {timeout} s")
            chunk = pipe.read(1 << 16)
            if not chunk:
                break
            data += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"the forked child ended with status {status}"
    return pickle.loads(data)


def test_fork_after_the_pool_ran_does_not_hang() -> None:
    """The child of a fork has none of the parent's threads: the core sees the pool is not its
    own, starts a fresh one, and gives the same results."""

    def run():
        twolayer.set_num_threads(4)
        net, x, t = _problem(3)
        before = _work(net, x, t)  # the pool's threads are running now

        def child():
            result = _work(net, x, t)
            return _os_threads(), result

        forked = _forked(child)
        after = _work(net, x, t)  # and the parent's pool still works
        return before, forked, after

    before, (child_threads, child), after = in_child(run, timeout=TIMEOUT)
    assert child_threads == 4  # the child's own fresh pool: itself and three workers
    _assert_identical(child, before, "forked child")
    _assert_identical(after, before, "parent after the fork")


_SHARED: tuple = ()  # what the multiprocessing workers below inherit through fork


def _loss_of_shared(_: int) -> float:
    net, x, t = _SHARED
    return net.loss(x, t)


def test_multiprocessing_fork_pool_after_the_pool_ran() -> None:
    def run():
        global _SHARED
        twolayer.set_num_threads(2)
        _SHARED = _problem(4)
        net, x, t = _SHARED
        expected = net.loss(x, t)
        with _no_fork_warning():
            pool = multiprocessing.get_context("fork").Pool(2)
        with pool:
            got = pool.map_async(_loss_of_shared, range(4)).get(timeout=60)
        return expected, got

    expected, got = in_child(run, timeout=TIMEOUT)
    assert got == [expected] * 4


def test_fork_while_another_thread_is_inside_the_core() -> None:
    """fork() copies only the calling thread. While another thread keeps calling into the core on
    one net, every forked child can still use another net (the core's configuration lock is
    taken around fork, so a child never inherits it locked)."""

    def run():
        twolayer.set_num_threads(2)
        busy, x, t = _problem(5)
        other, x2, t2 = _problem(6)
        expected = other.loss(x2[:50], t2[:50])
        stop = threading.Event()

        def keep_busy():
            while not stop.is_set():
                busy.loss(x[:8], t[:8])  # short calls: the lock is taken and released constantly

        worker = threading.Thread(target=keep_busy)
        worker.start()
        try:
            results = [_forked(lambda: other.loss(x2[:50], t2[:50])) for _ in range(40)]
        finally:
            stop.set()
            worker.join()
        return expected, results

    expected, results = in_child(run, timeout=TIMEOUT)
    assert results == [expected] * len(results)


# --- When the system refuses threads -----------------------------------------------------------

# An LD_PRELOAD shim whose pthread_create fails (EAGAIN, as at a process or memory limit) once
# TWOLAYER_TEST_THREAD_LIMIT threads have been started after the variable was set.
REFUSING_PTHREAD_CREATE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int started;

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                   void *arg) {
  static create_fn real;
  if (!real) real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
  const char *limit = getenv("TWOLAYER_TEST_THREAD_LIMIT");
  if (limit && __atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST) >= atoi(limit)) return EAGAIN;
  return real(thread, attr, start, arg);
}
"""

REFUSED_CHILD = r"""
import os
import numpy as np
import twolayer
from twolayer import TwoLayerNet

rng = np.random.default_rng(0)
net = TwoLayerNet(64, 16, 10, seed=0)
x = rng.random((4000, 64))
t = rng.integers(0, 10, 4000)
twolayer.set_num_threads(1)
expected = net.predict(x), net.loss(x, t)
base = len(os.listdir("/proc/self/task"))

os.environ["TWOLAYER_TEST_THREAD_LIMIT"] = "2"  # from now on, two more threads at most
twolayer.set_num_threads(8)
for _ in range(3):  # the pool keeps the two workers it got; later calls do not retry
    assert np.array_equal(net.predict(x), expected[0])
    assert net.loss(x, t) == expected[1]
print("workers", len(os.listdir("/proc/self/task")) - base)
try:
    net.numerical_gradient(x[:2], t[:2])  # needs one more thread, to watch for Ctrl-C
except RuntimeError as exc:
    print("numerical_gradient:", type(exc).__name__, exc)
assert np.array_equal(net.predict(x), expected[0])
print("ok")
"""


def test_refused_threads_do_not_hang(tmp_path) -> None:
    """When pthread_create fails, the pool runs on the threads it got (it used to hang destroying
    the condition variables its workers waited on), and a call that needs a thread of its own
    raises an error instead of crashing."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the pthread_create shim")
    source, shim = tmp_path / "refuse.c", tmp_path / "librefuse.so"
    source.write_text(REFUSING_PTHREAD_CREATE)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", shim, source, "-ldl"], check=True)
    preload = " ".join(filter(None, [os.environ.get("LD_PRELOAD"), str(shim)]))
    result = run_python(REFUSED_CHILD, env={"LD_PRELOAD": preload}, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "workers 2"
    assert lines[1].startswith("numerical_gradient: RuntimeError"), lines
    assert lines[2] == "ok"
