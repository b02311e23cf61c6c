"""The CPUs this process may use: the cgroup quota files' parsing, and the quota's cap on the
affinity mask."""

from __future__ import annotations

from pathlib import Path

import pytest

from twolayer import _cpus
from twolayer._cpus import (
    QuotaError,
    available_cpus,
    cgroup_cpu_limit,
    parse_cfs_quota,
    parse_cpu_max,
)


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("max 100000\n", None),
        ("max\n", None),
        ("150000 100000\n", 1.5),
        ("100000 100000", 1.0),
        ("50000 100000", 0.5),
        ("200000", 2.0),
        ("800000 100000\n", 8.0),
    ],
)
def test_cpu_max(text: str, cpus: float | None) -> None:
    assert parse_cpu_max(text) == cpus


@pytest.mark.parametrize(
    ("quota", "period", "cpus"),
    [("-1\n", "100000\n", None), ("150000\n", "100000\n", 1.5), ("25000", "50000", 0.5)],
)
def test_cfs_quota(quota: str, period: str, cpus: float | None) -> None:
    assert parse_cfs_quota(quota, period) == cpus


@pytest.mark.parametrize(
    "text", ["", "max 100000 7", "lots 100000", "1.5 100000", "0 100000", "100000 0", "-5 100000"]
)
def test_cpu_max_garbage(text: str) -> None:
    with pytest.raises(QuotaError, match="cpu.max"):
        parse_cpu_max(text)


@pytest.mark.parametrize(
    ("quota", "period"), [("x", "100000"), ("100000", ""), ("0", "100000"), ("-2", "100000")]
)
def test_cfs_quota_garbage(quota: str, period: str) -> None:
    with pytest.raises(QuotaError, match="cpu.cfs_quota_us"):
        parse_cfs_quota(quota, period)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


V2 = "0::/user.slice/job\n"
V1 = "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n"


def test_v2_quota_of_the_cgroup(tmp_path: Path) -> None:
    root = _write(
        tmp_path, {"cpu.max": "max 100000\n", "user.slice/job/cpu.max": "150000 100000\n"}
    )
    assert cgroup_cpu_limit(root, V2) == 1.5


def test_v2_a_parent_quota_caps_its_children(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {"user.slice/cpu.max": "100000 100000\n", "user.slice/job/cpu.max": "max 100000\n"},
    )
    assert cgroup_cpu_limit(root, V2) == 1.0


def test_v2_in_a_container_the_root_holds_the_quota(tmp_path: Path) -> None:
    root = _write(tmp_path, {"cpu.max": "300000 100000\n"})
    assert cgroup_cpu_limit(root, "0::/\n") == 3.0


def test_v1_cfs_files(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "250000\n",
            "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
            "cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
            "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cgroup_cpu_limit(root, V1) == 2.5


def test_missing_files_mean_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path, V2) is None
    assert cgroup_cpu_limit(tmp_path, V1) is None
    assert cgroup_cpu_limit(tmp_path, "") is None


@pytest.mark.parametrize(
    ("quota", "cpus"),
    [("150000 100000", 2), ("50000 100000", 1), ("max 100000", 8), ("6400000 100000", 8)],
)
def test_the_quota_rounded_up_caps_the_affinity_mask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quota: str, cpus: int
) -> None:
    monkeypatch.setattr(_cpus, "affinity_count", lambda: 8)
    assert available_cpus(_write(tmp_path, {"cpu.max": quota}), "0::/\n") == cpus


@pytest.mark.parametrize("garbage", [b"lots of cpus\n", b"\xff\xfe\x00"])
def test_garbage_falls_back_to_the_cpu_count_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, garbage: bytes
) -> None:
    monkeypatch.setattr(_cpus, "affinity_count", lambda: 8)
    (tmp_path / "cpu.max").write_bytes(garbage)
    with pytest.warns(RuntimeWarning, match="ignoring the cgroup CPU quota: .*; using 8 CPUs"):
        assert available_cpus(tmp_path, "0::/\n") == 8


def test_v1_garbage_falls_back_to_the_cpu_count_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cpus, "affinity_count", lambda: 8)
    root = _write(
        tmp_path,
        {
            "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "lots\n",
            "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        },
    )
    with pytest.warns(
        RuntimeWarning, match=r"quota: cpu.cfs_quota_us: .*'lots\\n'.*; using 8 CPUs"
    ):
        assert available_cpus(root, V1) == 8
