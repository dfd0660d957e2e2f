"""L-BFGS prunes: one iteration is one step of the rule, restarts after pruning."""

import math
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_bsp import BSPClassifier, BSPRegressor
from sklearn_bsp._schedules import (
    TARGET_PRUNING_RATE,
    auto_pruning_patience,
    auto_pruning_rate,
    auto_target_compression,
    target_patience,
    target_window,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, random_state=0, stratify=y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [BSPClassifier, BSPRegressor])
def test_defaults_never_raise(Estimator):
    X, y = make_regression(n_samples=60, n_features=5, random_state=0)
    if Estimator is BSPClassifier:
        y = y > 0
    est = Estimator(solver="lbfgs", max_iter=30, random_state=0).fit(X, y)
    # "auto" with the default target: the target's pace, over the first
    # tenth of max_iter; the patience counts iterations.
    n_out = 1
    n_synapses = 5 * 100 + 100 * n_out
    assert est.target_compression_ == auto_target_compression(n_synapses)
    assert est.pruning_rate_ == TARGET_PRUNING_RATE
    assert est.pruning_patience_ == target_patience(1, target_window(30))
    assert est.compression_ == math.floor(est.target_compression_ * n_synapses) / (
        n_synapses
    )
    assert len(est.compression_curve_) == est.n_iter_
    # By name, the paper's equations; the patience counts iterations.
    est = Estimator(
        solver="lbfgs",
        pruning_rate="paper",
        pruning_patience="paper",
        max_iter=30,
        random_state=0,
    ).fit(X, y)
    assert est.pruning_rate_ == auto_pruning_rate(100, 60)
    # Eq 2 rounded down: the same bound for whole counts.
    assert est.pruning_patience_ == math.floor(
        auto_pruning_patience(
            100,
            60,
            est._n_synapses,
            est._n_synapses - sum(m.sum() for m in est.coef_masks_),
        )
    )


