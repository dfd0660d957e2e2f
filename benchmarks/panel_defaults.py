"""The panel behind the default pruning: BSP against scikit-learn's MLP.

For each data set, solver and seed, the cross-validated score of
``BSP*(**params)`` next to ``MLP*()`` with the same scikit-learn parameters
(defaults unless the data set says otherwise), and BSP's compression. Inputs
are standardised in a Pipeline (``StandardScaler``; ``MaxAbsScaler`` for the
sparse text-like set), regression targets too (``TransformedTargetRegressor``),
as a careful user would.

    python benchmarks/panel_defaults.py --out results/panel/defaults.json
    python benchmarks/panel_defaults.py --sets digits --param target_compression=0.9

``--param name=value`` sets a BSP parameter (repeatable). Results are
appended per row to the JSON file, so an interrupted run keeps what it
finished.
"""

import argparse
import ast
import json
import os
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_regression,
)
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, StandardScaler

from sklearn_bsp import BSPClassifier, BSPRegressor, machine_info


def _sparse_text(seed=0):
    # Text-like input: sparse non-negative counts, labels from a sparse
    # linear rule (as in bench_bsp_vs_mlp.py, smaller).
    rng = np.random.default_rng(seed)
    n, d = 3000, 5000
    X = sp.random(n, d, density=0.01, format="csr", random_state=seed)
    X.data = np.log1p(rng.poisson(3.0, X.nnz)).astype(np.float64)
    W = rng.normal(size=(d, 4)) * (rng.random((d, 4)) < 0.05)
    y = np.asarray(X @ W).argmax(axis=1)
    return X, y


def _fashion(n):
    from sklearn_bsp.datasets import load_fashion_mnist

    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    return X[:n], y[:n]


SETS = {
    "iris": ("classification", lambda: load_iris(return_X_y=True)),
    "wine": ("classification", lambda: load_wine(return_X_y=True)),
    "breast_cancer": ("classification", lambda: load_breast_cancer(return_X_y=True)),
    "digits": ("classification", lambda: load_digits(return_X_y=True)),
    "sparse_text": ("classification", _sparse_text),
    "diabetes": ("regression", lambda: load_diabetes(return_X_y=True)),
    "multi_output": (
        "regression",
        lambda: make_regression(
            n_samples=1000,
            n_features=20,
            n_informative=10,
            n_targets=3,
            noise=10.0,
            random_state=0,
        ),
    ),
    "fashion_mnist_10k": ("classification", lambda: _fashion(10_000)),
}


def _model(kind, estimator, sparse):
    scaler = MaxAbsScaler() if sparse else StandardScaler()
    model = make_pipeline(scaler, estimator)
    if kind == "regression":
        model = TransformedTargetRegressor(
            regressor=model, transformer=StandardScaler()
        )
    return model


def _compression(model, X, y):
    """A scorer that reads the fitted BSP's compression (0 for an MLP)."""
    est = model.regressor_ if hasattr(model, "regressor_") else model
    return getattr(est[-1], "compression_", 0.0)


def _n_iter(model, X, y):
    est = model.regressor_ if hasattr(model, "regressor_") else model
    return est[-1].n_iter_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--solvers", nargs="+", default=["adam", "sgd", "lbfgs"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--param", action="append", default=[])
    parser.add_argument("--label", default="default")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    bsp_params = {}
    for item in args.param:
        name, value = item.split("=", 1)
        try:
            bsp_params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            bsp_params[name] = value
    print(machine_info())
    print(f"BSP parameters: {bsp_params}")
    rows = []
    if args.out and os.path.exists(args.out):
        with open(args.out) as f:
            rows = json.load(f)
    for name in args.sets:
        kind, load = SETS[name]
        X, y = load()
        sparse = sp.issparse(X)
        for solver in args.solvers:
            for seed in args.seeds:
                if kind == "classification":
                    cv = StratifiedKFold(args.cv, shuffle=True, random_state=seed)
                    mlp, bsp = MLPClassifier, BSPClassifier
                    scoring = "accuracy"
                else:
                    cv = KFold(args.cv, shuffle=True, random_state=seed)
                    mlp, bsp = MLPRegressor, BSPRegressor
                    scoring = "r2"
                row = {
                    "label": args.label,
                    "set": name,
                    "solver": solver,
                    "seed": seed,
                    "bsp_params": bsp_params,
                }
                for who, cls, extra in (
                    ("mlp", mlp, {}),
                    ("bsp", bsp, bsp_params),
                ):
                    model = _model(
                        kind, cls(solver=solver, random_state=seed, **extra), sparse
                    )
                    start = time.perf_counter()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        res = cross_validate(
                            model,
                            X,
                            y,
                            cv=cv,
                            scoring={
                                "score": scoring,
                                "compression": _compression,
                                "n_iter": _n_iter,
                            },
                        )
                    row[f"{who}_score"] = float(res["test_score"].mean())
                    row[f"{who}_seconds"] = time.perf_counter() - start
                    row[f"{who}_n_iter"] = float(res["test_n_iter"].mean())
                    if who == "bsp":
                        row["compression"] = float(res["test_compression"].mean())
                        row["damage_warnings"] = sum(
                            "damaged" in str(w.message) for w in caught
                        )
                rows.append(row)
                print(
                    f"{name:18} {solver:6} seed {seed}: MLP {row['mlp_score']:.4f} "
                    f"BSP {row['bsp_score']:.4f} "
                    f"({row['bsp_score'] - row['mlp_score']:+.4f}), "
                    f"compression {row['compression']:.3f}, epochs "
                    f"{row['mlp_n_iter']:.0f}/{row['bsp_n_iter']:.0f}, time "
                    f"{row['bsp_seconds'] / row['mlp_seconds']:.2f}x",
                    flush=True,
                )
                if args.out:
                    with open(args.out, "w") as f:
                        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
