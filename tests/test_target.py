"""target_compression: the schedule, the default, and stopping that knows about it."""

import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_bsp import BSPClassifier, BSPRegressor, _damage
from sklearn_bsp._schedules import (
    auto_pruning_patience,
    auto_pruning_rate,
    auto_target_compression,
    target_patience,
    target_schedule,
    target_window,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, random_state=0, stratify=y)


# ---------------------------------------------------------------- schedules


def test_cubic_schedule_by_hand():
    window = (10.0, 30.0)
    assert target_schedule(0, window, 0.8) == 0.0
    assert target_schedule(10, window, 0.8) == 0.0
    # Halfway: 0.8 * (1 - 0.5 ** 3) = 0.7.
    assert target_schedule(20, window, 0.8) == pytest.approx(0.7)
    assert target_schedule(30, window, 0.8) == pytest.approx(0.8)
    assert target_schedule(1000, window, 0.8) == pytest.approx(0.8)
    values = [target_schedule(e / 4, window, 0.8) for e in range(160)]
    assert np.all(np.diff(values) >= 0)


def test_window_counts_updates_and_keeps_time_to_recover():
    # 60,000 samples in batches of 200: 300 updates an epoch.
    start, end = target_window(200, 300)
    assert start == pytest.approx(4000 / 300)
    assert end - start == pytest.approx(12000 / 300)
    # One update an epoch: the caps (60 % of max_iter, then a fifth).
    assert target_window(200, 1) == (120.0, 160.0)
    # At least a fifth of the budget is left to recover, whatever the size.
    for updates in (1, 7, 34, 300, 3000):
        for max_iter in (10, 200, 1000):
            assert target_window(max_iter, updates)[1] <= 0.8 * max_iter
    # L-BFGS: from the start, a tenth of max_iter.
    assert target_window(200) == (0.0, 20.0)
    assert target_window(3) == (0.0, 1.0)


def test_target_patience_is_a_twentieth_of_the_window():
    assert target_patience(300, (6.0, 26.0)) == 300
    assert target_patience(1, (120.0, 160.0)) == 2
    assert target_patience(1, (0.0, 1.0)) == 1


def test_auto_target_grows_with_the_network():
    assert auto_target_compression(700) == 0.5
    assert auto_target_compression(1_000) == pytest.approx(0.5)
    assert auto_target_compression(10_000) == pytest.approx(0.65)
    # Linear in log10 between the points: halfway in log between 10,000
    # and 50,000 is halfway between 65 % and 90 %.
    assert auto_target_compression(10_000 * 5**0.5) == pytest.approx(0.775)
    assert auto_target_compression(50_000) == pytest.approx(0.9)
    assert auto_target_compression(10**7) == 0.9
    sizes = np.logspace(2, 6, 40)
    assert np.all(np.diff([auto_target_compression(n) for n in sizes]) >= 0)
    # scikit-learn's default network on Fashion-MNIST: 784-100-10.
    assert auto_target_compression(784 * 100 + 100 * 10) == 0.9


# ---------------------------------------------------------------- estimators


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_default_reaches_its_target(digits, solver):
    X_train, X_test, y_train, y_test = digits
    params = dict(solver=solver, random_state=0)
    if solver == "sgd":
        params["learning_rate_init"] = 0.05
    clf = BSPClassifier(**params).fit(X_train, y_train)
    n = sum(c.size for c in clf.coefs_)
    assert clf.target_compression_ == pytest.approx(auto_target_compression(n))
    assert clf.compression_ == math.floor(clf.target_compression_ * n) / n
    assert clf.compression_ == 1 - sum(m.sum() for m in clf.coef_masks_) / n
    mlp = MLPClassifier(**params).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= mlp.score(X_test, y_test) - 0.02


def test_named_target_is_reached_and_capped_by_max_compression(digits):
    X_train, _, y_train, _ = digits
    clf = BSPClassifier(target_compression=0.9, random_state=0).fit(X_train, y_train)
    n = sum(c.size for c in clf.coefs_)
    assert clf.compression_ == math.floor(0.9 * n) / n
    capped = BSPClassifier(
        target_compression=0.9, max_compression=0.6, random_state=0
    ).fit(X_train, y_train)
    assert capped.compression_ == math.floor(0.6 * n) / n


def test_target_follows_the_schedule_epoch_by_epoch(digits):
    X_train, _, y_train, _ = digits
    clf = BSPClassifier(target_compression=0.7, random_state=0).fit(X_train, y_train)
    updates = math.ceil(len(X_train) / 200)
    window = target_window(clf.max_iter, updates)
    for epoch, compression in enumerate(clf.compression_curve_, start=1):
        assert compression <= target_schedule(epoch, window, 0.7) + 1e-12
        if epoch <= window[0]:
            assert compression == 0
    assert clf.compression_curve_[-1] == pytest.approx(0.7, abs=1e-3)


