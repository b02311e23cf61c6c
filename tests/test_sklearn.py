"""twolayer.sklearn.TwoLayerClassifier: scikit-learn's own checks, its parameters (those of
TwoLayerNet and train), any data, partial_fit, early stopping, randomness, threads, model
selection."""

from __future__ import annotations

import functools
import importlib
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


def _require(name: str):
    """Module `name`: the tests skip without it, except where $TWOLAYER_TEST_REQUIRES lists it
    (the CI steps that install it), where its absence fails them."""
    if name in os.environ.get("TWOLAYER_TEST_REQUIRES", "").split():
        return importlib.import_module(name)
    return pytest.importorskip(name)


_require("sklearn")

from joblib import cpu_count  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_blobs  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import twolayer  # noqa: E402
from twolayer import training  # noqa: E402
from twolayer.settings import NetSettings, TrainSettings  # noqa: E402
from twolayer.sklearn import ESTIMATOR_PARAMETERS, TwoLayerClassifier  # noqa: E402

# Most fits here (and in scikit-learn's checks) are a few epochs that end at max_iter on purpose;
# the tests of ConvergenceWarning ask for it.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks(
    [
        TwoLayerClassifier(),
        TwoLayerClassifier(
            dtype=np.float32, activation="relu", sampling="replacement", early_stopping=True
        ),
    ]
)
def test_scikit_learn_checks(estimator, check):
    """Every check passes: none is declared as expected to fail."""
    check(estimator)


@pytest.fixture
def train_calls(monkeypatch):
    """The calls the estimator makes of train (each an epoch), recorded around the real one."""
    calls = []
    real = training.train

    @functools.wraps(real)
    def recorded(net, x_train, t_train, x_test, t_test, **settings):
        calls.append(
            SimpleNamespace(
                x=x_train,
                evaluated=(x_test, t_test),
                settings=settings,
                threads=twolayer.get_num_threads(),
            )
        )
        return real(net, x_train, t_train, x_test, t_test, **settings)

    monkeypatch.setattr(training, "train", recorded)
    return calls


def blobs(n=120, features=5, classes=3, dtype=np.float64, seed=0):
    x, y = make_blobs(n_samples=n, n_features=features, centers=classes, random_state=seed)
    return x.astype(dtype), y


# ---------------------------------------------------------------------------------------------
# The parameters: TwoLayerNet's and train's settings, and scikit-learn's own


def library_settings():
    return set(NetSettings.declared()) | set(TrainSettings.declared())


def test_every_setting_of_the_net_and_of_train_is_a_parameter_or_set_by_the_estimator():
    from twolayer.sklearn import _SUPPLIED

    parameters = set(TwoLayerClassifier().get_params())
    own = {p.name for p in ESTIMATOR_PARAMETERS}
    assert library_settings() - set(_SUPPLIED) == parameters - own
    assert {"hidden_size", "activation", "weight_init_std", "dtype", "learning_rate"} <= parameters
    assert {"batch_size", "sampling", "max_iter", "random_state", "num_threads"} <= parameters
    assert TwoLayerClassifier().get_params()["sampling"] == "shuffle"


def test_the_settings_reach_the_network_and_train(train_calls):
    x, y = blobs()
    clf = TwoLayerClassifier(
        hidden_size=7,
        activation="relu",
        dtype=np.float32,
        learning_rate=0.05,
        batch_size=16,
        sampling="replacement",
        max_iter=3,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        clf.fit(x, y)
    net = clf.net_
    assert (net.input_size, net.hidden_size, net.output_size) == (5, 7, 3)
    assert (net.activation, net.dtype) == ("relu", np.float32)
    assert len(train_calls) == clf.n_iter_ == 3
    for call in train_calls:
        assert call.settings["epochs"] == 1 and "gradient" not in call.settings  # backprop
        assert call.settings["learning_rate"] == 0.05 and call.settings["batch_size"] == 16
        assert call.settings["sampling"] == "replacement"
    assert len({call.settings["seed"] for call in train_calls}) == 3  # a fresh shuffle each epoch


def test_the_signature_is_keyword_only_and_refuses_unknown_names():
    assert TwoLayerClassifier(hidden_size=20).get_params()["hidden_size"] == 20
    with pytest.raises(TypeError, match="hiden_size"):
        TwoLayerClassifier(hiden_size=20)
    with pytest.raises(TypeError):
        TwoLayerClassifier(20)
    assert "hidden_size : default 50" in TwoLayerClassifier.__doc__


@pytest.mark.parametrize(
    "setting, error, named",
    [
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"max_iter": 2.5}, TypeError, "max_iter"),
        ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
        ({"num_threads": 0}, ValueError, "num_threads"),
        ({"random_state": -1}, ValueError, "random_state"),
        ({"random_state": "seed"}, ValueError, "random_state"),
        ({"hidden_size": 0}, ValueError, "hidden_size"),
        ({"activation": "tanh"}, ValueError, "activation"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"learning_rate": -0.1}, ValueError, "learning_rate"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"sampling": "sorted"}, ValueError, "sampling"),
    ],
)
def test_a_bad_parameter_is_refused_by_fit_naming_it(setting, error, named):
    x, y = blobs(n=20)
    clf = TwoLayerClassifier(**setting)  # scikit-learn's convention: __init__ only stores them
    with pytest.raises(error, match=named):
        clf.fit(x, y)


