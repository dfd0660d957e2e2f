"""BSPClassifier on a Dask cluster: searches, cross-validation and out-of-core
training give the same models as a local run.

A real ``distributed.LocalCluster`` is started, listening on the loopback
interface only (127.0.0.1). Two workers of one thread each run in the test
process (``processes=False``): on a 2-core machine this starts in under 0.1 s,
against 2 to 3 s for worker processes, which then import NumPy, SciPy and
scikit-learn anew before their first task (a whole test took 10 to 40 s that
way). One slow test repeats the checks with worker processes, where the models
travel between processes by pickle.

Skipped, with the reason, when dask, distributed or dask-ml is missing.
"""

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from sklearn_bsp import BSPClassifier
from sklearn_bsp._schedules import auto_pruning_rate

REASON = "needs the 'dask' extra: pip install dask distributed dask-ml"
da = pytest.importorskip("dask.array", reason=REASON)
distributed = pytest.importorskip("distributed", reason=REASON)
Incremental = pytest.importorskip("dask_ml.wrappers", reason=REASON).Incremental

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

LOOPBACK = "127.0.0.1"
GRID = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(8,), (16, 8)]}


def _start_cluster(processes):
    # protocol="tcp": with processes=False, distributed would otherwise pick its
    # in-process transport, which rejects host="127.0.0.1" ("Scheduler failed
    # to start"). The cluster listens on loopback either way.
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=processes,
        protocol="tcp",
        host=LOOPBACK,
        dashboard_address=None,
    )


@pytest.fixture(scope="module")
def client():
    with _start_cluster(processes=False) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=400, n_features=10, n_informative=5, n_classes=3, random_state=0
    )
    return StandardScaler().fit_transform(X), y


def _clf(**kwargs):
    params = dict(
        hidden_layer_sizes=(16,),
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=3,
        batch_size=25,
        max_iter=8,
        random_state=0,
    )
    params.update(kwargs)
    return BSPClassifier(**params)


def assert_same_model(a, b):
    for name in ("coefs_", "intercepts_", "coef_masks_", "pruning_counters_"):
        for x, y in zip(getattr(a, name), getattr(b, name)):
            assert np.array_equal(x, y), name
    assert a.loss_curve_ == b.loss_curve_
    assert a.compression_curve_ == b.compression_curve_
    assert a.t_ == b.t_


def _assert_on_loopback(client):
    info = client.scheduler_info()
    addresses = [info["address"], *info["workers"]]
    assert all(a.startswith(f"tcp://{LOOPBACK}:") for a in addresses), addresses


def _grid_search_on_cluster(client, X, y):
    with distributed.get_task_stream(client) as tasks:
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(_clf(), GRID, cv=3, n_jobs=-1).fit(X, y)
    # The fits ran as tasks on the cluster's workers.
    workers = set(client.scheduler_info()["workers"])
    assert tasks.data and {t["worker"] for t in tasks.data} <= workers
    return search


def _assert_same_search(local, remote):
    for key in local.cv_results_:
        if key.startswith(("split", "mean_test", "std_test", "rank")):
            np.testing.assert_array_equal(
                local.cv_results_[key], remote.cv_results_[key]
            )
    assert local.best_params_ == remote.best_params_
    assert_same_model(local.best_estimator_, remote.best_estimator_)


