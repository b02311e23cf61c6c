"""Fuzz target: read_idx on arbitrary bytes (gzipped or not). Anything but a ValueError naming the
file is a bug.

Run: python fuzz/fuzz_idx.py CORPUS_DIR [libFuzzer options]   (see fuzz/run.sh)
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris  # type: ignore[import-untyped]

from twolayer.datasets import read_idx

PATH = os.path.join(tempfile.mkdtemp(prefix="fuzz-idx-"), "input.idx")


def test_one_input(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        read_idx(PATH)
    except ValueError as exc:
        if PATH not in str(exc):
            raise AssertionError(f"the error does not name the file: {exc}") from None


if __name__ == "__main__":
    # Coverage of every Python function loaded (instrument_imports misses the editable install's
    # import hook).
    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
