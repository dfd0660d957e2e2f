"""Time the products of a pruned layer: dense BLAS, scipy.sparse, compiled kernels.

For a weight matrix W of shape (n_in, n_out) with a random mask at several
densities, time in float32:

- forward   ``X @ W``           X of shape (n_samples, n_in)
- backward  ``delta @ W.T``     delta of shape (n_samples, n_out)
- grad      the alive entries of ``X.T @ delta`` (dense: the full product)

Dense is NumPy's matmul on the masked matrix (BLAS, full work). "scipy" is the
fastest of several ``scipy.sparse`` layouts (CSR or CSC, X in C or Fortran
order, and the transposed product ``W.T @ X.T``); its name is printed.
"kernel" is ``sklearn_bsp._sparse.SparseLayer`` (compiled kernels if built,
else its NumPy / SciPy fallback), with C-ordered operands and, for "kernel F",
Fortran-ordered ones (what a network of SparseLayers passes between layers).
Speed-up is dense time / time: above 1 the sparse path is faster.

Run from a checkout after ``pip install .`` (or ``pip install -e .``)::

    python benchmarks/bench_kernels.py            # full table, a few minutes
    python benchmarks/bench_kernels.py --quick    # fewer repeats, n <= 2000
    python benchmarks/bench_kernels.py --threads 1  # one core: BLAS and kernels
"""

import argparse
import os
import platform
import time
from datetime import date

import numpy as np
import scipy
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_bsp import _sparse
from sklearn_bsp._sparse import SparseLayer

DENSITIES = [1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01]
SHAPES = [(784, 500), (500, 10)]


def timeit(func, min_time=0.2, min_repeats=3, max_repeats=30):
    """Best wall time of ``func()`` over repeats (after one warm-up call)."""
    func()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats and (
        len(times) < min_repeats or time.perf_counter() - start < min_time
    ):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    lines = [
        f"date: {date.today()}",
        f"cpu: {cpu_model()}, {os.cpu_count()} logical cores",
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}",
    ]
    for pool in threadpool_info():
        lines.append(
            f"{pool['user_api']}: {pool['internal_api']} {pool.get('version')} "
            f"arch={pool.get('architecture')} threads={pool['num_threads']}"
        )
    kernels = getattr(_sparse, "_kernels", None)
    if kernels is None:
        lines.append("sklearn_bsp kernels: NOT compiled (NumPy/SciPy fallback)")
    else:
        lines.append(
            f"sklearn_bsp kernels: compiled, OpenMP={kernels.OPENMP}, "
            f"block={kernels.BLOCK} samples"
        )
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP"))}
    lines.append(f"environment: {env or 'no OPENBLAS_*/OMP_* variables'}")
    return "\n".join(lines)


def scipy_forward(X, W, repeat_kw):
    """Fastest scipy.sparse way to compute X @ W, and its name."""
    csr, csc, wt_csr = sp.csr_array(W), sp.csc_array(W), sp.csr_array(W.T)
    candidates = {}
    for order in "CF":
        Xo = np.asarray(X, order=order)
        candidates[f"X{order} @ csr"] = lambda Xo=Xo: Xo @ csr
        candidates[f"X{order} @ csc"] = lambda Xo=Xo: Xo @ csc
        candidates[f"(W.T csr @ X{order}.T).T"] = lambda Xo=Xo: (wt_csr @ Xo.T).T
    return best_of(candidates, repeat_kw)


def best_of(candidates, repeat_kw):
    results = {name: timeit(f, **repeat_kw) for name, f in candidates.items()}
    name = min(results, key=results.get)
    return results[name], name


