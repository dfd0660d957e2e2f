"""The BSP rule on tiny hand-made weights (no estimator involved)."""

import numpy as np
import pytest

from sklearn_bsp._pruning import SynapticPruner, output_paths, select_smallest


def _state(weights):
    weights = [np.array(w, dtype=float) for w in weights]
    masks = [np.ones(w.shape, dtype=bool) for w in weights]
    counters = [np.zeros(w.shape, dtype=np.int32) for w in weights]
    return weights, masks, counters


def test_figure_2_first_pruning_at_fourth_step():
    # Paper Fig 2: threshold 3, a synapse that is a candidate at every step
    # is pruned at the 4th step, not before.
    weights, masks, counters = _state([[[0.01, 1.0], [2.0, 3.0]]])
    pruner = SynapticPruner(rate=0.25)  # 1 of 4 synapses is a candidate
    for step in range(1, 4):
        pruned = pruner.step(weights, masks, counters, patience=3)
        assert pruned == [None], step
        assert counters[0][0, 0] == step
    pruned = pruner.step(weights, masks, counters, patience=3)
    np.testing.assert_array_equal(pruned[0], [0])  # flat position of w[0, 0]
    np.testing.assert_array_equal(masks[0], [[False, True], [True, True]])
    assert weights[0][0, 0] == 0.0
    assert counters[0][0, 0] == 0


def test_counter_resets_when_synapse_leaves_candidate_set():
    weights, masks, counters = _state([[0.1, 0.2, 5.0, 6.0]])
    pruner = SynapticPruner(rate=0.25)
    pruner.step(weights, masks, counters, patience=10)
    pruner.step(weights, masks, counters, patience=10)
    np.testing.assert_array_equal(counters[0], [2, 0, 0, 0])
    # Synapse 0 grows stronger: synapse 1 becomes the candidate.
    weights[0][0] = 3.0
    pruner.step(weights, masks, counters, patience=10)
    np.testing.assert_array_equal(counters[0], [0, 1, 0, 0])


def test_pruning_is_irreversible():
    weights, masks, counters = _state([[0.1, 0.2, 5.0, 6.0]])
    pruner = SynapticPruner(rate=0.25)
    for _ in range(2):
        pruner.step(weights, masks, counters, patience=1)
    assert not masks[0][0]
    # Even if the weight were written again, the mask stays False and the
    # pruned synapse never competes as a candidate.
    for _ in range(5):
        pruner.step(weights, masks, counters, patience=100)
        assert not masks[0][0]
        assert counters[0][0] == 0


def test_candidates_counted_among_alive_only():
    weights, masks, counters = _state([np.arange(1, 11, dtype=float)])
    masks[0][:5] = False
    weights[0][:5] = 0.0
    cand = SynapticPruner(rate=0.4).candidates(weights, masks)[0]
    # 5 alive * 0.4 = 2 candidates: the two smallest alive (6 and 7).
    np.testing.assert_array_equal(np.flatnonzero(cand), [5, 6])


def test_rate_floor_leaves_small_layers_alone():
    weights, masks, counters = _state([[0.1, 0.2, 0.3]])
    pruner = SynapticPruner(rate=0.3)  # floor(3 * 0.3) = 0 candidates
    for _ in range(10):
        pruner.step(weights, masks, counters, patience=1)
    assert masks[0].all()


def test_never_prunes_the_whole_layer():
    rng = np.random.default_rng(0)
    weights, masks, counters = _state([rng.normal(size=(20, 10))])
    pruner = SynapticPruner(rate=0.5)
    for _ in range(200):
        pruner.step(weights, masks, counters, patience=1)
    # Nc = floor(Ns * 0.5) is 0 once a single synapse is left.
    assert masks[0].sum() == 1


