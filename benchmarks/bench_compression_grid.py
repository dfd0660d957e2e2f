"""How far can pruning go at no accuracy cost? A grid for the user guide.

Fashion-MNIST (the first ``--n-train`` training images, the 10,000 test
images), one hidden layer, ``BSPClassifier`` over a grid of ``pruning_rate``
x ``max_compression`` (``pruning_patience`` fixed), next to
``MLPClassifier`` with the same settings. Prints test accuracy, compression
and the accuracy difference to MLP for every cell; ``--out`` writes them as
JSON.

    python benchmarks/bench_compression_grid.py --out grid.json
"""

import argparse
import json
import time
import warnings

from _timing import add_setting_option, out_path, run_each_setting  # benchmarks/
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sklearn_bsp import BSPClassifier, show_versions
from sklearn_bsp.datasets import load_fashion_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=100)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.02, 0.05, 0.1])
    parser.add_argument(
        "--caps", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9, 0.95]
    )
    parser.add_argument("--out", default=None)
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    show_versions()
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X, y = X[: args.n_train], y[: args.n_train]
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    params = dict(
        hidden_layer_sizes=(args.hidden,),
        solver="adam",
        learning_rate_init=0.001,
        max_iter=args.epochs,
        n_iter_no_change=args.epochs + 1,
        random_state=0,
    )
    print(f"settings: {params}, pruning_patience={args.patience}")
    rows = []

    def run(label, model):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        row = {
            "model": label,
            "accuracy": model.score(X_test, y_test),
            "compression": float(getattr(model, "compression_", 0.0)),
            "fit_seconds": time.perf_counter() - start,
        }
        rows.append(row)
        reference = rows[0]["accuracy"]
        print(
            f"{label:42} accuracy {row['accuracy']:.4f} "
            f"({100 * (row['accuracy'] - reference):+.2f}) "
            f"compression {row['compression']:6.1%} fit {row['fit_seconds']:.0f} s",
            flush=True,
        )

    run("MLPClassifier", MLPClassifier(**params))
    for rate in args.rates:
        for cap in [None, *args.caps]:
            run(
                f"BSP pruning_rate={rate} max_compression={cap}",
                BSPClassifier(
                    pruning_rate=rate,
                    pruning_patience=args.patience,
                    max_compression=cap,
                    target_compression=None,
                    **params,
                ),
            )
    if args.out:
        with open(out_path(args.out, args.setting), "w") as f:
            json.dump({"settings": params, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