# ---------------------------------------------------------------------------------------------
# Any data


def test_any_labels_any_number_of_features_and_classes():
    x, y = blobs(n=300, features=9, classes=6)
    names = np.array(["cat", "dog", "emu", "yak", "gnu", "owl"])
    clf = TwoLayerClassifier(random_state=0, max_iter=400, n_iter_no_change=400).fit(x, names[y])
    np.testing.assert_array_equal(clf.classes_, np.sort(names))
    assert clf.n_features_in_ == 9 and clf.net_.output_size == 6
    assert set(clf.predict(x)) <= set(names)
    assert clf.score(x, names[y]) > 0.9
    probabilities = clf.predict_proba(x)
    assert probabilities.shape == (300, 6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(probabilities))
    # The columns are in the order of classes_.
    np.testing.assert_array_equal(clf.classes_[probabilities.argmax(axis=1)], clf.predict(x))


def test_negative_and_sparse_integer_labels():
    x, y = blobs(n=90)
    labels = np.array([-7, 3, 1000])[y]
    clf = TwoLayerClassifier(random_state=0, max_iter=300).fit(x, labels)
    np.testing.assert_array_equal(clf.classes_, [-7, 3, 1000])
    assert clf.score(x, labels) > 0.9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_float64_inputs_are_read_in_place(train_calls, dtype):
    x, y = blobs(dtype=dtype)
    clf = TwoLayerClassifier(max_iter=2, n_iter_no_change=1).fit(x, y)
    assert all(call.x is x for call in train_calls)
    assert clf.predict_proba(x).shape == (len(x), 3)


def test_other_inputs_are_converted_to_the_networks_dtype(train_calls):
    x, y = blobs()
    TwoLayerClassifier(dtype=np.float32, max_iter=1, n_iter_no_change=1).fit(
        x.astype(np.float16), y
    )
    assert train_calls[0].x.dtype == np.float32


def test_sparse_input_is_refused_clearly():
    x, y = blobs()
    clf = TwoLayerClassifier(max_iter=1)
    with pytest.raises(TypeError, match="[Ss]parse data was passed"):
        clf.fit(sparse.csr_matrix(x), y)


def test_feature_names_are_kept():
    pandas = _require("pandas")
    x, y = blobs(features=3)
    frame = pandas.DataFrame(x, columns=["height", "width", "depth"])
    clf = TwoLayerClassifier(max_iter=5, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["height", "width", "depth"])
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(x)


# ---------------------------------------------------------------------------------------------
# Fitting: epochs, partial_fit, early stopping, warm start