def _blocks(X, y, chunks):
    Xd = da.from_array(X, chunks=(chunks, X.shape[1]))
    yd = da.from_array(y, chunks=(chunks,))
    bounds = np.cumsum((0, *Xd.chunks[0]))
    return Xd, yd, [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _manual(X, y, blocks, order, model):
    for i in order:
        model.partial_fit(X[blocks[i]], y[blocks[i]], classes=np.unique(y))
    return model


# ---------------------------------------------------------------------------
# joblib's dask backend: searches and cross-validation.
# ---------------------------------------------------------------------------


def test_cluster_listens_on_loopback_only(client):
    _assert_on_loopback(client)


def test_grid_search_on_the_cluster_equals_local(client, data):
    X, y = data
    local = GridSearchCV(_clf(), GRID, cv=3).fit(X, y)
    remote = _grid_search_on_cluster(client, X, y)
    _assert_same_search(local, remote)
    assert remote.best_estimator_.compression_ > 0


def test_cross_val_score_on_the_cluster_equals_local(client, data):
    X, y = data
    cv = KFold(n_splits=4, shuffle=True, random_state=0)
    local = cross_val_score(_clf(), X, y, cv=cv)
    with joblib.parallel_backend("dask"):
        remote = cross_val_score(_clf(), X, y, cv=cv, n_jobs=-1)
    np.testing.assert_array_equal(local, remote)


# ---------------------------------------------------------------------------
# dask-ml's Incremental: out-of-core partial_fit over the blocks of a dask array.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle_blocks", [False, True])
def test_incremental_equals_partial_fit_over_the_same_blocks(
    client, data, shuffle_blocks
):
    X, y = data
    Xd, yd, blocks = _blocks(X, y, chunks=80)
    assert len(blocks) == 5
    inc = Incremental(_clf(), shuffle_blocks=shuffle_blocks, random_state=3)
    inc.fit(Xd, yd, classes=np.unique(y))

    # dask-ml visits the blocks in the order its random_state shuffles them to.
    order = list(range(len(blocks)))
    if shuffle_blocks:
        np.random.RandomState(3).shuffle(order)
        assert order != sorted(order)
    manual = _manual(X, y, blocks, order, _clf())
    assert_same_model(manual, inc.estimator_)
    first_pass = inc.estimator_.compression_
    assert first_pass > 0

    # partial_fit on the wrapper continues from the fitted model: a second
    # pass keeps pruning, exactly like more partial_fit calls do.
    inc.partial_fit(Xd, yd, classes=np.unique(y))
    second_order = list(range(len(blocks)))
    if shuffle_blocks:
        np.random.RandomState(3).shuffle(second_order)
    _manual(X, y, blocks, second_order, manual)
    assert_same_model(manual, inc.estimator_)
    assert inc.estimator_.compression_ > first_pass

    proba = inc.predict_proba(Xd)
    assert isinstance(proba, da.Array)
    np.testing.assert_array_equal(proba.compute(), manual.predict_proba(X))
    np.testing.assert_array_equal(inc.predict(Xd).compute(), manual.predict(X))


def test_incremental_auto_rate_uses_the_first_block_size(client):
    # Eq 1 depends on the sample count only above 1,200 samples.
    X, y = make_classification(
        n_samples=4000, n_features=10, n_informative=5, random_state=0
    )
    # Uneven blocks: 1,500 rows first, then 1,000, 1,000 and 500.
    chunks = (1500, 1000, 1000, 500)
    Xd = da.from_array(X, chunks=(chunks, (X.shape[1],)))
    yd = da.from_array(y, chunks=(chunks,))
    inc = Incremental(
        _clf(target_compression=None, pruning_rate="auto", batch_size=500, max_iter=1),
        shuffle_blocks=False,
    )
    inc.fit(Xd, yd, classes=np.unique(y))
    # Eq 1 with Nsam = 1,500, the first block: not 4,000, the whole array.
    assert inc.estimator_.pruning_rate_ == auto_pruning_rate(16, 1500)
    assert inc.estimator_.pruning_rate_ != auto_pruning_rate(16, 4000)


# ---------------------------------------------------------------------------
# Worker processes: models and data cross process boundaries by pickle.
# ---------------------------------------------------------------------------


@pytest.mark.slow
# The module's thread cluster still holds the scheduler's default HTTP port.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")
def test_worker_processes_give_the_same_results(data):
    X, y = data
    Xd, yd, blocks = _blocks(X, y, chunks=100)
    manual = _manual(X, y, blocks, range(len(blocks)), _clf())
    local = GridSearchCV(_clf(), GRID, cv=3).fit(X, y)
    with _start_cluster(processes=True) as cluster:
        with distributed.Client(cluster) as client:
            _assert_on_loopback(client)
            remote = _grid_search_on_cluster(client, X, y)
            inc = Incremental(_clf(), shuffle_blocks=False)
            inc.fit(Xd, yd, classes=np.unique(y))
    _assert_same_search(local, remote)
    assert_same_model(manual, inc.estimator_)
    assert inc.estimator_.compression_ > 0
