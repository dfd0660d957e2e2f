"""BSPRegressor: parity with MLPRegressor, pruning, workflows."""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsp import BSPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(
        n_samples=300, n_features=12, n_informative=8, noise=0.5, random_state=0
    )
    return StandardScaler().fit_transform(X), y / y.std()


def _assert_same_network(a, b, rtol, dtype=None):
    assert len(a.coefs_) == len(b.coefs_)
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        # MLPRegressor's L-BFGS leaves float64 weights behind for float32
        # input (it unpacks scipy's float64 vector); BSPRegressor keeps the
        # input's precision.
        assert cb.dtype == (dtype or ca.dtype)
        np.testing.assert_allclose(ca, cb, rtol=rtol, atol=1e-12)
    if hasattr(a, "loss_curve_"):
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    assert a.n_iter_ == b.n_iter_


PARITY_CASES = {
    "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.01),
    "sgd-invscaling": dict(
        solver="sgd", nesterovs_momentum=False, learning_rate="invscaling"
    ),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam-two-layers-tanh": dict(hidden_layer_sizes=(15, 7), activation="tanh"),
    "adam-early-stopping": dict(early_stopping=True),
    "lbfgs": dict(solver="lbfgs"),
    "poisson-adam": dict(loss="poisson"),
    "poisson-lbfgs": dict(loss="poisson", solver="lbfgs"),
}


@pytest.mark.parametrize("case", PARITY_CASES.values(), ids=PARITY_CASES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_pruning_equals_mlpregressor(data, case, dtype):
    X, y = data
    if case.get("loss") == "poisson":
        y = np.exp(y / 2)
    X = X.astype(dtype)
    params = {"hidden_layer_sizes": (20,), "max_iter": 15, "random_state": 0, **case}
    mlp = MLPRegressor(**params).fit(X, y)
    bsp = BSPRegressor(target_compression=None, pruning_rate=0, **params).fit(X, y)
    _assert_same_network(
        mlp, bsp, rtol=1e-12 if dtype == np.float64 else 1e-5, dtype=dtype
    )
    np.testing.assert_allclose(mlp.predict(X), bsp.predict(X), rtol=1e-5, atol=1e-5)
    assert bsp.out_activation_ == mlp.out_activation_
    assert bsp.compression_ == 0.0


def test_multi_output_and_sample_weight_parity(data):
    X, y = data
    Y = np.c_[y, -2 * y + 1, y**2]
    sw = np.linspace(0.2, 2.0, len(y))
    params = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0)
    mlp = MLPRegressor(**params).fit(X, Y, sample_weight=sw)
    bsp = BSPRegressor(target_compression=None, pruning_rate=0, **params).fit(
        X, Y, sample_weight=sw
    )
    _assert_same_network(mlp, bsp, rtol=1e-12)
    assert bsp.predict(X).shape == (len(y), 3)
    assert bsp.n_outputs_ == 3


def test_partial_fit_parity(data):
    X, y = data
    params = dict(hidden_layer_sizes=(16,), random_state=0, solver="sgd")
    mlp, bsp = (
        MLPRegressor(**params),
        BSPRegressor(target_compression=None, pruning_rate=0, **params),
    )
    for start in range(0, 300, 100):
        mlp.partial_fit(X[start : start + 100], y[start : start + 100])
        bsp.partial_fit(X[start : start + 100], y[start : start + 100])
    _assert_same_network(mlp, bsp, rtol=1e-12)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_pruning_regressor_compresses_and_fits(data, solver):
    X, y = data
    params = dict(hidden_layer_sizes=(64,), solver=solver, random_state=0)
    params.update(max_iter=200, learning_rate_init=0.01)
    bsp = BSPRegressor(
        target_compression=None, pruning_rate=0.05, pruning_patience=10, **params
    ).fit(X, y)
    mlp = MLPRegressor(**params).fit(X, y)
    assert bsp.compression_ > 0.3
    assert bsp.score(X, y) > mlp.score(X, y) - 0.05
    for coef, mask in zip(bsp.coefs_, bsp.coef_masks_):
        assert np.all(coef[~mask] == 0)
    assert bsp.pruning_rate_ == 0.05 and bsp.pruning_patience_ == 10


def test_poisson_requires_non_negative_targets(data):
    X, y = data
    with pytest.raises(ValueError, match="poisson.*non-negative"):
        BSPRegressor(loss="poisson").fit(X, y - 10)


