"""The bindings' conversions: odd layouts and dtypes of x and t (strided, read-only, broadcast,
with metadata, lists) give the same answer as a plain C-contiguous array."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from isolation import in_child
from net_cases import BATCH_METHODS, C, make_batch, make_net

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet


def _with_metadata(dtype: Any) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.astype(np.dtype(dtype, metadata={"unit": "pixel"}))


def _read_only(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x.flags.writeable = False
    return x


def _strided(x: np.ndarray) -> np.ndarray:
    wide = np.zeros((2 * x.shape[0], 3 * x.shape[1]))
    wide[::2, ::3] = x
    return wide[::2, ::3]


def _broadcast_row(x: np.ndarray) -> np.ndarray:
    """Every row the same, as a stride-0 view; its plain twin is make_layout_twin below."""
    return np.broadcast_to(x[0], x.shape)


X_LAYOUTS: dict[str, Callable[[np.ndarray], Any]] = {
    "fortran": np.asfortranarray,
    "transposed-view": lambda x: np.ascontiguousarray(x.T).T,
    "strided": _strided,
    "reversed-rows": lambda x: x[::-1].copy()[::-1],
    "reversed-columns": lambda x: x[:, ::-1].copy()[:, ::-1],
    "read-only": _read_only,
    "float32": lambda x: x.astype(np.float32),
    "float16": lambda x: x.astype(np.float16),
    "longdouble": lambda x: x.astype(np.longdouble),
    "int64": lambda x: x.astype(np.int64),
    "int8": lambda x: x.astype(np.int8),
    "uint8": lambda x: x.astype(np.uint8),
    "big-endian-float64": lambda x: x.astype(">f8"),
    "big-endian-float32": lambda x: x.astype(">f4"),
    "float32-with-metadata": _with_metadata(np.float32),
    "float64-with-metadata": _with_metadata(np.float64),
    "list": lambda x: x.tolist(),
    "masked-none-masked": lambda x: np.ma.masked_array(x),
}

T_LAYOUTS: dict[str, Callable[[np.ndarray], Any]] = {
    "labels-reversed": lambda t: t[::-1].copy()[::-1],
    "labels-strided": lambda t: np.repeat(t, 2)[::2],
    "labels-read-only": _read_only,
    "labels-int8": lambda t: t.astype(np.int8),
    "labels-uint8": lambda t: t.astype(np.uint8),
    "labels-uint64": lambda t: t.astype(np.uint64),
    "labels-big-endian": lambda t: t.astype(">i4"),
    "labels-list": lambda t: t.tolist(),
    "one-hot-float64": lambda t: np.eye(C)[t],
    "one-hot-fortran": lambda t: np.asfortranarray(np.eye(C)[t]),
    "one-hot-int": lambda t: np.eye(C, dtype=int)[t],
    "one-hot-float32": lambda t: np.eye(C, dtype=np.float32)[t],
    "one-hot-float16": lambda t: np.eye(C, dtype=np.float16)[t],
    "one-hot-transposed-view": lambda t: np.ascontiguousarray(np.eye(C)[t].T).T,
}


def _all_results(net: TwoLayerNet, x: Any, t: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, call in BATCH_METHODS.items():
        result = call(net, x, t)
        out[name] = (
            {k: np.array(v) for k, v in result.items()} if isinstance(result, dict) else result
        )
    return out


def _assert_same(got: dict, expected: dict) -> None:
    for name in expected:
        if isinstance(expected[name], dict):
            for key in expected[name]:
                np.testing.assert_array_equal(
                    got[name][key], expected[name][key], err_msg=f"{name} {key}"
                )
        else:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.mark.parametrize("layout", X_LAYOUTS)
def test_x_layouts_give_the_same_answer(layout: str, dtype: np.dtype) -> None:
    def run():
        net = make_net(dtype)
        x, t = make_batch()
        return _all_results(net, X_LAYOUTS[layout](x), t), _all_results(net, x, t)

    _assert_same(*in_child(run))


@pytest.mark.parametrize("layout", T_LAYOUTS)
def test_t_layouts_give_the_same_answer(layout: str, dtype: np.dtype) -> None:
    def run():
        net = make_net(dtype)
        x, t = make_batch()
        plain = np.eye(C)[t] if layout.startswith("one-hot") else t
        return _all_results(net, x, T_LAYOUTS[layout](t)), _all_results(net, x, plain)

    _assert_same(*in_child(run))


def test_broadcast_rows_give_the_same_answer(dtype: np.dtype) -> None:
    def run():
        net = make_net(dtype)
        x, t = make_batch()
        view = _broadcast_row(x)
        return _all_results(net, view, t), _all_results(net, np.array(view), t)

    _assert_same(*in_child(run))


def test_plain_arrays_agree_with_the_reference(dtype: np.dtype, tol: Any) -> None:
    """The yardstick of the layout tests above: the plain case is right."""

    def run():
        net = make_net(dtype)
        x, t = make_batch()
        return dict(net.params), _all_results(net, x, t)

    params, got = in_child(run)
    x, t = make_batch()
    ref = ReferenceNet.from_params({k: v.astype(np.float64) for k, v in params.items()})
    np.testing.assert_allclose(got["predict"], ref.predict(x), rtol=tol.rtol, atol=tol.atol)
    np.testing.assert_allclose(got["loss"], ref.loss(x, t), rtol=tol.rtol)
    assert got["accuracy"] == ref.accuracy(x, t)
    expected = ref.gradient(x, t)
    numerical = ref.numerical_gradient(x, t)
    for key in expected:
        np.testing.assert_allclose(
            got["gradient"][key], expected[key], rtol=10 * tol.rtol, atol=tol.atol, err_msg=key
        )
        for method in ("numerical_gradient", "numerical_gradient_naive"):
            np.testing.assert_allclose(
                got[method][key],
                numerical[key],
                rtol=10 * tol.rtol,
                atol=1e-9,
                err_msg=f"{method} {key}",
            )
