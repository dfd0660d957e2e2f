"""Tests for sklearn_bsp.metrics on hand-made learning curves."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_bsp.metrics import learning_speedup, time_to_score

# time_to_score -----------------------------------------------------------------


def test_time_to_score_first_crossing():
    times = [0, 10, 20, 30, 40]
    scores = [0.1, 0.6, 0.4, 0.8, 0.7]
    assert time_to_score(times, scores, 0.05) == 0.0  # reached at the start
    assert time_to_score(times, scores, 0.1) == 0.0  # ">=": equality counts
    assert time_to_score(times, scores, 0.5) == 10.0
    # The dip to 0.4 does not undo having reached 0.6 at t=10.
    assert time_to_score(times, scores, 0.6) == 10.0
    assert time_to_score(times, scores, 0.7) == 30.0
    assert time_to_score(times, scores, 0.8) == 30.0


def test_time_to_score_never_reached_is_inf():
    assert time_to_score([1, 2], [0.3, 0.4], 0.5) == np.inf


def test_time_to_score_returns_python_float_for_scalar_level():
    assert type(time_to_score([1, 2], [0.3, 0.4], 0.35)) is float


def test_time_to_score_vectorised_over_levels():
    result = time_to_score([1, 2, 3], [0.2, 0.5, 0.9], [[0.1, 0.5], [0.6, 1.0]])
    assert_array_equal(result, [[1.0, 2.0], [3.0, np.inf]])


def test_time_to_score_rejects_nan_level():
    with pytest.raises(ValueError, match="level must not be NaN"):
        time_to_score([1, 2], [0.3, 0.4], np.nan)


# learning_speedup ----------------------------------------------------------------


def test_learning_speedup_worked_example():
    # Per-level gaps 1, 2, 6: the largest is at 0.9, where L = 9 / 3.
    result = learning_speedup([1, 2, 3], [0.5, 0.7, 0.9], [2, 4, 9], [0.5, 0.7, 0.9])
    assert result.speedup == 3.0
    assert result.level == 0.9
    assert (result.time_bsp, result.time_ref) == (3.0, 9.0)
    assert_array_equal(result.levels, [0.5, 0.7, 0.9])
    assert_array_equal(result.times_bsp, [1, 2, 3])
    assert_array_equal(result.times_ref, [2, 4, 9])
    assert all(type(result[k]) is float for k in ("speedup", "level", "time_bsp"))


def test_learning_speedup_largest_gap_need_not_be_largest_ratio():
    # Gaps 9, 10 at levels 0.5, 0.8; ratios 10 and 2. Eq 6 picks the gap, not the ratio.
    result = learning_speedup([1, 10], [0.5, 0.8], [10, 20], [0.5, 0.8])
    assert result.level == 0.8
    assert result.speedup == 2.0


def test_learning_speedup_reference_faster_gives_less_than_one():
    result = learning_speedup([2, 4, 9], [0.5, 0.7, 0.9], [1, 2, 3], [0.5, 0.7, 0.9])
    assert result.speedup == pytest.approx(1 / 3)
    assert result.level == 0.9


def test_learning_speedup_default_levels_are_union_up_to_common_best():
    # BSP records 0.6 and 0.95, the reference 0.5 and 0.8; levels above the
    # reference's best 0.8 are not common, so 0.95 is left out.
    result = learning_speedup([1, 2], [0.6, 0.95], [1, 5], [0.5, 0.8])
    assert_array_equal(result.levels, [0.5, 0.6, 0.8])
    # BSP reaches 0.5 and 0.6 at t=1, 0.8 at t=2; the reference 0.5 at t=1, then
    # 0.6 and 0.8 at t=5. Gaps 0, 4, 3: the largest is at 0.6, L = 5 / 1.
    assert_array_equal(result.times_bsp, [1, 1, 2])
    assert_array_equal(result.times_ref, [1, 5, 5])
    assert result.level == 0.6
    assert result.speedup == 5.0


def test_learning_speedup_default_levels_match_a_fine_grid():
    # The default levels are where the time-to-score can change, so a dense grid
    # of levels finds no larger gap.
    rng = np.random.default_rng(0)
    times_b, times_c = np.cumsum(rng.random(30)), np.cumsum(rng.random(40))
    scores_b, scores_c = rng.random(30), rng.random(40)
    default = learning_speedup(times_b, scores_b, times_c, scores_c)
    grid = learning_speedup(
        times_b, scores_b, times_c, scores_c, levels=np.linspace(0, 1, 10001)
    )
    gap = abs(default.time_bsp - default.time_ref)
    assert gap == abs(grid.time_bsp - grid.time_ref)
    assert default.speedup == grid.speedup


def test_learning_speedup_non_monotone_scores():
    # BSP dips after reaching 0.8; reaching a level means the first time.
    result = learning_speedup(
        [1, 2, 3, 4], [0.5, 0.8, 0.6, 0.85], [1, 2, 3, 8], [0.4, 0.5, 0.6, 0.85]
    )
    assert_array_equal(result.levels, [0.4, 0.5, 0.6, 0.8, 0.85])
    assert_array_equal(result.times_bsp, [1, 1, 2, 2, 4])
    assert_array_equal(result.times_ref, [1, 2, 3, 8, 8])
    assert (result.level, result.speedup) == (0.8, 4.0)


def test_learning_speedup_ties_resolve_to_lowest_level():
    result = learning_speedup([1, 2], [0.5, 0.9], [3, 4], [0.5, 0.9])
    assert result.level == 0.5
    assert result.speedup == 3.0


def test_learning_speedup_identical_curves():
    result = learning_speedup([0, 1], [0.2, 0.4], [0, 1], [0.2, 0.4])
    # All gaps 0: the lowest level, reached at t=0 by both; 0 / 0 counts as 1.
    assert (result.level, result.speedup) == (0.2, 1.0)


def test_learning_speedup_bsp_at_time_zero_is_infinite():
    result = learning_speedup([0, 1], [0.9, 0.9], [0, 5], [0.1, 0.9])
    assert (result.level, result.time_bsp, result.time_ref) == (0.9, 0.0, 5.0)
    assert result.speedup == np.inf


def test_learning_speedup_single_evaluations():
    result = learning_speedup([4], [0.7], [6], [0.9])
    assert (result.level, result.speedup) == (0.7, 1.5)


def test_learning_speedup_explicit_levels():
    # Unsorted, duplicated levels; 0.95 is reached by neither curve and 0.3 by both.
    result = learning_speedup(
        [1, 2, 3],
        [0.5, 0.7, 0.9],
        [2, 4, 9],
        [0.5, 0.7, 0.9],
        levels=[0.95, 0.7, 0.3, 0.7],
    )
    assert_array_equal(result.levels, [0.3, 0.7, 0.95])
    assert_array_equal(result.times_bsp, [1, 2, np.inf])
    assert_array_equal(result.times_ref, [2, 4, np.inf])
    assert (result.level, result.speedup) == (0.7, 2.0)


def test_learning_speedup_levels_reached_by_one_curve_are_excluded():
    # Only BSP reaches 0.9 (at t=3, 6 earlier than "never"); the maximum is
    # taken over levels both reach, so 0.5 with L = 5.
    result = learning_speedup([1, 3], [0.5, 0.9], [5, 6], [0.5, 0.6], levels=[0.5, 0.9])
    assert_array_equal(result.times_ref, [5, np.inf])
    assert (result.level, result.speedup) == (0.5, 5.0)


def test_learning_speedup_no_common_level():
    with pytest.raises(ValueError, match="No common score level"):
        learning_speedup([1, 2], [0.5, 0.9], [1, 2], [0.4, 0.6], levels=[0.7, 0.8])


# Validation --------------------------------------------------------------------

GOOD = ([1, 2, 3], [0.5, 0.7, 0.9])


@pytest.mark.parametrize(
    "times, scores, match",
    [
        ([[1, 2, 3]], [0.5, 0.7, 0.9], "times_bsp must be 1-D"),
        ([1, 2, 3], [[0.5, 0.7, 0.9]], "scores_bsp must be 1-D"),
        (5, 0.5, "times_bsp must be 1-D"),
        ([], [], "times_bsp must not be empty"),
        ([1, 2], [0.5, 0.7, 0.9], "same length, got 2 and 3"),
        ([1, np.nan, 3], [0.5, 0.7, 0.9], "times_bsp must be finite"),
        ([1, 2, np.inf], [0.5, 0.7, 0.9], "times_bsp must be finite"),
        ([1, 2, 3], [0.5, np.nan, 0.9], "scores_bsp must be finite"),
        ([1, 3, 2], [0.5, 0.7, 0.9], "times_bsp must be non-decreasing"),
        ([-1, 2, 3], [0.5, 0.7, 0.9], "times_bsp must be non-negative"),
    ],
)
def test_invalid_curves(times, scores, match):
    with pytest.raises(ValueError, match=match):
        learning_speedup(times, scores, *GOOD)
    # The same check guards the reference curve, under its own name.
    with pytest.raises(ValueError, match=match.replace("_bsp", "_ref")):
        learning_speedup(*GOOD, times, scores)
    # And time_to_score, without a suffix.
    with pytest.raises(ValueError, match=match.replace("_bsp", "")):
        time_to_score(times, scores, 0.5)


def test_repeated_times_are_allowed():
    result = learning_speedup([1, 1, 2], [0.5, 0.6, 0.9], [1, 3, 3], [0.5, 0.6, 0.9])
    assert_array_equal(result.times_bsp, [1, 1, 2])
    assert (result.level, result.speedup) == (0.6, 3.0)


@pytest.mark.parametrize("levels", [[], [[0.5]], 0.5, [0.5, np.nan], [np.inf]])
def test_invalid_levels(levels):
    with pytest.raises(ValueError, match="levels must be a non-empty 1-D array"):
        learning_speedup(*GOOD, *GOOD, levels=levels)


# ---------------------------------------------------------------------------
# record_learning_curve
# ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("pruning_rate", [0.1, 0])
def test_record_learning_curve_does_not_change_the_fit(solver, pruning_rate):
    import pickle

    from sklearn.datasets import load_digits

    from sklearn_bsp import BSPClassifier
    from sklearn_bsp.callbacks import PruningMonitor
    from sklearn_bsp.metrics import record_learning_curve

    X, y = load_digits(return_X_y=True)
    X = X / 16
    params = dict(hidden_layer_sizes=(16,), max_iter=6, random_state=0)

    def make():
        return BSPClassifier(
            pruning_rate=pruning_rate, pruning_patience=3, solver=solver, **params
        )

    monitor = PruningMonitor()
    recorded = make().set_callbacks(monitor)
    curve = record_learning_curve(recorded, X[:1200], y[:1200], X[1200:], y[1200:])
    plain = make().fit(X[:1200], y[:1200])
    for a, b in zip(recorded.coefs_, plain.coefs_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(curve.epochs, np.arange(1, plain.n_iter_ + 1))
    assert np.all(np.diff(curve.times) > 0) and curve.times[0] > 0
    if solver != "lbfgs":
        np.testing.assert_allclose(curve.losses, plain.loss_curve_)
    assert curve.scores[-1] == pytest.approx(plain.score(X[1200:], y[1200:]))
    np.testing.assert_allclose(curve.compressions, plain.compression_curve_)
    # The estimator's own callbacks ran alongside and are kept.
    assert len(monitor.records_) == plain.n_iter_
    assert recorded._skl_callbacks == [monitor]
    pickle.dumps(recorded)


def test_record_learning_curve_needs_callback_support():
    from sklearn.neural_network import MLPClassifier

    from sklearn_bsp.metrics import record_learning_curve

    with pytest.raises(TypeError, match="BSPClassifier.pruning_rate=0"):
        record_learning_curve(MLPClassifier(), [[0]], [0], [[0]], [0])


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600], X[1200:] / 16, y[1200:]


def test_record_learning_curve_over_partial_fit_calls():
    # The curve of partial_fit_epochs calls is what a loop of partial_fit
    # calls, scored after each, would record; the training is that loop's.
    from sklearn_bsp import BSPClassifier
    from sklearn_bsp.metrics import record_learning_curve

    X, y, X_test, y_test = _digits()
    classes = np.unique(y)

    def make():
        return BSPClassifier(
            hidden_layer_sizes=(16,),
            pruning_rate=0.2,
            pruning_patience=2,
            target_compression=None,
            random_state=0,
        )

    recorded = make()
    curve = record_learning_curve(
        recorded, X, y, X_test, y_test, partial_fit_epochs=5, classes=classes
    )
    looped, scores, compressions = make(), [], []
    for _ in range(5):
        looped.partial_fit(X, y, classes=classes)
        scores.append(looped.score(X_test, y_test))
        compressions.append(looped.compression_)
    for a, b in zip(
        recorded.coefs_ + recorded.coef_masks_, looped.coefs_ + looped.coef_masks_
    ):
        np.testing.assert_array_equal(a, b)
    assert_array_equal(curve.epochs, [1, 2, 3, 4, 5])
    assert_array_equal(curve.scores, scores)
    assert_array_equal(curve.losses, looped.loss_curve_)
    assert_array_equal(curve.compressions, compressions)
    assert curve.compressions[-1] > 0  # the rule did prune along the way
    assert curve.times[0] > 0 and np.all(np.diff(curve.times) > 0)


def test_record_learning_curve_in_parts_continues_the_training():
    # Two parts (3 + 2 epochs) record what one part of 5 epochs records:
    # each call goes on from the state the estimator is in.
    from sklearn_bsp import BSPClassifier
    from sklearn_bsp.metrics import record_learning_curve

    X, y, X_test, y_test = _digits()
    params = dict(hidden_layer_sizes=(16,), pruning_rate=0.2, random_state=0)
    whole = record_learning_curve(
        BSPClassifier(**params),
        X,
        y,
        X_test,
        y_test,
        partial_fit_epochs=5,
        classes=range(10),
    )
    est = BSPClassifier(**params)
    first = record_learning_curve(
        est, X, y, X_test, y_test, partial_fit_epochs=3, classes=range(10)
    )
    second = record_learning_curve(
        est, X, y, X_test, y_test, partial_fit_epochs=2, classes=range(10)
    )
    assert_array_equal(second.epochs, [1, 2])
    for key in ("scores", "losses", "compressions"):
        assert_array_equal(np.r_[first[key], second[key]], whole[key])


def test_record_learning_curve_partial_fit_takes_any_estimator():
    # No callbacks needed: scikit-learn's MLPRegressor, with a scorer and
    # sample weights passed to every call.
    from sklearn.neural_network import MLPRegressor

    from sklearn_bsp.metrics import record_learning_curve

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X @ rng.normal(size=5)
    weights = np.r_[np.ones(100), np.zeros(100)]
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    curve = record_learning_curve(
        reg, X, y, X, y, scoring="r2", sample_weight=weights, partial_fit_epochs=4
    )
    assert_array_equal(curve.epochs, [1, 2, 3, 4])
    assert curve.scores[-1] == pytest.approx(reg.score(X, y))
    assert_array_equal(curve.compressions, np.zeros(4))  # no compression_
    # The weights reached partial_fit: a fit without them ends elsewhere.
    plain = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(4):
        plain.partial_fit(X, y)
    assert not np.array_equal(plain.coefs_[0], reg.coefs_[0])


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True, "3"])
def test_record_learning_curve_rejects_bad_partial_fit_epochs(epochs):
    from sklearn_bsp import BSPClassifier
    from sklearn_bsp.metrics import record_learning_curve

    with pytest.raises(ValueError, match="partial_fit_epochs must be"):
        record_learning_curve(
            BSPClassifier(), [[0]], [0], [[0]], [0], partial_fit_epochs=epochs
        )


def test_record_learning_curve_classes_only_with_partial_fit():
    from sklearn_bsp import BSPClassifier
    from sklearn_bsp.metrics import record_learning_curve

    with pytest.raises(ValueError, match="classes"):
        record_learning_curve(BSPClassifier(), [[0]], [0], [[0]], [0], classes=[0])
