"""Predictions always follow the current coefs_ and intercepts_ (never stale)."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_bsp import BSPClassifier, BSPRegressor
from sklearn_bsp._inference import prediction_network
from sklearn_bsp._layers import CompactionPolicy

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _always_sparse(density, n_samples=200, op="forward", compiled=None):
    return "sparse" if density < 0.5 else "dense"


class _CompactClassifier(BSPClassifier):
    _compaction_policy = CompactionPolicy(min_size=100, choose_kernel=_always_sparse)


class _CompactRegressor(BSPRegressor):
    _compaction_policy = CompactionPolicy(min_size=100, choose_kernel=_always_sparse)


def _prediction_network(est, X):
    # The network predict would run for X: the cached one or the arrays.
    return prediction_network(
        est.__dict__.get("_inference"),
        X,
        est.coefs_,
        est.intercepts_,
        est.activation,
        est._compaction_policy,
    )


PARAMS = dict(
    hidden_layer_sizes=(40,),
    pruning_rate=0.2,
    pruning_patience=3,
    max_iter=40,
    random_state=0,
)


def _fitted(kind, storage):
    if kind == "classifier":
        X, y = make_classification(n_samples=200, n_features=30, random_state=0)
        est = (_CompactClassifier if storage != "dense" else BSPClassifier)(**PARAMS)
        reference = MLPClassifier(hidden_layer_sizes=(40,))
    else:
        X, y = make_regression(n_samples=200, n_features=30, random_state=0)
        y = y / y.std()
        est = (_CompactRegressor if storage != "dense" else BSPRegressor)(**PARAMS)
        reference = MLPRegressor(hidden_layer_sizes=(40,))
    est.fit(X, y)
    if storage == "dense":
        assert all(k is None for k in est._inference.kernels)
    else:
        # The cache really holds a narrower, compacted network.
        assert est.compression_ > 0.5
        assert any(k is not None for k in est._inference.kernels)
    if storage == "sparse":
        est.sparsify_coefs()
    # The same arrays in scikit-learn's own MLP: what prediction must give.
    for name in ("coefs_", "intercepts_", "n_layers_", "n_outputs_"):
        setattr(reference, name, getattr(est, name))
    reference.out_activation_ = est.out_activation_
    reference.n_features_in_ = est.n_features_in_
    if kind == "classifier":
        reference.classes_ = est.classes_
        reference._label_binarizer = est._label_binarizer
    return est, reference, X


def _assert_like_mlp(est, reference, X):
    if isinstance(est, BSPClassifier):
        expected = reference.predict_proba(X)
        np.testing.assert_allclose(est.predict_proba(X), expected, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(est.predict(X), reference.predict(X))
    else:
        expected = reference.predict(X)
        np.testing.assert_allclose(est.predict(X), expected, rtol=1e-6, atol=1e-9)
    assert est.score(X, est.predict(X)) == pytest.approx(1.0)


def _dense_view(reference, est):
    # scikit-learn's MLP multiplies whatever coefs_ holds; keep it dense.
    import scipy.sparse as sp

    reference.coefs_ = [c.toarray() if sp.issparse(c) else c for c in est.coefs_]


EDITS = {
    "intercept": lambda est: est.intercepts_[0].__iadd__(0.7),
    "alive_weight": lambda est: _edit_alive_weight(est),
    "pruned_weight": lambda est: _edit_pruned_weight(est),
    "output_layer": lambda est: est.coefs_[-1].__imul__(-1.5),
    "replace_intercepts": lambda est: setattr(
        est, "intercepts_", [b + 0.3 for b in est.intercepts_]
    ),
    "edit_a_replaced_array": lambda est: _edit_a_replaced_array(est),
}


def _edit_a_replaced_array(est):
    # The estimator gets copies (same values, so the cache's key matches);
    # the arrays it held before are edited afterwards: prediction must not
    # see that edit.
    old_coefs, old_intercepts = est.coefs_, est.intercepts_
    est.coefs_ = [c.copy() for c in old_coefs]
    est.intercepts_ = [b.copy() for b in old_intercepts]
    for c in old_coefs:
        if hasattr(c, "tocsr"):
            c.data *= -2.0
        else:
            c *= -2.0
    for b in old_intercepts:
        b += 5.0


def _edit_alive_weight(est):
    coef, mask = est.coefs_[0], est.coef_masks_[0]
    i, j = np.argwhere(mask)[0]
    if hasattr(coef, "tocsr"):
        coef.data[0] += 2.0
    else:
        coef[i, j] += 2.0


def _edit_pruned_weight(est):
    # Not what the estimator would do, but what a user may: the function
    # of coefs_ must be served all the same, as scikit-learn's MLP would.
    coef, mask = est.coefs_[0], est.coef_masks_[0]
    i, j = np.argwhere(~mask)[0]
    coef[i, j] = 3.0


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize(
    "storage, edit",
    [
        (storage, edit)
        for storage in ("dense", "compacted", "sparse")
        for edit in sorted(EDITS)
        # A sparse matrix stores no entry for a pruned synapse to edit.
        if (storage, edit) != ("sparse", "pruned_weight")
    ],
)
def test_predictions_follow_in_place_edits(kind, storage, edit):
    est, reference, X = _fitted(kind, storage)
    _dense_view(reference, est)
    _assert_like_mlp(est, reference, X)
    before = est.predict(X).copy()
    EDITS[edit](est)
    _dense_view(reference, est)
    reference.intercepts_ = est.intercepts_
    _assert_like_mlp(est, reference, X)
    if edit in ("output_layer", "replace_intercepts"):
        # Edits that must show (the reference check alone would also pass
        # if neither network saw the edit).
        assert not np.array_equal(est.predict(X), before)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_prediction_never_changes_the_estimator(kind):
    est, _, X = _fitted(kind, "compacted")
    cached = est._inference
    est.intercepts_[0] += 1.0
    state = pickle.dumps(est)
    est.predict(X)
    assert est._inference is cached  # stale, so not used, and not replaced
    assert pickle.dumps(est) == state


def test_cache_is_reused_while_arrays_are_unchanged():
    est, _, X = _fitted("classifier", "compacted")
    coefs, _, kernels, compacted = _prediction_network(est, X)
    assert compacted and any(k is not None for k in kernels)
    est.coefs_[0][...] = est.coefs_[0]  # same values: still valid
    assert _prediction_network(est, X)[3]
    est.coefs_[1][0, 0] += 1e-12
    # Stale: the current arrays themselves are multiplied.
    coefs, intercepts, kernels, compacted = _prediction_network(est, X)
    assert coefs is est.coefs_ and intercepts is est.intercepts_
    assert kernels is None and not compacted


def test_few_samples_multiply_the_arrays_without_a_check(monkeypatch):
    from sklearn_bsp import _inference

    est, _, X = _fitted("classifier", "compacted")
    n = _inference.MIN_CACHED_SAMPLES
    assert _prediction_network(est, X[:n])[3]

    def no_check(*args):
        raise AssertionError("the cache was checked")

    monkeypatch.setattr(est._inference, "matches", no_check)
    coefs, _, kernels, compacted = _prediction_network(est, X[: n - 1])
    assert coefs is est.coefs_ and kernels is None and not compacted


def _arrays_held(network):
    """Every NumPy array an InferenceNetwork holds, kernels included."""
    found = []

    def walk(value):
        if isinstance(value, np.ndarray):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif hasattr(value, "__dict__"):
            walk(list(vars(value).values()))

    walk(list(vars(network).values()))
    return found


@pytest.mark.parametrize("storage", ["unpruned", "dense", "compacted"])
def test_cache_holds_no_copy_and_no_array_of_the_estimator(storage):
    if storage == "unpruned":
        X, y = make_classification(n_samples=200, n_features=30, random_state=0)
        est = BSPClassifier(**{**PARAMS, "pruning_rate": 0}).fit(X, y)
    else:
        est, _, _ = _fitted("classifier", storage)
    held = _arrays_held(est._inference)
    for array in held:
        for own in est.coefs_ + est.intercepts_:
            assert not np.may_share_memory(array, own)
    if storage == "unpruned":
        # Nothing narrowed, nothing compacted: nothing of its own.
        assert held == []
    else:
        # The narrowed or compacted layers only, in less than the weights.
        assert held
        assert sum(a.nbytes for a in held) < sum(c.nbytes for c in est.coefs_)


def test_cache_without_the_compiled_hash(monkeypatch):
    # Without the compiled kernels, the key uses hashlib: the same checks.
    from sklearn_bsp import _inference

    monkeypatch.setattr(_inference, "fingerprint", None)
    est, reference, X = _fitted("classifier", "compacted")
    est._refresh_inference()
    assert _prediction_network(est, X)[3]
    est.coefs_[0][np.argwhere(est.coef_masks_[0])[0][0], 0] += 0.5
    assert not _prediction_network(est, X)[3]
    _assert_like_mlp(est, reference, X)


def test_no_check_where_the_cache_saves_nothing():
    # A sparse X multiplies the first layer with scipy.sparse; with no
    # compacted layer for it and few dead neurons, prediction multiplies the
    # current arrays directly (MLPClassifier's cost, no check).
    import scipy.sparse as sp

    X, y = make_classification(n_samples=200, n_features=30, random_state=0)
    est = BSPClassifier(pruning_rate=0, max_iter=5, random_state=0).fit(X, y)
    assert not est._inference.narrower
    coefs, intercepts, kernels, compacted = _prediction_network(est, sp.csr_matrix(X))
    assert coefs is est.coefs_ and intercepts is est.intercepts_ and kernels is None
    assert not compacted


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_sparse_input_with_sparse_stored_weights(kind):
    import scipy.sparse as sp

    est, reference, X = _fitted(kind, "sparse")
    _dense_view(reference, est)
    X_sparse = sp.csr_matrix(X)
    assert all(sp.issparse(c) for c in est.coefs_)
    if kind == "classifier":
        np.testing.assert_allclose(
            est.predict_proba(X_sparse), reference.predict_proba(X), rtol=1e-6
        )
    else:
        np.testing.assert_allclose(
            est.predict(X_sparse), reference.predict(X), rtol=1e-6, atol=1e-9
        )


def _output(est, X):
    return est.predict_proba(X) if isinstance(est, BSPClassifier) else est.predict(X)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("storage", ["dense", "compacted"])
def test_sparsify_coefs_keeps_what_prediction_uses(kind, storage):
    est, reference, X = _fitted(kind, storage)
    before = _output(est, X)
    # A synapse the mask says pruned, into a hidden neuron with outputs,
    # set by hand; and an alive one zeroed with its mask left True.
    coef, mask = est.coefs_[0], est.coef_masks_[0]
    has_out = est.coefs_[1].any(axis=1)
    i, j = np.argwhere(~mask & has_out[None, :])[0]
    coef[i, j] = 3.0
    k, m = np.argwhere(mask)[0]
    coef[k, m] = 0.0
    edited = _output(est, X)
    assert np.abs(edited - before).max() > 1e-3  # the edit shows

    est.sparsify_coefs()

    assert est.coefs_[0][i, j] == 3.0
    assert est.coefs_[0][k, m] == 0 and est.coefs_[0].nnz == np.count_nonzero(coef)
    np.testing.assert_allclose(_output(est, X), edited, rtol=1e-6, atol=1e-9)
    _dense_view(reference, est)
    _assert_like_mlp(est, reference, X)


def test_sparsify_coefs_of_a_fitted_model_is_unchanged():
    # Where the weights are 0 wherever the masks say pruned (any fitted
    # model), storing the non-zero entries stores the alive ones.
    import scipy.sparse as sp

    est, _, X = _fitted("classifier", "compacted")
    by_mask = [sp.csr_matrix(c * m) for c, m in zip(est.coefs_, est.coef_masks_)]
    proba = est.predict_proba(X)
    est.sparsify_coefs()
    for a, b in zip(est.coefs_, by_mask):
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    np.testing.assert_array_equal(est.predict_proba(X), proba)


def test_inference_network_is_the_shared_compaction():
    from sklearn_bsp._inference import compact_network

    est, _, _ = _fitted("classifier", "compacted")
    i, j = np.argwhere(~est.coef_masks_[0])[0]
    est.coefs_[0][i, j] = 1.0  # revived
    est._refresh_inference()
    coefs, intercepts, _ = compact_network(est.coefs_, est.intercepts_, est.activation)
    # Every layer in dense form, the compacted ones rebuilt from their kernel.
    cached = est._inference.layers(est.coefs_, est.intercepts_, [None] * len(coefs))
    for a, b in zip(cached[0] + cached[1], coefs + intercepts):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_samples", [200, 2100])  # one pass; row blocks
def test_nonfinite_input_raises_scikit_learns_error(kind, dtype, n_samples):
    # NaN and infinity are found inside the first layer's kernel: the same
    # error as MLPClassifier's, wherever they are, for every entry point.
    from sklearn.utils import assert_all_finite

    est, _, X = _fitted(kind, "compacted")
    est.fit(
        X.astype(dtype), est.predict(X) if kind == "classifier" else _output(est, X)
    )
    X = np.resize(X, (n_samples, X.shape[1])).astype(dtype)
    kernels = _prediction_network(est, X)[2]
    assert kernels is not None and kernels[0] is not None  # the fused check
    dead_input = np.flatnonzero(~est.coefs_[0].any(axis=1))
    positions = [(0, 0), (n_samples - 1, X.shape[1] - 1)]
    if dead_input.size:
        positions.append((n_samples // 2, dead_input[0]))
    methods = ["predict", "score"] + (["predict_proba"] if kind == "classifier" else [])
    for value in (np.nan, np.inf, -np.inf):
        for i, j in positions:
            bad = X.copy()
            bad[i, j] = value
            with pytest.raises(ValueError) as expected:
                assert_all_finite(
                    bad, input_name="X", estimator_name=type(est).__name__
                )
            for method in methods:
                args = (bad, est.predict(X)) if method == "score" else (bad,)
                with pytest.raises(ValueError) as raised:
                    getattr(est, method)(*args)
                assert str(raised.value) == str(expected.value)


def test_cache_survives_a_copy_and_a_pickle():
    # Its markers stay recognisable, so a copied cache serves the same
    # network (the estimator itself rebuilds its cache when unpickled).
    import copy

    est, _, X = _fitted("classifier", "compacted")
    expected = _prediction_network(est, X)
    for clone in (
        copy.deepcopy(est._inference),
        pickle.loads(pickle.dumps(est._inference)),
    ):
        coefs, intercepts, kernels, compacted = prediction_network(
            clone,
            X,
            est.coefs_,
            est.intercepts_,
            est.activation,
            est._compaction_policy,
        )
        assert compacted
        for a, b in zip(coefs + intercepts, expected[0] + expected[1]):
            if a is None:
                assert b is None
            else:
                np.testing.assert_array_equal(a, b)