def test_early_stopping_restores_best_masks(data):
    X, y = data
    bsp = BSPRegressor(
        hidden_layer_sizes=(32,),
        early_stopping=True,
        n_iter_no_change=3,
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=3,
        max_iter=60,
        random_state=0,
    ).fit(X, y)
    assert len(bsp.validation_scores_) == bsp.n_iter_
    # The reference restarts at each pruning step: the best epoch is one of
    # the network as pruned last.
    curve = np.asarray(bsp.compression_curve_)
    last = int(np.flatnonzero(np.diff(np.r_[0.0, curve]))[-1])
    assert bsp.best_validation_score_ == max(bsp.validation_scores_[last:])
    assert bsp.compression_ == curve[-1]
    for coef, mask in zip(bsp.coefs_, bsp.coef_masks_):
        assert np.all(coef[~mask] == 0)
    assert bsp.compression_ == 1 - sum(m.sum() for m in bsp.coef_masks_) / sum(
        m.size for m in bsp.coef_masks_
    )


# ---------------------------------------------------------------------------
# Workflows
# ---------------------------------------------------------------------------


def _reg(**kwargs):
    params = dict(
        hidden_layer_sizes=(16,),
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=3,
        max_iter=20,
        random_state=0,
        learning_rate_init=0.01,
    )
    params.update(kwargs)
    return BSPRegressor(**params)


def test_pipeline_and_grid_search(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _reg())
    assert pipe.fit(X, y).score(X, y) > 0.5
    grid = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(8,), (16, 8)]}
    one = GridSearchCV(_reg(), grid, cv=3).fit(X, y)
    two = GridSearchCV(_reg(), grid, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(
        one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"]
    )
    assert one.best_estimator_.compression_ > 0


def test_cross_val_score_next_to_mlpregressor(data):
    X, y = data
    cv = KFold(n_splits=4, shuffle=True, random_state=0)
    params = dict(hidden_layer_sizes=(16,), max_iter=20, random_state=0)
    mlp = cross_val_score(MLPRegressor(**params), X, y, cv=cv)
    dense = cross_val_score(
        BSPRegressor(target_compression=None, pruning_rate=0, **params), X, y, cv=cv
    )
    np.testing.assert_allclose(dense, mlp, rtol=1e-12)
    pruned = cross_val_score(_reg(), X, y, cv=cv)
    assert np.all(np.isfinite(pruned))


@pytest.mark.parametrize("how", ["pickle", "joblib", "clone"])
def test_persistence_and_clone(data, how, tmp_path):
    X, y = data
    reg = _reg().fit(X, y)
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(reg))
    elif how == "joblib":
        joblib.dump(reg, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    else:
        loaded = clone(reg)
        assert not hasattr(loaded, "coefs_")
        assert loaded.get_params() == reg.get_params()
        return
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    for a, b in zip(loaded.coef_masks_, reg.coef_masks_):
        np.testing.assert_array_equal(a, b)


RESUME_SCRIPT = """
import pickle, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
X, y, path = pickle.load(open(sys.argv[1], "rb"))
reg = pickle.load(open(path, "rb"))
for _ in range(5):
    reg.partial_fit(X, y)
pickle.dump(reg, open(path, "wb"))
"""


def test_resume_in_a_fresh_process_equals_one_run(data, tmp_path):
    X, y = data
    rng = np.random.RandomState(0)
    straight = _reg(random_state=np.random.RandomState(0), solver="sgd")
    for _ in range(10):
        straight.partial_fit(X, y)
    resumed = _reg(random_state=rng, solver="sgd")
    for _ in range(5):
        resumed.partial_fit(X, y)
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(resumed))
    inputs = tmp_path / "inputs.pkl"
    inputs.write_bytes(pickle.dumps((X, y, str(model))))
    subprocess.run([sys.executable, "-c", RESUME_SCRIPT, str(inputs)], check=True)
    resumed = pickle.loads(model.read_bytes())
    for name in ("coefs_", "intercepts_", "coef_masks_", "pruning_counters_"):
        for a, b in zip(getattr(straight, name), getattr(resumed, name)):
            np.testing.assert_array_equal(a, b)
    assert straight.compression_curve_ == resumed.compression_curve_
    assert straight.compression_ > 0


def test_dask_grid_search_and_incremental(data):
    pytest.importorskip("dask.array", reason="needs the 'dask' extra")
    distributed = pytest.importorskip("distributed", reason="needs the 'dask' extra")
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="needs the 'dask' extra")
    import dask.array as da

    X, y = data
    grid = {"alpha": [1e-4, 1e-1]}
    local = GridSearchCV(_reg(), grid, cv=3).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(_reg(), grid, cv=3, n_jobs=-1).fit(X, y)
        Xd = da.from_array(X, chunks=(100, X.shape[1]))
        yd = da.from_array(y, chunks=(100,))
        inc = wrappers.Incremental(_reg(), shuffle_blocks=False).fit(Xd, yd)
    np.testing.assert_array_equal(
        local.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"]
    )
    manual = _reg()
    for start in range(0, 300, 100):
        manual.partial_fit(X[start : start + 100], y[start : start + 100])
    for a, b in zip(manual.coefs_, inc.estimator_.coefs_):
        np.testing.assert_array_equal(a, b)
