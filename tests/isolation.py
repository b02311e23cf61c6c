"""Run the risky part of a test in a child process, so that a crash or a hang fails that test
instead of killing or blocking the whole run.

``in_child(fn, *args)`` forks, calls ``fn(*args)`` in the child and hands back what it returned
(or raises here what it raised). A child killed by a signal (a segfault, an abort, a sanitizer
report) or still running after ``timeout`` seconds fails the test and says which.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import warnings
from typing import Any, Callable, NamedTuple

import pytest


def _describe(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def in_child(fn: Callable[..., Any], *args: Any, timeout: float = 60) -> Any:
    """fn(*args) in a forked child: its result, or its exception raised again here."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def run() -> None:
        try:
            outcome = ("returned", fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the parent as it is
            outcome = ("raised", exc)
        try:
            sender.send(outcome)
        except Exception as exc:  # the result or the exception cannot be pickled
            sender.send(("raised", RuntimeError(f"child {outcome[0]} {outcome[1]!r}: {exc}")))

    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a multi-threaded process may deadlock the child; the
        # timeout below turns such a deadlock into a failure.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = context.Process(target=run)
        child.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            child.kill()
            child.join()
            pytest.fail(f"{getattr(fn, '__name__', fn)} hung: no result after {timeout} s")
        try:
            kind, value = receiver.recv()
        except EOFError:
            child.join(timeout)
            pytest.fail(f"{getattr(fn, '__name__', fn)} crashed: {_describe(child.exitcode)}")
    finally:
        receiver.close()
    child.join(timeout)
    if child.exitcode != 0:
        pytest.fail(f"the child process ended badly after the call: {_describe(child.exitcode)}")
    if kind == "raised":
        raise value
    return value


def run_python(code: str, *args: str, timeout: float = 120, env: dict | None = None):
    """Runs `python -c code args...` in a fresh interpreter with this one's environment
    (sanitizer preloads included) plus `env`; a hang fails the test. The CompletedProcess."""
    try:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ, **(env or {})),
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child interpreter hung for {timeout} s; its output: {exc.stdout!r}")


def sanitized() -> bool:
    """True when AddressSanitizer is loaded into this process (the sanitizer CI step)."""
    with open("/proc/self/maps") as maps:
        return "libasan" in maps.read()


def measured(code: str, *, setup: str = "", env: dict | None = None, timeout: float = 120) -> dict:
    """Runs `setup`, then `code`, in a fresh interpreter with twolayer imported. How `code` ended
    (``error``: None, or the type and message of the exception it raised), its peak memory growth
    (``growth_mb``: the peak resident size after it less the resident size before it) and its
    duration (``seconds``)."""
    script = f"""
import json, os, resource, sys, time
import numpy as np
import twolayer
from twolayer import TwoLayerNet
from twolayer.datasets import load_mnist, read_idx
{setup}
def status(field):  # VmRSS, VmHWM (the peak) in KiB, from Linux's /proc
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))
try:  # on Linux, reset the peak to the present (writing 5 to clear_refs), to read the growth from it
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    before, peak = status("VmRSS"), lambda: status("VmHWM")
except OSError:  # elsewhere, the peak since the start, in bytes on macOS and KiB on other systems
    scale = 1024 if sys.platform == "darwin" else 1
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale
    before = peak()
start = time.perf_counter()
try:
    exec(sys.argv[1])
    error = None
except Exception as exc:
    error = f"{{type(exc).__name__}}: {{exc}}"
seconds = time.perf_counter() - start
growth = peak() - before
print(json.dumps({{"error": error, "growth_mb": growth / 1024, "seconds": seconds}}))
"""
    result = run_python(script, code, timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def expect_error(call: Callable[[], Any], exc: type[BaseException], message: str) -> None:
    """call() raises exc (in a child process) with a message matching the regex `message`."""
    with pytest.raises(exc, match=message):
        in_child(call)


class Case(NamedTuple):
    """A bad-input case: what it is, how to build the bad argument (in the child), what it raises."""

    id: str
    value: Callable[[], Any]
    exc: type[BaseException]
    message: str  # a regex the message must match
