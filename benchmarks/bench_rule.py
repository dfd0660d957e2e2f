"""Cost of one step of the BSP rule against one dense minibatch step.

The network is the paper's 784-500-10 MLP at batch 200. For each dtype and
share of pruned synapses (0, 50 and 90 %, a random mask on both matrices),
one round times, back to back:

- ``dense``: the dense minibatch step of the 784 x 500 layer, forward
  ``X @ W``, gradient ``X.T @ delta`` and the SGD update (BLAS);
- ``rule``: ``SynapticPruner.step`` on both matrices (784 x 500 and 500 x
  10), compiled, with the band of magnitudes it keeps between steps, on one
  and on two OpenMP threads, with int32 counters; ``rule u16``: the same on
  one thread with the uint16 counters that training uses while counts are
  small;
- ``exact``: the same compiled step with that band forgotten before every
  step, so the threshold comes from partitioning all alive ``|w|`` (the
  path before the band, as in 0.1.0);
- ``numpy``: the NumPy reference.

Every rule variant is timed right after an (untimed) dense step, as in
training. The weights drift between steps by a small SGD update (the dense
step's own), and the patience is out of reach, so the state stays comparable
across rounds. Rounds are interleaved (every variant once per round), and
the machine is shared: read the medians and minima, not single runs.

Run::

    PYTHONPATH=. python benchmarks/bench_rule.py [--repeats 40] [--threads 1 2]
        [--blas-threads 1] [--scope network]

On two cores shared with OpenBLAS's own threads, a second OpenMP thread
spinning after its pass slows the next BLAS call down by far more than it
saves; compare ``--threads 1 2`` on your machine.
"""

import argparse
import time

import numpy as np
from _timing import add_setting_option, run_each_setting  # benchmarks/

from sklearn_bsp import _pruning, machine_info
from sklearn_bsp._pruning import SynapticPruner

N_IN, N_HIDDEN, N_OUT, BATCH = 784, 500, 10, 200


def describe():
    """The machine and the libraries, as lines of text."""
    lines = [f"{key}: {value}" for key, value in machine_info().items()]
    lines.append(f"compiled rule: {_pruning._kernels is not None}")
    return lines


def make_state(rng, dtype, pruned):
    """Weights, masks and counters of the 784-500-10 net, ``pruned`` share off."""
    shapes = [(N_IN, N_HIDDEN), (N_HIDDEN, N_OUT)]
    weights = [rng.normal(0, 0.05, s).astype(dtype) for s in shapes]
    masks = [rng.random(s) >= pruned for s in shapes]
    counters = [np.zeros(s, dtype=np.int32) for s in shapes]
    for w, m in zip(weights, masks):
        w *= m
    return weights, masks, counters


def run_case(dtype, pruned, rate, repeats, rng, threads, scope):
    """Interleaved timings (seconds) of every variant on one state."""
    X = rng.normal(size=(BATCH, N_IN)).astype(dtype)
    delta = rng.normal(0, 1e-3, size=(BATCH, N_HIDDEN)).astype(dtype)
    weights, masks, counters = make_state(rng, dtype, pruned)
    W = weights[0]
    patience = 1e9  # never prune: every round sees the same state

    def dense():
        X @ W
        np.subtract(W, 0.1 * (X.T @ delta), out=W)  # the SGD update

    pruners = {
        f"rule {n} thr": SynapticPruner(rate, scope=scope, n_threads=n) for n in threads
    }
    pruners["rule u16"] = SynapticPruner(rate, scope=scope)
    narrow = [c.astype(np.uint16) for c in counters]
    pruners["exact"] = SynapticPruner(rate, scope=scope)
    pruners["numpy"] = SynapticPruner(rate, scope=scope)

    def rule(name):
        pruner = pruners[name]
        if name == "exact":
            pruner._clear_cache()  # forget the band: partition every step
        if name == "numpy":
            return pruner._numpy_step(weights, masks, counters, patience, None)
        if name == "rule u16":
            return pruner.step(weights, masks, narrow, patience)
        return pruner.step(weights, masks, counters, patience)

    for name in pruners:  # the first step has no band yet
        rule(name)
    times = {name: [] for name in ["dense", *pruners]}
    for _ in range(repeats):
        for name in times:
            if name != "dense":
                # Every variant runs right after a dense step, as in
                # training (the step evicts the rule's arrays from cache).
                dense()
                W *= masks[0]
            t0 = time.perf_counter()
            dense() if name == "dense" else rule(name)
            times[name].append(time.perf_counter() - t0)
            W *= masks[0]  # as the masked update would (not timed)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--rate", type=float, default=0.0183)  # eq 1, 500 hidden
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1],
        help="OpenMP threads of the rule, one variant each (e.g. --threads 1 2)",
    )
    parser.add_argument("--scope", choices=["layer", "network"], default="layer")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads (threadpoolctl); on a loaded machine a "
        "two-thread BLAS call can wait many ms for its second thread",
    )
    add_setting_option(parser)
    args = parser.parse_args()
    if run_each_setting(args):
        return
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")
    print("\n".join(describe()))
    print(
        f"rate {args.rate}, scope {args.scope!r}, "
        f"{args.repeats} interleaved rounds, times in ms\n"
    )
    header = (
        f"{'dtype':8}{'pruned':>7} {'variant':12}{'median':>9}{'min':>9}"
        f"{'/dense (med)':>14}{'/dense (min)':>14}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for pruned in (0.0, 0.5, 0.9):
            times = run_case(
                dtype, pruned, args.rate, args.repeats, rng, args.threads, args.scope
            )
            med_dense = np.median(times["dense"])
            min_dense = np.min(times["dense"])
            for name, t in times.items():
                med, low = np.median(t), np.min(t)
                print(
                    f"{np.dtype(dtype).name:8}{pruned:>7.0%} {name:12}"
                    f"{med * 1e3:9.3f}{low * 1e3:9.3f}"
                    f"{med / med_dense:14.3f}{low / min_dense:14.3f}"
                )
            print()


if __name__ == "__main__":
    main()
