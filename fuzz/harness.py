"""What the fuzz targets share: running one under libFuzzer, and a target that writes each input to
a file and hands the file to a reader."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any, Callable

import atheris  # type: ignore[import-untyped]


def fuzz(test_one_input: Callable[[bytes], None]) -> None:
    """Run `test_one_input` under libFuzzer with the command line's options (see fuzz/run.sh)."""
    # Coverage of every Python function loaded (instrument_imports misses the editable install's
    # import hook).
    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def file_target(
    suffix: str, read: Callable[[str], Any], check: Callable[[Any], None] = lambda result: None
) -> Callable[[bytes], None]:
    """A target that writes each input to a file named ``input{suffix}`` and calls ``read(path)``:
    a ValueError that names the file is a refusal, any other error a bug; `check` judges what
    `read` returned."""
    path = os.path.join(tempfile.mkdtemp(prefix="fuzz-"), "input" + suffix)

    def test_one_input(data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)
        try:
            result = read(path)
        except ValueError as exc:
            if path not in str(exc):
                raise AssertionError(f"the error does not name the file: {exc}") from None
            return
        check(result)

    return test_one_input