def test_layer_scope_ranks_each_matrix_alone():
    weights, masks, _ = _state([[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    cand = SynapticPruner(rate=0.5, scope="layer").candidates(weights, masks)
    np.testing.assert_array_equal(cand[0], [True, True, False, False])
    np.testing.assert_array_equal(cand[1], [True, True, False, False])


def test_network_scope_ranks_all_matrices_together():
    weights, masks, _ = _state([[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    cand = SynapticPruner(rate=0.5, scope="network").candidates(weights, masks)
    np.testing.assert_array_equal(cand[0], [True, True, True, True])
    np.testing.assert_array_equal(cand[1], [False, False, False, False])


def test_select_smallest_uses_magnitude_and_breaks_ties_by_position():
    magnitude = np.abs(np.array([-0.5, 0.1, -0.1, 0.1, 2.0]))
    alive = np.ones(5, dtype=bool)
    np.testing.assert_array_equal(
        np.flatnonzero(select_smallest(magnitude, alive, 2)), [1, 2]
    )
    assert select_smallest(magnitude, alive, 0).sum() == 0
    assert select_smallest(magnitude, alive, 5).all()


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2.0])
def test_invalid_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        SynapticPruner(rate)


def test_invalid_scope():
    with pytest.raises(ValueError, match="scope"):
        SynapticPruner(0.1, scope="neuron")


@pytest.mark.parametrize("scope", ["layer", "network"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_step_equals_numpy_step(scope, dtype, monkeypatch):
    from sklearn_bsp import _pruning

    if _pruning._kernels is None:
        pytest.skip("compiled pruning kernel not built on this machine")
    rng = np.random.default_rng(0)
    # Rounded weights make many ties at the threshold.
    shapes = [(40, 30), (30, 5)]
    weights = [np.round(rng.normal(size=s), 1).astype(dtype) for s in shapes]
    runs = {}
    for name, kernels in (("compiled", _pruning._kernels), ("numpy", None)):
        monkeypatch.setattr(_pruning, "_kernels", kernels)
        w = [x.copy() for x in weights]
        m = [np.ones(x.shape, dtype=bool) for x in w]
        c = [np.zeros(x.shape, dtype=np.int32) for x in w]
        pruner = SynapticPruner(0.2, scope=scope)
        history = []
        for _ in range(12):
            # Drift the weights so candidates change between steps.
            for x, mask in zip(w, m):
                x += (np.round(rng.normal(size=x.shape), 1) * 0.05).astype(dtype)
                x *= mask
            pruned = pruner.step(w, m, c, patience=2)
            history.append([None if p is None else p.copy() for p in pruned])
        runs[name] = (w, m, c, history)
        rng = np.random.default_rng(0)
        weights = [np.round(rng.normal(size=s), 1).astype(dtype) for s in shapes]
    (w1, m1, c1, h1), (w2, m2, c2, h2) = runs["compiled"], runs["numpy"]
    for a, b in zip(w1 + m1 + c1, w2 + m2 + c2):
        np.testing.assert_array_equal(a, b)
    for s1, s2 in zip(h1, h2):
        for p1, p2 in zip(s1, s2):
            assert (p1 is None) == (p2 is None)
            if p1 is not None:
                np.testing.assert_array_equal(p1, p2)
    assert not all(m.all() for m in m1)  # something was pruned


def _all_paths(pruner_step_kwargs, weights, patience=0, rate=0.75):
    """One step of both paths (compiled when built, and NumPy) on copies."""
    results = []
    for path in ("step", "numpy"):
        w, m, c = _state(weights)
        pruner = SynapticPruner(rate)
        if path == "step":
            pruned = pruner.step(w, m, c, patience, **pruner_step_kwargs)
        else:
            pruned = pruner._numpy_step(
                w,
                m,
                c,
                patience,
                pruner_step_kwargs.get("max_pruned"),
                pruner_step_kwargs.get("guard"),
            )
        results.append((w, m, c, pruned))
    return results


def test_max_pruned_prunes_the_weakest_over_patience():
    # 4 synapses, rate 0.75: the 3 weakest (0.3, -0.1, 0.2) are candidates
    # and, with patience 0, all three exceed it at the first step. A cap of
    # 2 prunes the two weakest; the third keeps its counter.
    for w, m, c, pruned in _all_paths({"max_pruned": 2}, [[0.3, -0.1, 5.0, 0.2]]):
        np.testing.assert_array_equal(m[0], [True, False, True, False])
        np.testing.assert_array_equal(w[0], [0.3, 0.0, 5.0, 0.0])
        np.testing.assert_array_equal(c[0], [1, 0, 0, 0])
        np.testing.assert_array_equal(pruned[0], np.flatnonzero(~m[0]))


def test_max_pruned_ranks_across_matrices_and_breaks_ties_by_matrix():
    # Layer scope, one candidate per matrix (rate 0.5 of 2): 0.2 in the
    # first matrix, 0.1 and then 0.2 in the second. With a cap of 1, the
    # weaker 0.1 goes; with a cap of 1 and equal magnitudes the earlier
    # matrix goes.
    for _w, m, c, pruned in _all_paths(
        {"max_pruned": 1}, [[0.2, 9.0], [0.1, 9.0]], rate=0.5
    ):
        np.testing.assert_array_equal(m[0], [True, True])
        np.testing.assert_array_equal(m[1], [False, True])
        assert pruned[0] is None
        np.testing.assert_array_equal(c[0], [1, 0])
    for _w, m, c, pruned in _all_paths(
        {"max_pruned": 1}, [[0.2, 9.0], [-0.2, 9.0]], rate=0.5
    ):
        np.testing.assert_array_equal(m[0], [False, True])
        np.testing.assert_array_equal(m[1], [True, True])
        np.testing.assert_array_equal(c[1], [1, 0])
        assert pruned[1] is None


def test_max_pruned_zero_counts_but_never_prunes():
    weights, masks, counters = _state([[0.1, 0.2, 5.0, 6.0]])
    pruner = SynapticPruner(rate=0.5)
    for step in range(1, 5):
        assert pruner.step(weights, masks, counters, 1, max_pruned=0) == [None]
        np.testing.assert_array_equal(counters[0], [step, step, 0, 0])
    assert masks[0].all()
    # Lifting the cap prunes both at once, as without it.
    pruned = pruner.step(weights, masks, counters, 1)
    np.testing.assert_array_equal(pruned[0], [0, 1])


def _veto_first(over):
    """A guard that keeps the first synapse of each matrix alive."""
    return [p[p != 0] for p in over]


def test_vetoed_candidate_survives_and_keeps_counting():
    weights, masks, counters = _state([[0.1, 0.2, 5.0, 6.0]])
    pruner = SynapticPruner(rate=0.5)
    for _ in range(3):
        pruner.step(weights, masks, counters, 2, guard=_veto_first)
    # Both were candidates 3 times: the one the guard lets go is pruned, the
    # vetoed one stays alive with its counter running.
    np.testing.assert_array_equal(masks[0], [True, False, True, True])
    np.testing.assert_array_equal(counters[0], [3, 0, 0, 0])
    np.testing.assert_array_equal(weights[0], [0.1, 0.0, 5.0, 6.0])


def test_vetoed_synapses_count_towards_the_candidates():
    # A veto does not change who is a candidate: 0.1 (vetoed) and 0.2 are
    # the two candidates of four, so 5.0 never becomes one.
    for _w, m, c, pruned in _all_paths(
        {"guard": _veto_first}, [[0.1, 0.2, 5.0, 6.0]], patience=0, rate=0.5
    ):
        np.testing.assert_array_equal(c[0], [1, 0, 0, 0])
        np.testing.assert_array_equal(m[0], [True, False, True, True])
        np.testing.assert_array_equal(pruned[0], [1])


def test_guard_is_called_only_when_something_is_to_be_pruned():
    calls = []

    def guard(over):
        calls.append([p.copy() for p in over])
        return over

    weights, masks, counters = _state([[0.1, 0.2, 5.0, 6.0], [1.0, 0.3]])
    pruner = SynapticPruner(rate=0.5)
    pruner.step(weights, masks, counters, 1, guard=guard)  # counts reach 1
    assert calls == []
    pruner.step(weights, masks, counters, 1, guard=guard)  # over the patience
    # Per matrix (layer scope): the two weakest of four, the weaker of two.
    assert [p.tolist() for p in calls[0]] == [[0, 1], [1]]
    np.testing.assert_array_equal(masks[0], [False, False, True, True])
    np.testing.assert_array_equal(masks[1], [True, False])


def test_step_rejects_bad_options():
    weights, masks, counters = _state([[0.1, 0.2]])
    pruner = SynapticPruner(rate=0.5)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_pruned"):
            pruner.step(weights, masks, counters, 1, max_pruned=bad)
    with pytest.raises(ValueError, match="patience"):
        pruner.step(weights, masks, counters, -1)


def test_output_paths_follow_the_strongest_reachable_synapses():
    # 3 inputs -> 2 hidden -> 2 outputs.
    w0 = np.array([[0.1, 0.9], [0.5, 0.2], [-0.7, 0.3]])
    w1 = np.array([[0.4, -0.2], [0.6, 0.1]])
    masks = [np.ones((3, 2), dtype=bool), np.ones((2, 2), dtype=bool)]
    paths = output_paths([w0, w1], masks)
    # Output 0: strongest from hidden 1 (0.6); output 1: from hidden 0
    # (|-0.2|). Hidden 1: from input 0 (0.9); hidden 0: from input 2 (|-0.7|).
    np.testing.assert_array_equal(paths[1], [[False, True], [True, False]])
    np.testing.assert_array_equal(
        paths[0], [[False, True], [False, False], [True, False]]
    )


def test_output_paths_skip_dead_and_unreachable_synapses():
    w0 = np.array([[0.1, 0.9], [0.5, 0.2]])
    w1 = np.array([[0.4, 0.0], [0.6, 0.3]])
    # Hidden 1 has no alive input: its strong synapse (0.6) to output 0
    # is alive but unusable, so output 0 goes through hidden 0. Output 1's
    # only alive synapse comes from hidden 1: it is unreachable, no path.
    masks = [
        np.array([[True, False], [False, False]]),
        np.array([[True, False], [True, True]]),
    ]
    paths = output_paths([w0, w1], masks)
    np.testing.assert_array_equal(paths[1], [[True, False], [False, False]])
    np.testing.assert_array_equal(paths[0], [[True, False], [False, False]])


def test_guard_keeps_every_output_connected():
    # The estimators' guard, on the storage the rule prunes: it keeps the
    # synapses of output_paths alive whenever a step would cut an output off.
    from sklearn_bsp._guard import ReachabilityGuard
    from sklearn_bsp._layers import SynapseLayer

    rng = np.random.default_rng(0)
    weights, masks, counters = _state(
        [rng.normal(size=(6, 4)), rng.normal(size=(4, 3))]
    )
    layers = [SynapseLayer(w, m, c, {}) for w, m, c in zip(weights, masks, counters)]
    guard = ReachabilityGuard(layers)
    pruner = SynapticPruner(rate=0.5, scope="network")
    vetoed = 0

    def judge(over):
        nonlocal vetoed
        verdict = guard.verdict(over)
        vetoed += verdict.vetoed is not None
        return verdict.allowed

    for _ in range(100):
        pruned = pruner.step(weights, masks, counters, 1, guard=judge)
        for layer, positions in zip(layers, pruned):
            if positions is not None:
                layer.prune(positions)
    assert vetoed > 0  # the guard had to step in ...
    assert sum(m.sum() for m in masks) < 10  # ... pruning went far ...
    reach = np.ones(6, dtype=bool)
    for m in masks:
        reach = (m & reach[:, None]).any(axis=0)
    assert reach.all()  # ... yet every output is still fed from the input
