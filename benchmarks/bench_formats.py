"""File size and inference time of each way to save a fitted model.

Fashion-MNIST, 10,000 training images, one hidden layer of 500 ReLU neurons
(784-500-10), Adam, 20 epochs, ``random_state=0``: ``MLPClassifier`` and
``BSPClassifier`` with its defaults (``target_compression="auto"``) train the
same network. Each model is saved as pickle, as ``skops.io``, and exported to
ONNX (BSP: the compacted network, dense and with sparse initializers; BSP's
pickle also after ``sparsify_coefs()``). Printed: the file size of each, and
the median time of one prediction call over 1, 200 and 10,000 test images
with the estimator (``predict_proba``) and with onnxruntime (its default
session options in the default setting, one intra-op and one inter-op thread
in the one-thread setting).

    python benchmarks/bench_formats.py --out benchmarks/results/formats.json
"""

import argparse
import json
import pickle
import time
import warnings

import numpy as np
from _timing import add_setting_option, out_path, print_machine_info, run_each_setting
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sklearn_bsp import BSPClassifier
from sklearn_bsp.datasets import load_fashion_mnist

BATCHES = ((1, 2000), (200, 300), (10000, 15))


def median_ms(run, repeat):
    """Median milliseconds of ``run()`` over ``repeat`` calls, after one."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def time_batches(predict, X):
    """``{batch: median ms}`` of ``predict(X[:batch])`` for each batch size."""
    return {
        batch: median_ms(lambda rows=X[:batch]: predict(rows), repeat)
        for batch, repeat in BATCHES
    }


def pickled_size(model):
    return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def skops_size(model):
    import skops.io

    return len(skops.io.dumps(model))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default=None)
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    import onnxruntime as ort
    import skl2onnx

    from sklearn_bsp.onnx import to_onnx

    info = print_machine_info()
    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, _ = load_fashion_mnist(subset="test", return_X_y=True)
    X, y = X[: args.n_train].astype(np.float32), y[: args.n_train]
    X_test = X_test.astype(np.float32)
    common = dict(hidden_layer_sizes=(500,), max_iter=args.epochs, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(**common).fit(X, y)
        bsp = BSPClassifier(**common).fit(X, y)
    sparse = pickle.loads(pickle.dumps(bsp))
    sparse.sparsify_coefs()
    print(f"BSP: {bsp.compression_:.1%} pruned", flush=True)

    onnx_models = {
        "MLPClassifier, ONNX (skl2onnx)": skl2onnx.to_onnx(
            mlp, X[:1], options={id(mlp): {"zipmap": False}}
        ),
        "BSPClassifier, ONNX dense": to_onnx(bsp, X[:1]),
        "BSPClassifier, ONNX sparse initializers": to_onnx(
            bsp, X[:1], sparse_initializers=True
        ),
    }
    estimators = {
        "MLPClassifier, pickle": mlp,
        "MLPClassifier, skops": mlp,
        "BSPClassifier, pickle": bsp,
        "BSPClassifier, skops": bsp,
        "BSPClassifier, pickle after sparsify_coefs()": sparse,
    }
    options = ort.SessionOptions()
    if args.setting == "one-thread":
        options.intra_op_num_threads = options.inter_op_num_threads = 1
    rows = []
    timed = {}  # the same in-memory model is timed once
    for name, model in estimators.items():
        size = skops_size(model) if "skops" in name else pickled_size(model)
        if id(model) not in timed:
            timed[id(model)] = time_batches(model.predict_proba, X_test)
        rows.append({"format": name, "bytes": size, "ms": timed[id(model)]})
        print(f"{name}: {size / 1e6:.3f} MB, ms {timed[id(model)]}", flush=True)
    for name, onx in onnx_models.items():
        data = onx.SerializeToString()
        session = ort.InferenceSession(
            data, options, providers=["CPUExecutionProvider"]
        )
        ms = time_batches(lambda rows, s=session: s.run(None, {"X": rows}), X_test)
        rows.append({"format": name, "bytes": len(data), "ms": ms})
        print(f"{name}: {len(data) / 1e6:.3f} MB, ms {ms}", flush=True)
    result = {
        "machine": info,
        "setting": args.setting,
        "settings": {**common, "n_train": args.n_train, "solver": "adam"},
        "compression": float(bsp.compression_),
        "onnxruntime": ort.__version__,
        "rows": rows,
    }
    if args.out:
        with open(out_path(args.out, args.setting), "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
