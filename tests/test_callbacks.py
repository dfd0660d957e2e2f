"""scikit-learn's callback API: fit tasks per epoch, clean stops, our monitor."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression

from sklearn_bsp import BSPClassifier, BSPRegressor
from sklearn_bsp.callbacks import PruningMonitor

pytest.importorskip("sklearn.callback", reason="scikit-learn >= 1.9 has callbacks")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=300, n_features=10, random_state=0)
    return X, y / y.std()


class StopAfter:
    """Stops after ``n`` epochs; keeps what each fitted_estimator predicted."""

    def __init__(self, n, X):
        self.n, self.X = n, X

    def setup(self, estimator, context):
        self.tasks, self.predictions = [], []

    def on_fit_task_begin(self, estimator, context):
        self.tasks.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.tasks.append(("end", context.task_name))
        if context.task_name != "epoch":
            return False
        self.predictions.append(fitted_estimator.predict(self.X))
        return len(self.predictions) >= self.n

    def teardown(self, estimator, context):
        self.torn_down = True


def _estimator(kind, solver, **kwargs):
    params = dict(
        hidden_layer_sizes=(32,),
        solver=solver,
        pruning_rate=0.1,
        pruning_patience=3,
        max_iter=40,
        random_state=0,
    )
    params.update(kwargs)
    return (BSPClassifier if kind == "classifier" else BSPRegressor)(**params)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_callback_stops_the_fit_cleanly(kind, solver, digits, regression):
    X, y = digits if kind == "classifier" else regression
    stop = StopAfter(5, X)
    est = _estimator(kind, solver).set_callbacks(stop).fit(X, y)
    assert est.n_iter_ == 5 == len(stop.predictions)
    assert len(est.compression_curve_) == 5
    assert stop.torn_down
    # Fitted and usable; the last fitted_estimator predicted what it does.
    np.testing.assert_allclose(est.predict(X), stop.predictions[-1])
    for coef, mask in zip(est.coefs_, est.coef_masks_):
        assert np.all(coef[~mask] == 0)
    # One fit task around one task per epoch, each begun and ended.
    assert stop.tasks[0] == ("begin", "fit")
    epochs = [t for t in stop.tasks if t[1] == "epoch"]
    assert epochs == [("begin", "epoch"), ("end", "epoch")] * 5
    assert stop.tasks[-1] == ("end", "fit")


def test_fitted_estimators_follow_the_fit_epoch_by_epoch(digits):
    # Without a stop, the estimators handed to the callback are snapshots:
    # each predicts as the fit did at that epoch, and the last one as the
    # final model.
    X, y = digits
    record = StopAfter(10**9, X)
    est = _estimator("classifier", "adam", max_iter=8).set_callbacks(record)
    est.fit(X, y)
    assert len(record.predictions) == est.n_iter_ == 8
    np.testing.assert_array_equal(record.predictions[-1], est.predict(X))
    assert not all(np.array_equal(record.predictions[0], p) for p in record.predictions)


def test_each_partial_fit_is_one_fit_task_with_one_epoch(digits):
    X, y = digits
    record = StopAfter(10**9, X)
    est = _estimator("classifier", "sgd").set_callbacks(record)
    for _ in range(3):
        est.partial_fit(X, y, classes=np.unique(y))
    assert record.tasks == [
        ("begin", "fit"),
        ("begin", "epoch"),
        ("end", "epoch"),
        ("end", "fit"),
    ]  # setup() resets the record at each call: the last call's tasks
    assert len(record.predictions) == 1


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_pruning_monitor_records_each_epoch(solver, digits, capsys):
    X, y = digits
    monitor = PruningMonitor(verbose=True)
    est = _estimator("classifier", solver, max_iter=12).set_callbacks(monitor)
    est.fit(X, y)
    assert [r["epoch"] for r in monitor.records_] == list(range(1, est.n_iter_ + 1))
    assert [r["compression"] for r in monitor.records_] == est.compression_curve_
    assert monitor.records_[-1]["alive"] == [int(m.sum()) for m in est.coef_masks_]
    if solver == "adam":
        assert [r["loss"] for r in monitor.records_] == est.loss_curve_
    assert "compression" in capsys.readouterr().out


def test_pruning_monitor_stops_at_a_target_compression(digits):
    X, y = digits
    monitor = PruningMonitor(stop_at_compression=0.4)
    est = _estimator("classifier", "adam", max_iter=200).set_callbacks(monitor)
    est.fit(X, y)
    assert 0.4 <= est.compression_ and est.n_iter_ < 200
    assert monitor.records_[-2]["compression"] < 0.4
    assert est.predict(X).shape == y.shape  # fitted and usable


def test_progress_bar_runs(digits):
    pytest.importorskip("rich", reason="ProgressBar needs the 'rich' extra")
    from sklearn.callback import ProgressBar

    X, y = digits
    est = _estimator("classifier", "adam", max_iter=5)
    est.set_callbacks(ProgressBar()).fit(X, y)
    assert est.n_iter_ == 5


def test_callbacks_with_clone_and_pickle(digits):
    import pickle

    from sklearn.base import clone

    X, y = digits
    est = _estimator("classifier", "adam", max_iter=3).set_callbacks(PruningMonitor())
    est.fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    # scikit-learn's clone carries the callbacks over, as for its estimators.
    assert [type(c) for c in clone(est)._skl_callbacks] == [PruningMonitor]
