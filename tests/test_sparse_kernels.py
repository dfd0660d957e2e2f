"""Tests for sklearn_bsp._sparse: pruned-layer products against dense masked ones."""

import importlib.util
import platform

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_bsp import _sparse
from sklearn_bsp._kernels import cpu_runs_kernels
from sklearn_bsp._sparse import SparseLayer, choose_kernel

PATHS = [
    pytest.param(True, id="compiled"),
    pytest.param(False, id="fallback"),
]
# (300, 150) at density >= 0.5 has several chunks of features both ways.
SHAPES = [(1, 1), (7, 3), (37, 23), (130, 65), (300, 150)]
DENSITIES = [0.0, 0.05, 0.5, 1.0]
DTYPES = [np.float32, np.float64]
# Sample counts around the SIMD vectors (8 float32, 4 float64) and blocks
# (8 vectors): partial vectors, partial and uneven blocks.
N_SAMPLES = [1, 9, 63, 64, 65, 200]


def tolerance(dtype):
    # The reference is computed in float64; the values summed are standard
    # normal products, so absolute errors grow with the number of terms.
    if dtype == np.float32:
        return {"rtol": 1e-5, "atol": 1e-4}
    return {"rtol": 1e-12, "atol": 1e-12}


def dense_of(layer):
    """The dense weight matrix stored in ``layer``, from its public arrays."""
    compact = sp.csc_array(
        (layer.data, layer.indices, layer.indptr),
        shape=(len(layer.rows), len(layer.cols)),
    ).toarray()
    coef = np.zeros(layer.shape, dtype=layer.dtype)
    coef[np.ix_(layer.rows, layer.cols)] = compact
    return coef


