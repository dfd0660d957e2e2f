"""Mask-aware optimizers: pruned weights never move."""

import numpy as np
import pytest

from sklearn_bsp._optimizers import AdamOptimizer, SGDOptimizer


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGDOptimizer(p, 0.1, momentum=0.9, nesterov=True),
        lambda p: SGDOptimizer(p, 0.1, momentum=0.9, nesterov=False),
        lambda p: AdamOptimizer(p, 0.01),
    ],
)
def test_forget_then_masked_gradients_keep_pruned_weights_at_zero(make):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4))
    params = [w]
    opt = make(params)
    for _ in range(3):  # build up momentum / moments everywhere
        opt.update_params(params, [rng.normal(size=w.shape)])
    pruned = np.zeros(w.shape, dtype=bool)
    pruned[0, 1] = pruned[2, 3] = True
    w[pruned] = 0.0
    opt.forget(0, pruned)
    for _ in range(5):
        grad = rng.normal(size=w.shape)
        grad[pruned] = 0.0
        opt.update_params(params, [grad])
        assert np.all(w[pruned] == 0.0)
    assert np.all(w[~pruned] != 0.0)


def test_adaptive_schedule_divides_learning_rate():
    opt = SGDOptimizer([np.zeros(2)], 0.1, lr_schedule="adaptive")
    assert opt.trigger_stopping("stall.", verbose=False) is False
    assert opt.learning_rate == pytest.approx(0.02)


def test_invscaling_schedule():
    opt = SGDOptimizer([np.zeros(2)], 0.1, lr_schedule="invscaling", power_t=0.5)
    opt.iteration_ends(99)
    assert opt.learning_rate == pytest.approx(0.01)
