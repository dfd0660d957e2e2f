"""Tests for sklearn_bsp._sparse: pruned-layer products against dense masked ones."""

import importlib.util

import numpy as np
import pytest

from sklearn_bsp import _sparse
from sklearn_bsp._sparse import SparseLayer, choose_kernel

PATHS = [
    pytest.param(True, id="compiled"),
    pytest.param(False, id="fallback"),
]
SHAPES = [(1, 1), (7, 3), (37, 23), (130, 65)]
DENSITIES = [0.0, 0.05, 0.5, 1.0]
DTYPES = [np.float32, np.float64]
# Sample counts around the kernels' block of 64 samples (partial blocks).
N_SAMPLES = [1, 63, 64, 200]


def tolerance(dtype):
    if dtype == np.float32:
        return {"rtol": 1e-4, "atol": 1e-4}
    return {"rtol": 1e-9, "atol": 1e-9}


def random_layer(rng, shape, density, dtype):
    mask = rng.random(shape) < density
    coef = (rng.standard_normal(shape) * mask).astype(dtype)
    return coef, mask


@pytest.fixture(params=PATHS)
def compiled(request):
    if request.param and not _sparse.COMPILED:
        pytest.skip("compiled kernels not built")
    return request.param


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
def test_products_match_dense(compiled, shape, density, dtype, order):
    rng = np.random.default_rng(0)
    coef, mask = random_layer(rng, shape, density, dtype)
    layer = SparseLayer.from_dense(coef, mask, use_compiled=compiled)
    assert layer.compiled == compiled
    for n in N_SAMPLES:
        X = rng.standard_normal((n, shape[0])).astype(dtype, order=order)
        delta = rng.standard_normal((n, shape[1])).astype(dtype, order=order)
        Y, D, g = layer.forward(X), layer.backward(delta), layer.sampled_grad(X, delta)
        assert Y.dtype == D.dtype == g.dtype == dtype
        assert Y.shape == (n, shape[1]) and D.shape == (n, shape[0])
        np.testing.assert_allclose(Y, X @ coef, **tolerance(dtype))
        np.testing.assert_allclose(D, delta @ coef.T, **tolerance(dtype))
        full = np.where(mask, X.T @ delta, 0)
        # g is aligned with layer.data: compare through the same structure.
        expected = SparseLayer.from_dense(full, mask, use_compiled=False).data
        np.testing.assert_allclose(g, expected, **tolerance(dtype))


def test_noncontiguous_input(compiled):
    rng = np.random.default_rng(1)
    coef, mask = random_layer(rng, (20, 9), 0.4, np.float32)
    layer = SparseLayer.from_dense(coef, mask, use_compiled=compiled)
    X = rng.standard_normal((150, 40)).astype(np.float32)[::2, ::2]
    np.testing.assert_allclose(layer.forward(X), X @ coef, **tolerance(np.float32))


@pytest.mark.parametrize("n_threads", [1, 2, -1])
def test_threads_give_identical_results(n_threads):
    if not _sparse.COMPILED:
        pytest.skip("compiled kernels not built")
    rng = np.random.default_rng(2)
    coef, mask = random_layer(rng, (300, 200), 0.3, np.float32)
    X = rng.standard_normal((500, 300)).astype(np.float32)
    delta = rng.standard_normal((500, 200)).astype(np.float32)
    ref = SparseLayer.from_dense(coef, mask, n_threads=1)
    layer = SparseLayer.from_dense(coef, mask, n_threads=n_threads)
    np.testing.assert_array_equal(layer.forward(X), ref.forward(X))
    np.testing.assert_array_equal(layer.backward(delta), ref.backward(delta))
    np.testing.assert_array_equal(
        layer.sampled_grad(X, delta), ref.sampled_grad(X, delta)
    )


def test_structure_compaction():
    coef = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    layer = SparseLayer.from_dense(coef, coef != 0)
    np.testing.assert_array_equal(layer.rows, [0, 2])
    np.testing.assert_array_equal(layer.cols, [0, 2])
    np.testing.assert_array_equal(layer.indptr, [0, 1, 3])
    np.testing.assert_array_equal(layer.indices, [0, 0, 1])
    np.testing.assert_array_equal(layer.data, [1.0, 2.0, 3.0])
    assert layer.nnz == 3 and layer.density == pytest.approx(1 / 3)
    np.testing.assert_array_equal(layer.to_dense(), coef)
    np.testing.assert_array_equal(layer.mask(), coef != 0)


def test_mask_keeps_explicit_zero_weights():
    coef = np.array([[0.0, 1.0]], dtype=np.float32)
    layer = SparseLayer.from_dense(coef, np.array([[True, True]]))
    assert layer.nnz == 2
    np.testing.assert_array_equal(layer.data, [0.0, 1.0])


def test_update_values(compiled):
    rng = np.random.default_rng(3)
    coef, mask = random_layer(rng, (12, 5), 0.5, np.float32)
    layer = SparseLayer.from_dense(coef, mask, use_compiled=compiled)
    new = rng.standard_normal(coef.shape).astype(np.float32)
    layer.update_values(new)
    np.testing.assert_array_equal(layer.to_dense(), new * mask)
    layer.update_values(np.arange(layer.nnz))
    assert layer.data.dtype == np.float32
    X = rng.standard_normal((4, 12)).astype(np.float32)
    tol = tolerance(np.float32)
    np.testing.assert_allclose(layer.forward(X), X @ layer.to_dense(), **tol)
    np.testing.assert_allclose(
        layer.backward(X[:, :5]), X[:, :5] @ layer.to_dense().T, **tol
    )


def test_dtypes_and_errors():
    layer = SparseLayer.from_dense(np.eye(3, dtype=np.int64))
    assert layer.dtype == np.float64
    with pytest.raises(ValueError, match="same shape"):
        SparseLayer.from_dense(np.eye(3), np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="expected shape"):
        layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="same number of samples"):
        layer.sampled_grad(np.ones((2, 3)), np.ones((3, 3)))


def test_choose_kernel():
    assert choose_kernel(1.0, 10_000) == "dense"
    assert choose_kernel(0.01, 200) == "sparse"
    assert choose_kernel(0.01, 1) == "dense"
    assert choose_kernel(0.01, 200, compiled=False, op="grad") == "dense"
    for op in ("forward", "backward", "grad"):
        assert choose_kernel(0.001, 200, op=op, compiled=True) == "sparse"


def test_compiled_kernels_used_when_built():
    # The CPU guard must not silently turn off kernels that were built and can
    # run here.
    built = importlib.util.find_spec("sklearn_bsp._sparse_kernels") is not None
    assert _sparse.COMPILED == (built and _sparse._cpu_runs_kernels())


def test_ci_runs_the_compiled_kernels():
    # CI installs the package from source with a compiler: the compiled
    # paths must be the ones under test there, not the fallbacks.
    import os

    from sklearn_bsp import _pruning, _sparse

    if not os.environ.get("CI"):
        pytest.skip("only checked in CI (CI=true)")
    assert _sparse.COMPILED
    assert _pruning._kernels is not None
