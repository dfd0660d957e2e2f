"""The damage warning: a loss far above its level before pruning, and by a
share of what the network had learned."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from sklearn_bsp import BSPClassifier, _damage
from sklearn_bsp._damage import DamageWatch, _null_loss, check_damage


@pytest.fixture(scope="module")
def fitted():
    X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    clf = BSPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    # The loss's form of y: one column of 0/1 for a binary problem.
    return clf, X, y.reshape(-1, 1).astype(float)


def _watch(losses, pruned_at):
    watch = DamageWatch()
    for i, loss in enumerate(losses):
        watch.record(loss, i == pruned_at)
    return watch


def _warnings(clf, watch, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_damage(clf, watch, X, y, None, probe=False)
    return [w for w in caught if "damaged" in str(w.message)]


def test_a_loss_that_doubles_from_almost_nothing_is_no_damage(fitted):
    clf, X, y = fitted
    assert _null_loss(clf, y, None) == pytest.approx(np.log(2), rel=0.05)
    # 0.010 -> 0.025: 2.5x the loss before pruning, but a rise of 0.015
    # against the 0.68 the network had removed from the constant's loss.
    watch = _watch([0.5, 0.1, 0.01, 0.03, 0.025, 0.025], pruned_at=3)
    assert watch.damaged()
    assert _warnings(clf, watch, X, y) == []


def test_a_loss_that_climbs_back_towards_the_constant_is_damage(fitted):
    clf, X, y = fitted
    watch = _watch([0.5, 0.1, 0.05, 0.6, 0.4, 0.4], pruned_at=3)
    assert watch.damaged()
    assert len(_warnings(clf, watch, X, y)) == 1


def test_the_probe_reads_at_most_its_share_of_rows(monkeypatch):
    # The probe holds every hidden activation of the rows it reads: on a
    # large training set it takes evenly spaced rows, so that a fit's peak
    # memory does not grow with the data beyond a minibatch's.
    X, y = make_classification(n_samples=5_000, n_features=10, random_state=0)
    clf = BSPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    rows = []
    probe = _damage._lbfgs_probe

    def spy(estimator, masks, X, *args, **kwargs):
        rows.append(X.shape[0])
        return probe(estimator, masks, X, *args, **kwargs)

    monkeypatch.setattr(_damage, "_lbfgs_probe", spy)
    _damage.probe_pruned_synapses(clf, X, y.reshape(-1, 1).astype(float), None)
    assert rows and max(rows) <= _damage._PROBE_MAX_SAMPLES < X.shape[0]
    assert max(rows) > _damage._PROBE_MAX_SAMPLES // 2
