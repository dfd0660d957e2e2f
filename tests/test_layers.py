"""SynapseLayer storage, and training/prediction through compacted layers."""

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

import sklearn_bsp._controller
from sklearn_bsp import BSPClassifier, BSPRegressor
from sklearn_bsp._controller import PruningController
from sklearn_bsp._inference import forward, remove_dead_neurons
from sklearn_bsp._layers import CompactionPolicy, SynapseLayer, narrow_hidden_layers
from sklearn_bsp._network import MaskedNetwork
from sklearn_bsp._optimizers import AdamOptimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SPARSE_CALLS = []


def _fixed_crossover(density, n_samples=200, op="forward", compiled=None):
    # The crossover measured on each machine differs (and the NumPy fallback
    # rarely wins); a fixed one makes these tests exercise compaction
    # everywhere, with whichever kernels are installed.
    choice = "sparse" if density < 0.1 and n_samples >= 16 else "dense"
    if choice == "sparse":
        SPARSE_CALLS.append((op, density))
    return choice


COMPACTING = CompactionPolicy(min_size=1000, choose_kernel=_fixed_crossover)
NEVER = CompactionPolicy(min_size=10**12)


class CompactingClassifier(BSPClassifier):
    _compaction_policy = COMPACTING


class DenseClassifier(BSPClassifier):
    _compaction_policy = NEVER


class CompactingRegressor(BSPRegressor):
    _compaction_policy = COMPACTING


class DenseRegressor(BSPRegressor):
    _compaction_policy = NEVER


PARAMS = dict(
    hidden_layer_sizes=(96, 64),
    target_compression=None,
    pruning_rate=0.3,
    pruning_patience=2,
    max_iter=9,
    random_state=0,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=600, n_features=120, n_informative=30, n_classes=3, random_state=0
    )
    return X.astype(np.float32), y


def _assert_same_training(dense, compact):
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


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("scope", ["layer", "network"])
def test_compacted_training_equals_dense_training(data, solver, scope):
    X, y = data
    kwargs = dict(PARAMS, solver=solver, pruning_scope=scope)
    dense = DenseClassifier(**kwargs).fit(X, y)
    SPARSE_CALLS.clear()
    compact = CompactingClassifier(**kwargs).fit(X, y)
    assert compact.compression_ > 0.9
    assert any(op == "grad" for op, _ in SPARSE_CALLS)  # a layer trained compact
    _assert_same_training(dense, compact)


def test_compacted_regressor_training_equals_dense_training():
    X, y = make_regression(n_samples=400, n_features=120, random_state=0)
    X, y = X.astype(np.float32), (y / y.std()).astype(np.float32)
    kwargs = dict(PARAMS, solver="sgd", learning_rate_init=0.01, max_iter=20)
    dense = DenseRegressor(**kwargs).fit(X, y)
    SPARSE_CALLS.clear()
    compact = CompactingRegressor(**kwargs).fit(X, y)
    assert any(op == "grad" for op, _ in SPARSE_CALLS)
    _assert_same_training(dense, compact)


