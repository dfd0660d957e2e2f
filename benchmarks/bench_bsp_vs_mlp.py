"""Time BSPClassifier and MLPClassifier side by side and print ratios.

Both models are trained in this one process on the same data with the same
settings (BSPClassifier adds only its pruning parameters), MLPClassifier
first, and the pair is fitted ``--fit-rounds`` times (2 by default; each
whole-fit time is the smaller of its rounds, as a shared machine's load
moved one fit by up to a fifth between runs). For BSPClassifier the script
records, per epoch, the training time (scoring excluded), the test accuracy
and the compression with ``sklearn_bsp.metrics.record_learning_curve``;
MLPClassifier is timed as a whole fit. Then it measures ``predict_proba`` on
the test set (input validation included; its share is printed: BSP's
``validate_data`` leaves NaN and infinity to the first kernel) with the
models taking turns (``predict_proba_times``), the pickled
size and the peak memory allocated during ``fit``. The peak memory comes
from a second fit of each model under tracemalloc: tracing every allocation
slows a fit down, and more so the one that makes more small allocations, so
the timed fits run without it.

Printed ratios, BSPClassifier / MLPClassifier (below 1: BSP is faster or
smaller):

- epoch time while the network is still dense (BSP's epochs before the first
  pruning, against MLP's mean epoch);
- epoch time once 90 % of the synapses are pruned (BSP's epochs past 90 %);
- whole fit;
- time for BSP to reach MLPClassifier's final test accuracy, against MLP's
  whole fit (the paper's learning speed, in seconds);
- ``predict_proba`` on the test set; pickled size; peak memory during fit.

Examples::

    python benchmarks/bench_bsp_vs_mlp.py --data fashion-mnist --epochs 20
    python benchmarks/bench_bsp_vs_mlp.py --data fashion-mnist --solver adam \\
        --learning-rate 0.001
    python benchmarks/bench_bsp_vs_mlp.py --data fashion-mnist --epochs 30 \\
        --max-compression 0.9
    python benchmarks/bench_bsp_vs_mlp.py --data sparse-text
"""

import argparse
import copy
import json
import pickle
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from _timing import (  # benchmarks/, the script's own directory
    add_setting_option,
    best_of,
    out_path,
    predict_proba_times,
    print_machine_info,
    run_each_setting,
)
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import validate_data

from sklearn_bsp import BSPClassifier
from sklearn_bsp.metrics import record_learning_curve


def load(args):
    """Return X_train, X_test, y_train, y_test."""
    if args.data == "fashion-mnist":
        from sklearn_bsp.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(subset="train", return_X_y=True)
        X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
        return X[: args.n_train], X_test, y[: args.n_train], y_test
    # Text-like input: 20,000 sparse non-negative features at 0.5 % density,
    # labels from a sparse linear rule (MLPClassifier multiplies such X with
    # scipy.sparse; so does BSP's first layer).
    rng = np.random.default_rng(0)
    n, d = args.n_train + 1000, 20_000
    X = sp.random(n, d, density=0.005, format="csr", random_state=0, dtype=np.float64)
    X.data = np.log1p(rng.poisson(3.0, X.nnz)).astype(np.float64)
    W = rng.normal(size=(d, 5)) * (rng.random((d, 5)) < 0.05)
    y = np.asarray(X @ W).argmax(axis=1)
    return train_test_split(X, y, train_size=args.n_train, random_state=0)


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)


def fit_timed(model, X, y):
    """Fit once; return the seconds the fit took."""
    start = time.perf_counter()
    _fit(model, X, y)
    return time.perf_counter() - start


