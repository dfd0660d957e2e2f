"""Helpers shared by the benchmark scripts: timing, thread settings, result files.

Every script reports two thread settings, each in a process of its own, and
labels its output with the setting:

- ``default``: no thread variable set, what users run (every thread pool
  takes all the cores);
- ``one-thread``: ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
  MKL_NUM_THREADS=1``.

``--setting both`` (the default) runs the script once per setting;
``--out results/name.json`` then writes ``results/name.default.json`` and
``results/name.one-thread.json``.
"""

import json
import os
import subprocess
import sys
import time

SETTINGS = {
    "default": {},
    "one-thread": {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    },
}
# Variables that change how many threads a pool runs or how it waits; the
# default setting has none of them.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "MKL_NUM_THREADS",
)


# OpenBLAS's idle threads spin for about 0.1 s after each call before they
# sleep (its THREAD_TIMEOUT), and so do OpenMP's for a while. A call timed
# within that time shares the cores with them: right after MLPClassifier's
# predict_proba on 2 threads, BSP's next five calls ran 15-22 ms instead of
# 10-13. Every timing block starts after that time, so that no model is timed
# in the wake of another one's threads.
SETTLE_SECONDS = 0.5


def best_of(func, repeats):
    """Smallest wall time of ``repeats`` calls of ``func()``, in seconds.

    The calls start after :data:`SETTLE_SECONDS` of pause, when the thread
    pools of earlier work have gone to sleep.
    """
    time.sleep(SETTLE_SECONDS)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_each(funcs, repeats, rounds=5):
    """Smallest wall time of each function, the functions taking turns.

    Each round times every function with :func:`best_of` (``repeats``
    calls after a pause), one function after the other. The load of a
    shared machine changes over seconds: timed in one block each, the
    same prediction moved by up to a third between the blocks of two
    models; taking turns, every function meets the same spells.

    Parameters
    ----------
    funcs : dict of str to callable
        The functions to time, by name.
    repeats : int
        Calls per function in each round.
    rounds : int, default=5
        Turns of every function.

    Returns
    -------
    seconds : dict of str to float
        The smallest wall time of each function, by name.
    """
    best = {name: float("inf") for name in funcs}
    for _ in range(rounds):
        for name, func in funcs.items():
            best[name] = min(best[name], best_of(func, repeats))
    return best


def predict_proba_times(models, X, repeats, rounds=5):
    """Best ``predict_proba(X)`` time of each model, the models taking turns.

    Each model predicts a few rows first (warm-up: caches, compacted network),
    then :func:`best_of_each` times them.

    Parameters
    ----------
    models : dict of str to estimator
        Fitted models, by name.
    X : array-like
        The rows to predict.
    repeats, rounds : int
        See :func:`best_of_each`.

    Returns
    -------
    seconds : dict of str to float
        The smallest wall time of each model, by name.
    """
    for model in models.values():
        model.predict_proba(X[:10])
    return best_of_each(
        {name: (lambda m=m: m.predict_proba(X)) for name, m in models.items()},
        repeats,
        rounds,
    )


def print_machine_info():
    """Print ``sklearn_bsp.machine_info()`` a line per entry, and return it."""
    from sklearn_bsp import machine_info

    info = machine_info()
    for key, value in info.items():
        print(f"{key}: {value}")
    return info


def add_setting_option(parser):
    """Add ``--setting {both,default,one-thread}`` to an argument parser."""
    parser.add_argument(
        "--setting",
        choices=("both", *SETTINGS),
        default="both",
        help="thread setting; 'both' runs the script once per setting",
    )


def _environment(setting):
    """This process's environment with exactly ``setting``'s thread variables."""
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    env.update(SETTINGS[setting])
    return env


def _run_in(setting):
    """Run this script again in a process of its own, in ``setting``."""
    argv = [sys.executable, sys.argv[0], *sys.argv[1:], "--setting", setting]
    subprocess.run(argv, env=_environment(setting), check=True)


def run_each_setting(args):
    """Run this script once per thread setting when ``--setting both``.

    Returns True when it did (the caller then returns). A single setting
    whose thread variables this process does not have (``--setting
    one-thread`` typed without them) also runs in a process of its own, so
    that the label always matches the threads; otherwise prints the setting
    of this process and returns False.
    """
    if args.setting != "both":
        wanted = _environment(args.setting)
        if any(os.environ.get(k) != wanted.get(k) for k in _THREAD_VARIABLES):
            _run_in(args.setting)
            return True
        print(f"=== thread setting: {args.setting} ===", flush=True)
        return False
    for name in SETTINGS:
        _run_in(name)
        print(flush=True)
    return True


def out_path(path, setting):
    """``results/name.json`` -> ``results/name.<setting>.json`` (None stays)."""
    if path is None:
        return None
    root, ext = os.path.splitext(path)
    return f"{root}.{setting}{ext}"


def append_row(path, row):
    """Append one result to the JSON list in ``path`` (created if missing).

    One run per call, so a series run command by command keeps what it
    finished.
    """
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = json.load(f)
    rows.append(row)
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
