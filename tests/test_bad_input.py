"""Bad input: every method of TwoLayerNet either refuses it, with an error that names the argument
(and the expected and actual shape or dtype), or answers rightly.

Every bad-input case runs in a forked child (``isolation.in_child``): a segfault, an abort, a
sanitizer report or a hang fails that case instead of the whole run.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from isolation import Case, expect_error, in_child, sanitized
from net_cases import BATCH_METHODS, TARGET_METHODS, C, D, H, N, make_batch, make_net

from twolayer import TwoLayerNet


def _masked() -> np.ma.MaskedArray:
    x = np.ma.masked_array(make_batch()[0])
    x[1, 2] = np.ma.masked
    return x


# fmt: off
BAD_X = [
    Case("3-d", lambda: np.zeros((2, 3, D)), ValueError, r"x must have shape \(N, 5\).*got \(2, 3, 5\)"),
    Case("wrong-features", lambda: np.zeros((N, D + 1)), ValueError, r"x must have shape \(N, 5\).*got \(6, 6\)"),
    Case("single-sample-wrong-length", lambda: np.zeros(D - 1), ValueError, r"x must have shape \(N, 5\) or \(5,\), got \(4,\)"),
    Case("scalar", lambda: 1.5, ValueError, r"x must have shape \(N, 5\).*got \(\)"),
    Case("empty-batch", lambda: np.zeros((0, D)), ValueError, r"x must hold at least one row, got \(0, 5\)"),
    Case("empty-sample", lambda: np.zeros(0), ValueError, r"x must have shape .*got \(0,\)"),
    Case("bool", lambda: np.ones((N, D), bool), TypeError, r"x must hold real numbers, got dtype bool"),
    Case("complex", lambda: np.ones((N, D), complex), TypeError, r"x must hold real numbers, got dtype complex128"),
    Case("object", lambda: np.ones((N, D), object), TypeError, r"x must hold real numbers, got dtype object"),
    Case("str", lambda: np.full((N, D), "1"), TypeError, r"x must hold real numbers, got dtype <U1"),
    Case("none", lambda: None, TypeError, r"x must hold real numbers, got dtype object"),
    Case("datetime", lambda: np.zeros((N, D), "M8[s]"), TypeError, r"x must hold real numbers, got dtype datetime64\[s\]"),
    Case("structured", lambda: np.zeros((N, D), [("a", "f8")]), TypeError, r"x must hold real numbers, got dtype \[\('a', '<f8'\)\]"),
    Case("ragged-list", lambda: [[0.0] * D, [0.0] * (D - 1)], ValueError, r"x must be an array of numbers: .*inhomogeneous"),
    Case("masked-entries", _masked, TypeError, r"x is a masked array with masked entries"),
]
# fmt: on


@pytest.mark.parametrize("method", BATCH_METHODS)
@pytest.mark.parametrize("case", BAD_X, ids=[c.id for c in BAD_X])
def test_bad_x(case: Case, method: str) -> None:
    call = BATCH_METHODS[method]
    expect_error(lambda: call(make_net(), case.value(), make_batch()[1]), case.exc, case.message)


@pytest.mark.parametrize("method", BATCH_METHODS)
def test_huge_batch_is_a_clean_memory_error(method: str) -> None:
    """2**40 copies of one row as a stride-0 view: the contiguous copy the core needs cannot be
    allocated, and that must be a MemoryError (the bindings dereferenced a null array here)."""

    def run():
        x = np.broadcast_to(np.zeros(D, np.float16), (2**40, D))
        t = np.broadcast_to(np.int64(0), (2**40,))
        return BATCH_METHODS[method](make_net(), x, t)

    expect_error(run, MemoryError, r"Unable to allocate .* \(1099511627776, 5\)")


LABELS_MSG = r"t must be labels of shape \(6,\) or rows of shape \(6, 3\) to match x, got "
# fmt: off
BAD_T = [
    Case("too-few-labels", lambda: np.zeros(N - 2, int), ValueError, LABELS_MSG + r"\(4,\)"),
    Case("too-many-labels", lambda: np.zeros(N + 1, int), ValueError, LABELS_MSG + r"\(7,\)"),
    Case("rows-of-wrong-width", lambda: np.eye(C + 1)[np.zeros(N, int)], ValueError, LABELS_MSG + r"\(6, 4\)"),
    Case("rows-too-few", lambda: np.eye(C)[np.zeros(N - 1, int)], ValueError, LABELS_MSG + r"\(5, 3\)"),
    Case("3-d", lambda: np.zeros((N, C, 1)), ValueError, LABELS_MSG + r"\(6, 3, 1\)"),
    Case("scalar", lambda: 1, ValueError, LABELS_MSG + r"\(\)"),
    Case("label-too-large", lambda: np.array([0, 1, 3, 0, 0, 0]), ValueError, r"t\[2\] = 3 is not a class label: expected 0 <= label < 3"),
    Case("label-negative", lambda: np.array([0, 1, 2, -1, 0, 0]), ValueError, r"t\[3\] = -1 is not a class label"),
    Case("label-uint64-past-int64", lambda: np.full(N, 2**64 - 1, np.uint64), ValueError, r"t\[0\] = 18446744073709551615 is not a class label"),
    Case("labels-float", lambda: np.zeros(N), TypeError, r"t of shape \(6,\) holds class labels and must be of an integer dtype, got float64"),
    Case("labels-bool", lambda: np.zeros(N, bool), TypeError, r"t must hold real numbers, got dtype bool"),
    Case("rows-bool", lambda: np.eye(C, dtype=bool)[np.zeros(N, int)], TypeError, r"t must hold real numbers, got dtype bool"),
    Case("complex", lambda: np.zeros(N, complex), TypeError, r"t must hold real numbers, got dtype complex128"),
    Case("object", lambda: np.zeros(N, object), TypeError, r"t must hold real numbers, got dtype object"),
    Case("str", lambda: np.array(list("012012")), TypeError, r"t must hold real numbers, got dtype <U1"),
    Case("none", lambda: None, TypeError, r"t must hold real numbers, got dtype object"),
    Case("ragged-list", lambda: [[0, 1, 0], [1]], ValueError, r"t must be an array of numbers"),
]
# fmt: on


@pytest.mark.parametrize("method", TARGET_METHODS)
@pytest.mark.parametrize("case", BAD_T, ids=[c.id for c in BAD_T])
def test_bad_t(case: Case, method: str) -> None:
    call = TARGET_METHODS[method]
    expect_error(lambda: call(make_net(), make_batch()[0], case.value()), case.exc, case.message)


# fmt: off
SINGLE_T = [
    Case("row-of-wrong-width", lambda: np.zeros(C + 1, int), ValueError, r"t must be labels of shape \(1,\) or rows of shape \(1, 3\) to match x, got \(4,\)"),
    Case("label-out-of-range", lambda: 3, ValueError, r"t\[0\] = 3 is not a class label"),
    Case("two-labels", lambda: [0, 1], ValueError, r"got \(2,\)"),
]
# fmt: on


@pytest.mark.parametrize("case", SINGLE_T, ids=[c.id for c in SINGLE_T])
def test_bad_t_for_one_sample(case: Case) -> None:
    expect_error(lambda: make_net().loss(make_batch()[0][0], case.value()), case.exc, case.message)


# --- Everything else: the constructor, params, numerical_gradient's options -------------------


def _assign(key: Any, value: Any) -> Callable[[], None]:
    def run():
        make_net().params[key] = value

    return run


def _assign_all(values: Any) -> Callable[[], None]:
    def run():
        net = make_net()
        net.params = values

    return run


def _params_of(**overrides: Any) -> dict:
    params = {k: np.array(v) for k, v in make_net().params.items()}
    params.update(overrides)
    return params


# fmt: off
OTHER = [
    # TwoLayerNet(input_size, hidden_size, output_size, weight_init_std, *, dtype, seed)
    Case("init-zero-size", lambda: TwoLayerNet(0, H, C), ValueError, r"input_size must be positive, got 0"),
    Case("init-negative-size", lambda: TwoLayerNet(D, -3, C), ValueError, r"hidden_size must be positive, got -3"),
    Case("init-float-size", lambda: TwoLayerNet(D, H, 2.5), TypeError, r"output_size must be an int, got float"),
    Case("init-str-size", lambda: TwoLayerNet("784", H, C), TypeError, r"input_size must be an int, got str"),
    Case("init-bool-size", lambda: TwoLayerNet(D, True, C), TypeError, r"hidden_size must be an int, got bool"),
    Case("init-sizes-overflow", lambda: TwoLayerNet(2**62, 2**62, 2), ValueError, r"a 4611686018427387904-4611686018427387904-2 network .* is too large to allocate"),
    Case("init-inputs-past-32-bits", lambda: TwoLayerNet(2**32, 1, 1, dtype=np.float32), ValueError, r"a 4294967296-1-1 network .* too large"),
    Case("init-size-past-size_t", lambda: TwoLayerNet(2**64, 1, 1), ValueError, r"a 18446744073709551616-1-1 network .* too large"),
    Case("init-float16", lambda: TwoLayerNet(D, H, C, dtype=np.float16), TypeError, r"dtype must be float64 or float32, got .*float16"),
    Case("init-int-dtype", lambda: TwoLayerNet(D, H, C, dtype="int32"), TypeError, r"dtype must be float64 or float32, got .*int32"),
    Case("init-junk-dtype", lambda: TwoLayerNet(D, H, C, dtype="junk"), TypeError, r"dtype must be float64 or float32, got 'junk'"),
    Case("init-std-str", lambda: TwoLayerNet(D, H, C, "0.01"), TypeError, r"weight_init_std must be a real number, got str"),
    Case("init-std-array", lambda: TwoLayerNet(D, H, C, np.ones(2)), TypeError, r"weight_init_std must be a real number, got ndarray"),
    Case("init-std-nan", lambda: TwoLayerNet(D, H, C, float("nan")), ValueError, r"weight_init_std must be finite, got nan"),
    Case("init-seed-negative", lambda: TwoLayerNet(D, H, C, seed=-1), ValueError, r"seed must be None or .* got -1"),
    Case("init-seed-str", lambda: TwoLayerNet(D, H, C, seed="abc"), TypeError, r"seed must be None or .* got 'abc'"),
    # params: a fixed set of four arrays of fixed shapes
    Case("params-unknown-key", _assign("W3", np.zeros((H, C))), KeyError, r"'W3' is not a parameter; the parameters are W1, b1, W2, b2"),
    Case("params-unhashable-key", _assign(["W1"], 0), KeyError, r"\['W1'\] is not a parameter"),
    Case("params-get-unknown-key", lambda: make_net().params["w1"], KeyError, r"'w1' is not a parameter"),
    Case("params-del", lambda: make_net().params.__delitem__("W1"), TypeError, r"cannot be removed"),
    Case("params-pop", lambda: make_net().params.pop("b1"), TypeError, r"cannot be removed"),
    Case("params-update-unknown", lambda: make_net().params.update(W9=1), KeyError, r"'W9' is not a parameter"),
    Case("params-transposed", _assign("W1", np.zeros((H, D))), ValueError, r"params\['W1'\] must have shape \(5, 4\), got \(4, 5\)"),
    Case("params-scalar", _assign("b1", 0.0), ValueError, r"params\['b1'\] must have shape \(4,\), got \(\)"),
    Case("params-broadcastable-row", _assign("W2", np.zeros(C)), ValueError, r"params\['W2'\] must have shape \(4, 3\), got \(3,\)"),
    Case("params-complex", _assign("W2", np.zeros((H, C), complex)), TypeError, r"params\['W2'\] must hold real numbers, got dtype complex128"),
    Case("params-bool", _assign("b2", np.zeros(C, bool)), TypeError, r"params\['b2'\] must hold real numbers, got dtype bool"),
    Case("params-object", _assign("b2", np.zeros(C, object)), TypeError, r"params\['b2'\] must hold real numbers, got dtype object"),
    Case("params-str", _assign("b2", ["0", "0", "0"]), TypeError, r"params\['b2'\] must hold real numbers, got dtype <U1"),
    Case("params-ragged", _assign("b2", [0, [1, 2], 0]), ValueError, r"params\['b2'\] must be an array of numbers"),
    Case("params-replace-not-a-mapping", _assign_all([1, 2]), TypeError, r"params must be assigned a mapping with keys W1, b1, W2, b2, got list"),
    Case("params-replace-missing-key", _assign_all({"W1": np.zeros((D, H))}), KeyError, r"missing: b1, W2, b2; unknown: none"),
    Case("params-replace-unknown-key", _assign_all(dict(_params_of(), W3=0)), KeyError, r"missing: none; unknown: 'W3'"),
    Case("params-replace-wrong-shape", _assign_all(_params_of(b2=np.zeros(C + 1))), ValueError, r"params\['b2'\] must have shape \(3,\), got \(4,\)"),
    # numerical_gradient(x, t, *, method, h)
    Case("method-unknown", lambda: make_net().numerical_gradient(*make_batch(), method="fast"), ValueError, r"method must be 'incremental' or 'naive', got 'fast'"),
    Case("method-case", lambda: make_net().numerical_gradient(*make_batch(), method="Naive"), ValueError, r"method must be .* got 'Naive'"),
    Case("method-int", lambda: make_net().numerical_gradient(*make_batch(), method=1), TypeError, r"method must be 'incremental' or 'naive', got 1"),
    Case("method-none", lambda: make_net().numerical_gradient(*make_batch(), method=None), TypeError, r"method must be .* got None"),
    Case("h-zero", lambda: make_net().numerical_gradient(*make_batch(), h=0), ValueError, r"h must be a positive finite number .* got 0\.0"),
    Case("h-negative", lambda: make_net().numerical_gradient(*make_batch(), h=-1e-4), ValueError, r"h must be a positive .* got -0\.0001"),
    Case("h-subnormal", lambda: make_net().numerical_gradient(*make_batch(), h=1e-320), ValueError, r"h must be .* at least 2\.2250738585072014e-308 .* got 1e-320"),
    Case("h-nan", lambda: make_net().numerical_gradient(*make_batch(), h=float("nan")), ValueError, r"h must be finite, got nan"),
    Case("h-inf", lambda: make_net().numerical_gradient(*make_batch(), h=float("inf")), ValueError, r"h must be finite, got inf"),
    Case("h-str", lambda: make_net().numerical_gradient(*make_batch(), h="1e-4"), TypeError, r"h must be a real number, got str"),
    Case("h-bool", lambda: make_net().numerical_gradient(*make_batch(), h=True), TypeError, r"h must be a real number, got bool"),
    Case("h-array", lambda: make_net().numerical_gradient(*make_batch(), h=np.array([1e-4])), TypeError, r"h must be a real number, got ndarray"),
    Case("h-complex", lambda: make_net().numerical_gradient(*make_batch(), h=1e-4j), TypeError, r"h must be a real number, got complex"),
]
# fmt: on


@pytest.mark.parametrize("case", OTHER, ids=[c.id for c in OTHER])
def test_bad_argument(case: Case) -> None:
    expect_error(case.value, case.exc, case.message)


@pytest.mark.skipif(
    sanitized(), reason="ASan reports a failed operator new as a fatal error instead of throwing"
)
def test_init_too_large_for_memory() -> None:
    # 2**48 parameters: more than any address space holds, so the allocation fails everywhere
    # (even where the kernel overcommits memory) and must come back as a MemoryError.
    expect_error(
        lambda: TwoLayerNet(2**24, 2**24, 2),
        MemoryError,
        r"not enough memory for a 16777216-16777216-2 network \(281475027042306 parameters",
    )


def test_failed_params_replacement_changes_nothing() -> None:
    def run():
        net = make_net()
        before = {k: v.copy() for k, v in net.params.items()}
        values = {k: v + 1 for k, v in before.items()}
        values["b2"] = np.zeros(C + 1)  # the last one checked is wrong
        with pytest.raises(ValueError, match=r"params\['b2'\]"):
            net.params = values
        return before, dict(net.params)

    before, after = in_child(run)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


def test_params_replacement_copies_into_the_views() -> None:
    def run():
        net, other = make_net(), TwoLayerNet(D, H, C, seed=7)
        view = net.params["W1"]
        net.params = other.params
        x = make_batch()[0]
        return view is net.params["W1"], view.copy(), net.predict(x), other.predict(x)

    same_view, view, mine, theirs = in_child(run)
    assert same_view
    np.testing.assert_array_equal(view, TwoLayerNet(D, H, C, seed=7).params["W1"])
    np.testing.assert_array_equal(mine, theirs)


def test_case_ids_are_unique() -> None:
    for table in (BAD_X, BAD_T, SINGLE_T, OTHER):
        ids = [case.id for case in table]
        assert len(ids) == len(set(ids)), ids
    assert sum(map(len, (BAD_X, BAD_T, SINGLE_T, OTHER))) >= 40
