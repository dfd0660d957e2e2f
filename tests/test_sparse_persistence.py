"""Weights stored sparse (sparsify_coefs) round trip through pickle and joblib.

The packed state carries them as plain arrays (so that skops.io needs to
trust the estimator's class only, see test_skops.py); loading must give back
the same scipy.sparse matrices, memory-mapped with ``mmap_mode="r"``.
"""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_regression

from sklearn_bsp import BSPClassifier, BSPRegressor
from sklearn_bsp._persistence import pack_sparse, unpack_sparse

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _sparsified(kind):
    if kind == "classifier":
        X, y = load_digits(return_X_y=True)
        X, y, Estimator = X[:500] / 16, y[:500], BSPClassifier
    else:
        X, y = make_regression(n_samples=300, n_features=12, random_state=0)
        y, Estimator = y / y.std(), BSPRegressor
    est = Estimator(
        hidden_layer_sizes=(32,),
        pruning_rate=0.1,
        pruning_patience=3,
        max_iter=15,
        random_state=0,
    ).fit(X, y)
    assert est.compression_ > 0.2
    return est.sparsify_coefs(), X, y


def _assert_same_matrices(loaded, est):
    for a, b in zip(est.coefs_, loaded.coefs_):
        assert type(b) is type(a) and b.shape == a.shape
        for part in ("data", "indices", "indptr"):
            assert getattr(b, part).dtype == getattr(a, part).dtype
            np.testing.assert_array_equal(getattr(b, part), getattr(a, part))


def _contains_sparse(value):
    if sp.issparse(value):
        return True
    if isinstance(value, dict):
        return any(_contains_sparse(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_sparse(v) for v in value)
    return False


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_state_holds_no_sparse_matrix(kind):
    est, _, _ = _sparsified(kind)
    assert all(type(c) is sp.csr_matrix for c in est.coefs_)
    assert not _contains_sparse(est.__getstate__())
    # The estimator itself keeps its sparse weights.
    assert all(type(c) is sp.csr_matrix for c in est.coefs_)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_pickle_round_trip(kind):
    est, X, _ = _sparsified(kind)
    loaded = pickle.loads(pickle.dumps(est))
    _assert_same_matrices(loaded, est)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    for name in ("intercepts_", "coef_masks_", "pruning_counters_"):
        for a, b in zip(getattr(est, name), getattr(loaded, name)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mmap_mode", [None, "r"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_joblib_round_trip(kind, mmap_mode, tmp_path):
    est, X, y = _sparsified(kind)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    on_disk = path.read_bytes()

    loaded = joblib.load(path, mmap_mode=mmap_mode)

    _assert_same_matrices(loaded, est)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    if mmap_mode == "r":
        # The matrices hold the mapped arrays themselves, as before.
        for c in loaded.coefs_:
            assert isinstance(c.data, np.memmap) and not c.data.flags.writeable
            assert isinstance(c.indices, np.memmap)
    # Training again densifies copies; the file is not written to.
    loaded.partial_fit(
        X, y, **({"classes": np.unique(y)} if kind == "classifier" else {})
    )
    assert all(isinstance(c, np.ndarray) for c in loaded.coefs_)
    assert path.read_bytes() == on_disk


@pytest.mark.parametrize(
    "cls", [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array]
)
def test_pack_sparse_keeps_class_and_index_dtype(cls):
    dense = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -3.0]], dtype=np.float32)
    matrix = cls(dense)
    # int64 indices, which scipy's constructor would narrow to int32.
    matrix.indices = matrix.indices.astype(np.int64)
    matrix.indptr = matrix.indptr.astype(np.int64)

    packed = pack_sparse(matrix)
    assert isinstance(packed, dict) and not _contains_sparse(packed)
    restored = unpack_sparse(pickle.loads(pickle.dumps(packed)))

    assert type(restored) is cls
    assert restored.indices.dtype == restored.indptr.dtype == np.int64
    assert restored.dtype == np.float32
    np.testing.assert_array_equal(restored.toarray(), dense)


def test_pack_sparse_leaves_other_values():
    dense = np.eye(2)
    assert pack_sparse(dense) is dense
    coo = sp.coo_matrix(dense)
    assert pack_sparse(coo) is coo
    assert unpack_sparse(dense) is dense


def _packed(**changes):
    packed = pack_sparse(sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 0.0]])))
    packed.update(changes)
    return packed


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"__sklearn_bsp_sparse__": "os.system"}, ValueError, "Unknown sparse"),
        ({"__sklearn_bsp_sparse__": 3}, ValueError, "Unknown sparse"),
        ({"data": np.array(["a", "b"])}, TypeError, "numeric"),
        ({"indices": np.array([1.0, 0.0])}, TypeError, "integers"),
        ({"data": np.array([1.0, 2.0, 3.0])}, ValueError, "inconsistent"),
        ({"indptr": np.array([0, 1, 1], dtype=np.int32)}, ValueError, "inconsistent"),
        (
            {"indices": np.array([1, 5], dtype=np.int32)},
            ValueError,
            r"inconsistent with their shape \(2, 2\)",
        ),
        ({"shape": [2, 1]}, ValueError, r"inconsistent with their shape \(2, 1\)"),
    ],
)
def test_unpack_sparse_refuses_bad_state(changes, error, match):
    with pytest.raises(error, match=match):
        unpack_sparse(_packed(**changes))


def test_unpack_sparse_refuses_missing_arrays():
    packed = _packed()
    del packed["indptr"]
    with pytest.raises(ValueError, match=r"lack \['indptr'\]"):
        unpack_sparse(packed)
