"""GridSearchCV(n_jobs=2) over BSPClassifier against the same over MLPClassifier.

Each joblib worker runs its fits with its share of the cores (one thread on a
2-core machine): the kernels, BLAS and prediction's threads must keep to it,
or the two workers oversubscribe the cores. The search is over ``alpha``
(two values), 2-fold, on the first ``--n-train`` Fashion-MNIST images, with
the issue's network (784-500-10 logistic, SGD 0.1, batch 200) and pruning
(``pruning_rate=0.08, pruning_patience=150``, the rule at its own pace:
``target_compression=None``), ``refit=False``. The two searches take turns,
``--rounds`` times (2 by default); each one's time is the smaller of its
rounds. Printed: the wall time of each search and their ratio, the mean test
accuracy of each candidate, and the compression of the BSP fits.

Each fit of the 2-fold search sees half the images, so half the minibatches
an epoch: the rule, which counts minibatches, prunes less in 20 epochs than
on all the images (73.5 % against 92.7 %). ``--pruning-patience 75`` keeps
its pace per epoch, for a compression comparable with the single fit's.

    python benchmarks/bench_grid_search.py  # both thread settings, labelled
    python benchmarks/bench_grid_search.py --pruning-patience 75
"""

import argparse
import json
import time
import warnings

from _timing import add_setting_option, out_path, print_machine_info, run_each_setting
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier

from sklearn_bsp import BSPClassifier
from sklearn_bsp.datasets import load_fashion_mnist


def _compression(estimator, X, y):
    """A scorer that reports the fitted network's compression (0 for MLP)."""
    return getattr(estimator, "compression_", 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--pruning-patience", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=None)
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    info = print_machine_info()
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X, y = X[: args.n_train], y[: args.n_train]
    params = dict(
        hidden_layer_sizes=(500,),
        activation="logistic",
        solver="sgd",
        learning_rate_init=0.1,
        batch_size=200,
        max_iter=args.epochs,
        n_iter_no_change=args.epochs + 1,
        random_state=0,
    )
    grid = {"alpha": [1e-4, 1e-3]}
    estimators = {
        "MLPClassifier": MLPClassifier(**params),
        "BSPClassifier": BSPClassifier(
            **params,
            pruning_rate=0.08,
            pruning_patience=args.pruning_patience,
            target_compression=None,
        ),
    }
    results = {}
    for _ in range(args.rounds):
        for name, estimator in estimators.items():
            search = GridSearchCV(
                estimator,
                grid,
                cv=2,
                n_jobs=args.n_jobs,
                scoring={"accuracy": "accuracy", "compression": _compression},
                refit=False,
            )
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                search.fit(X, y)
            seconds = time.perf_counter() - start
            cv = search.cv_results_
            row = results.setdefault(name, {"seconds_each_round": []})
            row["seconds_each_round"].append(seconds)
            row["seconds"] = min(row["seconds_each_round"])
            row["mean_test_accuracy"] = [float(v) for v in cv["mean_test_accuracy"]]
            row["mean_compression"] = [float(v) for v in cv["mean_test_compression"]]
            print(
                f"{name}: GridSearchCV(n_jobs={args.n_jobs}) {seconds:.1f} s, "
                f"mean test accuracy {row['mean_test_accuracy']}, "
                f"compression {row['mean_compression']}",
                flush=True,
            )
    ratio = results["BSPClassifier"]["seconds"] / results["MLPClassifier"]["seconds"]
    print(f"BSP / MLP search time: {ratio:.3f}")
    if args.out:
        with open(out_path(args.out, args.setting), "w") as f:
            json.dump(
                {
                    "machine": info,
                    "settings": {
                        **params,
                        "pruning_rate": 0.08,
                        "pruning_patience": args.pruning_patience,
                    },
                    "grid": grid,
                    **results,
                    "ratio": ratio,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
