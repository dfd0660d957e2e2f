"""A hidden layer's bias and activation: NumPy's passes against the fused one.

Times, on a block of a hidden layer's output as prediction sees it (512
rows of 500 units, Fortran order, as the kernels write it) and on a
training minibatch's (200 rows, C order, as BLAS writes it), the operations
the network made until this version (``a += bias`` then the activation:
``np.maximum`` for relu, ``(1 + tanh(x / 2)) / 2`` for the fast logistic,
scipy's ``expit`` for the exact one) against
``sklearn_bsp._network.add_bias_and_activate`` (one compiled pass), the two
in turns, best of 5 rounds x 20 calls; prints each time and the ratio.

    python benchmarks/bench_activation.py  # both thread settings, labelled
"""

import argparse
import functools

import numpy as np
from _timing import (  # benchmarks/, the script's own directory
    add_setting_option,
    best_of_each,
    print_machine_info,
    run_each_setting,
)

from sklearn_bsp._network import ACTIVATIONS, _logistic_tanh, add_bias_and_activate


def numpy_passes(a, bias, activation, fast):
    """The network's operations before the fused pass."""
    a += bias
    if activation == "logistic" and fast:
        _logistic_tanh(a)
    else:
        ACTIVATIONS[activation](a)


def _timed_call(work, a, bias, activation, fast, step):
    """A call of ``step`` on a fresh copy of ``a`` (the copy is timed apart)."""

    def call():
        np.copyto(work, a)
        step(work, bias, activation, fast)

    return call


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    print_machine_info()
    rng = np.random.default_rng(0)
    cases = [
        ("prediction block", 512, "F"),
        ("training minibatch", 200, "C"),
    ]
    for dtype in (np.float32, np.float64):
        bias = rng.normal(size=500).astype(dtype)
        for label, n_rows, order in cases:
            a = np.array(rng.normal(size=(n_rows, 500)), dtype=dtype, order=order)
            for activation, fast in (("relu", False), ("logistic", True)):
                # The same input at every call: the values stay in range.
                work = a.copy(order="K")
                run = functools.partial(_timed_call, work, a, bias, activation, fast)
                best = best_of_each(
                    {
                        "numpy": run(numpy_passes),
                        "fused": run(add_bias_and_activate),
                        "copy": run(lambda *args: None),
                    },
                    repeats=20,
                )
                numpy_ms = (best["numpy"] - best["copy"]) * 1e3
                fused_ms = (best["fused"] - best["copy"]) * 1e3
                name = f"{activation}{' (fast)' if fast else ''}"
                print(
                    f"{np.dtype(dtype).name} {label} {n_rows} x 500, {name}: "
                    f"NumPy {numpy_ms:.3f} ms, fused {fused_ms:.3f} ms "
                    f"({numpy_ms / fused_ms:.1f}x)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
