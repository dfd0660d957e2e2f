"""Mask-aware optimizers: pruned weights never move."""

import numpy as np
import pytest

from sklearn_bsp._layers import SynapseLayer
from sklearn_bsp._optimizers import AdamOptimizer, SGDOptimizer


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGDOptimizer(p, 0.1, momentum=0.9, nesterov=True),
        lambda p: SGDOptimizer(p, 0.1, momentum=0.9, nesterov=False),
        lambda p: AdamOptimizer(p, 0.01),
    ],
)
def test_pruned_weights_stay_at_zero_under_momentum(make):
    # The path of training: the layer owns the optimizer's slots for its
    # matrix and clears those of the synapses the rule prunes.
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4))
    params = [w]
    opt = make(params)
    mask = np.ones(w.shape, dtype=bool)
    layer = SynapseLayer(w, mask, np.zeros(w.shape, dtype=np.int32), opt.slots[0])
    for _ in range(3):  # build up momentum / moments everywhere
        opt.update_params(params, [rng.normal(size=w.shape)])
    pruned = np.zeros(w.shape, dtype=bool)
    pruned[0, 1] = pruned[2, 3] = True
    # Without clearing, this state would move the pruned weights.
    assert all(np.all(array[pruned] != 0) for array in opt.slots[0].values())
    w[pruned] = 0.0  # what the rule does before the layer records the step
    mask[pruned] = False
    layer.prune(pruned)
    assert all(np.all(array[pruned] == 0) for array in opt.slots[0].values())
    for _ in range(5):
        grad = rng.normal(size=w.shape)
        grad[pruned] = 0.0  # masked gradient
        opt.update_params(params, [grad])
        assert np.all(w[pruned] == 0.0)
    assert np.all(w[~pruned] != 0.0)
    assert layer.n_alive == w.size - 2


def test_adaptive_schedule_divides_learning_rate():
    opt = SGDOptimizer([np.zeros(2)], 0.1, lr_schedule="adaptive")
    assert opt.trigger_stopping("stall.", verbose=False) is False
    assert opt.learning_rate == pytest.approx(0.02)


def test_invscaling_schedule():
    opt = SGDOptimizer([np.zeros(2)], 0.1, lr_schedule="invscaling", power_t=0.5)
    opt.iteration_ends(99)
    assert opt.learning_rate == pytest.approx(0.01)
