"""The pruning controller alone: budget, schedule, window, patience, guard."""

import math

import numpy as np
import pytest

from sklearn_bsp._controller import COUNTER_MAX, PruningController
from sklearn_bsp._guard import ReachabilityGuard
from sklearn_bsp._layers import SynapseLayer
from sklearn_bsp._schedules import target_schedule, target_window

SHAPES = [(6, 5), (5, 3)]  # 45 synapses


def _state(seed=0, pruned=0):
    rng = np.random.default_rng(seed)
    coefs = [rng.normal(size=s) for s in SHAPES]
    masks = [np.ones(s, dtype=bool) for s in SHAPES]
    # The first ``pruned`` synapses of the first matrix are gone.
    masks[0].ravel()[:pruned] = False
    coefs[0].ravel()[:pruned] = 0.0
    counters = [np.zeros(s, dtype=np.int32) for s in SHAPES]
    return coefs, masks, counters


def _controller(pruned=0, seed=0, **params):
    coefs, masks, counters = _state(seed, pruned)
    kwargs = dict(
        n_samples=100,
        max_iter=20,
        pruning_rate=0.2,
        pruning_patience=2,
        target_compression=None,
    )
    kwargs.update(params)
    slots = [{} for _ in SHAPES]
    return PruningController(coefs, masks, counters, slots, **kwargs)


def test_counts_the_pruned_synapses_of_the_masks():
    ctl = _controller(pruned=9)
    assert ctl.n_synapses == 45
    assert ctl.n_pruned == 9
    assert ctl.compression == pytest.approx(0.2)
    ctl.layers[1].mask[0, :] = False
    ctl.recount([layer.mask for layer in ctl.layers])
    assert ctl.n_pruned == 12


def test_max_compression_caps_the_room():
    ctl = _controller(pruned=10, max_compression=0.5)
    assert ctl.max_pruned == math.floor(0.5 * 45) == 22
    assert ctl.final_pruned() == 22
    assert ctl.room() == 12
    assert _controller().room() is None  # no cap, no target


def test_room_is_zero_once_the_cap_is_reached():
    ctl = _controller(pruned=22, max_compression=0.5)
    assert ctl.room() == 0
    counters_before = [layer.counts.copy() for layer in ctl.layers]
    assert not ctl.step()
    # The rule is over for this fit: not even the counters move.
    for layer, before in zip(ctl.layers, counters_before):
        np.testing.assert_array_equal(layer.counts, before)


def test_target_schedule_paces_the_room():
    ctl = _controller(target_compression=0.6, max_iter=40, updates_per_epoch=4)
    start, end = ctl.window
    assert ctl.window == target_window(40, 4)
    final = math.floor(0.6 * 45)
    assert ctl.final_pruned() == final
    assert ctl.room() == 0  # before the window nothing may go
    ctl.epochs = math.ceil((start + end) / 2)
    allowed = target_schedule(ctl.epochs, ctl.window, 0.6)
    assert 0 < ctl.room() == math.floor(allowed * 45) < final
    ctl.epochs = math.ceil(end)
    assert ctl.room() == final
    # A lower max_compression wins over the target.
    capped = _controller(target_compression=0.6, max_compression=0.2)
    assert capped.final_pruned() == math.floor(0.2 * 45)


def test_epochs_done_counts_steps_within_an_epoch():
    ctl = _controller(steps_per_epoch=4, epochs=3)
    assert ctl.epochs_done() == 3
    assert ctl.epochs_done(2) == 3.5


def test_target_pending_and_still_pruning():
    ctl = _controller(target_compression=0.5, max_iter=40, updates_per_epoch=4)
    start, end = ctl.window
    assert ctl.target_pending()
    assert not ctl.still_pruning()  # before the window
    ctl.epochs = math.ceil(start)
    assert ctl.still_pruning()
    ctl.epochs = math.ceil(end)
    assert ctl.target_pending() and not ctl.still_pruning()  # window over
    reached = _controller(pruned=22, target_compression=0.5)
    assert not reached.target_pending()
    assert not _controller(target_compression=None).target_pending()
    assert not _controller(target_compression=0.5, pruning_rate=0).target_pending()


def test_window_opens_on_convergence_with_the_same_length():
    ctl = _controller(target_compression=0.5, max_iter=100, updates_per_epoch=1)
    start, end = ctl.window
    assert start > 2
    ctl.epochs = 2
    assert ctl.open_window_on_convergence()
    assert ctl.window == (2, 2 + end - start)
    assert ctl.still_pruning()
    assert not ctl.open_window_on_convergence()  # already open