def test_lbfgs_prunes_within_two_points_of_mlp(digits):
    X_train, X_test, y_train, y_test = digits
    params = dict(
        hidden_layer_sizes=(64,), solver="lbfgs", max_iter=300, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bsp = BSPClassifier(
            target_compression=None, pruning_rate=0.05, pruning_patience=10, **params
        )
        bsp.fit(X_train, y_train)
        mlp = MLPClassifier(**params).fit(X_train, y_train)
    assert bsp.compression_ > 0.5
    assert bsp.n_iter_ <= 300
    assert bsp.score(X_test, y_test) >= mlp.score(X_test, y_test) - 0.02
    for coef, mask in zip(bsp.coefs_, bsp.coef_masks_):
        assert np.all(coef[~mask] == 0.0)
        assert coef.dtype == X_train.dtype
    # The compression only grows, one entry per iteration.
    curve = np.asarray(bsp.compression_curve_)
    assert len(curve) == bsp.n_iter_
    assert np.all(np.diff(curve) >= 0) and curve[-1] == bsp.compression_


def test_patience_counts_iterations(digits):
    # With patience p nothing can be pruned before iteration p + 1.
    X_train, _, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = BSPClassifier(
            hidden_layer_sizes=(32,),
            solver="lbfgs",
            target_compression=None,
            pruning_rate=0.2,
            pruning_patience=6,
            max_iter=20,
            random_state=0,
        ).fit(X_train, y_train)
    curve = np.asarray(est.compression_curve_)
    assert np.all(curve[:6] == 0) and curve[6] > 0


@pytest.mark.parametrize("budget", [dict(max_iter=25), dict(max_fun=40)])
def test_budgets_bound_the_totals_across_restarts(digits, budget):
    X_train, _, y_train, _ = digits
    params = dict(hidden_layer_sizes=(32,), solver="lbfgs", random_state=0)
    params.update(
        target_compression=None, pruning_rate=0.2, pruning_patience=2, **budget
    )
    calls = []
    est = BSPClassifier(**params)
    original = est._network

    def counting_network(layers):
        network = original(layers)
        backprop = network.backprop

        def counted(*args, **kwargs):
            calls.append(1)
            return backprop(*args, **kwargs)

        network.backprop = counted
        return network

    est._network = counting_network
    with pytest.warns(ConvergenceWarning):
        est.fit(X_train, y_train)
    assert est.compression_ > 0
    assert est.n_iter_ <= budget.get("max_iter", 15000)
    # scipy may overshoot maxfun by one line search per run, as for
    # MLPClassifier; the restarts must not multiply the budget.
    if "max_fun" in budget:
        assert len(calls) <= budget["max_fun"] + 25


def test_warm_start_continues_counters(digits):
    X_train, _, y_train, _ = digits
    params = dict(
        hidden_layer_sizes=(32,),
        solver="lbfgs",
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=4,
        max_iter=6,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = BSPClassifier(warm_start=True, **params).fit(X_train, y_train)
        before = [m.copy() for m in est.coef_masks_]
        est.fit(X_train, y_train)
    for old, new in zip(before, est.coef_masks_):
        # Irreversible: nothing pruned grows back.
        assert not np.any(new & ~old)
    assert est.compression_ > 0


def test_regressor_prunes_with_lbfgs():
    X, y = make_regression(n_samples=300, n_features=20, noise=1.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = BSPRegressor(
            hidden_layer_sizes=(64,),
            solver="lbfgs",
            target_compression=None,
            pruning_rate=0.1,
            pruning_patience=10,
            max_iter=400,
            random_state=0,
        ).fit(X, y)
    assert est.compression_ > 0.3
    assert est.score(X, y) > 0.95


def _convergence_warnings(est, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y)
    return [str(w.message) for w in record if w.category is ConvergenceWarning]


@pytest.mark.parametrize(
    "pruning",
    [
        # The target's pace: the last run starts after the last restart and
        # runs out of iterations on its own.
        dict(),
        # The rule at its own pace: it prunes at the last iteration too.
        dict(target_compression=None, pruning_rate=0.2, pruning_patience=4),
    ],
)
def test_convergence_warning_counts_every_run_in_scikit_learn_words(digits, pruning):
    # Pruning restarts L-BFGS; the last run alone did a few iterations.
    # The warning counts all of them, as n_iter_ does, and says what
    # MLPClassifier says when its single run stops at max_iter.
    X_train, _, y_train, _ = digits
    params = dict(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=30, random_state=0)
    (expected,) = _convergence_warnings(MLPClassifier(**params), X_train, y_train)
    assert "Increase the number of iterations" in expected
    est = BSPClassifier(**params, **pruning)
    (message,) = _convergence_warnings(est, X_train, y_train)
    assert est.n_iter_ == 30
    assert message.startswith(expected), message
    restarts = message[len(expected) :]
    assert re.fullmatch(
        r"\nPruning restarted L-BFGS [1-9]\d* time\(s\); max_iter and max_fun "
        r"bound all the runs together \(30 iteration\(s\) and \d+ function calls, "
        r"max_fun=15000\)\.",
        restarts,
    ), restarts


def test_convergence_warning_of_a_dense_fit_is_mlp_s(digits):
    X_train, _, y_train, _ = digits
    params = dict(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=30, random_state=0)
    expected = _convergence_warnings(MLPClassifier(**params), X_train, y_train)
    est = BSPClassifier(**params, pruning_rate=0)
    assert _convergence_warnings(est, X_train, y_train) == expected


def test_convergence_warning_at_max_fun_counts_every_run(digits):
    X_train, _, y_train, _ = digits
    est = BSPClassifier(
        hidden_layer_sizes=(32,),
        solver="lbfgs",
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=2,
        max_fun=40,
        random_state=0,
    )
    (message,) = _convergence_warnings(est, X_train, y_train)
    assert est.n_iter_ < est.max_iter
    assert message.startswith(
        f"lbfgs failed to converge after {est.n_iter_} iteration(s) (status=1):\n"
        "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT\n"
    ), message
    # The iteration budget was not the limit: no advice to raise it.
    assert "Increase the number of iterations" not in message
    assert "Pruning restarted L-BFGS" in message and "max_fun=40)" in message


def test_restarts_that_converge_do_not_warn(digits):
    X_train, _, y_train, _ = digits
    est = BSPClassifier(hidden_layer_sizes=(32,), solver="lbfgs", random_state=0)
    assert _convergence_warnings(est, X_train, y_train) == []
    assert est.n_iter_ < est.max_iter and est.compression_ > 0
