"""twolayer.show_config(): the build and the kernel sets as the core reports them, read-only.

Which kernels run is fixed when the core starts, so each case that sets TWOLAYER_SIMD asks a fresh
interpreter.
"""

from __future__ import annotations

import json

import pytest
from isolation import run_python

import twolayer
from twolayer import _core

SECTIONS = {"twolayer", "build", "runtime", "python", "numpy", "threadpools"}
REPORT = "import json, twolayer; print(json.dumps(twolayer.show_config('dicts')))"


def report_in_child(**env: str) -> dict:
    child = run_python(REPORT, env=env)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def test_the_report_has_every_section_and_prints_them(capsys):
    config = twolayer.show_config()
    assert set(config) == SECTIONS
    printed = capsys.readouterr().out
    assert {line[:-1] for line in printed.splitlines() if not line.startswith(" ")} == SECTIONS
    assert f"  version: {twolayer.__version__}" in printed
    assert config["twolayer"]["version"] == twolayer.__version__
    assert config["build"]["compiler"] and config["build"]["cplusplus"] >= 201703


def test_dicts_mode_prints_nothing(capsys):
    assert set(twolayer.show_config("dicts")) == SECTIONS
    assert capsys.readouterr().out == ""


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be 'stdout' or 'dicts', got 'json'"):
        twolayer.show_config("json")  # type: ignore[arg-type]


def test_the_kernels_follow_the_build_and_the_cpu():
    config = twolayer.show_config("dicts")
    build, runtime = config["build"], config["runtime"]
    fast = build["avx2_kernels_built"] and runtime["cpu_has_avx2_fma"]
    expected = "avx2" if fast and runtime["TWOLAYER_SIMD"] not in ("0", "off") else "portable"
    assert runtime["kernels"] == {"float32": expected, "float64": expected}
    assert runtime["kernels"] == _core.build_info()["kernels"]


def test_cpu_flags_agree_with_the_system():
    flags = []
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line.split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        pytest.skip("no /proc/cpuinfo to compare with")
    if not flags:
        pytest.skip("/proc/cpuinfo lists no x86 flags")
    has = "avx2" in flags and "fma" in flags
    assert twolayer.show_config("dicts")["runtime"]["cpu_has_avx2_fma"] == has


@pytest.mark.parametrize("value", ["0", "off"])
def test_twolayer_simd_off_reports_the_portable_kernels_and_why(value):
    config = report_in_child(TWOLAYER_SIMD=value)
    runtime = config["runtime"]
    assert runtime["kernels"] == {"float32": "portable", "float64": "portable"}
    assert runtime["TWOLAYER_SIMD"] == value
    if not config["build"]["avx2_kernels_built"]:  # the portable build (TWOLAYER_AVX2=OFF)
        assert "built without the AVX2 kernels" in runtime["kernels_because"]
    elif not runtime["cpu_has_avx2_fma"]:
        assert "lacks AVX2 or FMA" in runtime["kernels_because"]
    else:
        assert "TWOLAYER_SIMD=0" in runtime["kernels_because"]


def test_the_default_reports_avx2_only_where_it_is_built_and_the_cpu_has_it():
    config = report_in_child(TWOLAYER_SIMD="1")
    build, runtime = config["build"], config["runtime"]
    if build["avx2_kernels_built"] and runtime["cpu_has_avx2_fma"]:
        assert runtime["kernels"] == {"float32": "avx2", "float64": "avx2"}
        assert "built in and this CPU has" in runtime["kernels_because"]
    else:
        assert runtime["kernels"] == {"float32": "portable", "float64": "portable"}
        assert "TWOLAYER_SIMD" not in runtime["kernels_because"]


def test_the_report_shows_the_thread_count_and_changes_nothing():
    before = twolayer.get_num_threads()
    try:
        twolayer.set_num_threads(1)
        config = twolayer.show_config("dicts")
        assert config["runtime"]["threads"] == 1 == twolayer.get_num_threads()
        assert config["runtime"]["cpus_available"] >= 1
    finally:
        twolayer.set_num_threads(before)


def test_the_thread_pools_include_the_core_and_numpys_blas():
    pytest.importorskip("threadpoolctl")
    pools = twolayer.show_config("dicts")["threadpools"]
    assert any(pool["user_api"] == "twolayer" for pool in pools)
    assert all("num_threads" in pool for pool in pools)


def test_the_extension_exports_the_report_under_a_plain_name():
    # CI refuses extension names that read as test hooks (kernel, test, debug, simd).
    info = _core.build_info()
    assert set(info) >= {"compiler", "build_type", "avx2_built", "cpu_avx2_fma", "kernels"}
    assert set(info["kernels"].values()) <= {"avx2", "portable"}
