"""Fuzz target: image_to_mnist on arbitrary bytes as a picture file. Anything but a ValueError naming
the file (not an image, truncated or damaged, too large, no ink) is a bug, and a result must be a
28×28 image in [0, 1].

Run: python fuzz/fuzz_image.py CORPUS_DIR [libFuzzer options]   (see fuzz/run.sh)
"""

from __future__ import annotations

import numpy as np
from harness import file_target, fuzz

from twolayer.datasets import image_to_mnist


def check_digit(digit: np.ndarray) -> None:
    if digit.shape != (784,) or not (np.all(digit >= 0) and np.all(digit <= 1)):
        raise AssertionError(f"not a 28×28 image in [0, 1]: shape {digit.shape}")


if __name__ == "__main__":
    fuzz(file_target(".png", image_to_mnist, check_digit))
