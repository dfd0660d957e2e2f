"""BSPClassifier: parity with MLPClassifier, the pruning rule in a fit, errors."""

import math
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import (
    load_digits,
    make_classification,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_bsp import BSPClassifier
from sklearn_bsp._schedules import auto_pruning_patience, auto_pruning_rate

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _assert_same_network(a, b, rtol=1e-12):
    assert len(a.coefs_) == len(b.coefs_)
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert ca.dtype == cb.dtype
        np.testing.assert_allclose(ca, cb, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_


# ---------------------------------------------------------------------------
# With pruning off, BSPClassifier is MLPClassifier.
# ---------------------------------------------------------------------------

PARITY_CASES = {
    "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.1),
    "sgd-plain-invscaling": dict(
        solver="sgd",
        nesterovs_momentum=False,
        learning_rate="invscaling",
        learning_rate_init=0.5,
    ),
    "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=1),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam-two-layers-logistic": dict(
        solver="adam", hidden_layer_sizes=(15, 7), activation="logistic"
    ),
    "adam-early-stopping": dict(solver="adam", early_stopping=True),
    "sgd-tanh-batch": dict(solver="sgd", activation="tanh", batch_size=64),
    "sgd-no-shuffle-identity": dict(solver="sgd", shuffle=False, activation="identity"),
}


@pytest.mark.parametrize("case", PARITY_CASES.values(), ids=PARITY_CASES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_pruning_equals_mlpclassifier(digits, case, dtype):
    X, y = digits
    X = X.astype(dtype)
    params = {"hidden_layer_sizes": (20,), "max_iter": 8, "random_state": 0, **case}
    mlp = MLPClassifier(**params).fit(X, y)
    bsp = BSPClassifier(target_compression=None, pruning_rate=0, **params).fit(X, y)
    _assert_same_network(mlp, bsp, rtol=1e-12 if dtype == np.float64 else 1e-5)
    np.testing.assert_allclose(mlp.predict_proba(X), bsp.predict_proba(X), rtol=1e-5)
    assert bsp.compression_ == 0.0
    assert all(m.all() for m in bsp.coef_masks_)


def test_no_pruning_equals_mlpclassifier_with_sample_weight_binary(digits):
    X, y = digits
    y = y > 4
    sw = np.random.default_rng(0).uniform(0.5, 2, size=len(y))
    params = dict(hidden_layer_sizes=(10,), max_iter=5, random_state=1, solver="sgd")
    mlp = MLPClassifier(**params).fit(X, y, sample_weight=sw)
    bsp = BSPClassifier(target_compression=None, pruning_rate=0, **params).fit(
        X, y, sample_weight=sw
    )
    _assert_same_network(mlp, bsp)


def test_no_pruning_equals_mlpclassifier_multilabel():
    X, Y = make_multilabel_classification(n_samples=120, n_classes=4, random_state=0)
    params = dict(hidden_layer_sizes=(10,), max_iter=5, random_state=0)
    mlp = MLPClassifier(**params).fit(X, Y)
    bsp = BSPClassifier(target_compression=None, pruning_rate=0, **params).fit(X, Y)
    _assert_same_network(mlp, bsp)
    np.testing.assert_array_equal(mlp.predict(X), bsp.predict(X))


def test_no_pruning_equals_mlpclassifier_partial_fit(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(10,), random_state=0, solver="adam")
    mlp, bsp = (
        MLPClassifier(**params),
        BSPClassifier(target_compression=None, pruning_rate=0, **params),
    )
    classes = np.unique(y)
    for chunk in np.array_split(np.arange(len(y)), 4):
        mlp.partial_fit(X[chunk], y[chunk], classes=classes)
        bsp.partial_fit(X[chunk], y[chunk], classes=classes)
    _assert_same_network(mlp, bsp)


def test_lbfgs_without_pruning_equals_mlpclassifier(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(10,), max_iter=30, random_state=0, solver="lbfgs")
    mlp = MLPClassifier(**params).fit(X, y)
    bsp = BSPClassifier(target_compression=None, pruning_rate=0, **params).fit(X, y)
    for ca, cb in zip(mlp.coefs_, bsp.coefs_):
        np.testing.assert_allclose(ca, cb, rtol=1e-10, atol=1e-12)
    assert bsp.loss_ == pytest.approx(mlp.loss_)


def test_lbfgs_warm_start_keeps_pruned_synapses_at_zero(digits):
    X, y = digits
    clf = BSPClassifier(
        hidden_layer_sizes=(20,),
        target_compression=None,
        pruning_rate=0.3,
        pruning_patience=2,
        max_iter=3,
        random_state=0,
    ).fit(X, y)
    masks = [m.copy() for m in clf.coef_masks_]
    assert clf.compression_ > 0
    clf.set_params(
        solver="lbfgs",
        target_compression=None,
        pruning_rate=0,
        warm_start=True,
        max_iter=20,
    )
    clf.fit(X, y)
    for coef, mask, old in zip(clf.coefs_, clf.coef_masks_, masks):
        np.testing.assert_array_equal(mask, old)
        assert np.all(coef[~mask] == 0.0)


# ---------------------------------------------------------------------------
# Pruning inside a fit.
# ---------------------------------------------------------------------------


def _pruned_fit(X, y, **kwargs):
    params = dict(
        hidden_layer_sizes=(32,),
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=3,
        max_iter=6,
        random_state=0,
    )
    params.update(kwargs)
    return BSPClassifier(**params).fit(X, y)


@pytest.mark.parametrize(
    "solver, extra",
    [
        ("adam", {}),
        ("sgd", dict(momentum=0.9, nesterovs_momentum=True)),
        ("sgd", dict(momentum=0.0)),
    ],
)
def test_pruned_weights_are_exactly_zero_and_compression_matches_masks(
    digits, solver, extra
):
    X, y = digits
    clf = _pruned_fit(X, y, solver=solver, alpha=1.0, **extra)
    all_masks = np.concatenate([m.ravel() for m in clf.coef_masks_])
    assert 0 < clf.compression_ < 1
    assert clf.compression_ == pytest.approx(1 - all_masks.mean())
    for coef, mask in zip(clf.coefs_, clf.coef_masks_):
        assert mask.dtype == bool and mask.shape == coef.shape
        assert np.all(coef[~mask] == 0.0)
    # Biases are not synapses and are never pruned.
    assert all(np.all(b != 0) for b in clf.intercepts_)


def test_compression_curve_is_per_epoch_and_never_decreases(digits):
    X, y = digits
    clf = _pruned_fit(X, y)
    assert len(clf.compression_curve_) == clf.n_iter_ == len(clf.loss_curve_)
    assert np.all(np.diff(clf.compression_curve_) >= 0)
    assert clf.compression_curve_[-1] == clf.compression_


def test_pruned_synapses_have_no_forward_contribution(digits):
    X, y = digits
    clf = _pruned_fit(X, y)
    # Writing a value into a pruned slot and re-masking changes nothing:
    # the prediction only ever sees coefs_ * mask.
    proba = clf.predict_proba(X)
    masked = [c * m for c, m in zip(clf.coefs_, clf.coef_masks_)]
    for c, m in zip(masked, clf.coef_masks_):
        np.testing.assert_array_equal(c[~m], 0.0)
    for c, mc in zip(clf.coefs_, masked):
        np.testing.assert_array_equal(c, mc)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_paper_schedule_resolves_eqs_1_and_2(digits):
    X, y = digits
    clf = BSPClassifier(
        hidden_layer_sizes=(30, 20),
        pruning_rate="paper",
        pruning_patience="paper",
        max_iter=2,
        random_state=0,
    )
    clf.fit(X, y)
    assert clf.pruning_rate_ == pytest.approx(auto_pruning_rate(50, len(y)))
    n_synapses = sum(c.size for c in clf.coefs_)
    n_pruned = sum(int((~m).sum()) for m in clf.coef_masks_)
    expected = auto_pruning_patience(50, len(y), n_synapses, n_pruned)
    # An int: eq 2 rounded down, the same bound for whole-number counters.
    assert clf.pruning_patience_ == math.floor(expected)
    assert isinstance(clf.pruning_patience_, int)


def test_explicit_rate_and_patience_are_stored(digits):
    X, y = digits
    clf = _pruned_fit(
        X, y, target_compression=None, pruning_rate=0.1, pruning_patience=7, max_iter=1
    )
    assert clf.pruning_rate_ == 0.1 and clf.pruning_patience_ == 7


def test_epoch_unit_first_prunes_after_patience_plus_one_epochs(digits):
    X, y = digits
    common = dict(
        target_compression=None,
        pruning_rate=0.3,
        pruning_patience=2,
        pruning_unit="epoch",
    )
    # Adam with a tiny step keeps the ranking of |w| nearly fixed, so the
    # same synapses stay candidates: pruning starts at epoch patience + 1.
    clf = _pruned_fit(X, y, learning_rate_init=1e-6, max_iter=4, **common)
    curve = clf.compression_curve_
    assert curve[0] == curve[1] == 0.0
    assert curve[2] > 0.0
    assert max(c.max() for c in clf.pruning_counters_) <= 2


def test_batch_unit_prunes_within_first_epoch(digits):
    X, y = digits
    clf = _pruned_fit(X, y, learning_rate_init=1e-6, max_iter=1)
    # 1797 samples / 200 = 9 updates per epoch > patience 3.
    assert clf.compression_curve_[0] > 0


def test_network_scope_prunes_across_layers(digits):
    X, y = digits
    clf = _pruned_fit(X, y, pruning_scope="network", hidden_layer_sizes=(32, 16))
    assert clf.compression_ > 0
    all_masks = np.concatenate([m.ravel() for m in clf.coef_masks_])
    assert clf.compression_ == pytest.approx(1 - all_masks.mean())


def test_pruning_learns_well_and_compresses(digits):
    X, y = digits
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
    params = dict(
        hidden_layer_sizes=(64,), learning_rate_init=0.01, max_iter=60, random_state=0
    )
    mlp = MLPClassifier(**params).fit(X_train, y_train)
    bsp = BSPClassifier(
        target_compression=None, pruning_rate=0.1, pruning_patience=20, **params
    )
    bsp.fit(X_train, y_train)
    assert bsp.compression_ > 0.5
    assert bsp.score(X_test, y_test) > mlp.score(X_test, y_test) - 0.05


def test_partial_fit_continues_counters_and_masks_like_one_fit(digits):
    X, y = digits
    params = dict(
        hidden_layer_sizes=(16,),
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=4,
        shuffle=False,
        random_state=0,
        solver="sgd",
        learning_rate_init=0.05,
    )
    full = BSPClassifier(max_iter=3, **params).fit(X, y)
    inc = BSPClassifier(**params)
    masks_before = None
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
        if masks_before is not None:
            for old, new in zip(masks_before, inc.coef_masks_):
                assert not np.any(new & ~old)  # masks only lose synapses
        masks_before = [m.copy() for m in inc.coef_masks_]
    assert full.compression_ > 0
    for a, b in zip(full.coefs_, inc.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    for a, b in zip(full.coef_masks_, inc.coef_masks_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(full.pruning_counters_, inc.pruning_counters_):
        np.testing.assert_array_equal(a, b)


def test_warm_start_continues_masks_and_counters(digits):
    X, y = digits
    params = dict(
        hidden_layer_sizes=(16,),
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=4,
        shuffle=False,
        random_state=0,
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.05,
    )
    full = BSPClassifier(max_iter=2, **params).fit(X, y)
    warm = BSPClassifier(max_iter=1, warm_start=True, **params)
    warm.fit(X, y)
    assert any(c.any() for c in warm.pruning_counters_)
    warm.fit(X, y)
    for a, b in zip(full.coefs_, warm.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    for a, b in zip(full.coef_masks_, warm.coef_masks_):
        np.testing.assert_array_equal(a, b)
    assert warm.compression_curve_ == pytest.approx(full.compression_curve_)


def test_refit_without_warm_start_starts_anew(digits):
    X, y = digits
    clf = _pruned_fit(X, y)
    assert clf.compression_ > 0
    clf.set_params(target_compression=None, pruning_rate=0)
    clf.fit(X, y)
    assert clf.compression_ == 0 and all(m.all() for m in clf.coef_masks_)


def test_early_stopping_restores_best_masks_with_best_weights(digits):
    X, y = digits
    clf = _pruned_fit(X, y, early_stopping=True, max_iter=15, n_iter_no_change=2)
    for coef, mask in zip(clf.coefs_, clf.coef_masks_):
        assert np.all(coef[~mask] == 0.0)
    all_masks = np.concatenate([m.ravel() for m in clf.coef_masks_])
    assert clf.compression_ == pytest.approx(1 - all_masks.mean())
    # The reference restarts at each pruning step: the best epoch is one of
    # the network as pruned last (best_validation_score_ is its score).
    curve = np.asarray(clf.compression_curve_)
    last = int(np.flatnonzero(np.diff(np.r_[0.0, curve]))[-1])
    assert clf.best_validation_score_ == max(clf.validation_scores_[last:])
    assert clf.compression_ == curve[-1]


def test_dropout_is_reproducible_and_changes_training(digits):
    X, y = digits
    a = _pruned_fit(
        X, y, dropout=0.3, target_compression=None, pruning_rate=0, max_iter=30
    )
    b = _pruned_fit(
        X, y, dropout=0.3, target_compression=None, pruning_rate=0, max_iter=30
    )
    c = _pruned_fit(
        X, y, dropout=0.0, target_compression=None, pruning_rate=0, max_iter=30
    )
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert not np.allclose(a.coefs_[0], c.coefs_[0])
    assert a.compression_ == 0
    assert a.score(X, y) > 0.8


def test_verbose_prints_loss_and_compression(digits, capsys):
    X, y = digits
    _pruned_fit(X, y, verbose=True, max_iter=2)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("Iteration")]
    assert len(lines) == 2
    assert re.match(r"Iteration 2, loss = \d+\.\d{8}, compression = 0\.\d{4}", lines[1])


# ---------------------------------------------------------------------------
# Data types and targets.
# ---------------------------------------------------------------------------


def test_float32_stays_float32(digits):
    X, y = digits
    clf = _pruned_fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_sparse_input_matches_dense(digits):
    X, y = digits
    dense = _pruned_fit(X, y)
    for fmt in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
        sparse = _pruned_fit(fmt(X), y)
        for a, b in zip(dense.coefs_, sparse.coefs_):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(
            dense.predict_proba(X), sparse.predict_proba(fmt(X)), rtol=1e-7
        )


def test_string_labels_binary_and_multilabel():
    X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    labels = np.array(["no", "yes"])[y]
    clf = _pruned_fit(X, labels)
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert clf.predict_proba(X).shape == (200, 2)
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    assert clf.out_activation_ == "logistic"

    X, Y = make_multilabel_classification(n_samples=200, n_classes=3, random_state=0)
    clf = _pruned_fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert clf.predict_proba(X).shape == Y.shape
    assert clf.compression_ > 0


def test_predict_log_proba(digits):
    X, y = digits
    clf = _pruned_fit(X, y)
    np.testing.assert_allclose(
        np.exp(clf.predict_log_proba(X[:20])), clf.predict_proba(X[:20])
    )


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, value",
    [
        ("pruning_rate", -0.1),
        ("pruning_rate", 1.0),
        ("pruning_rate", "fast"),
        ("pruning_patience", 0),
        ("pruning_patience", 2.5),
        ("pruning_unit", "minute"),
        ("pruning_scope", "neuron"),
        ("dropout", 1.0),
        ("dropout", -0.5),
        ("alpha", -1.0),
    ],
)
def test_invalid_parameters_raise_sklearn_error(digits, param, value):
    X, y = digits
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter"):
        BSPClassifier(**{param: value}).fit(X, y)


def test_zero_size_hidden_layer():
    X, y = make_classification(n_samples=30, random_state=0)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        BSPClassifier(hidden_layer_sizes=(10, 0)).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(digits, bad):
    X, y = digits
    X = X.copy()
    X[3, 5] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        BSPClassifier(max_iter=1).fit(X, y)


def test_wrong_number_of_features_at_predict(digits):
    X, y = digits
    clf = _pruned_fit(X, y, max_iter=1)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])


def test_partial_fit_needs_classes_first_and_rejects_unseen(digits):
    X, y = digits
    clf = BSPClassifier(hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    mask = y < 5
    clf.partial_fit(X[mask], y[mask], classes=np.arange(5))
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y)


def test_partial_fit_unavailable_for_lbfgs():
    assert not hasattr(
        BSPClassifier(solver="lbfgs", target_compression=None, pruning_rate=0),
        "partial_fit",
    )


def test_warm_start_with_other_architecture_is_refused(digits):
    X, y = digits
    clf = _pruned_fit(X, y, max_iter=1, warm_start=True)
    clf.set_params(hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="warm_start=False"):
        clf.fit(X, y)


def test_diverging_fit_stops_with_clear_error(digits):
    X, y = digits
    clf = BSPClassifier(
        solver="sgd", learning_rate_init=1e6, max_iter=20, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="diverged|non-finite"):
            clf.fit(X * 1e6, y)


def test_convergence_warning_like_mlpclassifier(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        BSPClassifier(max_iter=1).fit(X, y)
