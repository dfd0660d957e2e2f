"""Checkpoint and resume: a model saved mid-training continues in a new process
exactly as if it had never stopped.

The parent process trains a pruning model with ``partial_fit`` (or ``fit`` with
``warm_start=True``), saves it with pickle and with joblib part-way, and starts a
fresh Python process that loads each file, runs the remaining calls on the same
data and saves the result. The resumed models must equal the uninterrupted
in-process run bit for bit: weights, biases, masks, pruning counters, optimizer
state, loss and compression curves, counters of samples and epochs, and the
random state when one was passed as a ``RandomState`` instance.
"""

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

import sklearn_bsp
from sklearn_bsp import BSPClassifier
from sklearn_bsp._schedules import auto_pruning_rate

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

FORMATS = ("pickle", "joblib")
SEED = 7

# Run by a new interpreter: load each checkpoint, replay the remaining calls,
# save the result next to the checkpoint.
CHILD = textwrap.dedent(
    """
    import pickle
    import sys
    import warnings

    import joblib
    import numpy as np

    warnings.simplefilter("ignore")
    data = np.load(sys.argv[1], allow_pickle=False)
    X, y, classes = data["X"], data["y"], data["classes"]
    for arg in sys.argv[2:]:
        # method:case:first:last:path replays the calls first..last-1 of a
        # case; the rows of each call are saved as data[f"{case}_{i}"].
        method, case, first, last, path = arg.split(":", 4)
        calls = [data[f"{case}_{i}"] for i in range(int(first), int(last))]
        if path.endswith(".pkl"):
            with open(path, "rb") as f:
                model = pickle.load(f)
        else:
            model = joblib.load(path)
        for idx in calls:
            if method == "partial_fit":
                model.partial_fit(X[idx], y[idx], classes=classes)
            else:
                model.fit(X[idx], y[idx])
        if path.endswith(".pkl"):
            with open(path + ".out", "wb") as f:
                pickle.dump(model, f)
        else:
            joblib.dump(model, path + ".out")
    """
)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=240,
        n_features=12,
        n_informative=6,
        n_classes=3,
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def _params(solver, dropout, random_state):
    params = dict(
        hidden_layer_sizes=(16, 8),
        solver=solver,
        batch_size=16,
        target_compression=None,
        pruning_rate=0.3,
        pruning_patience=2,
        dropout=dropout,
        random_state=random_state,
    )
    if solver == "sgd":
        params.update(learning_rate_init=0.05, momentum=0.9, nesterovs_momentum=True)
    else:
        params.update(learning_rate_init=0.01)
    return params


def _random_state(kind):
    return SEED if kind == "int" else np.random.RandomState(SEED)


def _state(clf):
    """Everything that decides how training goes on, as numpy arrays."""
    opt = clf._optimizer
    state = {
        "coefs_": clf.coefs_,
        "intercepts_": clf.intercepts_,
        "coef_masks_": clf.coef_masks_,
        "pruning_counters_": clf.pruning_counters_,
        "loss_curve_": [np.asarray(clf.loss_curve_)],
        "compression_curve_": [np.asarray(clf.compression_curve_)],
        "scalars": [
            np.asarray(
                [
                    clf.compression_,
                    clf.pruning_rate_,
                    clf.pruning_patience_,
                    clf.t_,
                    clf.n_iter_,
                    clf.loss_,
                    clf.best_loss_,
                    clf._no_improvement_count,
                    opt.learning_rate,
                ]
            )
        ],
        "classes_": [np.asarray(clf.classes_)],
    }
    state["optimizer"] = [a for slot in opt.slots for a in slot.values()]
    if hasattr(opt, "t"):
        state["optimizer"].append(np.asarray([opt.t]))
    if isinstance(clf.random_state, np.random.RandomState):
        _, keys, pos, has_gauss, cached = clf.random_state.get_state()
        state["random_state"] = [keys, np.asarray([pos, has_gauss, cached])]
    return state


def assert_same_state(expected, actual):
    e, a = _state(expected), _state(actual)
    assert e.keys() == a.keys()
    for key in e:
        assert len(e[key]) == len(a[key]), key
        for x, y in zip(e[key], a[key]):
            assert x.dtype == y.dtype, key
            assert np.array_equal(x, y), key


def _save(model, path, how):
    if how == "pickle":
        with open(path, "wb") as f:
            pickle.dump(model, f)
    else:
        joblib.dump(model, path)


def _load(path, how):
    if how == "pickle":
        with open(path, "rb") as f:
            return pickle.load(f)
    return joblib.load(path)


def _case_id(case):
    method, solver, dropout, rs_kind, rate = case
    return f"{method}-{solver}-dropout{dropout}-{rs_kind}-rate_{rate}"


