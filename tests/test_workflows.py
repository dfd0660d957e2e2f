"""What users do with it: pipelines, searches, cross-validation, persistence."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsp import BSPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


def _clf(**kwargs):
    params = dict(
        hidden_layer_sizes=(32,),
        target_compression=None,
        pruning_rate=0.1,
        pruning_patience=10,
        max_iter=20,
        random_state=0,
    )
    params.update(kwargs)
    return BSPClassifier(**params)


def test_pipeline_with_scaler(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), _clf()).fit(X[:1400], y[:1400])
    assert pipe.score(X[1400:], y[1400:]) > 0.8
    assert pipe[-1].compression_ > 0


def test_grid_search_over_alpha_and_hidden_layer_sizes(digits):
    X, y = digits
    grid = {
        "bspclassifier__alpha": [1e-4, 1e-1],
        "bspclassifier__hidden_layer_sizes": [(16,), (32,)],
    }
    search = GridSearchCV(make_pipeline(StandardScaler(), _clf()), grid, cv=3, n_jobs=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.75
    assert search.best_estimator_[-1].compression_ > 0
    # n_jobs does not change results.
    serial = GridSearchCV(make_pipeline(StandardScaler(), _clf()), grid, cv=3, n_jobs=1)
    serial.fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


def test_cross_val_score_next_to_mlpclassifier(digits):
    X, y = digits
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    params = dict(hidden_layer_sizes=(32,), max_iter=20, random_state=0)
    bsp = cross_val_score(make_pipeline(StandardScaler(), _clf(**params)), X, y, cv=cv)
    mlp = cross_val_score(
        make_pipeline(StandardScaler(), MLPClassifier(**params)), X, y, cv=cv
    )
    dense = cross_val_score(
        make_pipeline(
            StandardScaler(),
            BSPClassifier(target_compression=None, pruning_rate=0, **params),
        ),
        X,
        y,
        cv=cv,
    )
    assert bsp.shape == mlp.shape == (3,)
    np.testing.assert_allclose(dense, mlp)  # same folds, same model when dense
    assert bsp.mean() > mlp.mean() - 0.05


def test_clone_get_set_params():
    clf = _clf(pruning_unit="epoch", dropout=0.1)
    params = clf.get_params()
    for name in (
        "pruning_rate",
        "pruning_patience",
        "pruning_unit",
        "pruning_scope",
        "dropout",
    ):
        assert name in params
    twin = clone(clf)
    assert twin.get_params() == params and twin is not clf
    twin.set_params(
        target_compression=None, pruning_rate="auto", pruning_scope="network"
    )
    assert twin.pruning_rate == "auto" and twin.pruning_scope == "network"


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_persistence_round_trip_predicts_the_same(digits, how, tmp_path):
    X, y = digits
    clf = _clf().fit(X / 16, y)
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(
        loaded.predict_proba(X / 16), clf.predict_proba(X / 16)
    )
    for a, b in zip(loaded.coef_masks_, clf.coef_masks_):
        np.testing.assert_array_equal(a, b)
    assert loaded.compression_ == clf.compression_


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_pickle_size_follows_alive_synapses_and_round_trip_is_exact(digits, solver):
    X, y = digits
    pruned = _clf(
        solver=solver, target_compression=None, pruning_rate=0.2, pruning_patience=3
    ).fit(X / 16, y)
    dense = _clf(solver=solver, target_compression=None, pruning_rate=0).fit(X / 16, y)
    assert pruned.compression_ > 0.6
    size_pruned = len(pickle.dumps(pruned))
    size_dense = len(pickle.dumps(dense))
    assert size_pruned < (1 - pruned.compression_ / 2) * size_dense
    loaded = pickle.loads(pickle.dumps(pruned))
    for name in ("coefs_", "intercepts_", "coef_masks_", "pruning_counters_"):
        for a, b in zip(getattr(pruned, name), getattr(loaded, name)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    for slot, loaded_slot in zip(pruned._optimizer.slots, loaded._optimizer.slots):
        assert slot.keys() == loaded_slot.keys()
        for key in slot:
            np.testing.assert_array_equal(slot[key], loaded_slot[key])
    # Pickling does not touch the live estimator.
    assert all(isinstance(c, np.ndarray) for c in pruned.coefs_)


def test_sparsify_coefs_densify_coefs_round_trip(digits):
    import scipy.sparse as sp

    X, y = digits
    clf = _clf(target_compression=None, pruning_rate=0.2, pruning_patience=3).fit(
        X / 16, y
    )
    proba = clf.predict_proba(X / 16)
    dense = [c.copy() for c in clf.coefs_]
    assert clf.sparsify_coefs() is clf
    assert all(sp.issparse(c) for c in clf.coefs_)
    assert sum(c.nnz for c in clf.coefs_) <= sum(m.sum() for m in clf.coef_masks_)
    np.testing.assert_allclose(clf.predict_proba(X / 16), proba, rtol=1e-6)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(loaded.predict_proba(X / 16), proba, rtol=1e-6)
    clf.densify_coefs()
    for a, b in zip(dense, clf.coefs_):
        assert isinstance(b, np.ndarray)
        np.testing.assert_array_equal(a, b)
    # Training again goes through dense arrays and keeps the masks.
    clf.sparsify_coefs().set_params(warm_start=True, max_iter=2).fit(X / 16, y)
    assert all(isinstance(c, np.ndarray) for c in clf.coefs_)
    for c, m in zip(clf.coefs_, clf.coef_masks_):
        assert np.all(c[~m] == 0)
