"""BSPClassifier with default parameters on scikit-learn's small data sets.

Compares, by 5-fold cross-validation (stratified, shuffled, seed 0) inside a
``StandardScaler`` pipeline: ``MLPClassifier()``, ``BSPClassifier()`` (the
"auto" schedules, whose logarithm is clamped at 0 below 1,200 samples), and
``BSPClassifier`` with the rate and patience the unclamped schedules gave
(``D = ln(beta * Nsam / B) ** 2 + 1``), for iris, wine, breast cancer and
digits. Prints mean test accuracy, compression and fit time per setting.

    python benchmarks/bench_small_datasets.py [--out results.json]
"""

import argparse
import json
import math
import warnings

import numpy as np
from _timing import add_setting_option, out_path, run_each_setting  # benchmarks/
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsp import BSPClassifier, show_versions
from sklearn_bsp._schedules import (
    PAPER_A,
    PAPER_ALPHA,
    PAPER_B,
    PAPER_BETA,
    PAPER_MU,
    auto_pruning_patience,
    auto_pruning_rate,
)

DATASETS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
HIDDEN = 100  # MLPClassifier's default hidden_layer_sizes=(100,)


def unclamped(n_samples):
    """Rate and patience of the schedules without the clamp (0.1.0)."""
    d = math.log(PAPER_BETA * n_samples / PAPER_B) ** 2 + 1
    rate = min(max(PAPER_ALPHA * math.log(HIDDEN) / d, 0.0), 0.5)
    patience = 2.0 * PAPER_A / HIDDEN + PAPER_MU * d
    return rate, max(1, round(patience))


def run(estimator, X, y, cv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = cross_validate(
            make_pipeline(StandardScaler(), estimator),
            X,
            y,
            cv=cv,
            return_estimator=True,
        )
    compression = [getattr(p[-1], "compression_", 0.0) for p in result["estimator"]]
    return {
        "accuracy": float(np.mean(result["test_score"])),
        "accuracy_std": float(np.std(result["test_score"])),
        "compression": float(np.mean(compression)),
        "fit_seconds": float(np.mean(result["fit_time"])),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the rows as JSON")
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    show_versions()
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    rows = []
    header = f"{'data set':14} {'n':>5} {'model':28} {'accuracy':>14} {'compr.':>7}"
    print(header)
    for name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        n_train = int(len(y) * 0.8)
        old_rate, old_patience = unclamped(n_train)
        models = {
            "MLPClassifier()": MLPClassifier(random_state=0),
            # The paper's equations at their own pace (0.2's defaults).
            "BSPClassifier() (clamped)": BSPClassifier(
                pruning_rate="paper",
                pruning_patience="paper",
                target_compression=None,
                random_state=0,
            ),
            f"unclamped pr={old_rate:.3f} pc={old_patience}": BSPClassifier(
                pruning_rate=old_rate,
                pruning_patience=old_patience,
                target_compression=None,
                random_state=0,
            ),
        }
        for label, estimator in models.items():
            row = {"dataset": name, "n_train": n_train, "model": label}
            row.update(run(estimator, X, y, cv))
            if isinstance(estimator, BSPClassifier) and "clamped" in label:
                row["pruning_rate"] = auto_pruning_rate(HIDDEN, n_train)
                row["pruning_patience"] = auto_pruning_patience(HIDDEN, n_train, 1, 0)
            rows.append(row)
            print(
                f"{name:14} {n_train:5d} {label:28} "
                f"{row['accuracy']:.4f}±{row['accuracy_std']:.4f} "
                f"{row['compression']:7.1%}",
                flush=True,
            )
    if args.out:
        with open(out_path(args.out, args.setting), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
