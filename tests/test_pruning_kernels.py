"""The compiled BSP rule against the NumPy reference, bit for bit.

Each case runs a sequence of steps on two copies of the same state: one
through the compiled passes (with the band of magnitudes it keeps between
steps), one through the NumPy reference. Weights drift between steps as in
training, sometimes far (so the kept band misses and the exact path runs),
and are rounded to a coarse grid so that many tie at the threshold.
"""

import copy
import pickle

import numpy as np
import pytest

from sklearn_bsp import _pruning
from sklearn_bsp._pruning import SynapticPruner, output_paths

pytestmark = pytest.mark.skipif(
    _pruning._kernels is None, reason="compiled pruning kernels not built"
)

SHAPES = {
    "mlp": [(60, 40), (40, 7)],
    "deep": [(30, 20), (20, 20), (20, 3)],
    "tiny": [(1, 1), (2, 3), (3, 1)],
    "wide": [(300, 300), (300, 10)],  # big enough for two threads
}


def _initial_state(rng, shapes, dtype, start):
    weights = [np.round(rng.normal(size=s), 1).astype(dtype) for s in shapes]
    masks = [np.ones(s, dtype=bool) for s in shapes]
    if start == "partly_pruned":
        masks = [rng.random(s) < 0.4 for s in shapes]
    elif start == "all_pruned":
        masks = [np.zeros(s, dtype=bool) for s in shapes]
    counters = [
        rng.integers(0, 3, size=s).astype(np.int32) * m for s, m in zip(shapes, masks)
    ]
    for w, m in zip(weights, masks):
        w *= m
    return weights, masks, counters


def _copy(state):
    return [[a.copy() for a in arrays] for arrays in state]


def _assert_same(a, b):
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def _assert_same_pruned(p1, p2):
    for x, y in zip(p1, p2):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


def _random_guard(rng, shapes, vetoed):
    """A guard that keeps a random 30 % of the synapses alive.

    The first matrix gets no veto: some matrices vetoed, some not. Adds the
    number of synapses it kept alive to ``vetoed[0]``.
    """
    keep = [None] + [rng.random(s) < 0.3 for s in shapes[1:]]

    def guard(over):
        allowed = [p if k is None else p[~k.ravel()[p]] for p, k in zip(over, keep)]
        vetoed[0] += sum(p.size - a.size for p, a in zip(over, allowed))
        return allowed

    return guard


def _run_both(
    seed,
    shapes,
    dtype,
    scope,
    start,
    n_steps=15,
    n_threads=1,
    max_pruned=None,
    veto=False,
    rate=0.2,
    patience=2,
    counter_dtype=np.int32,
):
    rng = np.random.default_rng(seed)
    weights, masks, counters = _initial_state(rng, shapes, dtype, start)
    state = (weights, masks, [c.astype(counter_dtype) for c in counters])
    fast, ref = _copy(state), _copy(state)
    pruner = SynapticPruner(rate, scope=scope, n_threads=n_threads)
    n_pruned = 0
    vetoed = [0]
    for step in range(n_steps):
        # Usually a small drift, sometimes a jump the kept band cannot follow.
        scale = 2.0 if step % 7 == 3 else 0.05
        noise = [np.round(rng.normal(size=s), 1) * scale for s in shapes]
        for st in (fast, ref):
            for w, m, d in zip(st[0], st[1], noise):
                w += d.astype(dtype)
                w *= m
        guard = _random_guard(rng, shapes, vetoed) if veto else None
        assert _pruning._kernel_accepts(fast[0], fast[1], fast[2])
        p_fast = pruner.step(*fast, patience, max_pruned=max_pruned, guard=guard)
        p_ref = pruner._numpy_step(*ref, patience, max_pruned, guard)
        _assert_same(fast[0] + fast[1] + fast[2], ref[0] + ref[1] + ref[2])
        _assert_same_pruned(p_fast, p_ref)
        n_pruned += sum(0 if p is None else p.size for p in p_fast)
    if veto and max_pruned != 0:
        assert vetoed[0] > 0  # the guard did keep synapses alive
    return n_pruned


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shapes", ["mlp", "deep", "tiny"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scope", ["layer", "network"])
@pytest.mark.parametrize("start", ["alive", "partly_pruned", "all_pruned"])
def test_compiled_equals_numpy(seed, shapes, dtype, scope, start):
    n_pruned = _run_both(seed, SHAPES[shapes], dtype, scope, start)
    if start != "all_pruned" and shapes != "tiny":
        assert n_pruned > 0  # the sequence does exercise pruning


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", ["mlp", "wide"])
def test_compiled_equals_numpy_with_narrow_counters(seed, dtype, shapes):
    # uint16 counters, as training keeps them while counts are small.
    n_pruned = _run_both(
        seed, SHAPES[shapes], dtype, "layer", "partly_pruned", counter_dtype=np.uint16
    )
    assert n_pruned > 0


