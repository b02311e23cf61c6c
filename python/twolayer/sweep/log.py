"""runs.jsonl: a line per finished run, appended as each finishes, and the statuses it records."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._files import atomic_write
from .plan import Run

__all__ = ["DIVERGED", "DONE", "FAILED", "INTERRUPTED", "RUNS_FILE", "RunLog"]

RUNS_FILE = "runs.jsonl"
DONE, DIVERGED, FAILED, INTERRUPTED = "done", "diverged", "failed", "interrupted"


class RunLog:
    """The records in runs.jsonl, keyed by run.

    Each record is appended by a single ``write`` of one whole line, then fsynced, so a crash can
    tear at most the last line; reading drops such a line (rewriting the file atomically without it)
    before anything is appended after it. A line torn anywhere else means the file was edited, and
    is an error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        lines = self.path.read_bytes().split(b"\n")
        complete, torn = lines[:-1], lines[-1]
        records = {}
        for number, line in enumerate(complete, 1):
            try:
                record = json.loads(line)
                records[Run(record["settings"], record["seed"]).key] = record
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{self.path}, line {number}: not a run record ({exc}): {line[:80]!r}"
                ) from None
        if torn:  # a run cut short while its line was being written: it will run again
            with atomic_write(self.path) as f:
                f.writelines(line + b"\n" for line in complete)
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        data = (json.dumps(record, allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            written = 0
            # One write in practice; a partial one continues where it stopped.
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
