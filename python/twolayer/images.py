"""A picture of a handwritten digit turned into an MNIST sample: :func:`image_to_mnist`.

MNIST's own preprocessing (LeCun et al.): each digit was scaled, keeping its aspect ratio, to fit a
20×20 box, with anti-aliasing that turns the binary scans into grey levels, then placed in a 28×28
field so that its centre of mass is at the centre; ink is bright on black. This module does the same
to any picture: grey levels, ink made bright on a black background, cropped to the ink, resampled by
Pillow, placed by centre of mass, scaled to [0, 1].
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

from ._files import open_regular

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["MAX_FILE_BYTES", "MAX_PIXELS", "ImageSource", "image_to_mnist", "read_image"]

ImageSource = Union[str, "os.PathLike[str]", "Image.Image", np.ndarray]

MAX_FILE_BYTES = 50 * 2**20
"""Image files larger than this are refused before decoding (a phone photo is a few MiB)."""
MAX_PIXELS = 50_000_000
"""Images with more pixels are refused before decoding: Pillow's decompression-bomb limit, set
explicitly (its default, 89 million, would only warn). A 50-megapixel RGBA image decodes to 200 MB,
converted to float 800 MB."""
FORMATS = ("PNG", "JPEG", "BMP", "GIF")
"""The file formats read: what paint programs save. Other decoders are never run on a user's
file."""

# Larger pictures are first reduced by a whole factor (averaging blocks of pixels) to at most this
# many pixels a side: a digit a tenth of that tall is still ten times the 20-pixel box, and the
# float arrays of the conversion stay at 32 MiB each, where a 50-megapixel photo would take 400 MiB
# each.
_WORKING_SIDE = 2048
_FIELD, _BOX = 28, 20  # MNIST's 28×28 field, and the 20×20 box the digit is scaled to fit
# The ink must differ from the background by 10% of the grey range to be ink at all.
_MIN_CONTRAST = 0.1
# Fractions of the strongest ink. Pixels fainter than _INK_LEVEL (JPEG ringing, paper texture) do
# not extend the crop; fainter than _NOISE_LEVEL, they are set to background, as MNIST's background
# is pure black.
_INK_LEVEL = 0.2
_NOISE_LEVEL = 0.1


def image_to_mnist(image: ImageSource) -> NDArray[np.float32]:
    """The digit in `image` as an MNIST sample: 784 float32 values in [0, 1], like a row of
    ``load_mnist()``.

    `image` is a path to a PNG, JPEG, BMP or GIF file; a PIL image; or an array of shape (H, W)
    (grey), (H, W, 3) (RGB) or (H, W, 4) (RGBA), of uint8 (0 to 255), uint16 (0 to 65535), bool, or
    floats in [0, 1]. Any size, dark ink on light paper or light ink on dark; transparent pixels
    count as paper.

    Raises ValueError naming the file (or the argument) if it is not an image, is truncated or
    damaged, is larger than :data:`MAX_FILE_BYTES` or :data:`MAX_PIXELS`, or holds no ink; TypeError
    for another kind of argument.
    """
    name = str(image) if isinstance(image, (str, os.PathLike)) else "image"
    grey, alpha = _grey_and_alpha(image)
    ink = _ink(grey, alpha, name)
    return _fit_to_field(ink).reshape(-1)


def read_image(path: str | os.PathLike[str]) -> Image.Image:
    """The picture in the file `path`, decoded; ValueError naming the file if it cannot be one to
    read."""
    from PIL import Image

    path = Path(path)
    # FileNotFoundError and the like name the file themselves; a FIFO or a directory is refused.
    with open_regular(path) as file, warnings.catch_warnings():
        size = os.fstat(file.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(
                f"{path}: the file is {size:,} bytes, "
                f"more than the {MAX_FILE_BYTES:,} an image may have"
            )
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        picture = _decoding(path, lambda: Image.open(file, formats=FORMATS))  # the header only
        width, height = picture.size
        if width * height > MAX_PIXELS:
            raise ValueError(
                f"{path}: the image is {width}×{height} pixels, "
                f"more than the {MAX_PIXELS:,} allowed"
            )
        _decoding(path, picture.load)
    return picture


T = TypeVar("T")


def _decoding(path: Path, step: Callable[[], T]) -> T:
    """`step()`, a step of Pillow's decoding of the file `path`, with its refusals as a ValueError
    naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        return step()
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image ({', '.join(FORMATS)} are read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"{path}: {exc}") from None
    # What Pillow's decoders raise on damaged or cut-off data (ValueError: a frame outside the
    # picture, found by fuzz/fuzz_image.py).
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise ValueError(f"{path} is a truncated or damaged image: {exc}") from None


