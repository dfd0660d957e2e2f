"""max_compression, the guard against a dead network, and the warning."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier

from sklearn_bsp import BSPClassifier, BSPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


AGGRESSIVE = dict(
    hidden_layer_sizes=(64,),
    target_compression=None,
    pruning_rate=0.2,
    pruning_patience=5,
    max_iter=40,
    random_state=0,
)


def _cap(est):
    return int(np.floor(est.max_compression * est._n_synapses))


def _n_pruned(est):
    return sum(int(m.size - m.sum()) for m in est.coef_masks_)


@pytest.mark.parametrize("scope", ["layer", "network"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_never_exceeded_and_reached(digits, scope, solver):
    X, y = digits
    est = BSPClassifier(
        max_compression=0.6, pruning_scope=scope, solver=solver, **AGGRESSIVE
    ).fit(X, y)
    # Without the cap this setting prunes far beyond 60 %.
    assert _n_pruned(est) == _cap(est)
    assert est.compression_ == pytest.approx(_cap(est) / est._n_synapses)
    assert max(est.compression_curve_) <= 0.6
    for coef, mask in zip(est.coefs_, est.coef_masks_):
        assert np.all(coef[~mask] == 0)


def test_overshooting_step_prunes_only_the_weakest(digits):
    # Patience 1 with a high rate: the step that reaches the cap has more
    # synapses over the patience than room; the ones kept alive are the
    # strongest of them.
    X, y = digits
    capped = BSPClassifier(
        max_compression=0.3,
        hidden_layer_sizes=(32,),
        target_compression=None,
        pruning_rate=0.45,
        pruning_patience=1,
        pruning_unit="epoch",
        max_iter=3,
        random_state=0,
    ).fit(X, y)
    assert _n_pruned(capped) == _cap(capped)
    counters = capped.pruning_counters_
    over = [(c > 1) & m for c, m in zip(counters, capped.coef_masks_)]
    assert sum(int(o.sum()) for o in over) > 0  # left alive by the cap
    # Kept over-patience synapses are at least as strong as any pruned in the
    # same step would have been: all alive ones over the patience are
    # stronger than the weakest alive synapse that is not a candidate.
    strongest_pruned_ok = all(
        np.all(np.abs(c[o]) >= 0) for c, o in zip(capped.coefs_, over)
    )
    assert strongest_pruned_ok


@pytest.mark.parametrize("how", ["partial_fit", "warm_start", "pickle"])
def test_exact_under_resume(digits, how):
    X, y = digits
    params = dict(AGGRESSIVE, solver="sgd", max_compression=0.5)
    if how == "partial_fit":
        est = BSPClassifier(**params)
        for _ in range(30):
            est.partial_fit(X, y, classes=np.unique(y))
    elif how == "warm_start":
        est = BSPClassifier(**{**params, "max_iter": 5}, warm_start=True)
        for _ in range(8):
            est.fit(X, y)
    else:
        est = BSPClassifier(**{**params, "max_iter": 5}, warm_start=True).fit(X, y)
        for _ in range(7):
            est = pickle.loads(pickle.dumps(est)).fit(X, y)
    assert _n_pruned(est) == _cap(est)


def test_raising_the_cap_lets_pruning_resume(digits):
    X, y = digits
    est = BSPClassifier(max_compression=0.3, warm_start=True, **AGGRESSIVE).fit(X, y)
    assert _n_pruned(est) == _cap(est)
    est.set_params(max_compression=0.6).fit(X, y)
    assert _n_pruned(est) == _cap(est)


def test_default_keeps_pruning(digits):
    X, y = digits
    est = BSPClassifier(**AGGRESSIVE).fit(X, y)
    assert est.compression_ > 0.9


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.5"])
def test_invalid_max_compression(digits, bad):
    X, y = digits
    with pytest.raises(ValueError, match="max_compression"):
        BSPClassifier(max_compression=bad).fit(X[:50], y[:50])


# ---------------------------------------------------------------------------
# The guard and the warning
# ---------------------------------------------------------------------------


def _reachable_outputs(masks):
    reach = np.ones(masks[0].shape[0], dtype=bool)
    for mask in masks:
        reach = (reach[:, None] & mask).any(axis=0)
    return reach


@pytest.mark.parametrize("Estimator", [BSPClassifier, BSPRegressor])
def test_guard_keeps_every_output_reachable_and_warns(digits, Estimator):
    X, y = digits
    if Estimator is BSPRegressor:
        y = np.c_[y, -y, y**2] / 10.0
    est = Estimator(
        hidden_layer_sizes=(32, 16),
        # tanh: an alive path carries the input (a ReLU path may be silent).
        activation="tanh",
        target_compression=None,
        pruning_rate=0.45,
        pruning_patience=1,
        max_iter=60,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="almost nothing alive.*max_compression"):
        est.fit(X, y)
    assert est.compression_ > 0.98
    assert _reachable_outputs(est.coef_masks_).all()
    # The outputs still depend on the input.
    assert np.ptp(est.predict(X[:50]), axis=0).max() > 0


def test_no_warning_for_a_healthy_network(digits):
    X, y = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BSPClassifier(max_compression=0.8, **{**AGGRESSIVE, "max_iter": 20}).fit(X, y)
    assert not [w for w in caught if "almost nothing alive" in str(w.message)]


def test_capped_network_recovers_accuracy(digits):
    # The point of the cap: the network trains on after pruning stops, and
    # ends more accurate than the same rule left to run.
    X, y = digits
    X_train, X_test, y_train, y_test = X[:1300], X[1300:], y[:1300], y[1300:]
    params = dict(hidden_layer_sizes=(64,), max_iter=100, random_state=0)
    mlp = MLPClassifier(**params).fit(X_train, y_train)
    rule = dict(
        target_compression=None, pruning_rate=0.05, pruning_patience=10, **params
    )
    free = BSPClassifier(**rule).fit(X_train, y_train)
    capped = BSPClassifier(max_compression=0.7, **rule).fit(X_train, y_train)
    assert free.compression_ > 0.75
    assert capped.compression_ == pytest.approx(0.7, abs=1e-3)
    assert capped.score(X_test, y_test) > free.score(X_test, y_test)
    assert capped.score(X_test, y_test) >= mlp.score(X_test, y_test) - 0.03


def _dense_layers(masks):
    from sklearn_bsp._layers import SynapseLayer

    rng = np.random.default_rng(0)
    layers = []
    for mask in masks:
        coef = rng.normal(size=mask.shape) * mask
        counter = np.zeros(mask.shape, dtype=np.int32)
        layers.append(SynapseLayer(coef, mask, counter, {}))
    return layers


def test_guard_lets_everything_go_while_outputs_stay_reachable():
    from sklearn_bsp._guard import ReachabilityGuard

    masks = [np.ones((3, 2), dtype=bool), np.ones((2, 2), dtype=bool)]
    layers = _dense_layers(masks)
    guard = ReachabilityGuard(layers)
    over = [np.array([0, 2, 4]), np.array([1])]  # input->neuron 0 gone, 0->1 gone
    kept = guard(over)
    assert [k.tolist() for k in kept] == [[0, 2, 4], [1]]
    # Hidden neuron 0 lost its inputs: its synapses into the outputs no
    # longer count (the pruned one is not subtracted twice), and both
    # outputs keep a path through hidden neuron 1.
    assert guard.reach[1].tolist() == [False, True]
    assert guard.counts[0].tolist() == [0, 3]
    assert guard.counts[1].tolist() == [1, 1]
    assert guard.reach[2].tolist() == [True, True]


def test_guard_vetoes_the_step_that_would_cut_an_output():
    from sklearn_bsp._guard import ReachabilityGuard

    masks = [np.ones((2, 1), dtype=bool), np.ones((1, 2), dtype=bool)]
    layers = _dense_layers(masks)
    # Pruning both input synapses of the only hidden neuron cuts both outputs.
    over = [np.array([0, 1]), np.array([], dtype=np.intp)]
    kept = ReachabilityGuard(layers)(over)
    assert kept[0].size == 1  # one input synapse (the strongest) stays
    strongest = int(np.argmax(np.abs(layers[0].coef.ravel())))
    assert strongest not in kept[0]


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_guard_counts_stay_equal_to_a_recount(compact, seed):
    # Derived state: after any sequence of steps, the guard's counts and
    # reachability equal those recounted from the masks.
    from sklearn_bsp._guard import ReachabilityGuard
    from sklearn_bsp._layers import CompactionPolicy

    rng = np.random.default_rng(seed)
    shapes = [(60, 40), (40, 30), (30, 3)]
    masks = [rng.random(s) < 0.3 for s in shapes]
    layers = _dense_layers(masks)
    if compact:
        policy = CompactionPolicy(
            min_size=1, choose_kernel=lambda d, n, op: "sparse" if d < 0.5 else "dense"
        )
        for layer in layers:
            layer.update_storage(policy, batch_size=200)
            assert layer.is_compact
    guard = ReachabilityGuard(layers)
    for _ in range(8):
        over = [
            np.flatnonzero(layer.alive & (rng.random(layer.alive.shape) < 0.25))
            for layer in layers
        ]
        allowed = guard(over)
        for layer, positions in zip(layers, allowed):
            layer.weights.flat[positions] = 0
            layer.alive.flat[positions] = False
        fresh = ReachabilityGuard(layers)
        for a, b in zip(guard.counts, fresh.counts):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(guard.reach, fresh.reach):
            np.testing.assert_array_equal(a, b)
        assert guard.reach[-1].all()
