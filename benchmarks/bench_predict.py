"""predict_proba of a pruned network against MLPClassifier's, at set densities.

A 784-500-10 network is trained briefly on Fashion-MNIST (dense), then its
first weight matrix is pruned to each density by keeping the largest
``|w|`` (the way BSP ends, in spirit: the weakest go), and the same arrays
are given to an ``MLPClassifier``. Both predict the 10,000 test images
(the models taking turns, best of ``--rounds`` x ``--repeats`` calls each,
input validation included), from BSP's default storage and after
``sparsify_coefs()``. Also printed: scikit-learn's ``validate_data`` on the
test images, the pass over ``X`` that MLP's prediction makes to find NaN and
infinity (BSP's makes that check in its first kernel instead).

    python benchmarks/bench_predict.py  # both thread settings, labelled
"""

import argparse
import copy
import json
import warnings

import numpy as np
from _timing import (  # benchmarks/, the script's own directory
    add_setting_option,
    best_of,
    out_path,
    predict_proba_times,
    run_each_setting,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import validate_data

from sklearn_bsp import BSPClassifier, show_versions
from sklearn_bsp.datasets import load_fashion_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--densities", type=float, nargs="+", default=[0.1, 0.05])
    parser.add_argument(
        "--repeats", type=int, default=3, help="predictions per model and round"
    )
    parser.add_argument("--rounds", type=int, default=5, help="prediction rounds")
    parser.add_argument("--out", default=None)
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    show_versions()
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, _ = load_fashion_mnist(subset="test", return_X_y=True)
    params = dict(
        hidden_layer_sizes=(500,), activation="logistic", max_iter=2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        trained = BSPClassifier(pruning_rate=0, **params).fit(X[:10000], y[:10000])
    rows = []
    for density in args.densities:
        bsp = BSPClassifier(pruning_rate=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bsp.fit(X[:200], y[:200])  # fitted attributes, then our weights
        first = trained.coefs_[0].copy()
        keep = np.abs(first) >= np.quantile(np.abs(first), 1 - density)
        first *= keep
        bsp.coefs_ = [first, trained.coefs_[1].copy()]
        bsp.intercepts_ = [b.copy() for b in trained.intercepts_]
        bsp.coef_masks_ = [keep, np.ones_like(trained.coef_masks_[1])]
        bsp._refresh_inference()
        mlp = MLPClassifier(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X[:200], y[:200])
        mlp.coefs_ = [c.copy() for c in bsp.coefs_]
        mlp.intercepts_ = [b.copy() for b in bsp.intercepts_]
        np.testing.assert_allclose(
            bsp.predict_proba(X_test), mlp.predict_proba(X_test), rtol=1e-4, atol=1e-6
        )
        sparse = copy.deepcopy(bsp)
        sparse.sparsify_coefs()
        times = predict_proba_times(
            {"mlp": mlp, "bsp": bsp, "sparse": sparse},
            X_test,
            args.repeats,
            args.rounds,
        )
        t_mlp, t_bsp, t_sparse = times["mlp"], times["bsp"], times["sparse"]
        t_val = best_of(lambda b=bsp: validate_data(b, X_test, reset=False), 10)
        row = {
            "density": density,
            "mlp_ms": 1000 * t_mlp,
            "bsp_ms": 1000 * t_bsp,
            "bsp_sparse_storage_ms": 1000 * t_sparse,
            "validation_ms": 1000 * t_val,
        }
        rows.append(row)
        print(
            f"density {density:.0%}: MLP {row['mlp_ms']:.1f} ms, BSP "
            f"{row['bsp_ms']:.1f} ms ({t_mlp / t_bsp:.2f}x faster), sparse storage "
            f"{row['bsp_sparse_storage_ms']:.1f} ms ({t_mlp / t_sparse:.2f}x); "
            f"validate_data {row['validation_ms']:.1f} ms "
            f"({t_val / t_mlp:.0%} of MLP's)",
            flush=True,
        )
    if args.out:
        with open(out_path(args.out, args.setting), "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