def test_partial_fit_trains_one_epoch_per_call_and_needs_classes_first():
    x, y = blobs()
    clf = TwoLayerClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(x, y)
    clf.partial_fit(x[y != 2], y[y != 2], classes=[0, 1, 2])  # one class not there yet
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1 and clf.net_.output_size == 3
    net = clf.net_
    for _ in range(30):
        clf.partial_fit(x, y)
    assert clf.net_ is net and clf.n_iter_ == 31
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(x, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(x, y + 1)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(x[:, :2], y)


def test_fit_stops_when_the_loss_stops_improving():
    x, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = TwoLayerClassifier(tol=1.0, n_iter_no_change=2, random_state=0).fit(x, y)
    # As MLPClassifier: the first epoch sets the best, then more than n_iter_no_change without an
    # improvement of tol.
    assert clf.n_iter_ == 4
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_early_stopping_keeps_the_best_weights(train_calls):
    x, y = blobs(n=400, classes=4, seed=3)
    clf = TwoLayerClassifier(
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=3,
        max_iter=200,
        learning_rate=2.0,
        batch_size=10,
        random_state=0,
    ).fit(x, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(train_calls) < 200
    assert clf.best_validation_score_ == max(scores)
    x_val, t_val = train_calls[0].evaluated
    assert len(x_val) == 80 and len(train_calls[0].x) == 320
    assert np.bincount(t_val).tolist() == [20] * 4  # stratified
    assert clf.net_.accuracy(x_val, t_val) == clf.best_validation_score_
    assert clf.best_loss_ is None


def test_warm_start_goes_on_from_the_last_fit():
    x, y = blobs()
    clf = TwoLayerClassifier(max_iter=5, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    net, before = clf.net_, clf.net_.params["W1"].copy()
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    assert clf.net_ is net and clf.n_iter_ == 10 and len(clf.loss_curve_) == 10
    assert not np.array_equal(before, net.params["W1"])
    with pytest.warns(ConvergenceWarning):
        clf.set_params(warm_start=False).fit(x, y)
    assert clf.net_ is not net and clf.n_iter_ == 5


def test_verbose_prints_each_epoch(capsys):
    x, y = blobs()
    TwoLayerClassifier(
        verbose=True, max_iter=5, early_stopping=True, tol=1e9, n_iter_no_change=1
    ).fit(x, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Epoch 1, loss = ") and "validation accuracy = " in lines[0]
    assert lines[2].startswith("Epoch 3, loss = ") and "stopping" in lines[3]


def test_ctrl_c_in_an_epoch_stops_the_fit(monkeypatch):
    real = training.train

    @functools.wraps(real)
    def interrupted(*args, **settings):
        history = real(*args, **settings)
        history.interrupted = True  # as train returns it after a Ctrl-C
        return history

    monkeypatch.setattr(training, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        TwoLayerClassifier().fit(*blobs())


# ---------------------------------------------------------------------------------------------
# Randomness, copies, threads


def test_random_state_makes_fits_repeatable_and_the_global_generator_is_never_drawn():
    x, y = blobs()
    np.random.seed(1234)
    state = np.random.get_state()
    settings = dict(max_iter=4, early_stopping=True, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = TwoLayerClassifier(random_state=7, **settings).fit(x, y)
        b = TwoLayerClassifier(random_state=7, **settings).fit(x, y)
        c = TwoLayerClassifier(random_state=8, **settings).fit(x, y)
        fresh = [TwoLayerClassifier(**settings).fit(x, y) for _ in range(2)]
        TwoLayerClassifier(random_state=np.random.RandomState(0), **settings).fit(x, y)
        TwoLayerClassifier(random_state=np.random.default_rng(0), **settings).fit(x, y)
        TwoLayerClassifier().partial_fit(x, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert not np.array_equal(a.predict_proba(x), c.predict_proba(x))
    assert not np.array_equal(fresh[0].predict_proba(x), fresh[1].predict_proba(x))
    after = np.random.get_state()
    assert after[1].tolist() == state[1].tolist() and after[2:] == state[2:]


def test_pickle_clone_and_set_params():
    x, y = blobs()
    clf = TwoLayerClassifier(hidden_size=8, max_iter=20, random_state=0).fit(x, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))
    assert copy.loss_curve_ == clf.loss_curve_ and copy.n_iter_ == clf.n_iter_
    copy.partial_fit(x, y)  # the copy trains on, on its own
    assert copy.n_iter_ == clf.n_iter_ + 1
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "net_")
    fresh.set_params(hidden_size=4, learning_rate=0.5)
    assert fresh.get_params()["hidden_size"] == 4 and fresh.fit(x, y).net_.hidden_size == 4
    with pytest.raises(ValueError, match="Invalid parameter"):
        fresh.set_params(hiden_size=3)


def test_num_threads_holds_during_fit_and_predict_only(train_calls):
    x, y = blobs()
    before = twolayer.get_num_threads()
    clf = TwoLayerClassifier(num_threads=1, max_iter=2, n_iter_no_change=1)
    clf.fit(x, y)
    assert {call.threads for call in train_calls} == {1}
    assert twolayer.get_num_threads() == before
    clf.predict(x)
    assert twolayer.get_num_threads() == before


class ThreadsSeen(TwoLayerClassifier):
    """Records the core's thread count during fit (in whichever process fits it)."""

    def fit(self, X, y):
        self.threads_seen_ = twolayer.get_num_threads()
        return super().fit(X, y)


def test_each_joblib_worker_uses_its_share_of_the_cpus(monkeypatch):
    monkeypatch.delenv("TWOLAYER_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    x, y = blobs()
    fitted = cross_validate(
        ThreadsSeen(max_iter=2, n_iter_no_change=1),
        x,
        y,
        cv=2,
        n_jobs=2,
        return_estimator=True,
    )["estimator"]
    assert [clf.threads_seen_ for clf in fitted] == [max(1, cpu_count() // 2)] * 2


def test_grid_search_on_digits_with_two_workers():
    x, y = load_digits(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(MinMaxScaler(), TwoLayerClassifier(max_iter=30, random_state=0)),
        {"twolayerclassifier__hidden_size": [20, 50], "twolayerclassifier__learning_rate": [0.5]},
        cv=3,
        n_jobs=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    assert search.best_score_ > 0.9
    assert search.best_params_["twolayerclassifier__hidden_size"] in (20, 50)
    assert search.score(x, y) > 0.95


def test_the_benchmark_against_mlpclassifier_runs(tmp_path, mnist_dir):
    """bench/run.py's scikit-learn section, as a smoke test (--quick): its row, and no failure."""
    out = tmp_path / "results.json"
    run = Path(__file__).resolve().parents[1] / "bench" / "run.py"
    command = [sys.executable, str(run), "--quick", "--only", "scikit-learn", "--mnist"]
    command += [str(mnist_dir), "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    [row] = results["rows"]
    assert set(row["seconds"]) == {"TwoLayerClassifier", "train, one call", "MLPClassifier"}
    assert all(0.3 < a <= 1 for accuracies in row["test_accuracy"].values() for a in accuracies)
    assert results["failures"] == [] and "MLPClassifier / it" in done.stdout
