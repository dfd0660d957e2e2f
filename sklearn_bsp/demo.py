"""Train BSPClassifier next to MLPClassifier and print what pruning bought.

Run with ``python -m sklearn_bsp.demo``. Uses Fashion-MNIST when the Debian
package ``dataset-fashion-mnist`` is installed (or ``--data-home`` points at
its files), and scikit-learn's digits otherwise.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from . import BSPClassifier
from .datasets import load_fashion_mnist


def _load(data_home, n_train):
    """Return (name, X_train, X_test, y_train, y_test)."""
    try:
        X_train, y_train = load_fashion_mnist(
            data_home, subset="train", return_X_y=True
        )
        X_test, y_test = load_fashion_mnist(data_home, subset="test", return_X_y=True)
    except FileNotFoundError as exc:
        print(f"Fashion-MNIST not found ({exc.__class__.__name__}); using digits.")
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y
        )
        return "digits", X_train, X_test, y_train, y_test
    rng = np.random.default_rng(0)
    keep = rng.permutation(len(y_train))[:n_train]
    return "Fashion-MNIST", X_train[keep], X_test, y_train[keep], y_test


def _run(model, X_train, y_train, X_test, y_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_time = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = model.score(X_test, y_test)
    predict_time = time.perf_counter() - start
    return accuracy, fit_time, predict_time


def main(argv=None):
    """Command-line entry point.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``sys.argv[1:]`` when None.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="folder of the IDX files")
    parser.add_argument("--n-train", type=int, default=10_000, help="training samples")
    parser.add_argument("--hidden", type=int, default=100, help="hidden neurons")
    parser.add_argument(
        "--max-iter", type=int, default=200, help="most epochs (scikit-learn's default)"
    )
    args = parser.parse_args(argv)

    name, X_train, X_test, y_train, y_test = _load(args.data_home, args.n_train)
    print(
        f"{name}: {X_train.shape[0]} training / {X_test.shape[0]} test samples, "
        f"{X_train.shape[1]} features, {X_train.dtype}; one hidden layer of "
        f"{args.hidden} neurons; both estimators at scikit-learn's defaults (Adam, "
        f"at most {args.max_iter} epochs, stopping by tol), random_state=0"
    )
    common = dict(
        hidden_layer_sizes=(args.hidden,), max_iter=args.max_iter, random_state=0
    )
    models = {
        "MLPClassifier": MLPClassifier(**common),
        "BSPClassifier": BSPClassifier(**common),
    }
    print(
        f"{'model':<15}{'accuracy':>10}{'compression':>13}{'epochs':>8}"
        f"{'fit s':>9}{'score s':>9}"
    )
    for label, model in models.items():
        accuracy, fit_time, predict_time = _run(model, X_train, y_train, X_test, y_test)
        compression = getattr(model, "compression_", 0.0)
        print(
            f"{label:<15}{accuracy:>10.4f}{compression:>13.1%}{model.n_iter_:>8}"
            f"{fit_time:>9.2f}{predict_time:>9.3f}"
        )
    bsp = models["BSPClassifier"]
    alive = [int(m.sum()) for m in bsp.coef_masks_]
    total = [m.size for m in bsp.coef_masks_]
    print(
        "BSP synapses alive per layer: "
        + ", ".join(f"{a}/{t}" for a, t in zip(alive, total))
        + f"; target_compression_={bsp.target_compression_:.3f}, "
        f"pruning_rate_={bsp.pruning_rate_:g}, "
        f"pruning_patience_={bsp.pruning_patience_:g}"
    )


if __name__ == "__main__":
    main()
