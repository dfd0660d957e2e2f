"""Thread use: the user's limits are honoured, results do not depend on them."""

import threading

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_bsp import BSPClassifier
from sklearn_bsp._inference import ROW_BLOCK, forward
from sklearn_bsp._layers import CompactionPolicy
from sklearn_bsp._sparse import SparseLayer
from sklearn_bsp._threads import effective_n_threads, map_blocks

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _always_sparse(density, n_samples=200, op="forward", compiled=None):
    return "sparse" if density < 0.5 else "dense"


class _CompactClassifier(BSPClassifier):
    _compaction_policy = CompactionPolicy(min_size=100, choose_kernel=_always_sparse)


def _data(n_samples=2 * ROW_BLOCK + 300, dtype=np.float32):
    X, y = make_classification(
        n_samples=n_samples, n_features=40, n_informative=20, random_state=0
    )
    return X.astype(dtype), y


def test_effective_n_threads_follows_threadpool_limits():
    assert effective_n_threads() >= 1
    with threadpool_limits(limits=1):
        assert effective_n_threads() == 1


def test_joblib_workers_get_their_share_of_the_cores():
    # GridSearchCV(n_jobs=2) and cross_val_score(n_jobs=2) run estimators in
    # loky workers: each one must use its share of the cores, not all.
    n_cpus = effective_n_threads()
    counts = Parallel(n_jobs=2, backend="loky")(
        delayed(effective_n_threads)() for _ in range(2)
    )
    assert all(1 <= c <= max(1, n_cpus // 2) for c in counts)


def test_map_blocks_keeps_order_and_uses_the_threads_it_is_given():
    seen = set()
    barrier = threading.Barrier(2, timeout=10)

    def work(i):
        seen.add(threading.get_ident())
        if i < 2:
            barrier.wait()  # both threads must be running at once
        return i * i

    assert map_blocks(work, list(range(6)), 2) == [i * i for i in range(6)]
    assert len(seen) == 2
    seen.clear()
    assert map_blocks(lambda i: (seen.add(threading.get_ident()), i)[1], [1, 2], 1)
    assert seen == {threading.get_ident()}


class _RecordingLayer(SparseLayer):
    """A SparseLayer that records the threads and thread counts it ran with."""

    def forward(self, X, n_threads=None, check_finite=False):
        self.calls.append((threading.get_ident(), n_threads))
        return super().forward(X, n_threads, check_finite)


def _recording(layer):
    rec = _RecordingLayer(
        layer.shape, layer.rows, layer.cols, layer.indptr, layer.indices, layer.data
    )
    rec.calls = []
    return rec


def _fitted_compact():
    X, y = _data()
    clf = _CompactClassifier(
        hidden_layer_sizes=(60,),
        pruning_rate=0.3,
        pruning_patience=2,
        max_compression=0.8,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    return X, clf


def test_blocked_prediction_runs_one_threaded_kernels_within_the_limit():
    X, clf = _fitted_compact()
    net = clf._inference
    assert net.kernels[0] is not None
    layers = [None if k is None else _recording(k) for k in net.kernels]
    coefs, intercepts = net.layers(clf.coefs_, clf.intercepts_, net.kernels)
    args = (X, coefs, intercepts, clf.activation, clf.out_activation_)
    out = forward(*args, layers, fast=True)
    calls = layers[0].calls
    # Every block ran its kernel on one thread: no OpenMP team beside the
    # prediction threads.
    assert len(calls) == -(-X.shape[0] // ROW_BLOCK)
    assert {n for _, n in calls} == {1}
    # Within the thread budget. Which threads took blocks depends on the
    # scheduler (one may take them all on a busy machine); that the threads
    # do run concurrently is test_map_blocks_keeps_order_and_uses_the_
    # threads_it_is_given's (a barrier only both can pass).
    assert 1 <= len({ident for ident, _ in calls}) <= effective_n_threads()
    layers[0].calls.clear()
    with threadpool_limits(limits=1):
        limited = forward(*args, layers, fast=True)
    # The user's limit: one thread, the caller's own.
    assert {ident for ident, _ in calls} == {threading.get_ident()}
    np.testing.assert_array_equal(out, limited)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_results_do_not_depend_on_the_thread_count(dtype, solver):
    # The kernels sum in an order fixed by the data, whatever the threads;
    # the dense products are BLAS's, which may round differently when they
    # split the work, hence the tolerance on the weights (none on the
    # masks, which decide the network's structure).
    X, y = _data(dtype=dtype)
    params = dict(
        hidden_layer_sizes=(60,),
        solver=solver,
        pruning_rate=0.3,
        pruning_patience=2,
        max_compression=0.8,
        max_iter=15,
        random_state=0,
    )
    default = _CompactClassifier(**params).fit(X, y)
    with threadpool_limits(limits=1):
        one = _CompactClassifier(**params).fit(X, y)
    assert default.compression_ > 0.5
    for a, b in zip(default.coef_masks_, one.coef_masks_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(default.coefs_, one.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(default.predict(X), one.predict(X))
    proba = default.predict_proba(X)
    with threadpool_limits(limits=1):
        np.testing.assert_array_equal(default.predict_proba(X), proba)


def test_fit_leaves_the_users_blas_limit_as_it_was():
    X, y = _data()
    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    _CompactClassifier(
        hidden_layer_sizes=(60,),
        pruning_rate=0.3,
        pruning_patience=2,
        max_compression=0.8,
        max_iter=10,
    ).fit(X, y).predict_proba(X)
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before


def test_few_rows_run_on_the_calling_thread_with_one_threaded_blas(monkeypatch):
    # Below the blocked pass, the kernels' OpenMP team and BLAS's threads
    # would take turns on the same cores; a few rows run on the calling
    # thread alone, kernels and BLAS.
    import sklearn_bsp._network as network

    X, clf = _fitted_compact()
    net = clf._inference
    assert net.kernels[0] is not None and net.kernels[-1] is None
    layers = [None if k is None else _recording(k) for k in net.kernels]
    blas_threads = []

    def recording_dot(a, b):
        # The dense output product: read BLAS's thread count while it runs.
        pools = threadpool_info()
        blas_threads.extend(p["num_threads"] for p in pools if p["user_api"] == "blas")
        return a @ b

    few = X[:200]
    coefs, intercepts = net.layers(clf.coefs_, clf.intercepts_, net.kernels)
    args = (coefs, intercepts, clf.activation, clf.out_activation_)
    pooled = forward(few, *args, layers, fast=True, n_threads=2)
    layers[0].calls.clear()
    monkeypatch.setattr(network, "safe_sparse_dot", recording_dot)
    out = forward(few, *args, layers, fast=True)
    assert layers[0].calls == [(threading.get_ident(), 1)]
    assert blas_threads and set(blas_threads) == {1}
    # The pools give the same result.
    np.testing.assert_array_equal(out, pooled)
