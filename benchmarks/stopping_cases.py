"""The three fits that scikit-learn's stopping rule used to end mid-pruning.

    python benchmarks/stopping_cases.py

1. ``BSPRegressor(random_state=0, max_iter=2000)`` on raw diabetes (no
   scaling) against ``MLPRegressor`` with the same parameters: test R².
2. Digits (``X / 16``), the rule at its own pace capped at 90 %
   (``pruning_rate=0.3, pruning_patience=20, max_compression=0.9,
   target_compression=None, max_iter=100``): test accuracy with the default
   ``n_iter_no_change`` and with ``n_iter_no_change=1000``.
3. The same uncapped: test accuracy, compression, and whether the fit
   warned of a damaged network; ``MLPClassifier(max_iter=100)`` for
   reference.

The splits are those of ``tests/test_target.py`` (``random_state=0``).
"""

import warnings

from sklearn.datasets import load_diabetes, load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sklearn_bsp import BSPClassifier, BSPRegressor


def main():
    warnings.simplefilter("ignore")
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    bsp = BSPRegressor(random_state=0, max_iter=2000).fit(X_train, y_train)
    mlp = MLPRegressor(random_state=0, max_iter=2000).fit(X_train, y_train)
    print(
        f"raw diabetes: BSP R² {bsp.score(X_test, y_test):.4f} "
        f"({bsp.compression_:.1%} pruned, {bsp.n_iter_} epochs), "
        f"MLP R² {mlp.score(X_test, y_test):.4f}"
    )

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, random_state=0, stratify=y
    )
    params = dict(
        pruning_rate=0.3,
        pruning_patience=20,
        max_compression=0.9,
        target_compression=None,
        max_iter=100,
        random_state=0,
    )
    capped = BSPClassifier(**params).fit(X_train, y_train)
    full = BSPClassifier(**params, n_iter_no_change=1000).fit(X_train, y_train)
    print(
        f"digits capped at 90 %: {capped.score(X_test, y_test):.4f} "
        f"({capped.n_iter_} epochs), with n_iter_no_change=1000: "
        f"{full.score(X_test, y_test):.4f}"
    )

    params.pop("max_compression")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        uncapped = BSPClassifier(**params).fit(X_train, y_train)
    warned = any("damaged" in str(w.message) for w in caught)
    mlp = MLPClassifier(random_state=0, max_iter=100).fit(X_train, y_train)
    print(
        f"digits uncapped: {uncapped.score(X_test, y_test):.4f} at "
        f"{uncapped.compression_:.1%} pruned (MLP {mlp.score(X_test, y_test):.4f}), "
        f"damage warning: {warned}"
    )


if __name__ == "__main__":
    main()
