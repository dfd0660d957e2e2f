"""``BSPClassifier()`` against ``MLPClassifier()``, both with their defaults.

What a user gets who swaps one for the other and changes nothing else:
scikit-learn's defaults on both sides (adam, relu, 100 hidden, ``max_iter=200``,
stopping by ``tol``), ``random_state=0``, Fashion-MNIST (all 60,000 training
images unless ``--n-train``), scored on the 10,000 test images. Printed: fit
time, epochs, test accuracy, BSP's compression, ``predict_proba`` time on the
test set, and the ratios. The two models are fitted in turns, ``--fit-rounds``
times (2 by default), and each one's faster fit is kept: on a shared machine
one 200-epoch fit moved by a fifth between runs. Their predictions take
turns too (``predict_proba_times``).

    python benchmarks/bench_defaults.py --out results/defaults_fmnist60k.json
"""

import argparse
import json
import time
import warnings

from _timing import (
    add_setting_option,
    out_path,
    predict_proba_times,
    print_machine_info,
    run_each_setting,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sklearn_bsp import BSPClassifier
from sklearn_bsp.datasets import load_fashion_mnist


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument(
        "--repeats", type=int, default=3, help="predictions per model and round"
    )
    parser.add_argument("--rounds", type=int, default=5, help="prediction rounds")
    parser.add_argument("--fit-rounds", type=int, default=2)
    parser.add_argument("--out", default=None)
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    info = print_machine_info()
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X, y = X[: args.n_train], y[: args.n_train]
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    print(f"data: Fashion-MNIST, {X.shape[0]} training images", flush=True)
    rows, models = {}, {}
    for _ in range(args.fit_rounds):
        # The pair takes turns; each keeps its faster fit.
        for name, model in (
            ("MLPClassifier", MLPClassifier(random_state=0)),
            ("BSPClassifier", BSPClassifier(random_state=0)),
        ):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X, y)
            seconds = time.perf_counter() - start
            models[name] = model
            row = rows.setdefault(name, {"fit_seconds_each_round": []})
            row["fit_seconds_each_round"].append(seconds)
            row.update(
                fit_seconds=min(row["fit_seconds_each_round"]),
                n_iter=model.n_iter_,
                accuracy=float(model.score(X_test, y_test)),
                compression=float(getattr(model, "compression_", 0.0)),
            )
            print(
                f"{name}: fit {seconds:.1f} s in {model.n_iter_} epochs, test "
                f"accuracy {row['accuracy']:.4f}, compression "
                f"{row['compression']:.2%}",
                flush=True,
            )
    predict = predict_proba_times(models, X_test, args.repeats, args.rounds)
    for name, seconds in predict.items():
        rows[name]["predict_seconds"] = seconds
        print(f"{name}: predict_proba {1000 * seconds:.1f} ms", flush=True)
    bsp, mlp = rows["BSPClassifier"], rows["MLPClassifier"]
    ratios = {
        "fit time": bsp["fit_seconds"] / mlp["fit_seconds"],
        "predict_proba time": bsp["predict_seconds"] / mlp["predict_seconds"],
        "accuracy difference (points)": 100 * (bsp["accuracy"] - mlp["accuracy"]),
    }
    for key, value in ratios.items():
        print(f"BSP / MLP {key}: {value:.3f}")
    if args.out:
        with open(out_path(args.out, args.setting), "w") as f:
            json.dump({"machine": info, **rows, "ratios": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
