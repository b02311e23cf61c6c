"""twolayer.set_num_threads and get_num_threads (python/twolayer/_threads.py): bad thread counts
are clear errors, each case in a forked child; the default's order of precedence
($TWOLAYER_NUM_THREADS, then $OMP_NUM_THREADS, then the CPUs this process may use); threadpoolctl's
control of the count. (What the threads do is in test_concurrency.py.)

The default is chosen at import, so each of its cases imports twolayer in a fresh interpreter whose
environment and affinity mask it sets up first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from isolation import Case, expect_error, run_python

import twolayer

# fmt: off
BAD_THREAD_COUNTS = [
    Case("threads-zero", lambda: twolayer.set_num_threads(0), ValueError, r"n must be between 1 and 1024, got 0"),
    Case("threads-negative", lambda: twolayer.set_num_threads(-2), ValueError, r"n must be between 1 and 1024, got -2"),
    Case("threads-too-many", lambda: twolayer.set_num_threads(10**12), ValueError, r"n must be between 1 and 1024, got 1000000000000"),
    Case("threads-float", lambda: twolayer.set_num_threads(2.0), TypeError, r"n must be an int, got float"),
    Case("threads-str", lambda: twolayer.set_num_threads("2"), TypeError, r"n must be an int, got str"),
    Case("threads-bool", lambda: twolayer.set_num_threads(True), TypeError, r"n must be an int, got bool"),
]
# fmt: on


@pytest.mark.parametrize("case", BAD_THREAD_COUNTS, ids=[c.id for c in BAD_THREAD_COUNTS])
def test_bad_thread_count(case: Case) -> None:
    expect_error(case.value, case.exc, case.message)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in BAD_THREAD_COUNTS]
    assert len(ids) == len(set(ids)), ids


CHILD = r"""
import json, os, sys, warnings
settings = json.loads(sys.argv[1])
for name in ("TWOLAYER_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.pop(name, None)
os.environ.update(settings["env"])
if settings["cpus"] is not None:
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: settings["cpus"]]))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import twolayer
    from twolayer import _cpus
print(json.dumps({"threads": twolayer.get_num_threads(), "available": _cpus.available_cpus(),
                  "warnings": [str(w.message) for w in caught]}))
"""


def _default(env: dict[str, str] | None = None, cpus: int | None = None) -> dict:
    """What a fresh interpreter with `env` (and pinned to `cpus` CPUs) starts with."""
    result = run_python(CHILD, json.dumps({"env": env or {}, "cpus": cpus}))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_settings_the_default_is_the_available_cpus() -> None:
    got = _default()
    assert got["threads"] == got["available"] >= 1
    assert got["warnings"] == []


def test_omp_num_threads_sets_the_default() -> None:
    assert _default({"OMP_NUM_THREADS": "1"})["threads"] == 1
    assert _default({"OMP_NUM_THREADS": "3,2"})["threads"] == 3  # nested levels: the outer one


def test_twolayer_num_threads_comes_before_omp_num_threads() -> None:
    assert _default({"TWOLAYER_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"})["threads"] == 3


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no affinity masks on this system")
def test_a_process_pinned_to_one_cpu_uses_one_thread() -> None:
    assert _default(cpus=1)["threads"] == 1


@pytest.mark.parametrize("value", ["lots", "0", "-1", "2000", "1.5"])
def test_a_bad_setting_warns_and_falls_through_to_the_next(value: str) -> None:
    got = _default({"TWOLAYER_NUM_THREADS": value, "OMP_NUM_THREADS": "1"})
    assert got["threads"] == 1
    assert got["warnings"] == [
        f"TWOLAYER_NUM_THREADS={value!r} is not an integer from 1 to 1024; ignoring it"
    ]
    got = _default({"OMP_NUM_THREADS": value})
    assert got["threads"] == got["available"]
    assert len(got["warnings"]) == 1 and got["warnings"][0].startswith(f"OMP_NUM_THREADS={value!r}")


threadpoolctl = pytest.importorskip("threadpoolctl")


def _ours(info: list[dict]) -> list[dict]:
    return [lib for lib in info if lib["user_api"] == "twolayer"]


@pytest.fixture
def three_threads() -> Iterator[None]:
    """The core set to 3 threads, and back to what it was after the test."""
    before = twolayer.get_num_threads()
    twolayer.set_num_threads(3)
    yield
    twolayer.set_num_threads(before)


def test_threadpoolctl_lists_the_core(three_threads: None) -> None:
    (ours,) = _ours(threadpoolctl.threadpool_info())
    assert ours["internal_api"] == "twolayer"
    assert ours["num_threads"] == 3
    assert ours["version"] == twolayer.__version__
    assert os.path.basename(ours["filepath"]).startswith("_core")


@pytest.mark.parametrize("limits", [1, {"twolayer": 1}])
def test_threadpool_limits_holds_inside_the_block_only(three_threads: None, limits: object) -> None:
    with threadpoolctl.threadpool_limits(limits):
        assert twolayer.get_num_threads() == 1
        assert _ours(threadpoolctl.threadpool_info())[0]["num_threads"] == 1
    assert twolayer.get_num_threads() == 3


def test_limits_of_other_libraries_leave_the_core_alone(three_threads: None) -> None:
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert twolayer.get_num_threads() == 3
