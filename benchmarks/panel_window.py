"""The target's window on Fashion-MNIST 60k: when pruning starts, how long it lasts.

``BSPClassifier()`` with scikit-learn's defaults (adam, relu, 100 hidden,
``max_iter=200``) on the 60,000 training images, one seed per run, scored on
the 10,000 test images every 5 epochs and at the end; the window's constants
(``sklearn_bsp._schedules.TARGET_WARMUP_UPDATES`` and
``TARGET_PRUNING_UPDATES``) set for the run, and ``tX`` sets
``target_compression=X``. ``mlp`` runs ``MLPClassifier()`` instead.
Results: ``results/panel/window_fmnist60k.*.json`` (windows) and
``results/panel/target_fmnist60k.*.json`` (targets at the default window),
one entry per run, with the test-accuracy curve.

    OMP_NUM_THREADS=1 python benchmarks/panel_window.py warm4000+len12000 0 out.json
    python benchmarks/panel_window.py warm4000+len12000+t0.9 0 out.json
    python benchmarks/panel_window.py mlp 0 out.json
"""

import json
import sys
import time
import warnings

from _timing import append_row
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import sklearn_bsp._schedules as schedules
from sklearn_bsp import BSPClassifier
from sklearn_bsp.datasets import load_fashion_mnist


class TestCurve:
    """Record the test accuracy every 5 epochs (scikit-learn callback API)."""

    def __init__(self, X, y, curve):
        self.X, self.y, self.curve = X, y, curve

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        if context.task_name == "epoch" and estimator.n_iter_ % 5 == 0:
            self.curve.append(
                (
                    estimator.n_iter_,
                    float(estimator.score(self.X, self.y)),
                    float(estimator.compression_),
                )
            )
        return False

    def teardown(self, estimator, context):
        pass


def main(variant, seed, out):
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    curve = []
    if variant == "mlp":

        class Recorded(MLPClassifier):
            def _update_no_improvement_count(self, *args, **kwargs):
                if self.n_iter_ % 5 == 0:
                    curve.append((self.n_iter_, float(self.score(X_test, y_test)), 0))
                return super()._update_no_improvement_count(*args, **kwargs)

        est = Recorded(random_state=seed)
    else:
        params = {}
        for part in variant.split("+"):
            if part.startswith("warm"):
                schedules.TARGET_WARMUP_UPDATES = int(part[4:])
            elif part.startswith("len"):
                schedules.TARGET_PRUNING_UPDATES = int(part[3:])
            elif part.startswith("t"):
                params["target_compression"] = float(part[1:])
        est = BSPClassifier(random_state=seed, **params)
        est.set_callbacks(TestCurve(X_test, y_test, curve))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    row = {
        "variant": variant,
        "seed": seed,
        "acc": float(est.score(X_test, y_test)),
        "n_iter": est.n_iter_,
        "compression": float(getattr(est, "compression_", 0.0)),
        "seconds": time.perf_counter() - start,
        "curve": curve,
    }
    print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
    append_row(out, row)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