def fit_recorded(model, X, y, X_test, y_test):
    """Fit once, scored after each epoch; return (seconds, curve).

    The seconds are the fit's alone: the per-epoch scoring is left out.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        curve = record_learning_curve(model, X, y, X_test, y_test)
    return float(curve.times[-1]), curve


def peak_memory(model, X, y):
    """Peak bytes allocated during a fit of a fresh clone, under tracemalloc."""
    model = clone(model)
    tracemalloc.start()
    _fit(model, X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", choices=("fashion-mnist", "sparse-text"), default="fashion-mnist"
    )
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--activation", default="logistic")
    parser.add_argument("--solver", default="sgd")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--pruning-rate", type=float, default=None)
    parser.add_argument("--pruning-patience", type=int, default=None)
    parser.add_argument("--max-compression", type=float, default=None)
    parser.add_argument(
        "--target-compression",
        default="none",
        help="'none' (the rule at its own pace, this script's setting), "
        "'auto' or a float",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="predictions per model and round"
    )
    parser.add_argument("--rounds", type=int, default=5, help="prediction rounds")
    parser.add_argument("--fit-rounds", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the figures as JSON")
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    text = args.data == "sparse-text"
    # The settings for each data set.
    defaults = dict(
        n_train=5000 if text else 60_000,
        hidden=200 if text else 500,
        epochs=15 if text else 20,
        pruning_rate=0.05 if text else 0.08,
        pruning_patience=30 if text else 150,
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    info = print_machine_info()
    X, X_test, y, y_test = load(args)
    print(
        f"data: {args.data}, {X.shape[0]} x {X.shape[1]} "
        f"({'CSR' if sp.issparse(X) else X.dtype}), test {X_test.shape[0]}"
    )
    params = dict(
        hidden_layer_sizes=(args.hidden,),
        activation=args.activation,
        solver=args.solver,
        learning_rate_init=args.learning_rate,
        batch_size=200,
        max_iter=args.epochs,
        n_iter_no_change=args.epochs + 1,  # train every epoch, as the paper
        random_state=0,
    )
    target = args.target_compression
    bsp_params = dict(
        pruning_rate=args.pruning_rate,
        pruning_patience=args.pruning_patience,
        max_compression=args.max_compression,
        target_compression=None
        if target == "none"
        else (target if target == "auto" else float(target)),
    )
    print(f"settings: {params} {bsp_params}", flush=True)

    mlp_fit = bsp_fit = np.inf
    fit_rounds = {"bsp": [], "mlp": []}
    for _ in range(args.fit_rounds):
        mlp = MLPClassifier(**params)
        seconds = fit_timed(mlp, X, y)
        mlp_fit = min(mlp_fit, seconds)
        fit_rounds["mlp"].append(seconds)
        mlp_acc = mlp.score(X_test, y_test)
        print(f"MLPClassifier: fit {seconds:.1f} s, accuracy {mlp_acc:.4f}", flush=True)

        bsp = BSPClassifier(**params, **bsp_params)
        seconds, recorded = fit_recorded(bsp, X, y, X_test, y_test)
        fit_rounds["bsp"].append(seconds)
        if seconds < bsp_fit:
            bsp_fit, curve = seconds, recorded
        bsp_acc = bsp.score(X_test, y_test)
        print(
            f"BSPClassifier: fit {seconds:.1f} s, accuracy {bsp_acc:.4f}, "
            f"compression {bsp.compression_:.4f}",
            flush=True,
        )

    print("peak memory: a second fit of each under tracemalloc", flush=True)
    mlp_peak = peak_memory(mlp, X, y)
    bsp_peak = peak_memory(bsp, X, y)

    epoch_times = np.diff(np.r_[0.0, np.asarray(curve.times)])
    compressions = np.asarray(curve.compressions)
    mlp_epoch = mlp_fit / mlp.n_iter_
    # Epoch k's compression is the one at its end; an epoch is "dense" when
    # nothing was pruned before it started.
    started = np.r_[0.0, compressions[:-1]]
    dense_epochs = epoch_times[started == 0]
    sparse_epochs = epoch_times[started >= 0.9]
    reached = np.flatnonzero(np.asarray(curve.scores) >= mlp_acc)
    time_to_mlp = float(curve.times[reached[0]]) if reached.size else None

    def validation_only(model):
        # As each estimator's predict_proba calls it.
        finite = isinstance(model, MLPClassifier)
        return lambda: validate_data(
            model, X_test, reset=False, accept_sparse=True, ensure_all_finite=finite
        )

    bsp_sparse = copy.deepcopy(bsp)
    bsp_sparse.sparsify_coefs()
    models = {"MLPClassifier": mlp, "BSPClassifier": bsp, "sparse": bsp_sparse}
    predict = predict_proba_times(models, X_test, args.repeats, args.rounds)
    rows = {
        name: {
            "predict": predict[name],
            "validation": best_of(validation_only(models[name]), 10),
            "pickle": len(pickle.dumps(models[name])),
        }
        for name in ("MLPClassifier", "BSPClassifier")
    }
    rows["BSPClassifier"]["predict_sparse_storage"] = predict["sparse"]
    rows["BSPClassifier"]["pickle_sparse_storage"] = len(pickle.dumps(bsp_sparse))

    ratios = {
        "epoch while dense": float(np.median(dense_epochs)) / mlp_epoch
        if dense_epochs.size
        else None,
        "epoch past 90 %": float(np.median(sparse_epochs)) / mlp_epoch
        if sparse_epochs.size
        else None,
        "whole fit": bsp_fit / mlp_fit,
        "time to MLP's final accuracy": time_to_mlp / mlp_fit
        if time_to_mlp is not None
        else None,
        "predict_proba": rows["BSPClassifier"]["predict"]
        / rows["MLPClassifier"]["predict"],
        "predict_proba, sparse storage": rows["BSPClassifier"]["predict_sparse_storage"]
        / rows["MLPClassifier"]["predict"],
        "pickled size": rows["BSPClassifier"]["pickle"]
        / rows["MLPClassifier"]["pickle"],
        "peak memory in fit": bsp_peak / mlp_peak,
    }
    print()
    print(f"{'BSP / MLP':34} {'ratio':>8}")
    for key, value in ratios.items():
        shown = "never reached" if value is None else f"{value:8.3f}"
        print(f"{key:34} {shown:>8}")
    print()
    print(
        f"accuracy: BSP {bsp_acc:.4f}, MLP {mlp_acc:.4f} "
        f"({100 * (bsp_acc - mlp_acc):+.2f} points); compression "
        f"{bsp.compression_:.2%}; first-layer density "
        f"{bsp.coef_masks_[0].mean():.2%}"
    )
    print(
        f"epochs: {dense_epochs.size} dense (median {np.median(dense_epochs):.2f} s"
        f" vs MLP {mlp_epoch:.2f} s), {sparse_epochs.size} past 90 %"
    )
    for name, row in rows.items():
        share = row["validation"] / row["predict"]
        print(
            f"{name}: predict_proba {1000 * row['predict']:.1f} ms "
            f"(input validation {1000 * row['validation']:.1f} ms, {share:.0%})"
        )
    if args.out:
        with open(out_path(args.out, args.setting), "w") as f:
            json.dump(
                {
                    "machine": info,
                    "settings": {**params, **bsp_params, "data": args.data},
                    "ratios": ratios,
                    "accuracy": {"bsp": bsp_acc, "mlp": mlp_acc},
                    "compression": bsp.compression_,
                    "fit_seconds": {"bsp": bsp_fit, "mlp": mlp_fit},
                    "fit_seconds_each_round": fit_rounds,
                    "predict_rounds": {"rounds": args.rounds, "repeats": args.repeats},
                    "bsp_curve": {
                        "times": curve.times.tolist(),
                        "scores": curve.scores.tolist(),
                        "compressions": curve.compressions.tolist(),
                    },
                    "predict": rows,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
