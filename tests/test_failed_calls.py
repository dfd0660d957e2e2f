"""Calls that fail leave a fitted estimator as it was; messages name the problem."""

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_bsp import BSPClassifier, BSPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def data():
    return make_classification(n_samples=300, n_features=12, random_state=0)


def _fitted(X, y, **params):
    clf = BSPClassifier(
        hidden_layer_sizes=(16,),
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=3,
        max_iter=8,
        random_state=0,
        **params,
    )
    return clf.fit(X, y)


def _state(est):
    opt = est._optimizer
    return {
        "coefs": [c.copy() for c in est.coefs_],
        "intercepts": [b.copy() for b in est.intercepts_],
        "masks": [m.copy() for m in est.coef_masks_],
        "counters": [c.copy() for c in est.pruning_counters_],
        "slots": [{k: v.copy() for k, v in s.items()} for s in opt.slots],
        "n_iter": est.n_iter_,
        "t": est.t_,
        "loss_curve": list(est.loss_curve_),
        "compression_curve": list(est.compression_curve_),
    }


def _assert_same(a, b):
    for key in ("coefs", "intercepts", "masks", "counters"):
        for x, y in zip(a[key], b[key]):
            np.testing.assert_array_equal(x, y)
    for sa, sb in zip(a["slots"], b["slots"]):
        assert sa.keys() == sb.keys()
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k])
    for key in ("n_iter", "t", "loss_curve", "compression_curve"):
        assert a[key] == b[key]


@pytest.mark.parametrize(
    "name, value",
    [
        ("pruning_patience", -1),
        ("pruning_patience", 2.5),
        ("pruning_rate", "0.1"),
        ("max_compression", 1.5),
        ("max_compression", float("nan")),
        ("target_compression", 1.0),
        ("dropout", 1.0),
    ],
)
def test_partial_fit_validates_like_fit_before_touching_state(data, name, value):
    X, y = data
    clf = _fitted(X, y)
    before = _state(clf)
    clf.set_params(**{name: value})
    with pytest.raises(InvalidParameterError, match=name):
        clf.partial_fit(X, y)
    _assert_same(before, _state(clf))
    assert all(np.isfinite(c).all() for c in clf.coefs_)
    with pytest.raises(InvalidParameterError, match=name):
        clf.fit(X, y)


class _Boom:
    """A callback that raises at the end of the first epoch it sees."""

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        if context.task_name == "epoch":
            raise RuntimeError("boom")
        return False

    def teardown(self, estimator, context):
        pass


@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
def test_an_error_mid_training_leaves_the_fitted_network_as_it_was(data, method):
    X, y = data
    clf = _fitted(X, y)
    before = _state(clf)
    proba = clf.predict_proba(X)
    clf.set_callbacks(_Boom())
    with pytest.raises(RuntimeError, match="boom"):
        if method == "partial_fit":
            clf.partial_fit(X, y)
        else:
            clf.set_params(warm_start=True).fit(X, y)
    _assert_same(before, _state(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    # And it trains on as if nothing had happened.
    clf.set_callbacks()
    clf.set_params(warm_start=False)
    reference = _fitted(X, y)
    np.testing.assert_array_equal(
        clf.partial_fit(X, y).coefs_[0], reference.partial_fit(X, y).coefs_[0]
    )


def test_model_loaded_read_only_keeps_training(data, tmp_path):
    X, y = data
    clf = _fitted(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path, mmap_mode="r")
    # Weights travel packed (alive entries only); biases are memory-mapped.
    assert not loaded.intercepts_[0].flags.writeable
    expected = joblib.load(path).partial_fit(X, y)
    loaded.partial_fit(X, y)
    for a, b in zip(
        loaded.coefs_ + loaded.intercepts_, expected.coefs_ + expected.intercepts_
    ):
        np.testing.assert_array_equal(a, b)
    # The file was not written to.
    np.testing.assert_array_equal(joblib.load(path).coefs_[0], clf.coefs_[0])


def test_regressor_says_when_y_has_another_number_of_outputs():
    X, y = make_regression(n_samples=100, n_features=5, random_state=0)
    reg = BSPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    reg.fit(X, y / y.std())
    coef = reg.coefs_[0].copy()
    with pytest.raises(ValueError, match="y has 2 output.*previous fit has 1"):
        reg.partial_fit(X, np.column_stack([y, y]))
    np.testing.assert_array_equal(reg.coefs_[0], coef)
    with pytest.raises(ValueError, match="hidden_layer_sizes is \\[8\\]"):
        reg.set_params(hidden_layer_sizes=(8,)).partial_fit(X, y)


def test_prediction_follows_a_changed_activation(data):
    # A heavily pruned logistic network whose hidden neurons lost all their
    # inputs: the compacted network folds f(bias) into the next layer, which
    # holds for the activation it was built with only.
    X, y = data
    clf = _fitted(X, y, activation="logistic", max_compression=None)
    clf.set_params(max_iter=40).fit(X, y)
    assert (~clf.coef_masks_[0].any(axis=0)).any()
    clf.set_params(activation="tanh")
    mlp = MLPClassifier(hidden_layer_sizes=(16,), activation="tanh").fit(X, y)
    mlp.coefs_ = [c.copy() for c in clf.coefs_]
    mlp.intercepts_ = [b.copy() for b in clf.intercepts_]
    np.testing.assert_allclose(clf.predict_proba(X), mlp.predict_proba(X), rtol=1e-6)