def check_products(layer, coef, mask, X, delta):
    """The three products of ``layer`` against float64 NumPy on the masks."""
    tol = tolerance(layer.dtype)
    coef64, X64, delta64 = (a.astype(np.float64) for a in (coef, X, delta))
    Y, D, g = layer.forward(X), layer.backward(delta), layer.sampled_grad(X, delta)
    assert Y.dtype == D.dtype == g.dtype == layer.dtype
    np.testing.assert_allclose(Y, X64 @ coef64, **tol)
    np.testing.assert_allclose(D, delta64 @ coef64.T, **tol)
    full = np.where(mask, X64.T @ delta64, 0)
    # g is aligned with layer.data: compare through the same structure.
    expected = SparseLayer.from_dense(full, mask, use_compiled=False).data
    np.testing.assert_allclose(g, expected, **tol)


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
        check_products(layer, coef, mask, X, delta)
        assert layer.forward(X).shape == (n, shape[1])
        assert layer.backward(delta).shape == (n, shape[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_noncontiguous_input(compiled, dtype):
    rng = np.random.default_rng(1)
    coef, mask = random_layer(rng, (140, 9), 0.4, dtype)
    layer = SparseLayer.from_dense(coef, mask, use_compiled=compiled)
    X = rng.standard_normal((150, 280)).astype(dtype)
    delta = rng.standard_normal((150, 18)).astype(dtype)
    # Strided both ways, then reversed (negative strides).
    check_products(layer, coef, mask, X[::2, ::2], delta[::2, ::2])
    check_products(layer, coef, mask, X[::-3, 1::2], delta[::-3, ::-2])


def test_other_input_dtypes_are_converted(compiled):
    rng = np.random.default_rng(4)
    coef, mask = random_layer(rng, (30, 12), 0.5, np.float32)
    layer = SparseLayer.from_dense(coef, mask, use_compiled=compiled)
    X = rng.standard_normal((70, 30))
    delta = rng.standard_normal((70, 12))
    check_products(layer, coef, mask, X, delta)
    X_int = rng.integers(-3, 4, size=(5, 30))
    np.testing.assert_allclose(layer.forward(X_int), X_int @ coef, rtol=1e-5)


@pytest.mark.parametrize("n", [2200, 2201])
def test_large_outputs(compiled, n):
    # Many blocks per thread; output rows 32-byte aligned (n = 2200 float32)
    # or not.
    rng = np.random.default_rng(6)
    coef, mask = random_layer(rng, (20, 500), 0.3, np.float32)
    layer = SparseLayer.from_dense(coef, mask, use_compiled=compiled)
    X = rng.standard_normal((n, 20)).astype(np.float32)
    expected = X.astype(np.float64) @ coef
    np.testing.assert_allclose(layer.forward(X), expected, **tolerance(np.float32))
    np.testing.assert_allclose(
        layer.forward(np.asfortranarray(X)), expected, **tolerance(np.float32)
    )


def test_chunked_and_whole_columns_agree():
    # Dense enough layers visit each column's synapses in chunks of features;
    # sparse ones in one run. The order of the sums is the same either way.
    if not _sparse.COMPILED:
        pytest.skip("compiled kernels not built")
    rng = np.random.default_rng(5)
    chunk = _sparse._kernels.CHUNK
    coef, mask = random_layer(rng, (3 * chunk, 2 * chunk), 0.5, np.float32)
    layer = SparseLayer.from_dense(coef, mask)
    assert layer._fwd_cptr.shape == (2 * chunk, 4)
    assert layer._bwd_cptr.shape == (3 * chunk, 3)
    sparse = SparseLayer.from_dense(coef * (mask & (rng.random(mask.shape) < 0.02)))
    assert sparse._fwd_cptr.shape[1] == 2
    X = rng.standard_normal((100, 3 * chunk)).astype(np.float32)
    delta = rng.standard_normal((100, 2 * chunk)).astype(np.float32)
    check_products(layer, coef, mask, X, delta)
    whole = SparseLayer.from_dense(coef, mask)
    n_cols = len(whole.cols)
    whole._fwd_cptr = np.column_stack([whole.indptr[:-1], whole.indptr[1:]])
    whole._fwd_cptr = whole._fwd_cptr.astype(np.int32)
    assert whole._fwd_cptr.shape == (n_cols, 2)
    np.testing.assert_array_equal(whole.forward(X), layer.forward(X))
    np.testing.assert_array_equal(
        whole.sampled_grad(X, delta), layer.sampled_grad(X, delta)
    )


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
    np.testing.assert_array_equal(dense_of(layer), coef)


@pytest.mark.parametrize("dtype", DTYPES)
def test_toarray_gives_back_the_dense_matrix(dtype):
    rng = np.random.default_rng(0)
    coef = rng.standard_normal((40, 30)).astype(dtype)
    coef[rng.random(coef.shape) < 0.8] = 0
    coef[3] = 0  # an input and an output without synapses
    coef[:, 7] = 0
    dense = SparseLayer.from_dense(coef).toarray()
    assert dense.dtype == coef.dtype
    np.testing.assert_array_equal(dense, coef)


def test_mask_keeps_explicit_zero_weights():
    coef = np.array([[0.0, 1.0]], dtype=np.float32)
    layer = SparseLayer.from_dense(coef, np.array([[True, True]]))
    assert layer.nnz == 2
    np.testing.assert_array_equal(layer.data, [0.0, 1.0])


def test_products_follow_values_written_in_place(compiled):
    # The optimizer updates ``layer.data`` in place (see _compaction.py); the
    # products must use the new values, with the same structure.
    rng = np.random.default_rng(3)
    coef, mask = random_layer(rng, (140, 5), 0.5, np.float32)
    layer = SparseLayer.from_dense(coef, mask, use_compiled=compiled)
    X = rng.standard_normal((20, 140)).astype(np.float32)
    delta = rng.standard_normal((20, 5)).astype(np.float32)
    layer.forward(X), layer.backward(delta)
    layer.data[:] = rng.standard_normal(layer.nnz)
    new = dense_of(layer)
    assert not np.array_equal(new, coef) and np.array_equal(new != 0, mask)
    check_products(layer, new, mask, X, delta)


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
        # The compiled kernels beat BLAS on a 784 x 500 layer from about 35 %
        # density down (benchmarks/bench_kernels.py), not at 60 %.
        assert choose_kernel(0.25, 200, op=op, compiled=True) == "sparse"
        assert choose_kernel(0.6, 200, op=op, compiled=True) == "dense"


@pytest.mark.skipif(not _sparse.COMPILED, reason="compiled kernels not built")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 7, 1000])
def test_kernel_buffers_start_on_a_cache_line(dtype, size):
    # Buffers that the kernels read with vector loads start on a 64-byte
    # line, whatever the allocator returns, so no load straddles two lines.
    from sklearn_bsp._kernels import sparse_kernels

    for _ in range(20):  # allocations land at different offsets
        buffer = sparse_kernels._aligned_empty(size, dtype)
        assert buffer.shape == (size,) and buffer.dtype == dtype
        assert buffer.ctypes.data % 64 == 0


def test_compiled_kernels_used_when_built():
    # The CPU guard must not silently turn off kernels that were built and can
    # run here.
    built = importlib.util.find_spec("sklearn_bsp._sparse_kernels") is not None
    assert _sparse.COMPILED == (built and cpu_runs_kernels())


def test_ci_runs_the_compiled_kernels():
    # CI installs the package from source with a compiler: the compiled
    # paths must be the ones under test there, not the fallbacks.
    import os

    from sklearn_bsp import _pruning, _sparse

    if not os.environ.get("CI"):
        pytest.skip("only checked in CI (CI=true)")
    assert _sparse.COMPILED
    assert _pruning._kernels is not None