def test_window_stays_when_nothing_is_pending():
    ctl = _controller(target_compression=None)
    window = ctl.window
    assert not ctl.open_window_on_convergence()
    assert ctl.window == window


def test_step_prunes_after_the_patience_and_updates_the_count():
    ctl = _controller(pruning_rate=0.2, pruning_patience=2)
    assert ctl.pruning_patience_ == 2
    # Candidates need more than 2 consecutive steps: none pruned before the
    # third.
    assert not ctl.step() and not ctl.step()
    assert ctl.step()
    alive = sum(int(layer.mask.sum()) for layer in ctl.layers)
    assert ctl.n_pruned == 45 - alive > 0
    assert ctl.compression == ctl.n_pruned / 45


def test_step_does_nothing_without_a_rate():
    ctl = _controller(pruning_rate=0, pruning_patience=1)
    assert ctl.guard is None
    for _ in range(5):
        assert not ctl.step()
    assert ctl.n_pruned == 0
    assert all(not layer.counts.any() for layer in ctl.layers)


def test_step_waits_for_the_window_without_counting():
    # Patience 1 is far shorter than the warm-up: the rule need not count.
    ctl = _controller(
        pruning_patience=1, target_compression=0.5, max_iter=100, updates_per_epoch=1
    )
    assert ctl.window[0] > 2
    assert not ctl.step()
    assert all(not layer.counts.any() for layer in ctl.layers)


class _Unbounded(PruningController):
    def current_patience(self):
        return math.inf


def test_unbounded_patience_is_published_as_the_largest_count():
    coefs, masks, counters = _state()
    ctl = _Unbounded(coefs, masks, counters, [{}, {}], n_samples=10, max_iter=5)
    assert ctl.pruning_patience_ == COUNTER_MAX


def test_a_reused_pruner_is_kept_only_for_the_same_rule():
    first = _controller(pruning_rate=0.2)
    same = _controller(pruning_rate=0.2, pruner=first.pruner)
    assert same.pruner is first.pruner
    other = _controller(pruning_rate=0.3, pruner=first.pruner)
    assert other.pruner is not first.pruner and other.pruner.rate == 0.3


def test_narrow_counters_follow_the_limit():
    narrow = _controller(batch_size=10, pruning_patience=2)
    assert all(layer.counts.dtype == np.uint16 for layer in narrow.layers)
    wide = _controller(batch_size=10, pruning_patience=2, narrow_counter_limit=2)
    assert all(layer.counts.dtype == np.int32 for layer in wide.layers)
    lbfgs = _controller(batch_size=None, pruning_patience=2)
    assert all(layer.counts.dtype == np.int32 for layer in lbfgs.layers)


def _chain_layers():
    # 2 inputs -> 2 hidden -> 1 output; only hidden 0 feeds the output.
    coefs = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0], [0.0]])]
    masks = [np.ones((2, 2), dtype=bool), np.array([[True], [False]])]
    counters = [np.zeros(c.shape, dtype=np.int32) for c in coefs]
    return [SynapseLayer(c, m, k, {}) for c, m, k in zip(coefs, masks, counters)]


def test_guard_verdict_allows_a_harmless_step():
    guard = ReachabilityGuard(_chain_layers())
    over = [np.array([1, 3], dtype=np.intp), np.array([], dtype=np.intp)]
    verdict = guard.verdict(over)
    assert verdict.vetoed is None
    assert [list(p) for p in verdict.allowed] == [[1, 3], []]


def test_guard_verdict_vetoes_a_step_that_cuts_the_output_off():
    guard = ReachabilityGuard(_chain_layers())
    # Pruning both inputs of hidden 0 (positions 0 and 2) leaves the output
    # unreachable: one path (the strongest, from input 1) stays alive.
    over = [np.array([0, 2], dtype=np.intp), np.array([], dtype=np.intp)]
    allowed, vetoed = guard.verdict(over)
    assert [list(p) for p in vetoed] == [[2], []]
    assert [list(p) for p in allowed] == [[0], []]
    # The pruner's protocol: calling the guard gives the allowed part alone.
    again = ReachabilityGuard(_chain_layers())
    assert [list(p) for p in again(over)] == [[0], []]