@pytest.mark.parametrize("order", ["increasing", "decreasing", "equal_runs"])
def test_one_call_step_on_ordered_weights(order):
    # The one-call step finds the threshold by its own selection: weights
    # laid out in order, or in long runs of equal values, are the inputs
    # where a selection degrades or mishandles ties.
    n = 4000
    values = np.linspace(0.01, 1.0, n)
    if order == "decreasing":
        values = values[::-1]
    elif order == "equal_runs":
        values = np.round(values * 8) / 8
    for dtype in (np.float32, np.float64):
        state = (
            [values.reshape(40, 100).astype(dtype)],
            [np.ones((40, 100), dtype=bool)],
            [np.zeros((40, 100), dtype=np.int32)],
        )
        fast, ref = _copy(state), _copy(state)
        pruner = SynapticPruner(0.3)
        for step in range(6):
            for st in (fast, ref):
                st[0][0] *= dtype(1.0 + 0.01 * step)  # the order stays
            p_fast = pruner.step(*fast, 3)
            p_ref = pruner._numpy_step(*ref, 3, None)
            _assert_same(fast[0] + fast[1] + fast[2], ref[0] + ref[1] + ref[2])
            _assert_same_pruned(p_fast, p_ref)
        assert pruner._bands  # the band was kept: the one-call path ran
        assert not fast[1][0].all()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scope", ["layer", "network"])
@pytest.mark.parametrize("max_pruned", [None, 0, 1, 5, 50])
@pytest.mark.parametrize("veto", [False, True])
def test_compiled_equals_numpy_with_options(seed, dtype, scope, max_pruned, veto):
    _run_both(
        seed,
        SHAPES["deep"],
        dtype,
        scope,
        "alive",
        max_pruned=max_pruned,
        veto=veto,
        rate=0.3,
        patience=1,
    )


@pytest.mark.parametrize("veto", [False, True])
def test_guard_only_compiled_equals_numpy(veto):
    n_pruned = _run_both(
        0, SHAPES["mlp"], np.float32, "layer", "partly_pruned", veto=veto
    )
    assert n_pruned > 0


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("scope", ["layer", "network"])
def test_result_does_not_depend_on_threads(n_threads, scope):
    n_pruned = _run_both(
        1,
        SHAPES["wide"],
        np.float32,
        scope,
        "alive",
        n_steps=6,
        n_threads=n_threads,
        rate=0.05,
        patience=1,
    )
    assert n_pruned > 0


def test_all_equal_weights_tie_everywhere():
    # Every |w| equal: the threshold's ties are the whole layer and the
    # candidates are simply the first k in C order.
    weights = [np.full((10, 10), -0.5, dtype=np.float32)]
    masks = [np.ones((10, 10), dtype=bool)]
    counters = [np.zeros((10, 10), dtype=np.int32)]
    pruner = SynapticPruner(0.13)
    for _ in range(3):
        pruner.step(weights, masks, counters, patience=5)
    expected = np.zeros(100, dtype=np.int32)
    expected[:13] = 3
    np.testing.assert_array_equal(counters[0].ravel(), expected)


