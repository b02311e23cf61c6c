"""How many CPUs this process may use: those in its affinity mask, capped by its cgroup's CPU quota.

A container limited to one CPU on a 64-core host sees 64 CPUs in its affinity mask; only the
cgroup's quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``) says
that it gets one CPU's worth of time. A quota of 1.5 CPUs counts as 2.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class QuotaError(ValueError):
    """A cgroup CPU quota file whose contents make no sense."""


def parse_cpu_max(text: str) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` ("QUOTA PERIOD", QUOTA "max" for none), or None."""
    fields = text.split()
    if len(fields) == 1:  # the period may be left out: it defaults to 100000 µs
        fields.append("100000")
    if len(fields) != 2:
        raise QuotaError(f"cpu.max should be 'QUOTA PERIOD', got {text!r}")
    return None if fields[0] == "max" else _ratio(fields[0], fields[1], "cpu.max")


def parse_cfs_quota(quota: str, period: str) -> float | None:
    """CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` (-1 for none) and ``cpu.cfs_period_us``."""
    return None if quota.strip() == "-1" else _ratio(quota, period, "cpu.cfs_quota_us")


def _ratio(quota: str, period: str, name: str) -> float:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        raise QuotaError(
            f"{name}: expected integers, got quota {quota!r} and period {period!r}"
        ) from None
    if q <= 0 or p <= 0:
        raise QuotaError(f"{name}: expected a positive quota and period, got {q} and {p}")
    return q / p


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # no such file, or not allowed to read it: no quota known
        return None
    except UnicodeDecodeError as exc:
        raise QuotaError(f"{path} is not text") from exc


def _own_cgroups(proc_self_cgroup: str) -> tuple[str | None, str | None]:
    """This process's cgroup v2 path and its v1 cpu controller's path, from /proc/self/cgroup."""
    v2 = v1 = None
    for line in proc_self_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        elif "cpu" in parts[1].split(","):
            v1 = parts[2]
    return v2, v1


def _candidates(base: Path, cgroup: str) -> list[Path]:
    """The cgroup's folder and its ancestors under base: a parent's quota caps its children. In a
    container with its own cgroup namespace, the path is "/" and only base itself exists."""
    folders = [base]
    parts = [p for p in cgroup.strip().split("/") if p]
    for i in range(1, len(parts) + 1):
        folders.append(base.joinpath(*parts[:i]))
    return folders


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_self_cgroup: str | None = None) -> float | None:
    """The smallest CPU quota over this process's cgroup and its ancestors (v2, else v1), in CPUs;
    None when there is none. Raises QuotaError for a file that makes no sense. The arguments are
    where the cgroup file systems are mounted and the text of /proc/self/cgroup."""
    if proc_self_cgroup is None:
        proc_self_cgroup = _read(Path("/proc/self/cgroup")) or ""
    v2, v1 = _own_cgroups(proc_self_cgroup)
    limits: list[float] = []
    if v2 is not None:
        for folder in _candidates(root, v2):
            text = _read(folder / "cpu.max")
            limit = None if text is None else parse_cpu_max(text)
            if limit is not None:
                limits.append(limit)
    if not limits and v1 is not None:
        for base in (root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu"):
            for folder in _candidates(base, v1):
                quota, period = (
                    _read(folder / "cpu.cfs_quota_us"),
                    _read(folder / "cpu.cfs_period_us"),
                )
                limit = None if quota is None or period is None else parse_cfs_quota(quota, period)
                if limit is not None:
                    limits.append(limit)
    return min(limits) if limits else None


def affinity_count() -> int:
    """The CPUs in this process's affinity mask (all CPUs where there is no such mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def available_cpus(root: Path = CGROUP_ROOT, proc_self_cgroup: str | None = None) -> int:
    """The CPUs in the affinity mask, capped by the cgroup quota rounded up (the arguments as for
    cgroup_cpu_limit). A quota file that cannot be understood is ignored, with a warning."""
    count = affinity_count()
    try:
        limit = cgroup_cpu_limit(root, proc_self_cgroup)
    except QuotaError as exc:
        warnings.warn(
            f"ignoring the cgroup CPU quota: {exc}; using {count} CPUs",
            RuntimeWarning,
            stacklevel=2,
        )
        return count
    return count if limit is None else max(1, min(count, math.ceil(limit)))
