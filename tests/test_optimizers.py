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
    layer.prune(np.flatnonzero(pruned))
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


def _sklearn_twin(name, params, **kwargs):
    from sklearn.neural_network import _stochastic_optimizers as sk

    if name == "sgd":
        return sk.SGDOptimizer(params, **kwargs)
    return sk.AdamOptimizer(params, **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scalar", [float, np.float64, np.float32])
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("sgd", dict(learning_rate_init=0.1, momentum=0.9, nesterov=True)),
        ("sgd", dict(learning_rate_init=0.1, momentum=0.9, nesterov=False)),
        (
            "adam",
            dict(learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
        ),
    ],
)
def test_updates_equal_scikit_learns_to_the_bit(
    dtype, grad_dtype, scalar, name, kwargs
):
    # The state is updated in its own arrays where scikit-learn's expression
    # keeps its dtype; where a float64 gradient or a NumPy float64
    # hyperparameter (from a grid, say) promotes float32 state, the state
    # must be promoted the same way, and every bit must agree.
    kwargs = {k: scalar(v) if isinstance(v, float) else v for k, v in kwargs.items()}
    rng = np.random.default_rng(0)
    shapes = [(6, 5), (5,)]
    ours = [rng.normal(size=s).astype(dtype) for s in shapes]
    theirs = [p.copy() for p in ours]
    make = SGDOptimizer if name == "sgd" else AdamOptimizer
    opt = make(ours, **kwargs)
    twin = _sklearn_twin(name, theirs, **kwargs)
    for _ in range(4):
        # Tiny gradients too, where epsilon weighs in Adam's denominator.
        grads = [
            (rng.normal(size=s) * scale).astype(grad_dtype)
            for s, scale in zip(shapes, (1.0, 1e-9))
        ]
        # The updates themselves, not only the parameters they move: a
        # difference in an update's last bits can vanish in a float32 sum.
        updates = opt._get_updates([g.copy() for g in grads])
        twin_updates = twin._get_updates([g.copy() for g in grads])
        for a, b in zip(updates, twin_updates):
            assert a.dtype == b.dtype
            assert a.tobytes() == b.tobytes()
        for param, update in zip(ours, updates):
            param += update
        for param, update in zip(theirs, twin_updates):
            param += update
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()
    state = (
        [s["velocity"] for s in opt.slots]
        if name == "sgd"
        else [s["m"] for s in opt.slots] + [s["v"] for s in opt.slots]
    )
    twin_state = twin.velocities if name == "sgd" else twin.ms + twin.vs
    for a, b in zip(state, twin_state):
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_numpy_epsilon_with_python_betas(dtype):
    # The moments stay in place (Python betas), while a NumPy float64
    # epsilon makes scikit-learn's denominator, hence the update, float64.
    rng = np.random.default_rng(0)
    ours = [rng.normal(size=(4, 3)).astype(dtype)]
    theirs = [ours[0].copy()]
    opt = AdamOptimizer(ours, epsilon=np.float64(1e-8))
    twin = _sklearn_twin("adam", theirs, epsilon=np.float64(1e-8))
    for _ in range(3):
        grad = (rng.normal(size=(4, 3)) * 1e-9).astype(dtype)
        (update,) = opt._get_updates([grad.copy()])
        (twin_update,) = twin._get_updates([grad.copy()])
        assert update.dtype == twin_update.dtype
        assert update.tobytes() == twin_update.tobytes()


@pytest.mark.parametrize("make", [SGDOptimizer, AdamOptimizer])
def test_read_only_state_is_replaced_not_written(make):
    # A model loaded with mmap_mode="r" holds read-only state: the update
    # gives the slot a new array instead of writing into the mapped one.
    params = [np.ones((3, 2))]
    opt = make(params)
    for slot in opt.slots:
        for array in slot.values():
            array.flags.writeable = False
    before = [dict(slot) for slot in opt.slots]
    opt.update_params(params, [np.full((3, 2), 0.5)])
    for slot, old in zip(opt.slots, before):
        for key, array in slot.items():
            assert array is not old[key]
            assert not np.array_equal(array, old[key])
    assert np.all(params[0] != 1.0)
