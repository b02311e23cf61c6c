"""``TwoLayerClassifier``: a scikit-learn estimator over :class:`~twolayer.TwoLayerNet` and
:func:`~twolayer.training.train` (the ``twolayer[sklearn]`` extra).

>>> from sklearn.model_selection import GridSearchCV
>>> from twolayer.sklearn import TwoLayerClassifier
>>> search = GridSearchCV(TwoLayerClassifier(), {"hidden_size": [20, 50]})  # doctest: +SKIP

Its parameters are the settings of ``TwoLayerNet`` and ``train`` as :mod:`twolayer.settings`
declares them (a setting declared there is a parameter here), plus scikit-learn's own, with
``MLPClassifier``'s names and meanings. docs/sklearn.md tells the details.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import re
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError(
        "twolayer.sklearn needs scikit-learn 1.6.1 or later: pip install 'twolayer[sklearn]'"
    ) from exc

from . import training
from ._threads import check_thread_count, get_num_threads, set_num_threads
from .net import TwoLayerNet
from .settings import Constraint, Int, NetSettings, Real, Setting, TrainSettings

__all__ = ["TwoLayerClassifier"]


class Parameter(NamedTuple):
    """One parameter of the estimator: its name, default, meaning and the values it takes (None:
    any; the flags are read as truth values, random_state as _generator reads it)."""

    name: str
    default: Any
    help: str
    constraint: Constraint | None = None


# scikit-learn's parameters, as MLPClassifier names and means them.
ESTIMATOR_PARAMETERS = (
    Parameter(
        "max_iter", 200, "The most epochs (passes over the data) that fit trains for.", Int(1)
    ),
    Parameter(
        "random_state",
        None,
        "An int for repeatable fits; None draws fresh entropy from the system (never from "
        "NumPy's global generator); a RandomState or Generator is drawn from.",
    ),
    Parameter(
        "early_stopping",
        False,
        "Hold out validation_fraction of the training data (stratified) and stop when its "
        "accuracy has not improved by tol for n_iter_no_change epochs; the best weights are kept.",
    ),
    Parameter(
        "validation_fraction",
        0.1,
        "The fraction held out by early_stopping.",
        Real(above=0, below=1),
    ),
    Parameter(
        "n_iter_no_change",
        10,
        "Epochs without an improvement of tol (of the validation accuracy with early_stopping, "
        "else of the training loss) after which fit stops.",
        Int(1),
    ),
    Parameter(
        "tol", 1e-4, "The least improvement that counts (see n_iter_no_change).", Real(at_least=0)
    ),
    Parameter("warm_start", False, "fit goes on from the weights of the last fit."),
    Parameter("verbose", False, "Print each epoch's loss (and validation accuracy)."),
    Parameter(
        "num_threads",
        None,
        "Threads of the C++ core during fit and predict; None: the core's current count "
        "(its share of the CPUs in a joblib worker).",
        Int(1, optional=True),
    ),
)
# The declared settings that the estimator sets itself, and from what: the rest are parameters.
_SUPPLIED = {
    "seed": "random_state",
    "iters_num": "max_iter",
    "epochs": "max_iter",
    "train_size": "the data",
    "validation_size": "validation_fraction",
    "eval_every": "the estimator's evaluation after each epoch",
    "eval_samples": "the estimator's evaluation after each epoch",
    "gradient": "backprop always: the numerical gradient is for checking it, not for fitting",
}
# The estimator's own defaults. scikit-learn's estimators shuffle every epoch (the book samples with
# replacement). The book's weight_init_std=0.01 suits MNIST (600 steps an epoch); on small data its
# sigmoid plateau outlasts the stopping rule (make_blobs' 300 samples, 3 steps an epoch: 35%
# accuracy), where 0.1 learns (92%; digits 97%).
_DEFAULTS = {"sampling": "shuffle", "weight_init_std": 0.1}


def _library_parameters(declared: dict[str, Setting]) -> tuple[Parameter, ...]:
    """The declared settings (twolayer.settings) that are the estimator's parameters."""
    return tuple(_parameter(setting) for name, setting in declared.items() if name not in _SUPPLIED)


