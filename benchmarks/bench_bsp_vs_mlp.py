"""Time BSPClassifier and MLPClassifier side by side and print ratios.

Both models are trained in this one process on the same data with the same
settings (BSPClassifier adds only its pruning parameters). For each model the
script records, per epoch, the training time and the test accuracy, then
measures ``predict_proba`` on the test set, the pickled size and the peak
memory allocated during ``fit`` (tracemalloc, on for both fits alike).

Reported ratios are BSPClassifier / MLPClassifier:

- fit time to reach MLPClassifier's final test accuracy (paper's learning speed,
  in seconds);
- time per epoch once the compression is reached (median of the last epochs);
- ``predict_proba`` time on the test set (lower is better; throughput is the
  inverse);
- pickled size; peak memory during ``fit``.

Examples::

    python benchmarks/bench_bsp_vs_mlp.py --data synthetic
    python benchmarks/bench_bsp_vs_mlp.py --data fashion-mnist --hidden 500
"""

import argparse
import json
import os
import pickle
import platform
import sys
import time
import tracemalloc
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import sklearn_bsp
from sklearn_bsp import BSPClassifier
from sklearn_bsp.metrics import record_learning_curve, time_to_score


def load(name, n_train, dtype):
    """Return X_train, X_test, y_train, y_test."""
    if name == "fashion-mnist":
        from sklearn_bsp.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(subset="train", return_X_y=True, dtype=dtype)
        X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True, dtype=dtype)
        return X[:n_train], X_test, y[:n_train], y_test
    X, y = make_classification(
        n_samples=n_train + 10_000,
        n_features=784,
        n_informative=100,
        n_redundant=100,
        n_classes=10,
        n_clusters_per_class=2,
        class_sep=2.0,
        random_state=0,
    )
    X = X.astype(dtype)
    return train_test_split(X, y, train_size=n_train, random_state=0)


def machine():
    """Describe the machine and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        )
    except ImportError:
        blas = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "sklearn_bsp": sklearn_bsp.__version__,
        "blas": blas,
    }


def measure(model, X, X_test, y, y_test, repeats):
    """Fit with per-epoch records, then time prediction and size the model."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        curve = record_learning_curve(model, X, y, X_test, y_test)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    predict = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(X_test)
        predict.append(time.perf_counter() - start)
    return {
        "curve": curve,
        "fit_time": float(curve.times[-1]),
        "accuracy": float(curve.scores[-1]),
        "compression": float(getattr(model, "compression_", 0.0)),
        "predict_time": float(min(predict)),
        "pickle_bytes": len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)),
        "peak_fit_bytes": int(peak),
    }


def main(argv=None):
    """Run the benchmark and print the table.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` when None.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data", choices=["synthetic", "fashion-mnist"], default="synthetic"
    )
    p.add_argument("--n-train", type=int, default=60_000)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--solver", default="adam")
    p.add_argument("--learning-rate-init", type=float, default=0.001)
    p.add_argument("--pruning-rate", default="0.05")
    p.add_argument("--pruning-patience", default="100")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--repeats", type=int, default=5, help="predict_proba repeats")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    def parse(value, kind):
        return value if value == "auto" else kind(value)

    X, X_test, y, y_test = load(args.data, args.n_train, np.dtype(args.dtype))
    common = dict(
        hidden_layer_sizes=(args.hidden,),
        solver=args.solver,
        learning_rate_init=args.learning_rate_init,
        max_iter=args.epochs,
        n_iter_no_change=args.epochs,  # same number of epochs for both
        random_state=0,
    )
    bsp = BSPClassifier(
        pruning_rate=parse(args.pruning_rate, float),
        pruning_patience=parse(args.pruning_patience, int),
        **common,
    )
    info = machine()
    print(" ".join(f"{k}={v}" for k, v in info.items()))
    print(
        f"data={args.data} n_train={X.shape[0]} n_test={X_test.shape[0]} "
        f"dtype={args.dtype} {common} pruning_rate={args.pruning_rate} "
        f"pruning_patience={args.pruning_patience}"
    )
    results = {}
    for name, model in (("MLPClassifier", MLPClassifier(**common)), ("BSP", bsp)):
        results[name] = measure(model, X, X_test, y, y_test, args.repeats)
        r = results[name]
        print(
            f"{name:<14} acc={r['accuracy']:.4f} compression={r['compression']:.3f} "
            f"fit={r['fit_time']:.2f}s predict_proba={r['predict_time'] * 1e3:.1f}ms "
            f"pickle={r['pickle_bytes'] / 1e6:.2f}MB "
            f"peak_fit_mem={r['peak_fit_bytes'] / 1e6:.1f}MB"
        )

    mlp, b = results["MLPClassifier"], results["BSP"]
    target = mlp["accuracy"]
    t_bsp = time_to_score(b["curve"].times, b["curve"].scores, target)
    last = max(1, args.epochs // 5)
    epoch_mlp = np.median(np.diff(mlp["curve"].times, prepend=0)[-last:])
    epoch_bsp = np.median(np.diff(b["curve"].times, prepend=0)[-last:])
    rows = [
        (
            f"fit time to MLP's final accuracy ({target:.4f})",
            t_bsp / mlp["fit_time"] if np.isfinite(t_bsp) else float("nan"),
            "not reached" if not np.isfinite(t_bsp) else f"{t_bsp:.2f}s",
        ),
        (
            f"time per epoch, last {last} epochs (compression {b['compression']:.1%})",
            epoch_bsp / epoch_mlp,
            f"{epoch_bsp:.3f}s vs {epoch_mlp:.3f}s",
        ),
        (
            "predict_proba time on the test set",
            b["predict_time"] / mlp["predict_time"],
            f"{1 / (b['predict_time'] / mlp['predict_time']):.2f}x throughput",
        ),
        ("pickled size", b["pickle_bytes"] / mlp["pickle_bytes"], ""),
        ("peak memory during fit", b["peak_fit_bytes"] / mlp["peak_fit_bytes"], ""),
        ("test accuracy difference (points)", 100 * (b["accuracy"] - target), ""),
    ]
    print(f"\n{'BSP / MLP':<60}{'ratio':>8}  note")
    for label, ratio, note in rows:
        print(f"{label:<60}{ratio:>8.3f}  {note}")
    if args.json:
        out = {
            k: {kk: vv for kk, vv in v.items() if kk != "curve"}
            for k, v in results.items()
        }
        for k, v in results.items():
            out[k]["curve"] = {
                kk: np.asarray(vv).tolist() for kk, vv in v["curve"].items()
            }
        out["machine"] = info
        out["args"] = vars(args)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
