"""The default target of a large network: Fashion-MNIST 60k at 200 epochs.

``BSPClassifier(random_state=seed, target_compression=t)`` (scikit-learn's
defaults otherwise: adam, relu, 100 hidden, ``max_iter=200``) on the 60,000
training images, scored on the 10,000 test images, for each target and
seed. One JSON line per fit is appended to the output file. Compare with
``MLPClassifier(random_state=seed)`` in the same thread setting
(``results/defaults_fmnist60k.*.json`` for seed 0,
``results/panel/window_fmnist60k.*.json`` for seeds 1 and 2). Results:
``results/panel/target_fmnist60k.*.jsonl``.

    python benchmarks/panel_target.py out.jsonl 0.9,0.85 0,1,2
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/panel_target.py out.jsonl 0.9 0,1,2
"""

import json
import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from sklearn_bsp import BSPClassifier
from sklearn_bsp.datasets import load_fashion_mnist


def main(out, targets, seeds):
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    for target in targets:
        for seed in seeds:
            clf = BSPClassifier(random_state=seed, target_compression=target)
            start = time.perf_counter()
            clf.fit(X, y)
            seconds = time.perf_counter() - start
            row = dict(
                target=target,
                seed=seed,
                acc=float(clf.score(X_test, y_test)),
                n_iter=clf.n_iter_,
                comp=float(clf.compression_),
                seconds=seconds,
            )
            print(row, flush=True)
            with open(out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(
        sys.argv[1],
        [float(v) for v in sys.argv[2].split(",")],
        [int(v) for v in sys.argv[3].split(",")],
    )
