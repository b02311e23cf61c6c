"""``twolayer predict``: a trained network's guess at pictures of digits."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write
from ._flags import EXIT_ERROR, add_dir_option, add_network_argument, error, new_command, unwritable
from .datasets import MNIST_PIXELS, image_to_mnist
from .net import TwoLayerNet

__all__ = ["add_predict_command"]


def add_predict_command(commands: Any) -> None:
    parser = new_command(
        commands,
        "predict",
        _predict,
        help="guess the digit in pictures (PNG, JPEG) with a trained network",
        description=(
            "Print the three most probable digits of each picture, with their probabilities. A "
            "picture may be of any size, in colour or grey, dark ink on light paper or light on "
            "dark: it is converted as MNIST's digits were (cropped to the ink, scaled to fit "
            "20x20, centred by mass in 28x28). A picture that cannot be read is reported and the "
            "others still done; the exit status is then 1."
        ),
    )
    add_network_argument(parser)
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="pictures of digits")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of text"
    )
    add_dir_option(
        parser,
        "--save-preprocessed",
        None,
        "write the 28x28 image the network saw for each picture into DIR, as NAME.png",
    )


def _predict(args: argparse.Namespace) -> int:
    if (status := unwritable("--save-preprocessed", args.save_preprocessed)) is not None:
        return status
    try:
        net = TwoLayerNet.load(args.params)
        if net.input_size != MNIST_PIXELS:
            raise ValueError(
                f"{args.params}: the network takes {net.input_size} inputs, not MNIST's "
                f"{MNIST_PIXELS}"
            )
        if args.save_preprocessed is not None:
            args.save_preprocessed.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        return error(exc)
    samples: dict[int, np.ndarray] = {}  # by the image's place in the command line
    results: list[dict[str, Any]] = [{"image": str(image)} for image in args.images]
    failed = False
    for i, (image, name) in enumerate(zip(args.images, _unique_stems(args.images))):
        try:
            samples[i] = image_to_mnist(image)
            if args.save_preprocessed is not None:
                _save_sample(samples[i], args.save_preprocessed / f"{name}.png")
        # The message names the file; the other images are still done.
        except (OSError, ValueError) as exc:
            error(exc)
            results[i]["error"], failed = str(exc), True
    if samples:
        for i, p in zip(samples, net.predict(np.stack(list(samples.values())))):
            top = np.argsort(-p, kind="stable")[:3]
            results[i]["top"] = [[int(k), float(p[k])] for k in top]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for i, image in enumerate(args.images):
            if i in samples:
                print(f"{image}: " + ", ".join(f"{k} ({p:.3f})" for k, p in results[i]["top"]))
    return EXIT_ERROR if failed else 0


def _unique_stems(paths: list[Path]) -> list[str]:
    """A file name (without suffix) for each path, numbered where two paths share one."""
    names: list[str] = []
    for path in paths:
        name, n = path.stem, 1
        while name in names:
            n += 1
            name = f"{path.stem}-{n}"
        names.append(name)
    return names


def _save_sample(sample: np.ndarray, path: Path) -> None:
    """Write an MNIST sample (784 values in [0, 1]) as a 28x28 grey PNG."""
    from PIL import Image

    pixels = np.round(sample.reshape(28, 28) * 255).astype(np.uint8)
    with atomic_write(path) as f:
        Image.fromarray(pixels).save(f, format="PNG")
