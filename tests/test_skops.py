"""Safe sharing with skops.io: only the estimator's own class needs trusting."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression

from sklearn_bsp import BSPClassifier, BSPRegressor

sio = pytest.importorskip("skops.io", reason="needs skops (test extra)")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(kind):
    if kind == "classifier":
        X, y = load_digits(return_X_y=True)
        return X[:600] / 16, y[:600]
    X, y = make_regression(n_samples=300, n_features=12, random_state=0)
    return X, y / y.std()


def _fitted(kind, solver):
    Estimator = BSPClassifier if kind == "classifier" else BSPRegressor
    est = Estimator(
        hidden_layer_sizes=(32,),
        solver=solver,
        pruning_rate=0.1,
        pruning_patience=3,
        max_iter=15,
        random_state=0,
    )
    X, y = _data(kind)
    return est.fit(X, y), X, y


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_round_trip_trusting_only_the_estimator_class(kind, solver, tmp_path):
    est, X, y = _fitted(kind, solver)
    assert est.compression_ > 0.2
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == [f"sklearn_bsp._{kind}.{type(est).__name__}"]
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    for name in ("coefs_", "intercepts_", "coef_masks_", "pruning_counters_"):
        for a, b in zip(getattr(est, name), getattr(loaded, name)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_pruning_resumes_after_loading(kind, tmp_path):
    est, X, y = _fitted(kind, "adam")
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    via_pickle = pickle.loads(pickle.dumps(est))
    kwargs = {"classes": np.unique(y)} if kind == "classifier" else {}
    for model in (est, loaded, via_pickle):
        for _ in range(3):
            model.partial_fit(X, y, **kwargs)
    for a, b, c in zip(est.coefs_, loaded.coefs_, via_pickle.coefs_):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert loaded.compression_curve_ == est.compression_curve_


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_round_trip_after_sparsify_coefs(kind, solver, tmp_path):
    import scipy.sparse as sp

    est, X, y = _fitted(kind, solver)
    expected = est.predict(X)
    est.sparsify_coefs()
    path = tmp_path / "model.skops"
    sio.dump(est, path)

    # The README's call: trust the estimator's class, nothing else.
    assert sio.get_untrusted_types(file=path) == [
        f"sklearn_bsp._{kind}.{type(est).__name__}"
    ]
    loaded = sio.load(path, trusted=[type(est)])

    np.testing.assert_array_equal(loaded.predict(X), expected)
    if kind == "classifier":
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    for a, b in zip(est.coefs_, loaded.coefs_):
        assert type(b) is sp.csr_matrix
        assert b.shape == a.shape and b.dtype == a.dtype
        for part in ("data", "indices", "indptr"):
            assert getattr(b, part).dtype == getattr(a, part).dtype
            np.testing.assert_array_equal(getattr(b, part), getattr(a, part))
    # Training resumes from the loaded model as from the original.
    for model in (est, loaded):
        model.set_params(warm_start=True, max_iter=2).fit(X, y)
    for a, b in zip(est.coefs_, loaded.coefs_):
        np.testing.assert_array_equal(a, b)