# (method, solver, dropout, kind of random_state, pruning_rate)
CASES = [
    ("partial_fit", solver, dropout, rs_kind, 0.3)
    for solver in ("adam", "sgd")
    for dropout in (0.0, 0.3)
    for rs_kind in ("int", "RandomState")
] + [
    # Eq 1 from the sample count of the first call, kept across the
    # checkpoint (the chunks that follow are smaller).
    ("partial_fit", "sgd", 0.3, "RandomState", "auto"),
    ("fit", "adam", 0.3, "int", 0.3),
    ("fit", "sgd", 0.0, "RandomState", 0.3),
    ("fit", "sgd", 0.3, "RandomState", 0.3),
]


def _calls(case, n_samples):
    """Row indices of each call, and the call before which the checkpoint is
    taken: two passes over six chunks for partial_fit (uneven ones with the
    "auto" rate), three warm-started fits on all rows for fit."""
    method, rate = case[0], case[-1]
    rows = np.arange(n_samples)
    if method == "fit":
        return [rows] * 3, 1
    if rate == "auto":
        return np.split(rows, [90, 130, 170, 200, 220]) * 2, 5
    return np.array_split(rows, 6) * 2, 5


def _make_model(case):
    method, solver, dropout, rs_kind, rate = case
    params = _params(solver, dropout, _random_state(rs_kind))
    params["pruning_rate"] = rate
    if method == "fit":
        params.update(warm_start=True, max_iter=2)
    return BSPClassifier(**params)


def _train(model, method, X, y, calls):
    for idx in calls:
        if method == "partial_fit":
            model.partial_fit(X[idx], y[idx], classes=np.unique(y))
        else:
            model.fit(X[idx], y[idx])
    return model


@pytest.fixture(scope="module")
def checkpoints(data, tmp_path_factory):
    """Train every case up to its checkpoint, save it with pickle and joblib,
    and resume all the saved models in one new Python process.

    Returns, per case, the live model at the checkpoint, its compression then,
    and the models resumed in the other process, by format.
    """
    X, y = data
    tmp_path = tmp_path_factory.mktemp("resume")
    saved, args, arrays = {}, [], {}
    for k, case in enumerate(CASES):
        method = case[0]
        calls, stop = _calls(case, len(y))
        arrays.update({f"case{k}_{i}": idx for i, idx in enumerate(calls)})
        model = _train(_make_model(case), method, X, y, calls[:stop])
        paths = {}
        for how in FORMATS:
            suffix = ".pkl" if how == "pickle" else ".joblib"
            paths[how] = tmp_path / (_case_id(case) + suffix)
            _save(model, paths[how], how)
            args.append(f"{method}:case{k}:{stop}:{len(calls)}:{paths[how]}")
        saved[case] = (model, model.compression_, paths)
    data_path = tmp_path / "data.npz"
    np.savez(data_path, X=X, y=y, classes=np.unique(y), **arrays)

    script = tmp_path / "resume.py"
    script.write_text(CHILD)
    env = dict(os.environ)
    # The child imports the very package this test imported (installed or from
    # a source tree), whatever its working directory.
    package_root = str(Path(sklearn_bsp.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [package_root, *filter(None, [env.get("PYTHONPATH")])]
    )
    child = subprocess.run(
        [sys.executable, str(script), str(data_path), *args],
        env=env,
        cwd=tmp_path,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0, f"the resuming process failed:\n{child.stderr}"
    return {
        case: (
            model,
            compression,
            {how: _load(f"{path}.out", how) for how, path in paths.items()},
        )
        for case, (model, compression, paths) in saved.items()
    }


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_resumes_exactly_in_a_new_process(data, checkpoints, case):
    X, y = data
    method = case[0]
    calls, stop = _calls(case, len(y))
    reference = _train(_make_model(case), method, X, y, calls)
    model, compression_at_checkpoint, resumed = checkpoints[case]

    # Pruning is under way when the checkpoint is taken, and goes on after.
    assert 0 < compression_at_checkpoint < reference.compression_
    assert len(reference.loss_curve_) == (12 if method == "partial_fit" else 6)
    if case[-1] == "auto":
        # 16 + 8 hidden neurons; the first call had 90 rows.
        assert reference.pruning_rate_ == auto_pruning_rate(24, 90)

    for how in FORMATS:
        assert_same_state(reference, resumed[how])
        np.testing.assert_array_equal(
            reference.predict_proba(X), resumed[how].predict_proba(X)
        )
    # Saving did not disturb the live model: continuing it here matches too.
    assert_same_state(reference, _train(model, method, X, y, calls[stop:]))
