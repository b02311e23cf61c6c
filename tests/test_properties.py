"""Property tests: on random sizes, dtypes, layouts and values the C++ net agrees with the NumPy
reference, and random garbage never crashes it.

Example counts are modest so that the suite stays fast (it also runs under the sanitizers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from isolation import in_child

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INPUT_DTYPES = ["<f8", ">f8", "<f4", "<f2", "<i8", "<i4", "i1", "u1"]


def _values(dtype: np.dtype) -> st.SearchStrategy:
    """Elements every net dtype holds exactly (so the reference sees what the net sees)."""
    if dtype.kind == "f":
        return st.floats(-4, 4, width=16 if dtype.itemsize == 2 else 32)
    return st.integers(0 if dtype.kind == "u" else -4, 4)


def _layout(draw: Any, x: np.ndarray) -> np.ndarray:
    """The same values in another memory layout."""
    kind = draw(st.sampled_from(["C", "F", "reversed", "strided"]))
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "reversed":
        return x[::-1].copy()[::-1]
    if kind == "strided":
        wide = np.zeros((x.shape[0], 2 * x.shape[1]), x.dtype)
        wide[:, ::2] = x
        return wide[:, ::2]
    return x


@st.composite
def problems(draw: Any, max_d: int = 10, max_h: int = 8, max_c: int = 6, max_n: int = 12):
    """A net (its sizes, dtype and weights) with a batch x and targets t for it."""
    D, H, C, N = (draw(st.integers(1, m)) for m in (max_d, max_h, max_c, max_n))
    net_dtype = np.dtype(draw(st.sampled_from([np.float64, np.float32])))
    net = TwoLayerNet(
        D,
        H,
        C,
        draw(st.sampled_from([0.01, 0.5, 2.0])),
        dtype=net_dtype,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    x_dtype = np.dtype(draw(st.sampled_from(INPUT_DTYPES)))
    x = draw(hnp.arrays(x_dtype, (N, D), elements=_values(x_dtype)))
    targets = draw(st.sampled_from(["labels", "one-hot", "rows"]))
    labels = draw(hnp.arrays(np.int64, N, elements=st.integers(0, C - 1)))
    if targets == "labels":
        t = labels
    elif targets == "one-hot":
        t = np.eye(C)[labels]
    else:  # the book's dummy targets: any rows
        t = draw(hnp.arrays(np.float32, (N, C), elements=st.floats(0, 1, width=32)))
    return net, _layout(draw, x), t


def _reference(net: TwoLayerNet) -> ReferenceNet:
    return ReferenceNet.from_params({k: v.astype(np.float64) for k, v in net.params.items()})


def _close(got: Any, expected: Any, tol: Any, what: str, scale: float = 1) -> None:
    rtol, atol = tol
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale, err_msg=what)


@FAST
@given(problems())
def test_predict_loss_gradient_agree_with_the_reference(tolerance: Any, problem: Any) -> None:
    net, x, t = problem
    tol = tolerance(net.dtype)
    ref, x64, t64 = _reference(net), np.asarray(x, np.float64), np.asarray(t, np.float64)
    if t.ndim == 1:
        t64 = t
    _close(net.predict(x), ref.predict(x64), tol, "predict")
    # the reference's loss takes rows (its label path breaks on one class, as the book's does)
    rows = np.eye(net.output_size)[t] if t.ndim == 1 else t64
    _close(net.loss(x, t), ref.loss(x64, rows), tol, "loss", scale=10)
    # the gradient sums N products of inputs up to 4: its rounding grows with both
    scale = x.shape[0] * (1 + np.abs(x64).max())
    got, expected = net.gradient(x, t), ref.gradient(x64, t64)
    for key in expected:
        _close(got[key], expected[key], tol, f"gradient {key}", scale)


@FAST
@given(problems())
def test_accuracy_agrees_with_the_reference_up_to_near_ties(tolerance: Any, problem: Any) -> None:
    net, x, t = problem
    ref, x64 = _reference(net), np.asarray(x, np.float64)
    t64 = t if t.ndim == 1 else np.asarray(t, np.float64)
    # Rows whose two most probable classes are closer than the rounding of the net's dtype may
    # go either way; every other row must be counted exactly as the reference counts it.
    y = np.sort(ref.predict(x64), axis=1)
    gap = y[:, -1] - y[:, -2] if y.shape[1] > 1 else np.ones(len(y))
    near_ties = int(np.sum(gap < 10 * tolerance(net.dtype).rtol))
    n = x.shape[0]
    assert abs(net.accuracy(x, t) * n - ref.accuracy(x64, t64) * n) <= near_ties + 1e-9


@settings(max_examples=25, deadline=None)
@given(problems(max_d=6, max_h=5, max_c=4, max_n=6), st.sampled_from(["incremental", "naive"]))
def test_numerical_gradient_agrees_with_the_reference(problem, method: str) -> None:
    """Both methods are the book's central differences, formed in float64 for both dtypes."""
    net, x, t = problem
    if t.ndim == 2:
        t = t.argmax(axis=1)  # the loss reads rows through their argmax: the same differences
    got = net.numerical_gradient(x, t, method=method)
    expected = _reference(net).numerical_gradient(np.asarray(x, np.float64), t)
    for key in expected:
        rtol = 1e-7 if net.dtype == np.float64 else 1e-6  # the float64 result rounded to dtype
        np.testing.assert_allclose(got[key], expected[key], rtol=rtol, atol=1e-9, err_msg=key)


