"""Hash the fitted state of a set of fits: a refactor must not change it.

Fits BSPClassifier (digits) and BSPRegressor (a two-output synthetic
regression) in 18 settings: the three solvers, the rule at its own pace and
towards a target, ``early_stopping``, ``max_compression``,
``pruning_unit='epoch'``, dropout, ``partial_fit`` and ``warm_start``. The
hash covers each fit's weights, biases, masks, counters, ``n_iter_``,
``compression_``, ``pruning_patience_`` and loss curve. Run it before and
after a change that should leave every result as it was; the last line must
not change. The hash holds for one machine, library versions and thread
count (BLAS sums in another order on another thread count).

    python benchmarks/fingerprint_fits.py
"""

import hashlib
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_regression

from sklearn_bsp import BSPClassifier, BSPRegressor

SETTINGS = [
    dict(solver="adam", max_iter=40),
    dict(solver="sgd", max_iter=40),
    dict(solver="lbfgs", max_iter=60),
    dict(
        solver="adam",
        max_iter=40,
        target_compression=None,
        pruning_rate=0.2,
        pruning_patience=20,
    ),
    dict(solver="adam", max_iter=40, early_stopping=True),
    dict(
        solver="sgd",
        max_iter=30,
        max_compression=0.5,
        target_compression=None,
        pruning_rate=0.3,
        pruning_patience=10,
    ),
    dict(solver="adam", max_iter=30, pruning_unit="epoch"),
    dict(solver="adam", max_iter=30, dropout=0.2),
]


def main():
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X = X / 16
    Xr, yr = make_regression(300, 20, n_targets=2, random_state=0)
    yr = yr / 100
    digest = hashlib.sha256()

    def add(estimator, name):
        for array in (
            estimator.coefs_
            + estimator.intercepts_
            + estimator.coef_masks_
            + estimator.pruning_counters_
        ):
            digest.update(np.ascontiguousarray(array).tobytes())
        curve = getattr(estimator, "loss_curve_", None)
        state = (
            estimator.n_iter_,
            estimator.compression_,
            estimator.pruning_patience_,
            None if curve is None else list(curve),
        )
        digest.update(repr(state).encode())
        print(
            f"{name}: {estimator.n_iter_} iterations, compression "
            f"{estimator.compression_:.4f}, {digest.hexdigest()[:12]}"
        )

    for params in SETTINGS:
        add(
            BSPClassifier(hidden_layer_sizes=(32,), random_state=0, **params).fit(X, y),
            f"classifier {params}",
        )
        add(
            BSPRegressor(hidden_layer_sizes=(16, 8), random_state=0, **params).fit(
                Xr, yr
            ),
            f"regressor {params}",
        )
    model = BSPClassifier(hidden_layer_sizes=(32,), random_state=0)
    for _ in range(5):
        model.partial_fit(X, y, classes=np.arange(10))
    add(model, "partial_fit x 5")
    model = BSPClassifier(
        hidden_layer_sizes=(32,), random_state=0, warm_start=True, max_iter=20
    )
    model.fit(X, y)
    model.fit(X, y)
    add(model, "warm_start, two fits")
    print("FINAL", digest.hexdigest())


if __name__ == "__main__":
    main()