def _grey_and_alpha(image: ImageSource) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Grey level and opacity of every pixel, both in [0, 1]."""
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        image = read_image(image)
    if isinstance(image, Image.Image):
        # 16-bit grey is reduced as 32-bit integers ("I"): convert("RGBA") would clip it to 8 bits,
        # and Pillow does not reduce "I;16" itself.
        sixteen_bits = image.mode.startswith("I;16")
        image = image.convert("I" if sixteen_bits else "RGBA")
        factor = -(-max(image.size) // _WORKING_SIDE)
        image = np.asarray(image.reduce(factor) if factor > 1 else image)
        if sixteen_bits:
            return image / 65535.0, np.ones(image.shape)
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image must be a path, a PIL image or a NumPy array, got {type(image).__name__}"
        )
    pixels = _unit_range(image)
    if pixels.ndim == 2:
        return pixels, np.ones(pixels.shape)
    # ITU-R 601-2 luma, the weights of Pillow's convert("L").
    return pixels[..., :3] @ np.array([0.299, 0.587, 0.114]), (
        pixels[..., 3] if pixels.shape[2] == 4 else np.ones(pixels.shape[:2])
    )


def _unit_range(array: np.ndarray) -> NDArray[np.float64]:
    """An (H, W), (H, W, 3) or (H, W, 4) array as floats in [0, 1]; errors say what was expected."""
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"image must not be empty, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array / 255.0
    if array.dtype == np.uint16:
        return array / 65535.0
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if array.dtype.kind != "f":
        raise TypeError(f"image must be of dtype uint8, uint16, bool or float, got {array.dtype}")
    pixels = array.astype(np.float64)
    if not np.isfinite(pixels).all():
        raise ValueError("a float image must hold values in [0, 1], got NaN or infinite values")
    if pixels.min() < 0 or pixels.max() > 1:
        raise ValueError(
            "a float image must hold values in [0, 1], "
            f"got values from {pixels.min()} to {pixels.max()}"
        )
    return pixels


def _ink(grey: NDArray[np.float64], alpha: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    """How much ink each pixel holds, in [0, 1] (1: the strongest ink), cropped to the ink."""
    opaque = alpha > 0.5
    if not opaque.any():
        raise ValueError(f"{name} holds no ink: it is fully transparent")
    # The paper is the commonest grey level, the median, as the ink covers far fewer pixels; on a
    # mostly transparent sheet the opaque pixels are the ink, and the paper is what stands out from
    # it best.
    paper = float(np.median(grey[opaque]))
    if opaque.mean() < 0.5:
        paper = 1.0 if paper < 0.5 else 0.0
    grey = alpha * grey + (1 - alpha) * paper  # transparent pixels are paper
    ink = np.clip((grey - paper) if paper < 0.5 else (paper - grey), 0, None)
    strongest = float(ink.max())
    if strongest < _MIN_CONTRAST:
        raise ValueError(f"{name} holds no ink: no pixel stands out from the background")
    ink /= strongest
    ink[ink < _NOISE_LEVEL] = 0
    rows = np.flatnonzero((ink >= _INK_LEVEL).any(axis=1))
    columns = np.flatnonzero((ink >= _INK_LEVEL).any(axis=0))
    return ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def _fit_to_field(ink: NDArray[np.float64]) -> NDArray[np.float32]:
    """The cropped ink scaled to fit 20×20, keeping its aspect ratio, and placed in 28×28 by its
    centre of mass."""
    from PIL import Image

    height, width = ink.shape
    scale = _BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Lanczos on floats: a proper low-pass filter when shrinking a large drawing (each output pixel
    # weighs all the input pixels under it, so thin strokes turn grey instead of vanishing or
    # aliasing), with no 8-bit rounding. It rings slightly around strokes, hence the clip.
    box = np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS))
    box = np.clip(box, 0, None)
    # MNIST's strokes are full white at their core; a thin pen on a large canvas would otherwise
    # come out faint.
    box = box / box.max() if box.max() > 0 else box
    field = np.zeros((_FIELD, _FIELD), dtype=np.float32)
    mass = float(box.sum())
    if mass == 0:
        return field
    offsets = []
    for axis, length in enumerate(box.shape):
        profile = box.sum(axis=1 - axis)
        centre = float(profile @ np.arange(length)) / mass
        # Centre of mass at index 14, as in MNIST (its test digits: 14.0 and 14.0), as far as the
        # edges allow.
        offsets.append(min(max(round(_FIELD / 2 - centre), 0), _FIELD - length))
    top, left = offsets
    field[top : top + box.shape[0], left : left + box.shape[1]] = box
    return field