def test_partial_fit_through_compacted_layers_equals_fit(data):
    X, y = data
    params = dict(PARAMS, shuffle=False, solver="sgd", learning_rate_init=0.05)
    full = CompactingClassifier(**params).fit(X, y)
    inc = CompactingClassifier(**{**params, "max_iter": 200})
    for _ in range(9):
        inc.partial_fit(X, y, classes=np.unique(y))
    for a, b in zip(full.coefs_, inc.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for a, b in zip(full.coef_masks_, inc.coef_masks_):
        np.testing.assert_array_equal(a, b)


def test_compacted_prediction_equals_dense_prediction(data):
    X, y = data
    clf = CompactingClassifier(**PARAMS).fit(X, y)
    assert any(k is not None for k in clf._inference.kernels)
    dense = DenseClassifier(**PARAMS).fit(X, y)
    assert all(k is None for k in dense._inference.kernels)
    np.testing.assert_allclose(
        clf.predict_proba(X), dense.predict_proba(X), rtol=1e-4, atol=1e-6
    )


def test_synapse_layer_compacts_and_expands_with_its_optimizer_slots():
    rng = np.random.default_rng(1)
    coef = rng.normal(size=(100, 80))
    mask = rng.random(coef.shape) < 0.05
    mask[3] = False  # a dead input
    mask[:, 5] = False  # a dead output
    coef *= mask
    counter = (rng.integers(0, 5, size=coef.shape) * mask).astype(np.int32)
    opt = AdamOptimizer([coef])
    opt.slots[0]["m"] = rng.normal(size=coef.shape) * mask
    m_before, counter_before = opt.slots[0]["m"].copy(), counter.copy()
    layer = SynapseLayer(coef, mask, counter, opt.slots[0])
    assert layer.update_storage(COMPACTING, batch_size=200)
    assert layer.is_compact and layer.weights is layer.kernel.data
    # The optimizer reads the layer's storage through the shared dict.
    assert opt.slots[0]["m"].shape == (mask.sum(),)
    np.testing.assert_array_equal(layer.counts, counter_before.ravel()[layer.positions])
    expected = coef.copy()
    expected[mask] += 1.0
    layer.weights += 1.0  # an update in compact storage ...
    layer.sync()  # ... lands in the dense arrays
    np.testing.assert_array_equal(coef, expected)
    layer.expand()
    assert not layer.is_compact and layer.weights is coef
    np.testing.assert_array_equal(opt.slots[0]["m"], m_before)
    np.testing.assert_array_equal(counter, counter_before)


def test_pruning_in_compact_storage_reaches_the_dense_arrays():
    rng = np.random.default_rng(2)
    coef = rng.normal(size=(100, 80))
    mask = rng.random(coef.shape) < 0.05
    coef *= mask
    counter = np.zeros(coef.shape, dtype=np.int32)
    slots = {"velocity": rng.normal(size=coef.shape) * mask}
    layer = SynapseLayer(coef, mask, counter, slots)
    layer.update_storage(COMPACTING, batch_size=200)
    n_alive = layer.n_alive
    newly = np.zeros(layer.weights.shape, dtype=bool)
    newly[:3] = True
    layer.weights[newly] = 0
    layer.alive[newly] = False
    layer.prune(np.flatnonzero(newly))
    assert layer.n_alive == n_alive - 3
    assert np.all(slots["velocity"][newly] == 0)
    assert layer.grad_mask is layer.alive
    layer.expand()
    assert mask.sum() == n_alive - 3
    assert np.all(coef[~mask] == 0) and np.all(slots["velocity"][~mask] == 0)


def test_recompaction_after_enough_pruning():
    rng = np.random.default_rng(3)
    coef = rng.normal(size=(100, 80))
    mask = rng.random(coef.shape) < 0.08
    coef *= mask
    layer = SynapseLayer(coef, mask, np.zeros(coef.shape, dtype=np.int32), {})
    layer.update_storage(COMPACTING, batch_size=200)
    stored = len(layer.weights)
    newly = np.zeros(stored, dtype=bool)
    newly[: stored // 2] = True
    layer.weights[newly] = 0
    layer.alive[newly] = False
    layer.prune(np.flatnonzero(newly))
    assert layer.update_storage(COMPACTING, batch_size=200)
    assert len(layer.weights) == stored - stored // 2 == layer.n_alive
    assert layer.grad_mask is None


def _always_sparse(density, n_samples=200, op="forward", compiled=None):
    return "sparse" if n_samples >= 16 else "dense"


# Every layer compact from the start: taking dead neurons out of the products
# then changes nothing in the arithmetic, so training must be bit-equal.
ALWAYS = CompactionPolicy(min_size=0, choose_kernel=_always_sparse)
ALWAYS_WIDE = CompactionPolicy(
    min_size=0, choose_kernel=_always_sparse, narrow_share=None
)


class NarrowingClassifier(BSPClassifier):
    _compaction_policy = ALWAYS


class WideClassifier(BSPClassifier):
    _compaction_policy = ALWAYS_WIDE


class NarrowingRegressor(BSPRegressor):
    _compaction_policy = ALWAYS


class WideRegressor(BSPRegressor):
    _compaction_policy = ALWAYS_WIDE


@pytest.fixture
def narrowings(monkeypatch):
    """Record how many layers each call of narrow_hidden_layers rebuilt."""
    calls = []

    def spy(layers, policy, batch_size):
        before = [(layer.in_units, layer.out_units) for layer in layers]
        changed = narrow_hidden_layers(layers, policy, batch_size)
        after = [(layer.in_units, layer.out_units) for layer in layers]
        moved = any(a is not b for pair in zip(before, after) for a, b in zip(*pair))
        calls.append((changed, moved))
        return changed

    monkeypatch.setattr(sklearn_bsp._controller, "narrow_hidden_layers", spy)
    return calls


def _assert_bit_equal(a, b):
    for name in ("coefs_", "intercepts_", "coef_masks_", "pruning_counters_"):
        for p, q in zip(getattr(a, name), getattr(b, name)):
            np.testing.assert_array_equal(p, q, err_msg=name)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-6)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
@pytest.mark.parametrize("hidden", [(96, 64), (200,)])
def test_training_without_dead_neurons_is_bit_equal(
    data, narrowings, solver, dropout, hidden
):
    X, y = data
    kwargs = dict(PARAMS, solver=solver, dropout=dropout, hidden_layer_sizes=hidden)
    narrow = NarrowingClassifier(**kwargs).fit(X, y)
    assert any(changed for changed, _ in narrowings)
    assert all(changed == moved for changed, moved in narrowings)
    wide = WideClassifier(**kwargs).fit(X, y)
    _assert_bit_equal(narrow, wide)
    # Dead neurons really were there to take out.
    assert not narrow.coef_masks_[-1].any(axis=1).all()


def test_regressor_training_without_dead_neurons_is_bit_equal(narrowings):
    X, y = make_regression(n_samples=400, n_features=60, n_targets=2, random_state=0)
    X, y = X.astype(np.float32), (y / y.std()).astype(np.float32)
    kwargs = dict(PARAMS, solver="sgd", learning_rate_init=0.01, max_iter=12)
    narrow = NarrowingRegressor(**kwargs).fit(X, y)
    assert any(changed for changed, _ in narrowings)
    _assert_bit_equal(narrow, WideRegressor(**kwargs).fit(X, y))


def test_partial_fit_without_dead_neurons_is_bit_equal(data):
    X, y = data
    kwargs = dict(PARAMS, solver="sgd", shuffle=False)
    narrow, wide = NarrowingClassifier(**kwargs), WideClassifier(**kwargs)
    for _ in range(9):
        narrow.partial_fit(X, y, classes=np.unique(y))
        wide.partial_fit(X, y, classes=np.unique(y))
    _assert_bit_equal(narrow, wide)


def _layered_network(rng, dead):
    """Two compact layers, 30 -> 20 -> 4, hidden neurons ``dead`` without outputs."""
    shapes = [(30, 20), (20, 4)]
    masks = [rng.random(s) < 0.6 for s in shapes]
    masks[1][dead] = False
    coefs = [rng.normal(size=s) * m for s, m in zip(shapes, masks)]
    counters = [
        rng.integers(0, 3, size=s).astype(np.int32) * m for s, m in zip(shapes, masks)
    ]
    slots = [{"velocity": rng.normal(size=s) * m} for s, m in zip(shapes, masks)]
    layers = [
        SynapseLayer(c, m, k, v) for c, m, k, v in zip(coefs, masks, counters, slots)
    ]
    slots = [{"velocity": s["velocity"].copy()} for s in slots]  # dense copies
    for layer in layers:
        layer.update_storage(ALWAYS, batch_size=200)
    return layers, coefs, masks, counters, slots


def test_narrowed_layers_store_dormant_synapses_after_the_kernel():
    rng = np.random.default_rng(4)
    dead = [2, 5, 11]
    layers, coefs, masks, counters, slots = _layered_network(rng, dead)
    assert narrow_hidden_layers(layers, ALWAYS)
    into, out_of = layers
    live = np.setdiff1d(np.arange(20), dead)
    np.testing.assert_array_equal(into.out_units, live)
    np.testing.assert_array_equal(out_of.in_units, live)
    assert into.kernel.shape == (30, 17) and out_of.kernel.shape == (17, 4)
    # The kernel multiplies the head of the storage in place.
    assert np.shares_memory(into.kernel.data, into.weights)
    assert into.n_active == masks[0][:, live].sum()
    assert len(into.weights) == masks[0].sum()  # dormant synapses stay alive
    into_dead = np.zeros_like(masks[0])
    into_dead[:, dead] = masks[0][:, dead]
    np.testing.assert_array_equal(
        np.sort(into.positions[into.n_active :]), np.flatnonzero(into_dead)
    )
    # Updates of dormant synapses, counters and slots reach the dense arrays.
    expected = coefs[0].copy()
    expected[masks[0]] *= 2
    into.weights *= 2
    into.sync()
    np.testing.assert_array_equal(coefs[0], expected)
    into.expand()
    np.testing.assert_array_equal(into.slots["velocity"], slots[0]["velocity"])
    assert into.out_units is not None  # the units stay until the layer is rebuilt


def test_narrowed_network_gives_the_wide_gradients():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 30))
    y = np.eye(4)[rng.integers(0, 4, size=40)]
    results = []
    for narrow in (False, True):
        layers, *_ = _layered_network(np.random.default_rng(6), dead=[0, 7, 8, 19])
        if narrow:
            assert narrow_hidden_layers(layers, ALWAYS)
        intercepts = [np.random.default_rng(7).normal(size=n) for n in (20, 4)]
        network = MaskedNetwork(layers, intercepts, "logistic", "softmax", alpha=0.01)
        loss, coef_grads, intercept_grads = network.backprop(X, y)
        dense_grads = []
        for layer, grad in zip(layers, coef_grads):
            full = np.zeros(layer.coef.shape)
            full.flat[layer.positions] = grad
            dense_grads.append(full)
        results.append((loss, dense_grads, intercept_grads))
    (loss_w, coef_w, int_w), (loss_n, coef_n, int_n) = results
    assert loss_n == pytest.approx(loss_w, rel=1e-12)
    for a, b in zip(coef_w + int_w, coef_n + int_n):
        np.testing.assert_array_equal(a, b)


