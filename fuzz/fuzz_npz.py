"""Fuzz target: TwoLayerNet.load on arbitrary bytes. Anything but a ValueError naming the file is a
bug.

Run: python fuzz/fuzz_npz.py CORPUS_DIR [libFuzzer options]   (see fuzz/run.sh)
"""

from __future__ import annotations

from harness import file_target, fuzz

from twolayer import TwoLayerNet

if __name__ == "__main__":
    fuzz(file_target(".npz", TwoLayerNet.load))
