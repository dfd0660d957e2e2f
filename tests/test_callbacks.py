"""scikit-learn's callback API: fit tasks per epoch, clean stops, our monitor."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning

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
    else:
        # Each L-BFGS iteration's own loss, from the first on.
        losses = [r["loss"] for r in monitor.records_]
        assert np.all(np.isfinite(losses)) and losses[-1] == est.loss_
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


# ---------------------------------------------------------------------------
# scikit-learn's ScoringMonitor: the data it scores on, and the scores.
# ---------------------------------------------------------------------------


class Snapshots:
    """Keeps the fitted_estimator of every task end, epochs and fit alike."""

    def setup(self, estimator, context):
        self.estimators = []

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.estimators.append((context.task_name, fitted_estimator))
        return False

    def teardown(self, estimator, context):
        pass


def _targets(target, digits, regression):
    X, y = digits
    if target == "binary":
        # String labels: a scorer must see them, not a 0/1 column.
        return X, np.where(y % 2 == 0, "even", "odd")
    if target == "multilabel":
        # Every row has a label (y < 5 or y >= 5): f1_samples is defined.
        labels = [y % 2 == 0, y < 5, y >= 5, y % 3 == 0]
        return X, np.column_stack(labels).astype(int)
    if target == "regression":
        return regression
    return X, y


@pytest.mark.parametrize(
    "target, scoring",
    [
        ("multiclass", "accuracy"),
        ("multiclass", ["accuracy", "neg_log_loss", "f1_macro", "roc_auc_ovr"]),
        ("binary", "accuracy"),
        ("binary", {"auc": "roc_auc", "log": "neg_log_loss"}),
        ("multilabel", ["accuracy", "f1_samples"]),
        ("regression", "r2"),
        ("regression", ["r2", "neg_mean_squared_error"]),
    ],
)
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("weighted", [False, True])
def test_scoring_monitor_records_the_scores_of_each_epoch(
    target, scoring, solver, weighted, digits, regression
):
    from sklearn.callback import ScoringMonitor
    from sklearn.metrics import check_scoring

    X, y = _targets(target, digits, regression)
    sample_weight = np.linspace(0.5, 1.5, len(X)) if weighted else None
    kind = "regressor" if target == "regression" else "classifier"
    monitor, snapshots = ScoringMonitor(scoring=scoring), Snapshots()
    est = _estimator(kind, solver, max_iter=4).set_callbacks(snapshots, monitor)
    est.fit(X, y, sample_weight=sample_weight)

    rows = monitor.get_logs().data
    assert [row["task_name"] for row in rows] == ["fit"] + ["epoch"] * est.n_iter_
    # Each score is the scorer's on the fitted_estimator of that task, with
    # the labels as passed to fit and the sample weights.
    scorer = check_scoring(est, [scoring] if isinstance(scoring, str) else scoring)
    metadata = {} if sample_weight is None else {"sample_weight": sample_weight}
    by_task = {
        ("fit", 0): snapshots.estimators[-1][1],
        **{("epoch", i): s for i, (_, s) in enumerate(snapshots.estimators[:-1])},
    }
    for row in rows:
        expected = scorer(by_task[row["task_name"], row["task_id"]], X, y, **metadata)
        assert expected, "the scorer returned nothing to compare"
        for name, value in expected.items():
            assert row[name] == pytest.approx(value, rel=1e-12), name
    # The fit's row scores the final model.
    final = scorer(est, X, y, **metadata)
    assert {name: rows[0][name] for name in final} == pytest.approx(final)


def test_scoring_monitor_default_scoring_as_for_scikit_learn_estimators(digits):
    # scoring=None scores with the estimator's own score method. The
    # monitor of scikit-learn 1.9.1 fails then for every estimator (it
    # expects a dict of scores); ours must fail (or work) exactly as
    # LogisticRegression does, not on the binarized targets.
    from sklearn.callback import ScoringMonitor
    from sklearn.linear_model import LogisticRegression

    X, y = digits
    reference = LogisticRegression(max_iter=3)
    try:
        reference.set_callbacks(ScoringMonitor(scoring=None)).fit(X, y)
    except TypeError as exc:
        with pytest.raises(TypeError) as raised:
            _estimator("classifier", "adam", max_iter=3).set_callbacks(
                ScoringMonitor(scoring=None)
            ).fit(X, y)
        assert str(raised.value) == str(exc)
        return
    monitor = ScoringMonitor(scoring=None)
    est = _estimator("classifier", "adam", max_iter=3).set_callbacks(monitor)
    est.fit(X, y)
    assert monitor.get_logs().data[0]["score"] == pytest.approx(est.score(X, y))


def test_callbacks_get_the_data_as_passed_to_fit(digits):
    # Feature names included: a scorer predicts on X as the user passed it,
    # with no "X does not have valid feature names" warning at every epoch.
    pd = pytest.importorskip("pandas")
    from sklearn.callback import ScoringMonitor

    X, y = digits
    X = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    labels = np.array(["zero", "one", "two", "three", "four"] * 2)[y]
    monitor = ScoringMonitor(scoring="accuracy")
    est = _estimator("classifier", "adam", max_iter=3).set_callbacks(monitor)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, labels)
    assert monitor.get_logs().data[0]["accuracy"] == est.score(X, labels)


# ---------------------------------------------------------------------------
# The fitted_estimator: an independent copy, fitted as of the task's end.
# ---------------------------------------------------------------------------


class TrainSnapshotsOn:
    """Pickles each epoch's fitted_estimator, then trains it on one epoch."""

    def setup(self, estimator, context):
        self.records = []

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(
        self, estimator, context, *, X=None, y=None, fitted_estimator=None
    ):
        if context.task_name != "epoch":
            return False
        slots = getattr(estimator.__dict__.get("_optimizer"), "slots", [{}])
        record = {
            # The running fit keeps the optimizer state of compact layers
            # as 1-D buffers of their alive synapses.
            "compact": any(a.ndim == 1 for a in slots[0].values()),
            "predicted": fitted_estimator.predict(X),
            "pickled": pickle.loads(pickle.dumps(fitted_estimator)),
        }
        if estimator.solver == "lbfgs":
            fitted_estimator.set_params(warm_start=True, max_iter=2).fit(X, y)
        else:
            fitted_estimator.partial_fit(X, y)
        record["continued"] = fitted_estimator
        self.records.append(record)
        return False

    def teardown(self, estimator, context):
        pass