def test_pruning_keeps_row_counts_in_both_storages():
    rng = np.random.default_rng(8)
    layers, _, masks, *_ = _layered_network(rng, dead=[1])
    narrow_hidden_layers(layers, CompactionPolicy(min_size=0, narrow_share=0.0))
    for layer, mask in zip(layers, masks):
        newly = rng.random(layer.weights.shape) < 0.3
        layer.weights[newly] = 0
        layer.alive[newly] = False
        layer.prune(np.flatnonzero(newly))
        layer.sync()
        np.testing.assert_array_equal(layer.row_alive, mask.sum(axis=1))
    dense = SynapseLayer(
        np.ones((5, 4)), np.ones((5, 4), bool), np.zeros((5, 4), np.int32), {}
    )
    newly = np.zeros((5, 4), bool)
    newly[2] = True
    dense.weights[newly] = 0
    dense.alive[newly] = False
    dense.prune(np.flatnonzero(newly))
    np.testing.assert_array_equal(dense.row_alive, [4, 4, 0, 4, 4])


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_removing_dead_neurons_keeps_the_function(activation):
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
    proba = clf.predict_proba(X)
    # Every sample gets the same output, from the biases alone.
    np.testing.assert_allclose(proba, np.repeat(proba[:1], len(X), axis=0))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