def _parameter(setting: Setting) -> Parameter:
    default = _DEFAULTS.get(setting.name, setting.default)
    # The help is argparse's: its "(default: %(default)s)" is said apart here.
    text = re.sub(r"\s*\(default: (%\(default\)s|[^)]*)\)", "", setting.help).replace("%%", "%")
    return Parameter(setting.name, default, text[:1].upper() + text[1:] + ".")


NET_PARAMETERS = _library_parameters(NetSettings.declared())
TRAIN_PARAMETERS = _library_parameters(TrainSettings.declared())
PARAMETERS = NET_PARAMETERS + TRAIN_PARAMETERS + ESTIMATOR_PARAMETERS
_SIGNATURE = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [
        inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default)
        for p in PARAMETERS
    ]
)


class TwoLayerClassifier(ClassifierMixin, BaseEstimator):
    """The book's two-layer network as a scikit-learn classifier: any number of features and
    classes, any labels (``classes_``), float32 or float64 inputs read in place.

    Each epoch is one call of :func:`~twolayer.training.train` (a pass over the data, shuffled
    by default). ``fit`` trains a new network (or, with ``warm_start``, the last one) for up to
    ``max_iter`` epochs; ``partial_fit`` trains one epoch (``classes=`` on the first call).

    Attributes
    ----------
    classes_ : the labels, sorted.
    n_features_in_, feature_names_in_ : the inputs' width, and their names when fit had them.
    net_ : the fitted :class:`~twolayer.TwoLayerNet`.
    n_iter_ : epochs trained.
    loss_curve_ : each epoch's mean mini-batch loss.
    best_loss_ : the lowest of loss_curve_ (None with early_stopping).
    validation_scores_, best_validation_score_ : with early_stopping, each epoch's validation
        accuracy and the best of them (whose weights net_ holds); None without it.
    """

    classes_: NDArray[Any]
    net_: TwoLayerNet
    n_iter_: int
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    _rng: np.random.Generator

    def __init__(self, **params: Any) -> None:
        # The signature is _SIGNATURE's (scikit-learn reads the parameters from it): binding to it
        # refuses an unknown or positional argument with the TypeError a written signature gives.
        bound = _SIGNATURE.bind(self, **params)
        bound.apply_defaults()
        for name in _SIGNATURE.parameters:
            if name != "self":
                setattr(self, name, bound.arguments[name])

    def fit(self, X: ArrayLike, y: ArrayLike) -> TwoLayerClassifier:
        """Train on X (n_samples, n_features) and labels y for up to max_iter epochs."""
        return self._fit(X, y, classes=None, incremental=False)

    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None
    ) -> TwoLayerClassifier:
        """Train one epoch on X and y; the first call needs every label in `classes`."""
        return self._fit(X, y, classes=classes, incremental=True)

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """The probability of each class (the columns in the order of classes_)."""
        check_is_fitted(self)
        params = self.get_params(deep=False)
        X = validate_data(self, X, reset=False, dtype=_input_dtypes(params["dtype"]), order="C")
        with _core_threads(params["num_threads"]):
            probabilities: NDArray[Any] = self.net_.predict(X)
        return probabilities

    def predict_log_proba(self, X: ArrayLike) -> NDArray[Any]:
        """The log of predict_proba."""
        with np.errstate(divide="ignore"):  # a probability of 0 is a log of -inf, as it should be
            logs: NDArray[Any] = np.log(self.predict_proba(X))
        return logs

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The most probable class of each sample."""
        most_probable = np.argmax(self.predict_proba(X), axis=1)
        labels: NDArray[Any] = self.classes_[most_probable]
        return labels

    def _fit(
        self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None, incremental: bool
    ) -> TwoLayerClassifier:
        params = self.get_params(deep=False)
        _check_estimator_parameters(params)
        # train's settings, checked once: one epoch a call, evaluated on one sample after its first
        # step (as good as not at all; the estimator evaluates after each epoch).
        run = {"epochs": 1, "eval_samples": 1, **{p.name: params[p.name] for p in TRAIN_PARAMETERS}}
        TrainSettings(**run)  # (before anything is allocated: SettingError naming the setting)
        fresh = not hasattr(self, "net_") or not (incremental or params["warm_start"])
        x: NDArray[Any]
        labels: NDArray[Any]
        x, labels = validate_data(
            self, X, y, reset=fresh, dtype=_input_dtypes(params["dtype"]), order="C"
        )
        check_classification_targets(labels)
        if fresh or not incremental:  # every fit draws anew from random_state, as MLPClassifier's
            self._rng = _generator(params["random_state"])
        if fresh:
            if incremental and classes is None:
                raise ValueError("classes must be given on the first call of partial_fit")
            self._start(params, x.shape[1], np.unique(labels if classes is None else classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes must be {self.classes_}, as before; got {classes}")
        targets = self._encoded(labels)
        with _core_threads(params["num_threads"]):
            if incremental:
                self._epoch(params, run, x, targets, None)
            else:
                self._epochs(params, run, x, targets)
        return self

    def _start(self, params: dict[str, Any], n_features: int, classes: NDArray[Any]) -> None:
        """A new network of random weights, and a new record of its training."""
        net_settings = {p.name: params[p.name] for p in NET_PARAMETERS}
        self.classes_ = classes
        self.net_ = TwoLayerNet(
            input_size=n_features,
            output_size=len(classes),
            seed=int(self._rng.integers(2**63)),
            **net_settings,
        )
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.best_loss_ = None
        self.validation_scores_ = None
        self.best_validation_score_ = None

    def _encoded(self, y: NDArray[Any]) -> NDArray[np.int64]:
        """y as indices into classes_, or a ValueError naming the labels that are not there."""
        indices = np.minimum(np.searchsorted(self.classes_, y), len(self.classes_) - 1)
        unknown = self.classes_[indices] != y
        if np.any(unknown):
            raise ValueError(
                f"y holds labels that are not in classes_ {self.classes_}: {np.unique(y[unknown])}"
            )
        return indices.astype(np.int64)

    def _epochs(
        self, params: dict[str, Any], run: dict[str, Any], X: NDArray[Any], t: NDArray[np.int64]
    ) -> None:
        """fit: up to max_iter epochs, stopped as MLPClassifier stops."""
        validation = None
        if params["early_stopping"]:
            X, x_val, t, t_val = train_test_split(
                X,
                t,
                test_size=params["validation_fraction"],
                stratify=t if _stratifiable(t, params["validation_fraction"]) else None,
                random_state=int(self._rng.integers(2**32)),
            )
            validation = (x_val, t_val)
            self.validation_scores_, self.best_loss_ = [], None
        stopping = _Stopping(params["tol"], params["n_iter_no_change"])
        for _ in range(params["max_iter"]):
            score = self._epoch(params, run, X, t, validation)
            if stopping.done(self.loss_curve_[-1] if score is None else -score, self.net_):
                if params["verbose"]:
                    tol, epochs = params["tol"], params["n_iter_no_change"]
                    print(f"No improvement of more than tol={tol} in {epochs} epochs: stopping")
                break
        else:
            warnings.warn(
                f"{params['max_iter']} epochs (max_iter) ended before the loss converged",
                ConvergenceWarning,
                stacklevel=4,  # the caller of fit
            )
        if validation is not None:
            self.net_.params = stopping.best_params
            self.best_validation_score_ = -stopping.best

    def _epoch(
        self,
        params: dict[str, Any],
        run: dict[str, Any],
        X: NDArray[Any],
        t: NDArray[np.int64],
        validation: tuple[NDArray[Any], NDArray[np.int64]] | None,
    ) -> float | None:
        """One epoch, a call of train with the settings `run`; the validation accuracy after it
        when there is a validation set."""
        # train measures accuracy on the whole sets after the last step: its "test set" is the
        # validation set, if any.
        evaluated = validation if validation is not None else (X[:1], t[:1])
        seed = int(self._rng.integers(2**63))
        history = training.train(self.net_, X, t, *evaluated, seed=seed, progress=False, **run)
        if history.interrupted:  # train stops at Ctrl-C; a search over many fits must stop too
            raise KeyboardInterrupt
        self.n_iter_ += 1
        loss = float(np.mean(history.train_loss_list))
        self.loss_curve_.append(loss)
        score = history.final_test_acc if validation is not None else None
        if score is None:
            self.best_loss_ = loss if self.best_loss_ is None else min(self.best_loss_, loss)
        else:
            assert self.validation_scores_ is not None
            self.validation_scores_.append(score)
        if params["verbose"]:
            shown = "" if score is None else f", validation accuracy = {score:.4f}"
            print(f"Epoch {self.n_iter_}, loss = {loss:.6f}{shown}", flush=True)
        return score


class _Stopping:
    """MLPClassifier's rule: stop once `value` (lower is better) has not fallen below the best by
    more than `tol` for more than `patience` epochs in a row; keep the parameters of the best."""

    def __init__(self, tol: float, patience: int) -> None:
        self.tol, self.patience = tol, patience
        self.best = math.inf
        self.count = 0
        self.best_params: dict[str, NDArray[Any]] = {}

    def done(self, value: float, net: TwoLayerNet) -> bool:
        self.count = self.count + 1 if value > self.best - self.tol else 0
        if value < self.best:
            self.best = value
            self.best_params = {key: array.copy() for key, array in net.params.items()}
        return self.count > self.patience


def _stratifiable(t: NDArray[np.int64], fraction: float) -> bool:
    """Whether a validation set of `fraction` of labels `t` can be stratified (as MLPClassifier's
    is): with a sample of every class on both sides (train_test_split's rule)."""
    held_out = math.ceil(fraction * len(t))
    classes = np.count_nonzero(np.bincount(t))
    return bool(np.bincount(t)[np.unique(t)].min() >= 2 and classes <= held_out <= len(t) - classes)


def _check_estimator_parameters(params: dict[str, Any]) -> None:
    """scikit-learn's parameters checked by their constraints (the library checks its own
    settings): SettingError naming the parameter."""
    for parameter in ESTIMATOR_PARAMETERS:
        if parameter.constraint is not None:
            parameter.constraint.check(parameter.name, params[parameter.name])
    if params["num_threads"] is not None:
        check_thread_count(int(params["num_threads"]), "num_threads")
    _generator(params["random_state"])


def _generator(random_state: Any) -> np.random.Generator:
    """The generator of a fit's draws: the initial weights, the split, every epoch's batches."""
    if random_state is None:  # the system's entropy: NumPy's global generator is left alone
        return np.random.default_rng()
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    if isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state.integers(2**63))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if int(random_state) >= 0:
            return np.random.default_rng(int(random_state))
    raise ValueError(
        "random_state must be None, a non-negative int, a RandomState or a Generator, "
        f"got {random_state!r}"
    )


def _input_dtypes(dtype: Any) -> list[Any]:
    """The input dtypes read in place, the net's first (others are converted to it)."""
    with contextlib.suppress(TypeError):
        if np.dtype(dtype) == np.float32:
            return [np.float32, np.float64]
    return [np.float64, np.float32]  # (a dtype that is neither is refused by TwoLayerNet)


@contextlib.contextmanager
def _core_threads(count: int | None) -> Iterator[None]:
    """The core on `count` threads for the block (None: as it is)."""
    if count is None:
        yield
        return
    before = get_num_threads()
    set_num_threads(int(count))
    try:
        yield
    finally:
        set_num_threads(before)


def _parameters_doc() -> str:
    lines = ["", "    Parameters", "    ----------"]
    for p in PARAMETERS:
        lines += [f"    {p.name} : default {p.default!r}", f"        {p.help}"]
    return "\n".join(lines) + "\n"


TwoLayerClassifier.__init__.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
TwoLayerClassifier.__doc__ = (TwoLayerClassifier.__doc__ or "") + _parameters_doc()