def bench_layer(n_in, n_out, n_samples, density, rng, repeat_kw, n_threads):
    """Times of every method for one configuration, as a list of rows."""
    W = rng.standard_normal((n_in, n_out), dtype=np.float32)
    mask = rng.random((n_in, n_out)) < density
    W *= mask
    X = rng.standard_normal((n_samples, n_in), dtype=np.float32)
    delta = rng.standard_normal((n_samples, n_out), dtype=np.float32)
    XF, deltaF = np.asfortranarray(X), np.asfortranarray(delta)
    layer = SparseLayer.from_dense(W, mask, n_threads=n_threads)
    rows = []

    dense = timeit(lambda: X @ W, **repeat_kw)
    sci, sci_name = scipy_forward(X, W, repeat_kw)
    kern = timeit(lambda: layer.forward(X), **repeat_kw)
    kern_f = timeit(lambda: layer.forward(XF), **repeat_kw)
    rows.append(("forward", dense, sci, sci_name, kern, kern_f))

    dense = timeit(lambda: delta @ W.T, **repeat_kw)
    sci, sci_name = scipy_forward(delta, np.ascontiguousarray(W.T), repeat_kw)
    kern = timeit(lambda: layer.backward(delta), **repeat_kw)
    kern_f = timeit(lambda: layer.backward(deltaF), **repeat_kw)
    rows.append(("backward", dense, sci, sci_name, kern, kern_f))

    dense = timeit(lambda: X.T @ delta, **repeat_kw)
    kern = timeit(lambda: layer.sampled_grad(X, delta), **repeat_kw)
    kern_f = timeit(lambda: layer.sampled_grad(XF, deltaF), **repeat_kw)
    rows.append(("grad", dense, np.nan, "-", kern, kern_f))
    return rows


def crossover(densities, speedups):
    """Density where the speed-up crosses 1 (log-linear interpolation).

    Returns the highest density at which the sparse path is still at least as
    fast as dense, interpolated between the two grid points that bracket it.
    """
    pts = sorted(zip(densities, speedups), reverse=True)
    for (d_hi, s_hi), (d_lo, s_lo) in zip(pts, pts[1:]):
        if s_hi >= 1:
            return d_hi
        if s_lo >= 1:
            t = np.log(s_lo) / (np.log(s_lo) - np.log(s_hi))
            return float(np.exp(np.log(d_lo) + t * (np.log(d_hi) - np.log(d_lo))))
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS and the kernels (default: all)",
    )
    args = parser.parse_args()
    if args.threads is not None:
        threadpool_limits(args.threads)
    rng = np.random.default_rng(args.seed)
    sizes = [200, 2000] if args.quick else [200, 10000]
    repeat_kw = (
        {"min_time": 0.05, "min_repeats": 2} if args.quick else {"min_repeats": 5}
    )

    print(machine_info())
    print("\ntimes in ms (best of repeats); speed-up = dense time / time\n")
    header = (
        f"{'layer':>9} {'n':>6} {'op':>8} {'dens':>5} {'dense':>8} "
        f"{'scipy':>8} {'x':>6} {'kernel':>8} {'x':>6} {'kernel F':>8} {'x':>6}"
        "  best scipy layout"
    )
    print(header)
    print("-" * len(header))
    speedups = {}
    for n_in, n_out in SHAPES:
        for n in sizes:
            for density in DENSITIES:
                for op, dense, sci, name, kern, kern_f in bench_layer(
                    n_in, n_out, n, density, rng, repeat_kw, args.threads or -1
                ):
                    speedups.setdefault((n_in, n_out, n, op), []).append(
                        (density, dense / min(kern, kern_f), dense / sci)
                    )
                    print(
                        f"{n_in:>4}x{n_out:<4} {n:>6} {op:>8} {density:>5.0%} "
                        f"{dense * 1e3:>8.3f} {sci * 1e3:>8.3f} {dense / sci:>6.2f} "
                        f"{kern * 1e3:>8.3f} {dense / kern:>6.2f} "
                        f"{kern_f * 1e3:>8.3f} {dense / kern_f:>6.2f}  {name}",
                        flush=True,
                    )
            print()

    print("crossover density (sparse faster below it; best memory order):")
    print(f"{'layer':>9} {'n':>6} {'op':>8} {'kernel':>7} {'scipy':>7}")
    for (n_in, n_out, n, op), vals in speedups.items():
        dens, kern, sci = zip(*vals)
        sci_cross = crossover(dens, sci) if op != "grad" else float("nan")
        print(
            f"{n_in:>4}x{n_out:<4} {n:>6} {op:>8} {crossover(dens, kern):>7.1%} "
            f"{sci_cross:>7.1%}"
        )


if __name__ == "__main__":
    main()