def test_paper_schedules_by_name(digits):
    X_train, _, y_train, _ = digits
    clf = BSPClassifier(
        pruning_rate="paper", pruning_patience="paper", max_iter=3, random_state=0
    ).fit(X_train, y_train)
    n_hidden, n_samples = 100, len(X_train)
    assert clf.pruning_rate_ == auto_pruning_rate(n_hidden, n_samples)
    n = sum(c.size for c in clf.coefs_)
    n_pruned = round(clf.compression_ * n)
    # Eq 2 rounded down: the same bound for whole counts.
    assert clf.pruning_patience_ == math.floor(
        auto_pruning_patience(n_hidden, n_samples, n, n_pruned)
    )
    # Without a target, "auto" is the paper's too: what 0.2 did.
    old = BSPClassifier(target_compression=None, max_iter=3, random_state=0)
    old.fit(X_train, y_train)
    assert old.pruning_rate_ == clf.pruning_rate_
    assert old.pruning_patience_ == clf.pruning_patience_


def test_pruning_rate_zero_is_the_dense_network_whatever_the_target(digits):
    X_train, _, y_train, _ = digits
    clf = BSPClassifier(pruning_rate=0, target_compression=0.9, random_state=0)
    clf.fit(X_train, y_train)
    mlp = MLPClassifier(random_state=0).fit(X_train, y_train)
    assert clf.compression_ == 0
    for a, b in zip(clf.coefs_, mlp.coefs_):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- stopping


def test_tol_never_stops_a_fit_before_the_target_is_reached(digits):
    X_train, _, y_train, _ = digits
    # A tol no epoch can beat: scikit-learn's rule alone would stop after
    # n_iter_no_change + 1 epochs; the dense network has "converged" at
    # once, so the window opens then, and the fit goes on until the target
    # is reached and n_iter_no_change epochs after.
    clf = BSPClassifier(
        target_compression=0.8, tol=10.0, n_iter_no_change=2, random_state=0
    ).fit(X_train, y_train)
    n = sum(c.size for c in clf.coefs_)
    assert clf.compression_ == math.floor(0.8 * n) / n
    curve = np.asarray(clf.compression_curve_)
    reached = int(np.argmax(curve >= curve[-1])) + 1
    assert clf.n_iter_ > reached + 2
    # The window opened at convergence (epoch 4), long before the planned
    # start (epoch 100 here), and the first synapses went a patience later
    # (18 updates): the fit did not idle until the planned start.
    assert curve[10] > 0
    assert clf.n_iter_ < 100


def test_early_stopping_keeps_a_network_of_the_final_compression(digits):
    X_train, _, y_train, _ = digits
    clf = BSPClassifier(
        target_compression=0.8,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
    ).fit(X_train, y_train)
    n = sum(c.size for c in clf.coefs_)
    # The best epoch restored is one of the pruned network, not a denser one
    # from before pruning.
    assert clf.compression_ == math.floor(0.8 * n) / n


def test_capped_rule_is_not_stopped_right_after_the_cap(digits):
    # The rule at its own pace (no target), capped: each pruning step bumps
    # the loss; scikit-learn's rule used to stop the fit 5 epochs after the
    # cap, 13 points below the same fit run to the end.
    X_train, X_test, y_train, y_test = digits
    params = dict(
        pruning_rate=0.3,
        pruning_patience=20,
        max_compression=0.9,
        target_compression=None,
        max_iter=100,
        random_state=0,
    )
    clf = BSPClassifier(**params).fit(X_train, y_train)
    full = BSPClassifier(**params, n_iter_no_change=1000).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= full.score(X_test, y_test) - 0.02


def test_regressor_on_raw_diabetes_is_not_stopped_mid_pruning():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bsp = BSPRegressor(random_state=0, max_iter=2000).fit(X_train, y_train)
        mlp = MLPRegressor(random_state=0, max_iter=2000).fit(X_train, y_train)
    assert bsp.compression_ >= 0.5
    assert bsp.score(X_test, y_test) >= mlp.score(X_test, y_test) - 0.05


def test_damaged_network_warns_and_names_what_to_change(digits):
    X_train, _, y_train, _ = digits
    with pytest.warns(UserWarning, match="damaged") as record:
        BSPClassifier(
            hidden_layer_sizes=(8,),
            target_compression=0.97,
            max_iter=60,
            random_state=0,
        ).fit(X_train, y_train)
    message = str(next(w.message for w in record if "damaged" in str(w.message)))
    for advice in ("target_compression", "max_iter", "hidden_layer_sizes"):
        assert advice in message


