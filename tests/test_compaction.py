"""Training and prediction through compacted layers give the dense results."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

import sklearn_bsp._classifier as classifier_module
from sklearn_bsp import BSPClassifier
from sklearn_bsp._compaction import CompactLayer, TrainingState
from sklearn_bsp._optimizers import AdamOptimizer

MIN_COMPACT_SIZE = classifier_module._MIN_COMPACT_SIZE

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=600, n_features=120, n_informative=30, n_classes=3, random_state=0
    )
    return X.astype(np.float32), y


def _fixed_crossover(density, n_samples=200, op="forward", compiled=None):
    # The crossover measured on each machine differs (and the NumPy fallback
    # rarely wins); a fixed one makes these tests exercise compaction
    # everywhere, with whichever kernels are installed.
    return "sparse" if density < 0.1 and n_samples >= 16 else "dense"


def _fit(X, y, dense_only, monkeypatch, **kwargs):
    # An unreachable minimum size keeps every layer dense: the reference.
    size = 10**12 if dense_only else MIN_COMPACT_SIZE
    monkeypatch.setattr(classifier_module, "_MIN_COMPACT_SIZE", size)
    monkeypatch.setattr(classifier_module, "choose_kernel", _fixed_crossover)
    params = dict(
        hidden_layer_sizes=(96, 64),
        pruning_rate=0.3,
        pruning_patience=2,
        max_iter=9,
        random_state=0,
    )
    params.update(kwargs)
    return BSPClassifier(**params).fit(X, y)


def _compacted_layers(clf, X, y, monkeypatch):
    seen = []
    original = TrainingState.finish

    def spy(self):
        seen.append([c is not None for c in self.compact])
        original(self)

    monkeypatch.setattr(TrainingState, "finish", spy)
    clf.fit(X, y)
    return seen[-1]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("scope", ["layer", "network"])
def test_compacted_training_equals_dense_training(data, monkeypatch, solver, scope):
    X, y = data
    kwargs = dict(solver=solver, pruning_scope=scope)
    dense = _fit(X, y, True, monkeypatch, **kwargs)
    compact = _fit(X, y, False, monkeypatch, **kwargs)
    assert compact.compression_ > 0.9
    compacted = _compacted_layers(
        BSPClassifier(**compact.get_params()), X, y, monkeypatch
    )
    assert any(compacted)  # at least one large layer went compact
    for a, b in zip(dense.coef_masks_, compact.coef_masks_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(dense.coefs_, compact.coefs_):
        assert b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(dense.pruning_counters_, compact.pruning_counters_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(dense.loss_curve_, compact.loss_curve_, rtol=1e-5)
    for coef, mask in zip(compact.coefs_, compact.coef_masks_):
        assert np.all(coef[~mask] == 0)


def test_partial_fit_through_compacted_layers_equals_fit(data, monkeypatch):
    X, y = data
    params = dict(shuffle=False, solver="sgd", learning_rate_init=0.05)
    full = _fit(X, y, False, monkeypatch, max_iter=9, **params)
    inc = BSPClassifier(**{**full.get_params(), "max_iter": 200})
    for _ in range(9):
        inc.partial_fit(X, y, classes=np.unique(y))
    for a, b in zip(full.coefs_, inc.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for a, b in zip(full.coef_masks_, inc.coef_masks_):
        np.testing.assert_array_equal(a, b)


def test_compacted_prediction_equals_dense_prediction(data, monkeypatch):
    X, y = data
    clf = _fit(X, y, False, monkeypatch)
    proba = clf.predict_proba(X)
    assert any(layer is not None for layer in clf._inference_cache[1][2])
    clf._clear_inference_layers()
    monkeypatch.setattr(classifier_module, "_MIN_COMPACT_SIZE", 10**12)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-5, atol=1e-7)


def test_inference_cache_notices_changed_weights(data, monkeypatch):
    X, y = data
    clf = _fit(X, y, False, monkeypatch)
    before = clf.predict_proba(X[:50])
    clf.coefs_[0][clf.coef_masks_[0]] *= 2.0
    after = clf.predict_proba(X[:50])
    assert not np.allclose(before, after)
    clf._clear_inference_layers()
    np.testing.assert_allclose(clf.predict_proba(X[:50]), after, rtol=1e-6)


def test_compact_layer_gather_scatter_round_trip():
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(30, 20)).astype(np.float32)
    mask = rng.random((30, 20)) < 0.1
    mask[3] = False  # a dead input
    mask[:, 5] = False  # a dead output
    coef *= mask
    counter = (rng.integers(0, 5, size=(30, 20)) * mask).astype(np.int32)
    c = CompactLayer(coef, mask, counter)
    assert len(c.values) == mask.sum()
    np.testing.assert_array_equal(c.scatter(c.values), coef)
    np.testing.assert_array_equal(c.scatter(c.counter), counter)
    np.testing.assert_array_equal(c.dense_mask(), mask)
    state = rng.normal(size=(30, 20)) * mask
    np.testing.assert_array_equal(c.scatter(c.gather(state)), state)


def test_training_state_moves_optimizer_state_with_the_layer():
    rng = np.random.default_rng(1)
    coef = rng.normal(size=(100, 80))
    mask = rng.random(coef.shape) < 0.05
    coef *= mask
    counters = [np.zeros(coef.shape, dtype=np.int32)]
    opt = AdamOptimizer([coef])
    opt.ms[0] = rng.normal(size=coef.shape) * mask
    ms = opt.ms[0].copy()
    state = TrainingState(
        [coef], [mask], counters, opt, [True], lambda density, size: density < 0.1
    )
    assert state.compact[0] is not None and opt.ms[0].ndim == 1
    assert state.weights[0] is state.compact[0].layer.data
    state.weights[0] += 1.0  # an update in compact storage ...
    state.finish()  # ... lands in the dense arrays
    assert opt.ms[0].shape == coef.shape
    np.testing.assert_array_equal(opt.ms[0], ms)
    np.testing.assert_array_equal(coef[mask] - 1.0, (coef * 0 + coef)[mask] - 1.0)
    assert np.all(coef[~mask] == 0)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_removing_dead_neurons_keeps_the_function(activation):
    from sklearn_bsp._inference import remove_dead_neurons
    from sklearn_bsp._network import forward

    rng = np.random.default_rng(0)
    shapes = [(6, 5), (5, 4), (4, 3)]
    coefs = [rng.normal(size=s) for s in shapes]
    intercepts = [rng.normal(size=s[1]) for s in shapes]
    masks = [rng.random(s) < 0.7 for s in shapes]
    masks[0][:, 1] = False  # neuron 1 of layer 1: no input, a constant
    masks[1][1, :] = True
    masks[1][3, :] = False  # neuron 3 of layer 1: no output, no effect
    masks[1][:, 2] = False  # neuron 2 of layer 2: no input after that
    masks[2][2, :] = True
    masks[2][0, :] = False  # neuron 0 of layer 2: no output
    coefs = [c * m for c, m in zip(coefs, masks)]
    X = rng.normal(size=(20, 6))
    expected = forward(X, coefs, intercepts, activation, "softmax")
    small, biases, small_masks = remove_dead_neurons(
        coefs, intercepts, masks, activation
    )
    assert [c.shape for c in small] == [(6, 3), (3, 2), (2, 3)]
    for c, m in zip(small, small_masks):
        assert c.shape == m.shape
    np.testing.assert_allclose(
        forward(X, small, biases, activation, "softmax"), expected, rtol=1e-12
    )
    # The inputs are untouched.
    assert intercepts[1].shape == (4,)


def test_prediction_with_every_hidden_neuron_dead():
    X, y = make_classification(n_samples=100, n_features=8, random_state=0)
    clf = BSPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0)
    clf.fit(X, y)
    clf.coef_masks_[0][:] = False
    clf.coefs_[0][:] = 0.0
    clf._refresh_inference_layers()
    proba = clf.predict_proba(X)
    # Every sample gets the same output, from the biases alone.
    np.testing.assert_allclose(proba, np.repeat(proba[:1], len(X), axis=0))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
