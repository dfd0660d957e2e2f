"""Figures of the performance and deploy pages, drawn from benchmark results.

The documentation build calls :func:`write_figures` (see ``conf.py``): each
figure is redrawn from the JSON files committed in ``benchmarks/results/``,
so a figure never disagrees with the results it shows. The scripts that
write those files are in ``benchmarks/`` and named in each figure's caption.
"""

import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
SETTINGS = {"default": "no thread variable set", "one-thread": "one thread"}
COLORS = {"default": "tab:blue", "one-thread": "tab:orange"}


def _load(name, setting):
    with open(RESULTS / f"{name}.{setting}.json") as f:
        return json.load(f)


def _new_figure(plt, ncols, width=7.5, height=3.4, nrows=1):
    # About 7.5 inches at 110 dpi is the width the pages show a figure at,
    # so 10-point text reads at about 13 px; constrained layout keeps every
    # label inside the saved canvas.
    return plt.subplots(
        nrows, ncols, figsize=(width, height), layout="constrained", squeeze=True
    )


def predict_density(plt, path):
    """``predict_proba`` speed-up over MLPClassifier against density."""
    fig, ax = _new_figure(plt, 1, width=6.0, height=3.6)
    for setting, label in SETTINGS.items():
        rows = sorted(_load("predict_density", setting), key=lambda r: r["density"])
        density = 100 * np.array([r["density"] for r in rows])
        for key, style, suffix in (
            ("bsp_ms", "-o", ""),
            ("bsp_sparse_storage_ms", "--s", ", after sparsify_coefs()"),
        ):
            ratio = [r["mlp_ms"] / r[key] for r in rows]
            ax.plot(density, ratio, style, color=COLORS[setting], label=label + suffix)
    ax.axhline(1, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(density, [f"{d:g} %" for d in density])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("synapses alive (density)")
    ax.set_ylabel("MLPClassifier time / BSP time")
    ax.set_title("predict_proba, 10,000 images, 784-500-10")
    ax.legend(fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fit_epochs(plt, path):
    """Seconds per epoch and compression while pruning progresses."""
    fig, (ax_time, ax_comp) = _new_figure(plt, 2, height=3.6)
    for setting, label in SETTINGS.items():
        result = _load("fmnist_sgd_20", setting)
        curve = result["bsp_curve"]
        seconds = np.diff(np.concatenate([[0.0], curve["times"]]))
        epochs = np.arange(1, len(seconds) + 1)
        mlp_epoch = result["fit_seconds"]["mlp"] / result["settings"]["max_iter"]
        color = COLORS[setting]
        ax_time.plot(epochs, seconds, "-o", ms=3, color=color, label=f"BSP, {label}")
        ax_time.axhline(
            mlp_epoch, color=color, ls="--", lw=1, label=f"MLP mean, {label}"
        )
        ax_comp.plot(epochs, 100 * np.asarray(curve["compressions"]), color=color)
    ax_time.set_ylim(bottom=0)
    ax_time.set_xlabel("epoch")
    ax_time.set_ylabel("seconds per epoch")
    ax_time.set_title("training time per epoch")
    ax_time.legend(fontsize=8)
    ax_comp.set_ylim(0, 100)
    ax_comp.set_xlabel("epoch")
    ax_comp.set_ylabel("synapses pruned (%)")
    ax_comp.set_title("compression (both settings)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def formats(plt, path):
    """File size and prediction time of each way to save a model."""
    by_setting = {setting: _load("formats", setting) for setting in SETTINGS}
    rows = by_setting["default"]["rows"]
    names = [row["format"] for row in rows]
    fig, (ax_size, ax_time) = _new_figure(plt, 1, height=7.0, nrows=2)
    y = np.arange(len(names))
    ax_size.barh(y, [row["bytes"] / 1e6 for row in rows], color="tab:green")
    ax_size.set_yticks(y, names)
    ax_size.invert_yaxis()
    ax_size.set_xlabel("file size (MB)")
    ax_size.set_title("file size")
    height = 0.38
    for k, (setting, label) in enumerate(SETTINGS.items()):
        times = {r["format"]: r["ms"]["10000"] for r in by_setting[setting]["rows"]}
        ax_time.barh(
            y + (k - 0.5) * height,
            [times[name] for name in names],
            height,
            color=COLORS[setting],
            label=label,
        )
    ax_time.set_yticks(y, names)
    ax_time.invert_yaxis()
    ax_time.set_xlabel("milliseconds")
    ax_time.set_title("one prediction call on 10,000 images")
    ax_time.legend(fontsize=9, loc="lower right")
    fig.savefig(path, dpi=110)
    plt.close(fig)


FIGURES = {
    "predict_density.png": predict_density,
    "fit_epochs.png": fit_epochs,
    "formats.png": formats,
}


def write_figures(out_dir):
    """Draw every figure of :data:`FIGURES` into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        draw(plt, out_dir / name)
