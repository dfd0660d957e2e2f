"""Timing helper shared by the benchmark scripts."""

import time


def best_of(func, repeats):
    """Smallest wall time of ``repeats`` calls of ``func()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)
