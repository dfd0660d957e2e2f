"""The target window's caps on a small data set (one update an epoch).

``BSPClassifier()`` against ``MLPClassifier()`` behind a ``StandardScaler``,
3-fold cross-validation, seeds 0-5 (estimators and folds); the caps
``sklearn_bsp._schedules.MAX_WARMUP_SHARE`` (``ws``) and
``MAX_PRUNING_SHARE`` (``ps``) set for the run. Prints BSP minus MLP in
points: the means over seeds 0-2 and 3-5, then each seed.

    python benchmarks/panel_window_small.py iris ws0.6+ps0.2
"""

import sys
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_bsp._schedules as schedules
from sklearn_bsp import BSPClassifier

SETS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}


def main(name, variant, n_seeds=6):
    for part in variant.split("+"):
        if part.startswith("ws"):
            schedules.MAX_WARMUP_SHARE = float(part[2:])
        elif part.startswith("ps"):
            schedules.MAX_PRUNING_SHARE = float(part[2:])
    X, y = SETS[name](return_X_y=True)
    diffs = []
    for seed in range(n_seeds):
        cv = StratifiedKFold(3, shuffle=True, random_state=seed)
        scores = [
            cross_val_score(
                make_pipeline(StandardScaler(), cls(random_state=seed)), X, y, cv=cv
            ).mean()
            for cls in (MLPClassifier, BSPClassifier)
        ]
        diffs.append(100 * (scores[1] - scores[0]))
    print(
        f"{name} {variant}: seeds 0-2 {np.mean(diffs[:3]):+.2f}, seeds 3-5 "
        f"{np.mean(diffs[3:]):+.2f} points; each: "
        + " ".join(f"{d:+.1f}" for d in diffs),
        flush=True,
    )


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
