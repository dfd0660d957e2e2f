"""Crossover table: products of a pruned layer against dense BLAS.

For a weight matrix W (784 x 500 unless ``--shape`` says otherwise) with a
uniform random mask at densities 50 % down to 1 %, time each product of
:class:`sklearn_bsp._sparse.SparseLayer` against NumPy's matmul on the masked
matrix (BLAS, full work):

- forward   ``X @ W``            n = 200 (a minibatch) and n = 10,000 (predict)
- backward  ``delta @ W.T``      n = 200
- grad      the alive entries of ``X.T @ delta`` (dense: the full product)

Each cell is kernel time / dense time: below 1 the sparse path is faster.
Dense and sparse calls are interleaved in short runs (``--run`` calls of one,
then of the next, ...), so that a burst of load on a shared machine hits
both; the first call of each run is not counted. Right after a call, the
threads of the other pool (OpenBLAS's or OpenMP's) still spin for a while
waiting for more work and, on a 2-core machine, take a core from the next
call: calls alternated one by one measured that contention (2-5x on dense
n=200 products), not the products. The table gives the ratio of the median
times and, in brackets, of the best times. The operands are C-ordered
("C", as a user's data) and Fortran-ordered ("F", what ``SparseLayer``
passes between layers); the crossover uses the slower of the two.

float32 at every density; float64 at 30 % and 10 % (``--float64-all``: every
density). ``--fallback`` times the NumPy / SciPy path instead of the compiled
kernels. Run from a checkout after ``pip install -e .`` (or with the package
on ``PYTHONPATH``)::

    python benchmarks/bench_kernels.py              # about a minute
    python benchmarks/bench_kernels.py --threads 1  # one core: BLAS and kernels
    python benchmarks/bench_kernels.py --threads 1 --clock cpu

``--clock cpu`` times the CPU time of the calling thread instead of the wall
time (one thread only): on a machine shared with other jobs it does not count
the time the process waits for a core, so it is steadier, though it still
counts the cache misses the other jobs cause.
"""

import argparse
import time
from datetime import datetime

import numpy as np
from _timing import add_setting_option, run_each_setting  # benchmarks/
from threadpoolctl import threadpool_limits

from sklearn_bsp import _sparse, machine_info
from sklearn_bsp._sparse import SparseLayer

DENSITIES = [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01]
FLOAT64_DENSITIES = [0.3, 0.1]
# (name, n_samples) of the columns of the table.
CASES = [("forward", 200), ("backward", 200), ("grad", 200), ("forward", 10_000)]


def describe(n_threads):
    """Lines describing the machine, the libraries and the kernels."""
    lines = [f"date: {datetime.now():%Y-%m-%d %H:%M}"]
    lines += [f"{key}: {value}" for key, value in machine_info().items()]
    kernels = _sparse._kernels
    if kernels is not None:
        lines.append(
            f"sklearn_bsp kernels: OpenMP={kernels.OPENMP}, "
            f"{kernels.VECTOR_BYTES}-byte vectors, blocks of up to "
            f"{kernels.MAX_VECTORS} vectors, chunks of {kernels.CHUNK} features, "
            f"threads={n_threads}"
        )
    return "\n".join(lines)


def interleaved(funcs, repeats, run, clock=time.perf_counter):
    """Times of each function, called in runs of ``run`` calls in turn.

    Each function is timed ``repeats`` times, in runs of ``run + 1`` calls
    whose first one is not counted. Returns an array of shape
    (len(funcs), repeats).
    """
    times = np.empty((len(funcs), repeats))
    for r0 in range(0, repeats, run):
        for i, func in enumerate(funcs):
            func()  # warm-up: pays for the other thread pool still spinning
            for r in range(r0, min(r0 + run, repeats)):
                t0 = clock()
                func()
                times[i, r] = clock() - t0
    return times