# The fallbacks, each in a fresh interpreter (the kernels are imported once,
# when sklearn_bsp is).
_NOT_BUILT = """
import sys


class NotBuilt:
    # A source tree without a compiler: the compiled modules do not exist.
    def find_spec(self, name, path=None, target=None):
        if name in ("sklearn_bsp._sparse_kernels", "sklearn_bsp._pruning_kernels"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, NotBuilt())
"""

_OLD_CPU = """
try:
    from numpy._core._multiarray_umath import __cpu_features__ as features
except ImportError:  # NumPy < 2
    from numpy.core._multiarray_umath import __cpu_features__ as features
features["AVX2"] = False  # an x86-64 CPU from before AVX2
"""

_CHECK = """
import sys

import numpy as np
from sklearn.datasets import load_digits

from sklearn_bsp import BSPClassifier, _kernels, _pruning, _sparse

assert _kernels.sparse_kernels is None and _kernels.pruning_kernels is None
assert not _sparse.COMPILED and _pruning._kernels is None
compiled = {"sklearn_bsp._sparse_kernels", "sklearn_bsp._pruning_kernels"}
assert not compiled & set(sys.modules)
X, y = load_digits(return_X_y=True)
clf = BSPClassifier(
    hidden_layer_sizes=(16,), max_iter=10, pruning_rate=0.1, pruning_patience=3,
    target_compression=None, random_state=0,
).fit(X[:500] / 16, y[:500])
np.savez(sys.argv[1], *clf.coefs_, *clf.coef_masks_)
"""


def _fallback_run(tmp_path, prelude):
    import subprocess
    import sys

    out = tmp_path / "coefs.npz"
    script = tmp_path / "run.py"
    script.write_text(prelude + _CHECK)
    result = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with np.load(out) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _assert_same_fit(arrays):
    # The NumPy rule gives the compiled rule's result bit for bit (the layers
    # are too small to be compacted: no sparse product is involved).
    from sklearn.datasets import load_digits

    from sklearn_bsp import BSPClassifier

    X, y = load_digits(return_X_y=True)
    clf = BSPClassifier(
        hidden_layer_sizes=(16,),
        max_iter=10,
        pruning_rate=0.1,
        pruning_patience=3,
        target_compression=None,
        random_state=0,
    ).fit(X[:500] / 16, y[:500])
    assert not clf.coef_masks_[0].all()  # the rule pruned
    for a, b in zip(arrays, clf.coefs_ + clf.coef_masks_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_without_the_compiled_modules_the_numpy_paths_run(tmp_path):
    _assert_same_fit(_fallback_run(tmp_path, _NOT_BUILT))


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="the CPU check is for x86-64 builds (AVX2 + FMA)",
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_cpu_without_avx2_never_imports_the_kernels(tmp_path):
    # Importing modules built for AVX2 on such a CPU would crash: they must
    # not even be imported, and training falls back to NumPy.
    _assert_same_fit(_fallback_run(tmp_path, _OLD_CPU))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_samples", [1, 37, 700])
def test_forward_finds_any_nonfinite_input(compiled, dtype, n_samples):
    from sklearn_bsp._sparse import NonFiniteInput

    rng = np.random.default_rng(0)
    coef = rng.standard_normal((50, 20)).astype(dtype)
    coef[rng.random(coef.shape) < 0.8] = 0
    coef[7] = 0  # an input without synapses: its NaN must be found too
    layer = SparseLayer.from_dense(coef, use_compiled=compiled)
    X = rng.standard_normal((n_samples, 50)).astype(dtype)
    # Finite extremes are not flagged.
    X[0, :4] = [
        np.finfo(dtype).max,
        -np.finfo(dtype).max,
        -0.0,
        np.finfo(dtype).tiny / 4,
    ]
    expected = X @ coef
    for order in ("C", "F"):
        Xo = np.asarray(X, order=order)
        np.testing.assert_allclose(
            layer.forward(Xo, check_finite=True), expected, rtol=1e-5, atol=1e-4
        )
        for value in (np.nan, np.inf, -np.inf):
            for i, j in [(0, 0), (n_samples - 1, 49), (n_samples // 2, 7)]:
                bad = Xo.copy(order=order)
                bad[i, j] = value
                with pytest.raises(NonFiniteInput):
                    layer.forward(bad, check_finite=True)
                assert layer.forward(bad).shape == expected.shape  # not asked


def test_forward_checks_input_it_does_not_multiply(compiled):
    # No synapse alive: the kernel transposes no block, the input is still
    # checked.
    from sklearn_bsp._sparse import NonFiniteInput

    layer = SparseLayer.from_dense(np.zeros((5, 3)), use_compiled=compiled)
    X = np.ones((4, 5))
    np.testing.assert_array_equal(layer.forward(X, check_finite=True), 0)
    X[2, 4] = np.nan
    with pytest.raises(NonFiniteInput):
        layer.forward(X, check_finite=True)
