"""Pictures of digits as a person would supply them, for the tests of the image converter and of
``twolayer predict``."""

from __future__ import annotations

import numpy as np


def digit_picture(sample: np.ndarray, side: int, canvas: tuple[int, int], at: tuple[int, int]):
    """An MNIST sample as a person would supply it: dark ink on white paper, `side` pixels tall, placed at `at`
    on a `canvas` (width, height) of paper. A PIL image in mode "L"."""
    from PIL import Image

    digit = Image.fromarray(255 - np.round(sample.reshape(28, 28) * 255).astype(np.uint8))
    picture = Image.new("L", canvas, 255)
    picture.paste(digit.resize((side, side), Image.Resampling.BICUBIC), at)
    return picture