class Int32Classifier(BSPClassifier):
    _narrow_counter_limit = 0  # never uint16 counters


class Int32CompactingClassifier(CompactingClassifier):
    _narrow_counter_limit = 0


class TinyLimitClassifier(BSPClassifier):
    _narrow_counter_limit = 7  # widened as soon as a count could pass 6


@pytest.fixture
def widenings(monkeypatch):
    calls = []
    widen = SynapseLayer.widen_counters

    def spy(self):
        calls.append(self.narrow_counters)
        return widen(self)

    monkeypatch.setattr(SynapseLayer, "widen_counters", spy)
    return calls


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_uint16_counters_train_like_int32(data, solver):
    X, y = data
    kwargs = dict(PARAMS, solver=solver, pruning_patience=3)
    narrow = CompactingClassifier(**kwargs).fit(X, y)
    wide = Int32CompactingClassifier(**kwargs).fit(X, y)
    _assert_bit_equal(narrow, wide)
    for counter in narrow.pruning_counters_:
        assert counter.dtype == np.int32


class _GrowingController(PruningController):
    # The "auto" patience grows with the pruned count; a steeper stand-in
    # crosses the tiny limit within a short fit.
    def current_patience(self):
        return 3.0 if self.n_pruned < 0.3 * self.n_synapses else 9.0


class _GrowingPatience:
    _pruning_controller = _GrowingController


class GrowingTinyLimit(_GrowingPatience, TinyLimitClassifier):
    pass


class GrowingInt32(_GrowingPatience, Int32Classifier):
    pass