# --- Garbage: any value in any argument gives a result or a clean exception -------------------

GARBAGE_DTYPES = [
    "?",
    "i1",
    "u1",
    "<i8",
    "<u8",
    "<f2",
    "<f4",
    "<f8",
    ">f4",
    ">f8",
    "g",
    "<c8",
    "<U3",
    "S2",
    "M8[s]",
    "m8[ms]",
]
CLEAN_ERRORS = (TypeError, ValueError, KeyError, MemoryError, OverflowError)


def garbage() -> st.SearchStrategy:
    arrays = hnp.arrays(
        st.sampled_from(GARBAGE_DTYPES).map(np.dtype),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
    )
    # Object arrays built by hand: the hypothesis of Python 3.9 cannot draw elements for dtype "O".
    objects = st.lists(st.integers() | st.text(max_size=2), max_size=5).map(
        lambda v: np.array([*v, None], dtype=object)
    )
    arrays = arrays | objects
    views = arrays.map(lambda a: a[::-1] if a.ndim else a) | arrays.map(lambda a: a.T)
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.complex_numbers()
        | st.text(max_size=3)
    )
    lists = st.lists(
        st.integers(-5, 5) | st.floats() | st.lists(st.floats(), max_size=6), max_size=6
    )
    return arrays | views | scalars | lists


def _call_with_garbage(data: Any) -> None:
    net = TwoLayerNet(
        data.draw(st.integers(1, 6)),
        data.draw(st.integers(1, 4)),
        data.draw(st.integers(1, 4)),
        dtype=data.draw(st.sampled_from([np.float64, np.float32])),
        seed=0,
    )
    action = data.draw(
        st.sampled_from(["predict", "loss", "accuracy", "gradient", "numerical", "params"])
    )
    x, t = data.draw(garbage()), data.draw(garbage())
    try:
        if action == "predict":
            net.predict(x)
        elif action in ("loss", "accuracy", "gradient"):
            getattr(net, action)(x, t)
        elif action == "numerical":
            method = data.draw(st.sampled_from(["incremental", "naive"]) | garbage())
            h = data.draw(st.sampled_from([1e-4]) | garbage())
            net.numerical_gradient(x, t, method=method, h=h)
        else:
            net.params[data.draw(st.sampled_from(["W1", "b1", "W2", "b2", "W3"]))] = x
    except CLEAN_ERRORS:
        pass
    except RuntimeWarning as warning:  # NumPy warns on overflowing casts; pytest makes it an error
        assert "overflow" in str(warning) or "invalid value" in str(warning), warning


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def _garbage_never_crashes(data: Any) -> None:
    _call_with_garbage(data)


def test_garbage_never_crashes() -> None:
    """Hypothesis runs in a forked child: a crash fails this test (the falsifying example is in
    the captured output) instead of killing the run."""
    in_child(_garbage_never_crashes, timeout=300)


# runs.jsonl: what a sweep writes it reads back; any value out of its field's range is refused.

_ACCURACY = st.floats(0, 1)
_RECORDS = st.fixed_dictionaries(
    {
        "settings": st.fixed_dictionaries({"iters_num": st.integers(1, 100)}),
        "seed": st.integers(0, 2**40),
        "status": st.sampled_from(["done", "diverged"]),
        "error": st.none() | st.text(max_size=20),
        "train_acc_list": st.lists(_ACCURACY, max_size=5),
        "test_acc_list": st.lists(_ACCURACY, max_size=5),
        "epoch_iters": st.lists(st.integers(0, 100), max_size=5),
        "final_train_acc": _ACCURACY,
        "final_test_acc": _ACCURACY,
        "wall_time": st.floats(0, 1e6),
    }
)
_OUT_OF_RANGE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 <= v <= 1),
    st.text(max_size=3),
    st.booleans(),
    st.lists(st.floats(0, 1), max_size=2),
)


@FAST
@given(st.lists(_RECORDS, max_size=4))
def test_the_run_log_reads_back_what_it_wrote(tmp_path_factory: Any, records: list) -> None:
    from twolayer.sweep import Run, RunLog

    log = RunLog(tmp_path_factory.mktemp("log") / "runs.jsonl")
    for record in records:
        log.append(record)
    runs = [Run(r["settings"], r["seed"]) for r in records]
    assert log.read(runs) == {run.key: record for run, record in zip(runs, records)}


@FAST
@given(_RECORDS, st.sampled_from(["final_train_acc", "final_test_acc"]), _OUT_OF_RANGE)
def test_an_accuracy_out_of_range_is_refused(record: dict, field: str, value: Any) -> None:
    import pytest

    from twolayer.sweep import check_record

    check_record(record)
    with pytest.raises(ValueError, match=field):
        check_record({**record, field: value})
