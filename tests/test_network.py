"""Forward and backward passes of the masked network."""

import numpy as np
import pytest

from sklearn_bsp._inference import forward
from sklearn_bsp._layers import SynapseLayer
from sklearn_bsp._network import MaskedNetwork


def _net(activation="tanh", out="softmax", alpha=0.1, masks=None, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(4, 5), (5, 3)] if out == "softmax" else [(4, 5), (5, 1)]
    coefs = [rng.normal(size=s) for s in shapes]
    intercepts = [rng.normal(size=s[1]) for s in shapes]
    if masks is not None:
        for c, m in zip(coefs, masks):
            if m is not None:
                c *= m
    masks = masks if masks is not None else [None, None]
    layers = [
        SynapseLayer(
            c,
            np.ones(c.shape, dtype=bool) if m is None else m,
            np.zeros(c.shape, dtype=np.int32),
            {},
        )
        for c, m in zip(coefs, masks)
    ]
    net = MaskedNetwork(layers, intercepts, activation, out, alpha=alpha)
    net.coefs = coefs  # the arrays the layers hand out, for the tests below
    return net


def _data(out, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(7, 4))
    if out == "softmax":
        y = np.eye(3, dtype=bool)[rng.integers(0, 3, 7)]
    else:
        y = rng.integers(0, 2, (7, 1)).astype(bool)
    return X, y


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("out", ["softmax", "logistic"])
def test_gradient_matches_finite_differences(activation, out):
    net = _net(activation, out)
    X, y = _data(out)
    sw = np.linspace(0.5, 2.0, X.shape[0])
    _, coef_grads, intercept_grads = net.backprop(X, y, sw)
    eps = 1e-6
    for params, grads in ((net.coefs, coef_grads), (net.intercepts, intercept_grads)):
        for p, g in zip(params, grads):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = net.backprop(X, y, sw)[0]
                p[idx] = old - eps
                down = net.backprop(X, y, sw)[0]
                p[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(g, numeric, rtol=1e-4, atol=1e-6)


def test_pruned_synapses_get_exactly_zero_gradient_even_with_l2():
    mask = np.ones((4, 5), dtype=bool)
    mask[[0, 2, 3], [1, 4, 0]] = False
    net = _net(masks=[mask, None], alpha=10.0)
    X, y = _data("softmax")
    _, coef_grads, _ = net.backprop(X, y)
    assert np.all(coef_grads[0][~mask] == 0.0)
    assert np.all(coef_grads[0][mask] != 0.0)


def test_forward_rows_are_probabilities():
    net = _net()
    X, _ = _data("softmax")
    proba = forward(X, net.coefs, net.intercepts, "tanh", "softmax")
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("sparse_input", [False, True])
def test_forward_checks_input_without_kernels(sparse_input):
    # Without compact layers the first product checks the input itself.
    import scipy.sparse as sp

    from sklearn_bsp._sparse import NonFiniteInput

    net = _net()
    X, _ = _data("softmax")
    args = (net.coefs, net.intercepts, "tanh", "softmax")
    as_input = sp.csr_matrix if sparse_input else np.asarray
    expected = forward(as_input(X), *args)
    np.testing.assert_array_equal(
        forward(as_input(X), *args, check_finite=True), expected
    )
    for value in (np.nan, np.inf, -np.inf):
        bad = X.copy()
        bad[-1, -1] = value
        with pytest.raises(NonFiniteInput):
            forward(as_input(bad), *args, check_finite=True)


def test_dropout_zeroes_units_and_keeps_expectation():
    net = _net(activation="identity", alpha=0.0)
    net.dropout = 0.5
    net.rng = np.random.default_rng(0)
    X = np.ones((20000, 4))
    activations, scales, raw = net._forward_train(X)
    hidden = activations[1]
    dropped = scales[0] == 0
    assert 0.45 < dropped.mean() < 0.55
    assert np.all(hidden[dropped] == 0)
    # Inverted dropout: the mean of the hidden units is unchanged.
    np.testing.assert_allclose(hidden.mean(axis=0), raw[0].mean(axis=0), rtol=0.05)


def test_dropout_gradient_matches_finite_differences_for_fixed_mask():
    net = _net(activation="logistic", alpha=0.0)
    net.dropout = 0.3
    X, y = _data("softmax")
    net.rng = np.random.default_rng(3)
    _, coef_grads, _ = net.backprop(X, y)
    p = net.coefs[0]
    eps = 1e-6
    for idx in [(0, 0), (1, 3), (3, 4)]:
        old = p[idx]
        p[idx] = old + eps
        net.rng = np.random.default_rng(3)
        up = net.backprop(X, y)[0]
        p[idx] = old - eps
        net.rng = np.random.default_rng(3)
        down = net.backprop(X, y)[0]
        p[idx] = old
        assert coef_grads[0][idx] == pytest.approx((up - down) / (2 * eps), rel=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_logistic_is_within_an_ulp_of_expit(dtype):
    from scipy.special import expit

    from sklearn_bsp._network import FAST_ACTIVATIONS

    x = np.linspace(-40, 40, 100_001).astype(dtype)
    fast = x.copy()
    FAST_ACTIVATIONS["logistic"](fast)
    exact = expit(x)
    assert fast.dtype == dtype
    np.testing.assert_allclose(fast, exact, rtol=0, atol=2 * np.finfo(dtype).eps)
    assert np.all((fast >= 0) & (fast <= 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_logistic_extremes_and_any_layout(dtype):
    # Beyond the exponential's range the result is 0 or 1 within an epsilon,
    # a NaN stays a NaN, and arrays of any shape and memory order are
    # computed in place, value for value as a contiguous copy would be.
    from scipy.special import expit

    from sklearn_bsp._network import FAST_ACTIVATIONS

    logistic = FAST_ACTIVATIONS["logistic"]
    x = np.array([-1e4, -800, -100, -0.0, 0.0, 100, 800, 1e4, np.inf, -np.inf])
    x = x.astype(dtype)
    fast = x.copy()
    logistic(fast)
    np.testing.assert_allclose(fast, expit(x), rtol=0, atol=np.finfo(dtype).eps)
    nan = np.array([np.nan], dtype=dtype)
    logistic(nan)
    assert np.isnan(nan[0])

    rng = np.random.default_rng(0)
    base = rng.normal(scale=5, size=(6, 9, 5)).astype(dtype)
    views = [
        lambda b: b,  # C-ordered 3-D
        lambda b: np.asfortranarray(b),  # Fortran-ordered 3-D (a copy)
        lambda b: b[:, ::2, :],  # neither order
        lambda b: b.reshape(54, 5).T,  # Fortran-ordered 2-D
        lambda b: b.ravel(),
    ]
    for view in views:
        array = view(base.copy())
        expected = np.ascontiguousarray(array).copy()
        logistic(expected)
        logistic(array)  # in place
        np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["identity", "relu", "logistic", "tanh"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("n_units", [1, 3, 8, 13])
def test_add_bias_and_activate_matches_numpy(dtype, activation, order, n_units):
    # One compiled pass gives the values of ``a += bias`` and the activation
    # of ACTIVATIONS (FAST_ACTIVATIONS for the fast logistic) to the bit,
    # including the sign of zeros and NaN, in both memory orders and with
    # rows that end in a partial SIMD vector.
    from sklearn_bsp._network import (
        ACTIVATIONS,
        FAST_ACTIVATIONS,
        add_bias_and_activate,
    )

    rng = np.random.default_rng(n_units)
    a = rng.normal(size=(11, n_units)).astype(dtype)
    a[0, 0] = -0.0
    a[-1, -1] = np.nan
    bias = rng.normal(size=n_units).astype(dtype)
    bias[0] = -0.0
    for fast in (False, True):
        got = np.array(a, order=order)
        add_bias_and_activate(got, bias, activation, fast)
        expected = a + bias
        (FAST_ACTIVATIONS if fast else ACTIVATIONS)[activation](expected)
        np.testing.assert_array_equal(got, expected)
        assert np.array_equal(np.signbit(got), np.signbit(expected))


def test_add_bias_and_activate_falls_back_where_it_cannot_fuse():
    # Read-only, mixed dtypes, or neither memory order: the NumPy operations.
    from sklearn_bsp._network import add_bias_and_activate

    a = np.arange(12.0).reshape(3, 4) - 6
    bias = np.ones(4, dtype=np.float32)
    mixed = a.copy()
    add_bias_and_activate(mixed, bias, "relu")
    np.testing.assert_array_equal(mixed, np.maximum(a + bias, 0))
    strided = np.zeros((3, 8))
    strided[:, ::2] = a
    view = strided[:, ::2]
    add_bias_and_activate(view, bias.astype(float), "relu")
    np.testing.assert_array_equal(view, np.maximum(a + 1, 0))
    frozen = a.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        add_bias_and_activate(frozen, bias.astype(float), "relu")


@pytest.mark.skipif(
    not __import__("sklearn_bsp._sparse", fromlist=["COMPILED"]).COMPILED,
    reason="compiled kernels not built",
)
def test_bias_activation_rejects_bad_arguments():
    from sklearn_bsp._kernels import sparse_kernels

    a = np.zeros((4, 3))
    with pytest.raises(ValueError, match="2 values for 3 units"):
        sparse_kernels.bias_activation(a, np.zeros(2), "relu")
    with pytest.raises(ValueError, match="no compiled activation 'tanh'"):
        sparse_kernels.bias_activation(a, None, "tanh")
    with pytest.raises(ValueError, match="contiguous rows or columns"):
        sparse_kernels.bias_activation(np.zeros((4, 6))[:, ::2], None, "relu")
    sparse_kernels.bias_activation(np.zeros((0, 3)), np.zeros(3), "relu")


def test_fast_forward_in_row_blocks_equals_one_block():
    # Many rows go through the network in blocks; each row's result must not
    # depend on it, through the kernels or the dense product.
    from sklearn_bsp._inference import ROW_BLOCK
    from sklearn_bsp._sparse import SparseLayer

    rng = np.random.default_rng(0)
    n = 2 * ROW_BLOCK + 37
    X = rng.normal(size=(n, 30)).astype(np.float32)
    masks = [rng.random((30, 20)) < 0.2, np.ones((20, 4), dtype=bool)]
    coefs = [(rng.normal(size=m.shape) * m).astype(np.float32) for m in masks]
    intercepts = [rng.normal(size=m.shape[1]).astype(np.float32) for m in masks]
    kernels = [SparseLayer.from_dense(coefs[0], masks[0]), None]
    blocked = forward(X, coefs, intercepts, "logistic", "softmax", kernels, fast=True)
    rows = np.vstack(
        [
            forward(
                X[i : i + 1],
                coefs,
                intercepts,
                "logistic",
                "softmax",
                kernels,
                fast=True,
            )
            for i in range(0, n, 97)
        ]
    )
    assert blocked.shape == (n, 4)
    np.testing.assert_allclose(blocked[::97], rows, rtol=1e-6, atol=1e-7)
