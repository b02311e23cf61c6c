"""Fuzz target: image_to_mnist on arbitrary bytes as a picture file. Anything but a ValueError naming
the file (not an image, truncated or damaged, too large, no ink) is a bug, and a result must be a
28×28 image in [0, 1].

Run: python fuzz/fuzz_image.py CORPUS_DIR [libFuzzer options]   (see fuzz/run.sh)
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris  # type: ignore[import-untyped]
import numpy as np

from twolayer.datasets import image_to_mnist

PATH = os.path.join(tempfile.mkdtemp(prefix="fuzz-image-"), "input.png")


def test_one_input(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        digit = image_to_mnist(PATH)
    except ValueError as exc:
        if PATH not in str(exc):
            raise AssertionError(f"the error does not name the file: {exc}") from None
        return
    if digit.shape != (784,) or not (np.all(digit >= 0) and np.all(digit <= 1)):
        raise AssertionError(f"not a 28×28 image in [0, 1]: shape {digit.shape}")


if __name__ == "__main__":
    # Coverage of every Python function loaded (instrument_imports misses the editable install's
    # import hook).
    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