def test_counters_widen_when_the_patience_grows(data, widenings):
    X, y = data
    kwargs = dict(PARAMS, max_iter=12)
    narrow = GrowingTinyLimit(**kwargs).fit(X, y)
    assert True in widenings  # started uint16 (3 < 7), widened (9 >= 7)
    assert narrow.compression_ > 0.3
    _assert_bit_equal(narrow, GrowingInt32(**kwargs).fit(X, y))
    widenings.clear()
    TinyLimitClassifier(**dict(kwargs, pruning_patience=8)).fit(X, y)
    assert True not in widenings  # patience 8 >= 7: int32 from the start


def test_counters_widen_before_a_vetoed_count_could_overflow(widenings):
    # Pruning hard enough that the guard keeps over-patience synapses alive;
    # their counts run on and must make the layers widen, exactly.
    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    X = X.astype(np.float32)
    kwargs = dict(
        hidden_layer_sizes=(3,),
        target_compression=None,
        pruning_rate=0.5,
        pruning_patience=1,
        max_iter=30,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="almost nothing alive"):
        tiny = TinyLimitClassifier(**kwargs).fit(X, y)
    assert True in widenings  # a narrow layer was widened
    with pytest.warns(UserWarning, match="almost nothing alive"):
        wide = Int32Classifier(**kwargs).fit(X, y)
    _assert_bit_equal(tiny, wide)
    assert max(c.max() for c in wide.pruning_counters_) > 7


def test_layer_keeps_int32_counters_for_large_carried_over_counts():
    from sklearn_bsp._layers import NARROW_COUNTER_LIMIT

    counter = np.zeros((4, 3), dtype=np.int32)
    mask = np.ones((4, 3), dtype=bool)
    layer = SynapseLayer(np.ones((4, 3)), mask, counter, {}, narrow_counters=True)
    assert layer.counts.dtype == np.uint16
    layer.counts += 5
    layer.sync()
    np.testing.assert_array_equal(counter, 5)
    counter[0, 0] = NARROW_COUNTER_LIMIT
    layer = SynapseLayer(np.ones((4, 3)), mask, counter, {}, narrow_counters=True)
    assert layer.counts is counter


def test_no_narrowing_that_would_force_a_slow_kernel():
    # The layer after the dead neurons is large and dense: compacting it for
    # the narrowing would cost more than the dead neurons save.
    rng = np.random.default_rng(9)
    shapes = [(50, 40), (40, 200)]
    masks = [rng.random(shapes[0]) < 0.05, rng.random(shapes[1]) < 0.9]
    masks[1][:10] = False  # 10 of 40 hidden neurons without outputs
    layers = [
        SynapseLayer(rng.normal(size=s) * m, m, np.zeros(s, np.int32), {})
        for s, m in zip(shapes, masks)
    ]
    policy = CompactionPolicy(min_size=1000, choose_kernel=_fixed_crossover)
    layers[0].update_storage(policy, batch_size=200)
    assert layers[0].is_compact and not layers[1].is_compact
    assert not narrow_hidden_layers(layers, policy)
    # Small, it is compacted for the narrowing.
    small = CompactionPolicy(min_size=10_000, choose_kernel=_fixed_crossover)
    layers[0].update_storage(
        CompactionPolicy(min_size=0, choose_kernel=_fixed_crossover), 200
    )
    assert narrow_hidden_layers(layers, small)
    assert layers[1].is_compact and len(layers[1].in_units) == 30


def test_each_layer_widens_its_own_counters():
    def layer():
        shape = (4, 3)
        return SynapseLayer(
            np.ones(shape),
            np.ones(shape, dtype=bool),
            np.zeros(shape, dtype=np.int32),
            {},
            narrow_counters=True,
            counter_limit=10,
        )

    first, second = layer(), layer()
    first.fit_counters(9.0)
    assert first.counts.dtype == np.uint16  # counts stop at 9 < 10
    first.fit_counters(10.0)
    assert first.counts.dtype == np.int32
    # A synapse the guard kept past the patience: its count runs on.
    second.counts.flat[5] = 8
    second.fit_counters(3.0, kept=np.array([5]))
    assert second.counts.dtype == np.uint16
    second.counts.flat[5] = 9
    second.fit_counters(3.0, kept=np.array([5]))
    assert second.counts.dtype == np.int32
    second.sync()
    assert second.counter.ravel()[5] == 9  # widening loses no count
