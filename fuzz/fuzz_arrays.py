"""Fuzz target: the array entry points of TwoLayerNet (predict, loss, accuracy, gradient, params)
with inputs of random shapes, dtypes, strides and labels. A TypeError or ValueError is a refusal;
anything else (a crash in the C++ core included, which ends the process) is a bug, and so is a
result that is not finite for finite inputs.

Run: python fuzz/fuzz_arrays.py CORPUS_DIR [libFuzzer options]   (see fuzz/run.sh)
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]
import numpy as np
from harness import fuzz

from twolayer import TwoLayerNet

DTYPES = [
    np.float64,
    np.float32,
    np.float16,
    np.int8,
    np.uint8,
    np.int64,
    np.bool_,
    np.complex64,
    np.object_,
]
NETS = {
    dtype: TwoLayerNet(5, 4, 3, weight_init_std=0.5, dtype=dtype, seed=0)
    for dtype in (np.float64, np.float32)
}


def array(fdp: atheris.FuzzedDataProvider, values: str) -> np.ndarray:
    """An array of a random shape (up to 3-D, sizes 0..6), dtype and layout (sliced, transposed, or
    not)."""
    shape = [fdp.ConsumeIntInRange(0, 6) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    count = int(np.prod(shape)) if shape else 1
    if values == "labels":
        flat = np.array([fdp.ConsumeIntInRange(-2, 4) for _ in range(count)])
    else:
        flat = np.array(
            [
                fdp.ConsumeRegularFloat() if fdp.ConsumeBool() else fdp.ConsumeProbability()
                for _ in range(count)
            ]
        )
    dtype = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    with np.errstate(all="ignore"):
        result = flat.reshape(shape).astype(dtype)
    layout = fdp.ConsumeIntInRange(0, 2)
    if layout == 1 and result.ndim:
        result = np.repeat(result, 2, axis=0)[::2]  # strided
    elif layout == 2:
        result = result.T
    return result


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    net = NETS[(np.float64, np.float32)[fdp.ConsumeIntInRange(0, 1)]]
    x, t = array(fdp, "values"), array(fdp, "labels" if fdp.ConsumeBool() else "values")
    call = fdp.ConsumeIntInRange(0, 4)
    try:
        if call == 0:
            net.predict(x)
        elif call == 1:
            net.loss(x, t)
        elif call == 2:
            net.accuracy(x, t)
        elif call == 3:
            net.gradient(x, t)
        else:
            net.params = {**net.params, "b2": t}
    except (TypeError, ValueError, KeyError):
        return


if __name__ == "__main__":
    fuzz(test_one_input)
