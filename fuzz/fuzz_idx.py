"""Fuzz target: read_idx on arbitrary bytes (gzipped or not). Anything but a ValueError naming the
file is a bug.

Run: python fuzz/fuzz_idx.py CORPUS_DIR [libFuzzer options]   (see fuzz/run.sh)
"""

from __future__ import annotations

from harness import file_target, fuzz

from twolayer.datasets import read_idx

if __name__ == "__main__":
    fuzz(file_target(".idx", read_idx))
