"""Print the panel's results (``panel_defaults.py``) as an RST list-table.

    python benchmarks/panel_table.py results/panel/defaults.json

One row per data set and solver: the cross-validated score of MLP and BSP
(mean ± std over the seeds of each seed's CV mean), their difference in
points (accuracy) or R², BSP's compression, the epochs of each (mean), and
the number of BSP fits that warned of a damaged network.
"""

import json
import sys
from collections import defaultdict

import numpy as np


def main(path):
    with open(path) as f:
        rows = json.load(f)
    groups = defaultdict(list)
    for row in rows:
        groups[(row["set"], row["solver"])].append(row)
    print(".. list-table::")
    print("   :header-rows: 1")
    print()
    header = [
        "data set",
        "solver",
        "MLP",
        "BSP",
        "difference",
        "pruned",
        "epochs MLP / BSP",
    ]
    print("   * - " + "\n     - ".join(header))
    for (name, solver), group in groups.items():
        mlp = np.array([r["mlp_score"] for r in group])
        bsp = np.array([r["bsp_score"] for r in group])
        scale = 100 if name not in ("diabetes", "multi_output") else 1
        unit = " points" if scale == 100 else " R²"
        diff = scale * (bsp - mlp).mean()
        cells = [
            name.replace("_", " "),
            solver,
            f"{mlp.mean():.4f} ± {mlp.std():.4f}",
            f"{bsp.mean():.4f} ± {bsp.std():.4f}",
            f"{diff:+.2f}{unit}" if scale == 100 else f"{diff:+.4f}{unit}",
            f"{100 * np.mean([r['compression'] for r in group]):.1f} %",
            f"{np.mean([r['mlp_n_iter'] for r in group]):.0f} / "
            f"{np.mean([r['bsp_n_iter'] for r in group]):.0f}",
        ]
        print("   * - " + "\n     - ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1])