def test_rule_that_prunes_too_far_warns(digits):
    # The rule at its own pace, uncapped, on digits: 0.45 accuracy at 99.7 %
    # pruned in 0.2, without a word.
    X_train, _, y_train, _ = digits
    with pytest.warns(UserWarning, match="damaged.*pruning_rate"):
        BSPClassifier(
            pruning_rate=0.3,
            pruning_patience=20,
            target_compression=None,
            max_iter=100,
            random_state=0,
        ).fit(X_train, y_train)


def test_healthy_pruned_fit_does_not_warn(digits):
    X_train, _, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        BSPClassifier(random_state=0).fit(X_train, y_train)


def test_lbfgs_rule_that_prunes_too_far_warns():
    # L-BFGS converges, then the rule halves the network every 20
    # iterations: the loss ends 15x above the converged one.
    X, y = load_digits(return_X_y=True)
    X_train, y_train = X[:1000] / 16.0, y[:1000]
    with pytest.warns(UserWarning, match="damaged"):
        BSPClassifier(
            hidden_layer_sizes=(16,),
            solver="lbfgs",
            target_compression=None,
            pruning_rate=0.5,
            pruning_patience=20,
            random_state=0,
        ).fit(X_train, y_train)


def _user_warnings(est, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y)
    return [str(w.message) for w in record if w.category is UserWarning]


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
@pytest.mark.parametrize("random_state", [0, 2])
def test_rule_that_prunes_before_learning_warns(solver, random_state):
    # One hidden neuron, patience 1: the rule keeps 1 of the 20 input
    # synapses two steps in, before the network has learned. The loss never
    # had a lower value before the last pruning step to compare with, and a
    # layer of width 1 is never short of synapses to feed its neuron.
    X, y = make_regression(n_features=20, random_state=0)
    params = dict(
        hidden_layer_sizes=(1,),
        solver=solver,
        pruning_rate=0.999,
        pruning_patience=1,
        target_compression=None,
        max_iter=2000,
        random_state=random_state,
    )
    est = BSPRegressor(**params)
    messages = [m for m in _user_warnings(est, X, y) if "damaged" in m]
    assert int(est.coef_masks_[0].sum()) == 1
    # The dense network of that width fits these data (R^2 0.96-1.00, by
    # the BLAS kernels' summation order).
    dense = BSPRegressor(**{**params, "solver": "lbfgs", "pruning_rate": 0})
    assert dense.fit(X, y).score(X, y) > 0.95 > 0.5 > est.score(X, y)
    assert len(messages) == 1, messages
    for advice in (
        "pruning_rate",
        "pruning_patience",
        "target_compression",
        "max_compression",
        "hidden_layer_sizes",
        "input features still connected: 1 of 20",
    ):
        assert advice in messages[0], advice


def test_damage_probe_changes_nothing(monkeypatch):
    # The probe trains copies: the fitted network, its state and the random
    # stream it leaves are those of a fit without it.
    X, y = make_regression(n_features=20, random_state=0)
    params = dict(
        hidden_layer_sizes=(4,),
        pruning_rate=0.999,
        pruning_patience=1,
        target_compression=None,
        dropout=0.1,
        max_iter=30,
        random_state=0,
    )
    probed = BSPRegressor(**params)
    assert any("damaged" in m for m in _user_warnings(probed, X, y))
    monkeypatch.setattr(_damage, "probe_pruned_synapses", lambda *a: None)
    plain = BSPRegressor(**params)
    assert not any("damaged" in m for m in _user_warnings(plain, X, y))
    for a, b in zip(
        [*probed.coefs_, *probed.intercepts_, *probed.pruning_counters_],
        [*plain.coefs_, *plain.intercepts_, *plain.pruning_counters_],
    ):
        np.testing.assert_array_equal(a, b)
    assert probed.loss_curve_ == plain.loss_curve_
    assert probed._random_state.randint(2**31) == plain._random_state.randint(2**31)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="lbfgs"),
        dict(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=300),
        dict(solver="lbfgs", target_compression=0.9),
        dict(solver="sgd"),
    ],
)
def test_healthy_pruned_fits_do_not_warn(digits, params):
    X_train, X_test, y_train, y_test = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = BSPClassifier(random_state=0, **params).fit(X_train, y_train)
    assert clf.compression_ > 0.5 and clf.score(X_test, y_test) > 0.9
