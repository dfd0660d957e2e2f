"""Eqs 1 and 2 against the values worked out from the paper's constants."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from sklearn_bsp import BSPClassifier
from sklearn_bsp._controller import PruningController
from sklearn_bsp._schedules import (
    MAX_PRUNING_RATE,
    auto_pruning_patience,
    auto_pruning_rate,
    target_patience,
    target_window,
)


@pytest.mark.parametrize(
    "n_neurons, n_samples, expected",
    [
        (10, 60_000, 0.0068),
        (100, 60_000, 0.0136),
        (500, 60_000, 0.0183),
        (10, 1_200, 0.110),
        (100, 1_200, 0.221),
        (500, 1_200, 0.298),
    ],
)
def test_pruning_rate_paper_values(n_neurons, n_samples, expected):
    assert auto_pruning_rate(n_neurons, n_samples) == pytest.approx(expected, abs=6e-4)


@pytest.mark.parametrize(
    "n_neurons, n_samples, expected",
    [
        (10, 60_000, 2629),
        (100, 60_000, 2405),
        (500, 60_000, 2385),
        (10, 1_200, 395),
        (100, 1_200, 171),
        (500, 1_200, 151),
    ],
)
def test_pruning_patience_paper_values(n_neurons, n_samples, expected):
    # Before any pruning: Np = 0 (N itself cancels out).
    patience = auto_pruning_patience(n_neurons, n_samples, 10_000, 0)
    assert patience == pytest.approx(expected, abs=1)


def test_rate_is_finite_where_printed_eq1_divides_by_zero():
    # ln(50 * 1200 / 60000) = 0: the printed eq 1 would divide by zero.
    rate = auto_pruning_rate(100, 1_200)
    assert math.isfinite(rate) and rate > 0


@pytest.mark.parametrize("n_samples", [1, 2, 10, 100, 1_200, 10**6, 10**9])
def test_rate_clipped_into_range(n_samples):
    for n_neurons in (2, 10, 10**4, 10**8):
        assert 0 <= auto_pruning_rate(n_neurons, n_samples) <= MAX_PRUNING_RATE


def test_rate_zero_without_hidden_neurons_to_spare():
    assert auto_pruning_rate(0, 100) == 0.0
    assert auto_pruning_rate(1, 100) == 0.0


def test_patience_grows_as_network_empties_and_guards_over_pruning():
    values = [auto_pruning_patience(100, 60_000, 1000, n) for n in (0, 500, 900, 990)]
    assert values == sorted(values)
    assert auto_pruning_patience(100, 60_000, 1000, 999) > 1e100
    # Nothing left to prune: never prune (no division by zero, no overflow).
    assert auto_pruning_patience(100, 60_000, 1000, 1000) == math.inf
    assert auto_pruning_patience(0, 60_000, 1000, 0) > 0


def test_invalid_sample_count():
    with pytest.raises(ValueError, match="n_samples"):
        auto_pruning_rate(10, 0)


def test_schedules_are_monotone_in_the_sample_count():
    # The paper: pr falls and pc grows as Nsam grows, everywhere (the log
    # is clamped at 0 below B / beta = 1,200 samples).
    sizes = [1, 10, 100, 150, 1_199, 1_200, 1_201, 5_000, 60_000, 10**7]
    for n_neurons in (10, 100, 500):
        rates = [auto_pruning_rate(n_neurons, n) for n in sizes]
        patiences = [auto_pruning_patience(n_neurons, n, 10_000, 0) for n in sizes]
        assert all(a >= b for a, b in zip(rates, rates[1:]))
        assert all(a <= b for a, b in zip(patiences, patiences[1:]))


@pytest.mark.parametrize("n_samples", [1, 100, 150, 1_200])
def test_small_data_sets_get_the_1200_sample_schedule(n_samples):
    # Below 1,200 samples, D = 1: the strongest pruning of the schedules.
    assert auto_pruning_rate(100, n_samples) == pytest.approx(0.221, abs=6e-4)
    assert auto_pruning_patience(100, n_samples, 10_000, 0) == pytest.approx(171, abs=1)


# ---------------------------------------------------------------------------
# The resolved patience of a fit, ``pruning_patience_``: an int in every path.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


def _seven(est, n_samples):
    return 7


def _eq2_floor(est, n_samples):
    # Eq 2 from the synapses pruned so far, rounded down: an integer counter
    # exceeds p exactly when it exceeds floor(p).
    n_pruned = sum(int((~m).sum()) for m in est.coef_masks_)
    patience = auto_pruning_patience(
        est._n_hidden_neurons, n_samples, est._n_synapses, n_pruned
    )
    return math.floor(patience)


def _target_pace(est, n_samples):
    # A twentieth of the target's window, in steps (one batch per epoch
    # here, and one step per L-BFGS iteration).
    updates = None if est.solver == "lbfgs" else 1
    return target_patience(1, target_window(est.max_iter, updates))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize(
    "params, expected",
    [
        (dict(pruning_patience=7), _seven),
        (dict(pruning_patience=np.int64(7)), _seven),
        (dict(pruning_patience="auto", target_compression=0.5), _target_pace),
        (dict(pruning_patience="paper", target_compression=0.5), _eq2_floor),
        (dict(pruning_patience="paper", target_compression=None), _eq2_floor),
        (dict(pruning_patience="auto", target_compression=None), _eq2_floor),
        # Resolved even when pruning is off.
        (dict(pruning_rate=0, target_compression=None), _eq2_floor),
    ],
)
def test_resolved_patience_is_an_int(iris, solver, params, expected):
    X, y = iris
    est = BSPClassifier(
        hidden_layer_sizes=(20,), solver=solver, max_iter=30, random_state=0
    )
    est.set_params(**{"pruning_rate": 0.2, **params}).fit(X, y)
    assert type(est.pruning_patience_) is int
    assert est.pruning_patience_ == expected(est, len(X)) >= 1


@pytest.mark.parametrize("patience", [5, "auto", "paper"])
def test_resolved_patience_is_an_int_after_partial_fit(iris, patience):
    X, y = iris
    est = BSPClassifier(
        hidden_layer_sizes=(20,), pruning_patience=patience, random_state=0
    )
    for _ in range(3):
        est.partial_fit(X, y, classes=np.unique(y))
        assert type(est.pruning_patience_) is int


class _UnboundedController(PruningController):
    # Eq 2 once (nearly) every synapse is pruned: no counter can exceed it.
    def current_patience(self):
        return math.inf


class _UnboundedPatience(BSPClassifier):
    _pruning_controller = _UnboundedController


def test_unbounded_patience_is_the_largest_count(iris):
    X, y = iris
    est = _UnboundedPatience(
        hidden_layer_sizes=(20,), target_compression=None, max_iter=5
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert type(est.pruning_patience_) is int
    assert est.pruning_patience_ == np.iinfo(np.int32).max
    assert est.compression_ == 0
