"""Property tests: invariants of BSPClassifier on random small problems.

Hypothesis draws the data (5 to 60 samples, 1 to 8 features, 2 to 4 classes as
integers or strings, or a multilabel indicator matrix), the architecture and the
pruning parameters, then checks what must hold after every ``fit`` and
``partial_fit``:

- a pruned synapse has a weight of exactly 0 and a counter of 0;
- masks only ever lose synapses (partial_fit sequences, warm starts);
- ``compression_`` is ``1 - alive / total`` computed from the masks;
- ``predict_proba`` is finite, in [0, 1], and its rows sum to 1 (one label
  per sample);
- the same ``random_state`` gives bit-identical models;
- the ``n_jobs`` of an outer ``GridSearchCV`` does not change its scores.

The number of examples is set by a settings profile, chosen with the
``SKLEARN_BSP_HYPOTHESIS_PROFILE`` environment variable: ``ci`` (the default:
50 examples per property and 12 for the grid search, under a minute in all) or
``thorough`` (500 and 125). Run with ``--hypothesis-show-statistics`` to see how
many examples each property ran, and how many of them pruned synapses (the
search is steered towards examples that prune).
"""

import os
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, reject, settings, target
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.model_selection import GridSearchCV

from sklearn_bsp import BSPClassifier

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    # No example database: nothing is written into the work tree.
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", parent=settings.get_profile("ci"), max_examples=500
)
# Applied to each test below rather than loaded globally.
PROFILE = settings.get_profile(os.environ.get("SKLEARN_BSP_HYPOTHESIS_PROFILE", "ci"))
# The outer search starts worker processes; a quarter of the examples is enough
# to vary the data and the parameters there.
SEARCH_PROFILE = settings(PROFILE, max_examples=max(1, PROFILE.max_examples // 4))

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # partial_fit chunks can be smaller than batch_size; sklearn clips it.
    pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning"),
]

STRING_LABELS = np.array(["ant", "bee", "cat", "dog"])


# ---------------------------------------------------------------------------
# Strategies.
# ---------------------------------------------------------------------------


@st.composite
def problems(draw, min_samples=5, max_samples=60):
    """Draw ``(X, y, classes)``: a small classification problem.

    Every class appears at least twice, so each one survives a split into a
    few folds or chunks. ``classes`` is what ``partial_fit`` needs.
    """
    n_samples = draw(st.integers(min_samples, max_samples))
    n_features = draw(st.integers(1, 8))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    # Values that float32 holds exactly, so both dtypes see the same data.
    X = draw(
        hnp.arrays(
            np.float64,
            (n_samples, n_features),
            elements=st.floats(-3, 3, width=32, allow_subnormal=False),
        )
    ).astype(dtype)

    kind = draw(st.sampled_from(["int", "str", "multilabel"]))
    if kind == "multilabel":
        n_labels = draw(st.integers(2, 4))
        y = draw(
            hnp.arrays(np.int64, (n_samples, n_labels), elements=st.integers(0, 1))
        )
        return X, y, np.arange(n_labels)

    n_classes = draw(st.integers(2, min(4, n_samples // 2)))
    labels = draw(
        st.lists(st.integers(0, n_classes - 1), min_size=n_samples, max_size=n_samples)
    )
    labels = np.array(labels)
    labels[: 2 * n_classes] = np.arange(2 * n_classes) % n_classes
    labels = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(labels)
    classes = np.arange(n_classes)
    if kind == "str":
        return X, STRING_LABELS[labels], STRING_LABELS[classes]
    return X, labels, classes


@st.composite
def estimator_params(draw):
    """Draw the constructor parameters of a small, quickly fitted model."""
    solver = draw(st.sampled_from(["sgd", "adam"]))
    params = dict(
        hidden_layer_sizes=tuple(
            draw(st.lists(st.integers(1, 12), min_size=1, max_size=3))
        ),
        activation=draw(st.sampled_from(["relu", "tanh", "logistic", "identity"])),
        solver=solver,
        alpha=draw(st.sampled_from([0.0, 1e-4, 0.1])),
        # Small minibatches and a few epochs give the rule enough steps to
        # prune within a fit.
        batch_size=draw(st.sampled_from(["auto", 1, 2, 3, 5, 8, 16])),
        learning_rate_init=draw(st.sampled_from([1e-3, 1e-2, 5e-2])),
        max_iter=draw(st.integers(1, 6)),
        shuffle=draw(st.booleans()),
        random_state=draw(st.integers(0, 2**31 - 1)),
        target_compression=None,
        pruning_rate=draw(
            st.one_of(
                st.sampled_from(["auto", 0.0]),
                st.floats(0, 0.6, exclude_max=True, allow_subnormal=False),
                st.floats(0.1, 0.6, exclude_max=True),
            )
        ),
        # "auto" (eq 2) waits hundreds of steps: rarely reached in these fits.
        pruning_patience=draw(st.sampled_from(["auto", 1, 2, 3, 4, 5])),
        pruning_unit=draw(st.sampled_from(["batch", "epoch"])),
        pruning_scope=draw(st.sampled_from(["layer", "network"])),
        dropout=draw(st.sampled_from([0.0, 0.2, 0.5])),
        max_compression=draw(st.sampled_from([None, None, 0.3, 0.6, 0.9])),
    )
    if solver == "sgd":
        params["momentum"] = draw(st.sampled_from([0.0, 0.9]))
        params["nesterovs_momentum"] = draw(st.booleans())
        params["learning_rate"] = draw(
            st.sampled_from(["constant", "invscaling", "adaptive"])
        )
    return params


# ---------------------------------------------------------------------------
# Checks shared by the properties.
# ---------------------------------------------------------------------------


@contextmanager
def divergence_allowed():
    """Reject an example whose fit diverged (and said so): deep identity
    networks with momentum, minibatches of one and dropout can legitimately
    blow up; the invariants are about fits that finish."""
    try:
        yield
    except ValueError as exc:
        if "diverged" not in str(exc):
            raise
        event("diverged (example rejected)")
        reject()


def note_pruning(clf):
    # Shown by --hypothesis-show-statistics: how often pruning really happened.
    event("pruned" if clf.compression_ > 0 else "not pruned")
    # Steer the search towards examples that prune (targeted generation).
    target(clf.compression_, label="compression")


def _reachable_outputs(masks):
    reach = np.ones(masks[0].shape[0], dtype=bool)
    for mask in masks:
        reach = mask[reach].any(axis=0)
    return reach


def _snapshot(clf):
    return [m.copy() for m in clf.coef_masks_]


def check_invariants(clf, X, params, masks_before=None):
    """Everything that must hold after any fit or partial_fit."""
    total = sum(m.size for m in clf.coef_masks_)
    alive = sum(int(np.count_nonzero(m)) for m in clf.coef_masks_)

    over_patience = []
    for coef, mask, counter in zip(clf.coefs_, clf.coef_masks_, clf.pruning_counters_):
        assert mask.dtype == bool and mask.shape == coef.shape == counter.shape
        # A pruned synapse is exactly 0, not merely small, and its counter
        # was reset: it is no longer a candidate.
        assert np.all(coef[~mask] == 0.0)
        assert np.all(counter[~mask] == 0)
        assert np.all(counter >= 0)
        if isinstance(params["pruning_patience"], int):
            over_patience.append(mask & (counter > params["pruning_patience"]))
    cap = params.get("max_compression")
    capped = cap is not None and total - alive >= int(np.floor(cap * total))
    # (Once max_compression is reached, the rule stops: counters may stay
    # above the patience.)
    if any(o.any() for o in over_patience) and not capped:
        # A counter that exceeds the patience is pruned at once, unless the
        # guard kept the synapse alive: then without those synapses some
        # output neuron would have no path from the input left.
        assert not _reachable_outputs(
            [m & ~o for m, o in zip(clf.coef_masks_, over_patience)]
        ).all()
    # The guard: every output neuron keeps a path from the input.
    assert _reachable_outputs(clf.coef_masks_).all()
    # The cap is never exceeded.
    if params.get("max_compression") is not None:
        assert total - alive <= int(np.floor(params["max_compression"] * total))
    for coef, intercept in zip(clf.coefs_, clf.intercepts_):
        assert coef.dtype == intercept.dtype == X.dtype

    assert 0.0 <= clf.compression_ <= 1.0
    assert clf.compression_ == (total - alive) / total
    assert clf.compression_ == pytest.approx(1 - alive / total, rel=1e-12, abs=1e-15)
    if clf.pruning_rate_ == 0:
        assert alive == total
    curve = np.asarray(clf.compression_curve_)
    assert np.all(np.diff(curve) >= 0)
    assert curve[-1] == clf.compression_

    if masks_before is not None:
        for old, new in zip(masks_before, clf.coef_masks_):
            # Pruning is irreversible: no synapse comes back.
            assert not np.any(new & ~old)

    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], len(clf.classes_))
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    if clf.out_activation_ == "softmax" or clf.n_outputs_ == 1:
        np.testing.assert_allclose(
            proba.sum(axis=1), 1.0, rtol=1e-5 if X.dtype == np.float32 else 1e-12
        )
    predicted = np.unique(clf.predict(X))
    if clf.out_activation_ == "logistic" and clf.n_outputs_ > 1:  # multilabel
        assert set(predicted) <= {0, 1}
    else:
        assert set(predicted) <= set(clf.classes_)


def _chunks(n_samples, n_chunks):
    return np.array_split(np.arange(n_samples), min(n_chunks, n_samples))


def _state(clf):
    """Everything a fit produces, as comparable numpy arrays."""
    state = {
        "coefs": clf.coefs_,
        "intercepts": clf.intercepts_,
        "masks": clf.coef_masks_,
        "counters": clf.pruning_counters_,
        "loss_curve": [np.asarray(clf.loss_curve_)],
        "compression_curve": [np.asarray(clf.compression_curve_)],
    }
    opt = clf._optimizer
    state["optimizer"] = [a for slot in opt.slots for a in slot.values()]
    return state


def assert_identical(a, b):
    sa, sb = _state(a), _state(b)
    for key in sa:
        assert len(sa[key]) == len(sb[key]), key
        for x, y in zip(sa[key], sb[key]):
            assert x.dtype == y.dtype, key
            assert np.array_equal(x, y), key
    for name in ("compression_", "pruning_rate_", "pruning_patience_", "t_"):
        assert getattr(a, name) == getattr(b, name), name


# ---------------------------------------------------------------------------
# Properties.
# ---------------------------------------------------------------------------


@PROFILE
@given(problem=problems(), params=estimator_params())
def test_fit_then_warm_start_invariants(problem, params):
    X, y, _ = problem
    clf = BSPClassifier(**params)
    with divergence_allowed():
        clf.fit(X, y)
        check_invariants(clf, X, params)
        clf.set_params(warm_start=True)
        for _ in range(2):
            before = _snapshot(clf)
            clf.fit(X, y)
            check_invariants(clf, X, params, masks_before=before)
    note_pruning(clf)


@PROFILE
@given(
    problem=problems(),
    params=estimator_params(),
    n_chunks=st.integers(1, 4),
    n_passes=st.integers(1, 3),
)
def test_partial_fit_sequence_invariants(problem, params, n_chunks, n_passes):
    X, y, classes = problem
    clf = BSPClassifier(**params)
    before = None
    with divergence_allowed():
        for _ in range(n_passes):
            for chunk in _chunks(len(X), n_chunks):
                clf.partial_fit(X[chunk], y[chunk], classes=classes)
                check_invariants(clf, X, params, masks_before=before)
                before = _snapshot(clf)
    note_pruning(clf)


@PROFILE
@given(problem=problems(), params=estimator_params())
def test_partial_fit_after_fit_keeps_pruning(problem, params):
    X, y, classes = problem
    clf = BSPClassifier(**params)
    with divergence_allowed():
        clf.fit(X, y)
        for chunk in _chunks(len(X), 2):
            before = _snapshot(clf)
            clf.partial_fit(X[chunk], y[chunk], classes=classes)
            check_invariants(clf, X, params, masks_before=before)
    note_pruning(clf)


@PROFILE
@given(
    problem=problems(),
    params=estimator_params(),
    seed_kind=st.sampled_from(["int", "RandomState"]),
)
def test_same_random_state_gives_bit_identical_models(problem, params, seed_kind):
    X, y, classes = problem
    seed = params.pop("random_state")

    def run():
        random_state = seed if seed_kind == "int" else np.random.RandomState(seed)
        clf = BSPClassifier(random_state=random_state, warm_start=True, **params)
        clf.fit(X, y).fit(X, y)
        # With warm_start=True, partial_fit wants every class in every chunk
        # (as MLPClassifier does); chunks here may lack one.
        clf.set_params(warm_start=False)
        for chunk in _chunks(len(X), 3):
            clf.partial_fit(X[chunk], y[chunk], classes=classes)
        return clf

    with divergence_allowed():
        first = run()
    second = run()  # must not diverge either: it is the same computation
    assert_identical(first, second)
    note_pruning(first)


@SEARCH_PROFILE
@given(problem=problems(min_samples=12), params=estimator_params())
def test_grid_search_scores_do_not_depend_on_n_jobs(problem, params):
    X, y, _ = problem
    params.update(max_iter=min(params["max_iter"], 2))
    grid = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(3,), (6, 4)]}

    def search(n_jobs):
        return GridSearchCV(
            BSPClassifier(**params), grid, cv=2, n_jobs=n_jobs, error_score="raise"
        ).fit(X, y)

    with divergence_allowed():
        serial = search(1)
    parallel = search(2)
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(
            serial.cv_results_[key], parallel.cv_results_[key]
        )
    assert serial.best_params_ == parallel.best_params_
    assert_identical(serial.best_estimator_, parallel.best_estimator_)
    note_pruning(serial.best_estimator_)
