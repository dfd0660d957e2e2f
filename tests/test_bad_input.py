"""Bad input, systematically: every case gives a clear error or a documented
behaviour, and never a silent NaN (or silently exploded) model.

Where ``MLPClassifier`` takes the same input, BSPClassifier must behave the
same way: the same exception type and the same message, up to the class name.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_bsp import BSPClassifier

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # Exploding weights overflow on the way to the error under test.
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

X, Y = make_classification(n_samples=60, n_features=5, n_informative=3, random_state=0)
CLASSES = np.unique(Y)
SMALL = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
SMALL_NO_ITER = {k: v for k, v in SMALL.items() if k != "max_iter"}


def _nan_at(X, i=3, j=2, value=np.nan):
    X = X.astype(float)
    X[i, j] = value
    return X


def _fitted(cls, **kwargs):
    return cls(**{**SMALL, **kwargs}).fit(X, Y)


def _raised(call, cls):
    with pytest.raises(Exception) as info:
        call(cls)
    return info.value


# ---------------------------------------------------------------------------
# Inputs that MLPClassifier also refuses: same type, same message.
# ---------------------------------------------------------------------------

# id: (call taking the estimator class, expected exception, message pattern)
REFUSED = {
    # X
    "X-nan-fit": (
        lambda c: c(**SMALL).fit(_nan_at(X), Y),
        ValueError,
        "Input X contains NaN",
    ),
    "X-inf-fit": (
        lambda c: c(**SMALL).fit(_nan_at(X, value=np.inf), Y),
        ValueError,
        "Input X contains infinity",
    ),
    "X-nan-partial_fit": (
        lambda c: c(**SMALL).partial_fit(_nan_at(X), Y, classes=CLASSES),
        ValueError,
        "Input X contains NaN",
    ),
    "X-nan-predict": (
        lambda c: _fitted(c).predict(_nan_at(X)),
        ValueError,
        "Input X contains NaN",
    ),
    "X-inf-predict_proba": (
        lambda c: _fitted(c).predict_proba(_nan_at(X, value=-np.inf)),
        ValueError,
        "Input X contains infinity",
    ),
    "X-empty-fit": (
        lambda c: c(**SMALL).fit(X[:0], Y[:0]),
        ValueError,
        r"Found array with 0 sample\(s\) \(shape=\(0, 5\)\) while a minimum of 1",
    ),
    "X-empty-partial_fit": (
        lambda c: c(**SMALL).partial_fit(X[:0], Y[:0], classes=CLASSES),
        ValueError,
        r"Found array with 0 sample\(s\)",
    ),
    "X-empty-predict": (
        lambda c: _fitted(c).predict(X[:0]),
        ValueError,
        r"Found array with 0 sample\(s\)",
    ),
    "X-no-features": (
        lambda c: c(**SMALL).fit(X[:, :0], Y),
        ValueError,
        r"Found array with 0 feature\(s\) \(shape=\(60, 0\)\)",
    ),
    "X-3d-fit": (
        lambda c: c(**SMALL).fit(X.reshape(60, 5, 1), Y),
        ValueError,
        "Found array with dim 3",
    ),
    "X-3d-predict": (
        lambda c: _fitted(c).predict(X.reshape(60, 5, 1)),
        ValueError,
        "Found array with dim 3",
    ),
    "X-1d-predict": (
        lambda c: _fitted(c).predict(X[0]),
        ValueError,
        "Expected 2D array, got 1D array instead",
    ),
    "X-strings": (
        lambda c: c(**SMALL).fit(np.full((60, 5), "high"), Y),
        ValueError,
        "could not convert string to float: np.str_..high..",
    ),
    "X-complex": (
        lambda c: c(**SMALL).fit(X + 1j, Y),
        ValueError,
        "Complex data not supported",
    ),
    "X-features-predict": (
        lambda c: _fitted(c).predict(X[:, :3]),
        ValueError,
        "X has 3 features, but .* is expecting 5 features as input",
    ),
    "X-features-predict_proba": (
        lambda c: _fitted(c).predict_proba(X[:, :3]),
        ValueError,
        "X has 3 features, but .* is expecting 5 features as input",
    ),
    "X-features-score": (
        lambda c: _fitted(c).score(X[:, :3], Y),
        ValueError,
        "X has 3 features, but .* is expecting 5 features as input",
    ),
    "X-features-partial_fit": (
        lambda c: (
            c(**SMALL).partial_fit(X, Y, classes=CLASSES).partial_fit(np.c_[X, X], Y)
        ),
        ValueError,
        "X has 10 features, but .* is expecting 5 features as input",
    ),
    "X-features-warm_start": (
        lambda c: _fitted(c, warm_start=True).fit(X[:, :3], Y),
        ValueError,
        "X has 3 features, but .* is expecting 5 features as input",
    ),
    # y
    "y-nan": (
        lambda c: c(**SMALL).fit(X, np.where(np.arange(60) == 3, np.nan, Y)),
        ValueError,
        "Input y contains NaN",
    ),
    "y-inf": (
        lambda c: c(**SMALL).fit(X, np.where(np.arange(60) == 3, np.inf, Y)),
        ValueError,
        "Input y contains infinity",
    ),
    "y-continuous": (
        lambda c: c(**SMALL).fit(X, np.linspace(0, 1, 60)),
        ValueError,
        "Unknown label type",
    ),
    "y-length": (
        lambda c: c(**SMALL).fit(X, Y[:-1]),
        ValueError,
        r"inconsistent numbers of samples: \[60, 59\]",
    ),
    "y-multiclass-multioutput": (
        lambda c: c(**SMALL).fit(X, np.c_[Y, Y + 1]),
        ValueError,
        "Multioutput target data is not supported",
    ),
    "y-unseen-label-partial_fit": (
        lambda c: (
            c(**SMALL).partial_fit(X[Y == 0], Y[Y == 0], classes=[0]).partial_fit(X, Y)
        ),
        ValueError,
        r"`y` has classes not in `self.classes_`. `self.classes_` has \[0\]",
    ),
    "y-unseen-label-first-partial_fit": (
        lambda c: c(**SMALL).partial_fit(X, np.array(["a", "b"])[Y], classes=["a"]),
        ValueError,
        "`y` has classes not in `self.classes_`",
    ),
    "y-no-classes-first-partial_fit": (
        lambda c: c(**SMALL).partial_fit(X, Y),
        ValueError,
        "classes must be passed on the first call to partial_fit",
    ),
    "y-other-classes-later-partial_fit": (
        lambda c: (
            c(**SMALL)
            .partial_fit(X, Y, classes=[0, 1])
            .partial_fit(X, Y, classes=[0, 1, 2])
        ),
        ValueError,
        "is not the same as on last call to partial_fit",
    ),
    "y-other-classes-warm_start": (
        lambda c: _fitted(c, warm_start=True).fit(X, Y + 1),
        ValueError,
        "warm_start can only be used where `y` has the same classes",
    ),
    # sample_weight
    "sample_weight-short": (
        lambda c: c(**SMALL).fit(X, Y, sample_weight=np.ones(59)),
        ValueError,
        re.escape("sample_weight.shape == (59,), expected (60,)!"),
    ),
    "sample_weight-2d": (
        lambda c: c(**SMALL).fit(X, Y, sample_weight=np.ones((60, 1))),
        ValueError,
        "Sample weights must be 1D array or scalar",
    ),
    "sample_weight-nan": (
        lambda c: c(**SMALL).fit(X, Y, sample_weight=np.r_[1.0, np.nan, np.ones(58)]),
        ValueError,
        "Input sample_weight contains NaN",
    ),
    "sample_weight-all-zero": (
        lambda c: c(**SMALL).fit(X, Y, sample_weight=np.zeros(60)),
        ValueError,
        "Sample weights must contain at least one non-zero number",
    ),
    # Parameters
    "hidden_layer_sizes-0": (
        lambda c: c(hidden_layer_sizes=(10, 0)).fit(X, Y),
        ValueError,
        re.escape("hidden_layer_sizes must be > 0, got [10, 0]."),
    ),
    "hidden_layer_sizes-int-0": (
        lambda c: c(hidden_layer_sizes=0).fit(X, Y),
        InvalidParameterError,
        "The 'hidden_layer_sizes' parameter of .* Got 0 instead",
    ),
    "hidden_layer_sizes-negative": (
        lambda c: c(hidden_layer_sizes=(-3,)).fit(X, Y),
        ValueError,
        "hidden_layer_sizes must be > 0",
    ),
    "max_iter-0": (
        lambda c: c(max_iter=0).fit(X, Y),
        InvalidParameterError,
        r"The 'max_iter' parameter of .* must be an int in the range \[1, inf\)",
    ),
    "batch_size-0": (
        lambda c: c(batch_size=0).fit(X, Y),
        InvalidParameterError,
        "The 'batch_size' parameter of .* Got 0 instead",
    ),
    "alpha-negative": (
        lambda c: c(alpha=-1.0).fit(X, Y),
        InvalidParameterError,
        r"The 'alpha' parameter of .* must be a float in the range \[0.0, inf\)",
    ),
    "alpha-nan": (
        lambda c: c(alpha=np.nan).fit(X, Y),
        InvalidParameterError,
        "The 'alpha' parameter of .* Got nan instead",
    ),
    "learning_rate_init-0": (
        lambda c: c(learning_rate_init=0.0).fit(X, Y),
        InvalidParameterError,
        "The 'learning_rate_init' parameter",
    ),
    "learning_rate_init-inf": (
        lambda c: c(learning_rate_init=np.inf).fit(X, Y),
        InvalidParameterError,
        "The 'learning_rate_init' parameter",
    ),
    "momentum-above-1": (
        lambda c: c(solver="sgd", momentum=1.5).fit(X, Y),
        InvalidParameterError,
        "The 'momentum' parameter",
    ),
    "beta_1-1": (
        lambda c: c(beta_1=1.0).fit(X, Y),
        InvalidParameterError,
        "The 'beta_1' parameter",
    ),
    "epsilon-0": (
        lambda c: c(epsilon=0.0).fit(X, Y),
        InvalidParameterError,
        "The 'epsilon' parameter",
    ),
    "validation_fraction-1": (
        lambda c: c(early_stopping=True, validation_fraction=1.0).fit(X, Y),
        InvalidParameterError,
        "The 'validation_fraction' parameter",
    ),
    "early_stopping-tiny-validation-set": (
        lambda c: c(**SMALL, early_stopping=True).fit(X[:8], Y[:8]),
        ValueError,
        "The test_size = 1 should be greater or equal to the number of classes",
    ),
    "early_stopping-partial_fit": (
        lambda c: c(**SMALL, early_stopping=True).partial_fit(X, Y, classes=CLASSES),
        ValueError,
        "partial_fit does not support early_stopping=True",
    ),
    "hidden_layer_sizes-huge": (
        lambda c: c(hidden_layer_sizes=(10**12,)).fit(X, Y),
        MemoryError,
        "Unable to allocate",
    ),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_refused_like_mlpclassifier(case):
    call, error, pattern = case
    with pytest.raises(error, match=pattern):
        call(BSPClassifier)
    theirs = _raised(call, MLPClassifier)
    ours = _raised(call, BSPClassifier)
    assert type(ours) is type(theirs)
    assert str(ours) == str(theirs).replace("MLPClassifier", "BSPClassifier")


def test_predict_before_fit():
    with pytest.raises(Exception, match="This BSPClassifier instance is not fitted"):
        BSPClassifier().predict(X)


def test_partial_fit_unavailable_with_lbfgs_like_mlpclassifier():
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as e:
        BSPClassifier(solver="lbfgs", pruning_rate=0).partial_fit(X, Y, CLASSES)
    assert "lbfgs is not stochastic" in str(e.value.__cause__)
    with pytest.raises(AttributeError) as theirs:
        MLPClassifier(solver="lbfgs").partial_fit(X, Y, CLASSES)
    assert str(e.value.__cause__) == str(theirs.value.__cause__)


# ---------------------------------------------------------------------------
# The pruning parameters: sklearn's parameter errors, naming the parameter.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, value, allowed",
    [
        ("pruning_rate", 1.0, r"a float in the range \[0.0, 1.0\)"),
        ("pruning_rate", -0.1, r"a float in the range \[0.0, 1.0\)"),
        ("pruning_rate", np.nan, r"a float in the range \[0.0, 1.0\)"),
        ("pruning_rate", "fast", "pruning_rate.*a str among"),
        ("pruning_patience", 0, r"an int in the range \[1, inf\)"),
        ("pruning_patience", -2, r"an int in the range \[1, inf\)"),
        ("pruning_patience", 2.5, r"an int in the range \[1, inf\)"),
        # The order of a set's items varies from run to run.
        ("pruning_unit", "minute", "a str among {'(batch|epoch)', '(batch|epoch)'}"),
        (
            "pruning_scope",
            "neuron",
            "a str among {'(layer|network)', '(layer|network)'}",
        ),
        ("dropout", 1.0, r"a float in the range \[0.0, 1.0\)"),
        ("dropout", -0.5, r"a float in the range \[0.0, 1.0\)"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_pruning_parameters(param, value, allowed, method):
    clf = BSPClassifier(**SMALL, **{param: value})
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of "):
        if method == "fit":
            clf.fit(X, Y)
        else:
            clf.partial_fit(X, Y, classes=CLASSES)
    with pytest.raises(InvalidParameterError, match=allowed):
        clf.fit(X, Y)
    assert not hasattr(clf, "coefs_")


@pytest.mark.parametrize("sizes", [(2.5,), (4, "8"), (4, None)])
def test_non_integer_hidden_layer_sizes_name_the_parameter(sizes):
    # MLPClassifier fails deep inside NumPy here ("'float' object cannot be
    # interpreted as an integer", "ufunc 'less_equal' did not contain a
    # loop ...", "'<=' not supported between instances of 'NoneType' and
    # 'int'"): a message that names neither the parameter nor the fix.
    with pytest.raises((TypeError, ValueError), match="hidden_layer_sizes"):
        BSPClassifier(hidden_layer_sizes=sizes, max_iter=1).fit(X, Y)


# ---------------------------------------------------------------------------
# Inputs MLPClassifier accepts: accepted the same way (documented behaviour).
# ---------------------------------------------------------------------------


def _assert_same_fit(mlp, bsp):
    for a, b in zip(mlp.coefs_ + mlp.intercepts_, bsp.coefs_ + bsp.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mlp.loss_curve_, bsp.loss_curve_, rtol=1e-12)


def _assert_finite(clf, X):
    assert all(np.isfinite(w).all() for w in clf.coefs_ + clf.intercepts_)
    assert np.isfinite(clf.loss_)
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("label", [7, "only"])
def test_one_class_predicts_that_class_like_mlpclassifier(label):
    y = np.full(60, label)
    mlp = MLPClassifier(**SMALL).fit(X, y)
    dense = BSPClassifier(pruning_rate=0, **SMALL).fit(X, y)
    _assert_same_fit(mlp, dense)
    pruned = BSPClassifier(
        pruning_rate=0.3, pruning_patience=1, batch_size=10, **SMALL
    ).fit(X, y)
    assert pruned.compression_ > 0
    for clf in (dense, pruned):
        np.testing.assert_array_equal(clf.classes_, [label])
        np.testing.assert_array_equal(clf.predict(X), y)
        # As MLPClassifier: one logistic output, two probability columns.
        assert clf.predict_proba(X).shape == mlp.predict_proba(X).shape == (60, 2)
        _assert_finite(clf, X)


def test_one_sample_like_mlpclassifier():
    mlp = MLPClassifier(**SMALL).fit(X[:1], Y[:1])
    bsp = BSPClassifier(pruning_rate=0, **SMALL).fit(X[:1], Y[:1])
    _assert_same_fit(mlp, bsp)
    pruned = BSPClassifier(pruning_rate="auto", **SMALL).fit(X[:1], Y[:1])
    assert 0 <= pruned.pruning_rate_ <= 0.5  # eq 1 is finite at Nsam = 1
    np.testing.assert_array_equal(pruned.predict(X[:5]), np.full(5, Y[0]))
    _assert_finite(pruned, X)


def test_one_feature_and_one_sample_per_chunk():
    clf = BSPClassifier(pruning_rate=0.3, pruning_patience=1, **SMALL)
    for i in range(20):
        clf.partial_fit(X[i : i + 1, :1], Y[i : i + 1], classes=CLASSES)
    assert clf.compression_ > 0
    _assert_finite(clf, X[:, :1])


def test_numeric_strings_and_objects_are_converted_like_mlpclassifier():
    ref = BSPClassifier(pruning_rate=0.2, pruning_patience=2, **SMALL).fit(X, Y)
    for converted in (X.astype(str), X.astype(object)):
        clf = BSPClassifier(pruning_rate=0.2, pruning_patience=2, **SMALL)
        clf.fit(converted, Y)
        for a, b in zip(ref.coefs_, clf.coefs_):
            np.testing.assert_array_equal(a, b)


def test_negative_sample_weights_are_accepted_like_mlpclassifier():
    # Neither estimator checks the sign of sample_weight; with pruning off
    # the fits are the same, and the model stays finite.
    sw = np.where(np.arange(60) % 7 == 0, -1.0, 1.0)
    mlp = MLPClassifier(**SMALL).fit(X, Y, sample_weight=sw)
    bsp = BSPClassifier(pruning_rate=0, **SMALL).fit(X, Y, sample_weight=sw)
    _assert_same_fit(mlp, bsp)
    pruned = BSPClassifier(pruning_rate=0.3, pruning_patience=1, **SMALL)
    _assert_finite(pruned.fit(X, Y, sample_weight=sw), X)


def test_minibatch_of_zero_weights_is_no_crash_and_no_influence():
    # Zero weights are allowed (only all-zero is refused). A minibatch made
    # only of weight-0 samples must not crash the fit, and what those samples
    # hold must not change the model. (MLPClassifier 1.9.1 raises
    # ZeroDivisionError("Weights sum to zero, can't be normalized") from
    # np.average in the loss.)
    sw = np.ones(60)
    sw[:20] = 0.0
    params = dict(
        SMALL, batch_size=20, shuffle=False, pruning_rate=0.3, pruning_patience=1
    )
    a = BSPClassifier(**params).fit(X, Y, sample_weight=sw)
    X_other, Y_other = X.copy(), Y.copy()
    X_other[:20] = 100.0
    Y_other[:20] = 1 - Y_other[:20]
    b = BSPClassifier(**params).fit(X_other, Y_other, sample_weight=sw)
    _assert_finite(a, X)
    for p, q in zip(a.coefs_ + a.coef_masks_, b.coefs_ + b.coef_masks_):
        np.testing.assert_array_equal(p, q)


def test_absurd_but_valid_settings_stay_finite():
    for params in (
        dict(solver="sgd", momentum=1.0, learning_rate_init=0.1),
        dict(learning_rate_init=1e-12),
        dict(alpha=1e6),
        dict(batch_size=1, pruning_rate=0.99, pruning_patience=1),
        dict(pruning_rate=0.99, pruning_patience=1, pruning_scope="network"),
        dict(dropout=0.999),
        dict(n_iter_no_change=np.inf, tol=0.0),
    ):
        clf = BSPClassifier(**{**SMALL, **params}).fit(X, Y)
        _assert_finite(clf, X)
        assert 0 <= clf.compression_ < 1


# ---------------------------------------------------------------------------
# Divergence: a loss that explodes is reported, with "diverged" in the message.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X_scale, dtype",
    [(1e6, np.float32), (1e100, np.float64)],
    ids=["float32-overflow", "float64-overflow"],
)
def test_non_finite_loss_is_reported_as_divergence(X_scale, dtype):
    clf = BSPClassifier(
        solver="sgd", learning_rate_init=1e6, max_iter=20, **SMALL_NO_ITER
    )
    with pytest.raises(ValueError, match="diverged"):
        clf.fit((X * X_scale).astype(dtype), Y)


# Without the divergence check each of these would stop after 12 epochs ("did
# not improve"), without an error or a warning, holding a finite but useless
# model. Loss of the first and last epochs on this data:
EXPLODING = {
    "sgd-lr1e6": dict(solver="sgd", learning_rate_init=1e6),  # 0.70 -> 1.3e+125
    "sgd-lr100": dict(solver="sgd", learning_rate_init=100.0),  # 0.70 -> 5.5e+35
    "adam-lr1e6": dict(solver="adam", learning_rate_init=1e6),  # 0.70 -> 7.2e+07
    # The L2 term explodes: 5.6e+04 -> 5.8e+81.
    "sgd-alpha1e6": dict(solver="sgd", learning_rate_init=0.1, alpha=1e6),
}


@pytest.mark.parametrize("params", EXPLODING.values(), ids=EXPLODING.keys())
def test_exploding_finite_loss_is_reported_as_divergence(params):
    clf = BSPClassifier(max_iter=20, **SMALL_NO_ITER, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="diverged"):
            clf.fit(X, Y)


def test_exploding_loss_in_partial_fit_is_reported_as_divergence():
    # Unchecked, the loss would reach 6.5e+220 after 20 calls.
    clf = BSPClassifier(solver="sgd", learning_rate_init=1e6, **SMALL_NO_ITER)
    with pytest.raises(ValueError, match="diverged"):
        for _ in range(20):
            clf.partial_fit(X, Y, classes=CLASSES)


def test_weights_overflowing_in_the_last_update_are_reported_as_divergence():
    # One minibatch: the loss is computed before the update that overflows,
    # so only the final check on the weights sees it. Its message starts
    # like MLPClassifier's ("Solver produced non-finite parameter weights")
    # and says "diverged" like the loss check does.
    clf = BSPClassifier(
        solver="sgd", learning_rate_init=1e10, max_iter=1, **SMALL_NO_ITER
    )
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X * 1e300, Y)
