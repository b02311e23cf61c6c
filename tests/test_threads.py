"""The core's thread count: the default's order of precedence ($TWOLAYER_NUM_THREADS, then
$OMP_NUM_THREADS, then the CPUs this process may use), and threadpoolctl's control of it.

The default is chosen at import, so each case imports twolayer in a fresh interpreter whose
environment and affinity mask it sets up first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import twolayer
from isolation import run_python

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