def _training_state(est):
    return [
        *est.coefs_,
        *est.intercepts_,
        *est.coef_masks_,
        *est.pruning_counters_,
        np.asarray(est.compression_curve_),
        np.asarray(getattr(est, "loss_curve_", [est.loss_])),
    ]


# Pruned that hard, the network is damaged and says so; not the point here.
@pytest.mark.filterwarnings("ignore:Pruning damaged the network")
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_fitted_estimator_is_an_independent_usable_copy(solver, digits):
    X, y = digits
    # Pruned hard and fast, so that the first weight matrix (64 x 100) is
    # trained in compact storage; no shuffling, so that one partial_fit
    # epoch from a snapshot is the next epoch of the fit.
    params = dict(
        hidden_layer_sizes=(100,),
        solver=solver,
        pruning_rate=0.5,
        pruning_patience=1,
        target_compression=None,
        max_compression=0.95,
        max_iter=6,
        shuffle=False,
        random_state=0,
    )
    record = TrainSnapshotsOn()
    est = BSPClassifier(**params).set_callbacks(record).fit(X, y)
    # Training the copies changed neither the fit nor its callbacks (a copy
    # carrying them would have set them up again, emptying the record).
    reference = BSPClassifier(**params).fit(X, y)
    for a, b in zip(_training_state(est), _training_state(reference)):
        np.testing.assert_array_equal(a, b)
    assert len(record.records) == est.n_iter_
    if solver != "lbfgs":
        assert any(r["compact"] for r in record.records)
    for r in record.records:
        # Pickled as fitted at its epoch, before it trained on.
        np.testing.assert_array_equal(r["pickled"].predict(X), r["predicted"])
        assert r["continued"].n_iter_ >= 1
    if solver == "lbfgs":
        return
    # One more epoch from epoch k's copy is epoch k + 1 of the fit, to the
    # bit: the copy holds the whole state (optimizer included) of epoch k.
    for now, after in zip(record.records, record.records[1:]):
        for a, b in zip(
            _training_state(now["continued"])[:-2], _training_state(after["pickled"])
        ):
            np.testing.assert_array_equal(a, b)
        assert now["continued"].t_ == after["pickled"].t_