def bench_cell(
    shape, op, n, density, dtype, rng, repeats, run, n_threads, compiled, clock
):
    """Dense time and the kernels' time ratios for one product.

    Returns ``(dense_median, {order: (median_ratio, best_ratio)})``.
    """
    n_in, n_out = shape
    mask = rng.random(shape) < density
    W = (rng.standard_normal(shape) * mask).astype(dtype)
    layer = SparseLayer.from_dense(W, mask, use_compiled=compiled, n_threads=n_threads)
    X = rng.standard_normal((n, n_in)).astype(dtype)
    delta = rng.standard_normal((n, n_out)).astype(dtype)
    XF, deltaF = np.asfortranarray(X), np.asfortranarray(delta)
    if op == "forward":
        funcs = [lambda: X @ W, lambda: layer.forward(X), lambda: layer.forward(XF)]
    elif op == "backward":
        funcs = [
            lambda: delta @ W.T,
            lambda: layer.backward(delta),
            lambda: layer.backward(deltaF),
        ]
    else:
        funcs = [
            lambda: X.T @ delta,
            lambda: layer.sampled_grad(X, delta),
            lambda: layer.sampled_grad(XF, deltaF),
        ]
    times = interleaved(funcs, repeats, run, clock)
    med, best = np.median(times, axis=1), times.min(axis=1)
    ratios = {
        order: (med[i] / med[0], best[i] / best[0]) for i, order in ((1, "C"), (2, "F"))
    }
    return med[0], ratios


def crossover(densities, ratios):
    """Highest density below which the sparse path is faster (ratio < 1).

    Log-linear interpolation between the two densities that bracket the
    crossing; the highest density measured if the sparse path is faster
    everywhere, 0 if nowhere.
    """
    pts = sorted(zip(densities, ratios), reverse=True)
    if pts[0][1] < 1:
        return pts[0][0]
    for (d_hi, r_hi), (d_lo, r_lo) in zip(pts, pts[1:]):
        if r_lo < 1 <= r_hi:
            t = np.log(r_lo) / (np.log(r_lo) - np.log(r_hi))
            return float(np.exp(np.log(d_lo) + t * (np.log(d_hi) - np.log(d_lo))))
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--run", type=int, default=5, help="calls per run")
    parser.add_argument(
        "--shape", default="784x500", help="n_in x n_out of the layer (784x500)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="BLAS and kernel threads"
    )
    parser.add_argument("--fallback", action="store_true", help="NumPy/SciPy path")
    parser.add_argument("--float64-all", action="store_true")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time, or CPU time of the thread (with --threads 1 only)",
    )
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu needs --threads 1")
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    shape = tuple(int(k) for k in args.shape.lower().split("x"))
    if args.threads is not None:
        threadpool_limits(args.threads)
    compiled = not args.fallback and _sparse.COMPILED
    rng = np.random.default_rng(args.seed)

    print(describe(args.threads or "all"))
    print(
        f"\nlayer {shape[0]} x {shape[1]}, uniform random masks; "
        f"{'compiled kernels' if compiled else 'NumPy/SciPy fallback'}; "
        f"{args.repeats} repeats in interleaved runs of {args.run}, "
        f"{args.clock} clock"
    )
    print(
        "cell: kernel time / dense time, ratio of medians [of best times], "
        "C- / F-ordered operands; 'dense' is the median dense time in ms\n"
    )
    head = f"{'dtype':>7} {'dens':>4}"
    for op, n in CASES:
        head += f" | {op + ' n=' + str(n):^30}"
    print(head)
    sub = f"{'':>12}" + " | {:>6} {:>11} {:>11}".format("dense", "C", "F") * len(CASES)
    print(sub)
    print("-" * len(head))
    worst = {}
    float64 = DENSITIES if args.float64_all else FLOAT64_DENSITIES
    rows = [(np.float32, d) for d in DENSITIES] + [(np.float64, d) for d in float64]
    for dtype, density in rows:
        line = f"{np.dtype(dtype).name:>7} {density:>4.0%}"
        for op, n in CASES:
            dense, ratios = bench_cell(
                shape,
                op,
                n,
                density,
                dtype,
                rng,
                args.repeats,
                args.run,
                args.threads or -1,
                compiled,
                clock,
            )
            line += f" | {dense * 1e3:>6.2f}"
            for order in "CF":
                med, best = ratios[order]
                line += f" {med:>4.2f} [{best:>4.2f}]"
            worst.setdefault((np.dtype(dtype).name, op, n), []).append(
                (density, max(ratios["C"][0], ratios["F"][0]))
            )
        print(line, flush=True)

    print("\ncrossover density (sparse faster below it; slower memory order):")
    for (dtype, op, n), vals in worst.items():
        if len(vals) > 2:
            dens, ratio = zip(*vals)
            print(f"  {dtype:>7} {op:>8} n={n:<6} {crossover(dens, ratio):6.1%}")


if __name__ == "__main__":
    main()