def test_nan_threshold_makes_no_candidates():
    # np.partition puts NaN last; when the k-th smallest is NaN nothing
    # compares below it, in both paths.
    w = np.full((4, 4), np.nan)
    w[0, 0] = 0.1
    for path in ("step", "_numpy_step"):
        weights = [w.copy()]
        masks = [np.ones((4, 4), dtype=bool)]
        counters = [np.ones((4, 4), dtype=np.int32)]
        pruner = SynapticPruner(0.5)
        if path == "step":
            pruner.step(weights, masks, counters, patience=3)
        else:
            pruner._numpy_step(weights, masks, counters, 3, None)
        # Even the one finite weight, below the threshold in value, is no
        # candidate: every counter resets (today's rule, both paths).
        np.testing.assert_array_equal(counters[0], np.zeros((4, 4)))
        assert masks[0].all()


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copied_pruner_drops_its_cache_and_gives_the_same_steps(how):
    # The estimators deep-copy their pruner at every partial_fit (to restore
    # it if the call fails): the copy leaves the band and the buffers out.
    rng = np.random.default_rng(0)
    state = _initial_state(rng, SHAPES["mlp"], np.float32, "alive")
    pruner = SynapticPruner(0.2, scope="network", n_threads=2)
    pruner.step(*state, 3)
    assert pruner._bands and pruner._buffers
    if how == "deepcopy":
        clone = copy.deepcopy(pruner)
    else:
        clone = pickle.loads(pickle.dumps(pruner))
    assert clone._bands == {} and clone._buffers == {}
    assert (clone.rate, clone.scope, clone.n_threads) == (0.2, "network", 2)
    assert pruner._bands and pruner._buffers  # the original keeps its cache
    other = _copy(state)
    for _ in range(3):
        p1 = pruner.step(*state, 1)
        p2 = clone.step(*other, 1)
        _assert_same_pruned(p1, p2)
    _assert_same(state[2], other[2])


@pytest.mark.parametrize("seed", range(5))
def test_output_paths_connect_every_reachable_output(seed):
    rng = np.random.default_rng(seed)
    shapes = [(8, 6), (6, 5), (5, 4)]
    weights = [rng.normal(size=s) for s in shapes]
    masks = [rng.random(s) < 0.3 for s in shapes]
    paths = output_paths(weights, masks)
    reach = np.ones(8, dtype=bool)
    for m in masks:
        reach = (m & reach[:, None]).any(axis=0)
    for p, m in zip(paths, masks):
        assert not (p & ~m).any()  # paths use alive synapses only
    # Follow the paths forwards from the inputs: they reach exactly the
    # reachable outputs, each through exactly one synapse per layer.
    on_path = np.ones(8, dtype=bool)
    for p in paths:
        assert (p.sum(axis=0) <= 1).all()
        on_path = (p & on_path[:, None]).any(axis=0)
    np.testing.assert_array_equal(on_path, reach)
    np.testing.assert_array_equal(paths[-1].any(axis=0), reach)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("scope", ["layer", "network"])
@pytest.mark.parametrize("veto", [False, True])
def test_uint16_counters_step_like_int32(seed, scope, veto):
    # Training keeps the rule's counters in uint16 while counts are small:
    # every step must give the same masks, weights and counts as int32.
    rng = np.random.default_rng(seed)
    shapes = SHAPES["mlp"]
    wide = _initial_state(rng, shapes, np.float32, "partly_pruned")
    narrow = _copy(wide)
    narrow[2] = [c.astype(np.uint16) for c in narrow[2]]
    pruner_w = SynapticPruner(0.3, scope=scope)
    pruner_n = SynapticPruner(0.3, scope=scope)
    for _ in range(20):
        noise = [np.round(rng.normal(size=s), 1) * 0.05 for s in shapes]
        guard = _random_guard(rng, shapes, [0]) if veto else None
        for st in (wide, narrow):
            for w, m, d in zip(st[0], st[1], noise):
                w += d.astype(np.float32)
                w *= m
        p_w = pruner_w.step(*wide, 2, guard=guard)
        p_n = pruner_n.step(*narrow, 2, guard=guard)
        assert _pruning._kernel_accepts(*narrow)
        _assert_same(wide[0] + wide[1], narrow[0] + narrow[1])
        for c_w, c_n in zip(wide[2], narrow[2]):
            assert c_n.dtype == np.uint16
            np.testing.assert_array_equal(c_w, c_n)
        _assert_same_pruned(p_w, p_n)
    # The reference path takes uint16 counters too.
    ref = _copy(narrow)
    pruner_n._numpy_step(*ref, 2, None)
    pruner_n.step(*narrow, 2)
    _assert_same(narrow[0] + narrow[1] + narrow[2], ref[0] + ref[1] + ref[2])
