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
