"""The BSP pruning rule: candidates, consecutive-candidate counters, masks.

This module knows nothing about estimators, optimizers or data. Like a
``torch.nn.utils.prune`` method, its one job is: given weights, the current
masks and the counters, compute the next masks and counters.

The rule (Zhao & Zeng, 2021, section 2.2):

1. Among the synapses still alive, the fraction ``rate`` with the smallest
   ``|w|`` are *candidates* (``Nc = floor(Ns * rate)``, ``Ns`` alive).
2. A candidate's counter grows by one; every other synapse's counter is
   reset to 0, so the counter holds the number of *consecutive* steps in
   which the synapse was a candidate.
3. A synapse whose counter exceeds ``patience`` is pruned: its weight is set
   to 0 and its mask to False, for good.
"""

import numpy as np

from ._sparse import _cpu_runs_kernels

_kernels = None
if _cpu_runs_kernels():  # built with the same SIMD flags as the sparse kernels
    try:
        from . import _pruning_kernels as _kernels
    except ImportError:  # not built: the NumPy path below does the same
        _kernels = None

PRUNING_SCOPES = ("layer", "network")


def _kernel_accepts(weights, masks, counters):
    """Whether the compiled pass can update these arrays in place."""
    return _kernels is not None and all(
        w.dtype in (np.float32, np.float64)
        and m.dtype == np.bool_
        and c.dtype == np.int32
        and w.flags.c_contiguous
        and m.flags.c_contiguous
        and c.flags.c_contiguous
        for w, m, c in zip(weights, masks, counters)
    )


def select_smallest(magnitude, alive, k):
    """Mark the ``k`` alive entries of smallest magnitude.

    Parameters
    ----------
    magnitude : ndarray
        Non-negative values (``|w|``), any shape.
    alive : ndarray of bool
        Same shape as ``magnitude``; only True entries can be selected.
    k : int
        Number of entries to select, at most the number of alive entries.

    Returns
    -------
    selected : ndarray of bool
        Same shape as ``magnitude`` with exactly ``k`` True entries. Ties at
        the threshold are broken by position (first in C order wins), so the
        result is deterministic.
    """
    selected = np.zeros(magnitude.shape, dtype=bool)
    if k <= 0:
        return selected
    # A layer with nothing pruned yet skips the masking passes.
    all_alive = np.count_nonzero(alive) == alive.size
    # np.partition is linear time; a full sort of every layer at every
    # minibatch would dominate the cost of training.
    pool = magnitude.ravel() if all_alive else magnitude[alive]
    threshold = np.partition(pool, k - 1)[k - 1]
    np.less(magnitude, threshold, out=selected)
    if not all_alive:
        selected &= alive
    n_missing = k - np.count_nonzero(selected)
    if n_missing > 0:
        ties = np.flatnonzero(alive & (magnitude == threshold))[:n_missing]
        selected.flat[ties] = True
    return selected


class SynapticPruner:
    """The BSP rule as a small stateless object.

    Parameters
    ----------
    rate : float
        Share of the alive synapses that are candidates at each step, in
        ``[0, 1)``.
    scope : {"layer", "network"}, default="layer"
        Where candidates compete: within each weight matrix, or across the
        whole network (one ranking of all alive synapses).
    """

    def __init__(self, rate, scope="layer"):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}.")
        if scope not in PRUNING_SCOPES:
            raise ValueError(f"scope must be one of {PRUNING_SCOPES}, got {scope!r}.")
        self.rate = rate
        self.scope = scope

    def candidates(self, weights, masks):
        """Return the candidate synapses of each weight matrix.

        Parameters
        ----------
        weights : list of ndarray
            The weight matrices.
        masks : list of ndarray of bool
            True where a synapse is alive.

        Returns
        -------
        candidates : list of ndarray of bool
            True where a synapse is a candidate at this step.
        """
        magnitudes = [np.abs(w) for w in weights]
        if self.scope == "layer":
            return [
                select_smallest(m, a, int(np.count_nonzero(a) * self.rate))
                for m, a in zip(magnitudes, masks)
            ]
        flat_magnitude = np.concatenate([m.ravel() for m in magnitudes])
        flat_alive = np.concatenate([a.ravel() for a in masks])
        k = int(np.count_nonzero(flat_alive) * self.rate)
        flat = select_smallest(flat_magnitude, flat_alive, k)
        splits = np.cumsum([m.size for m in magnitudes])[:-1]
        return [
            part.reshape(m.shape) for part, m in zip(np.split(flat, splits), magnitudes)
        ]

    def step(self, weights, masks, counters, patience):
        """Apply one step of the rule, in place.

        Parameters
        ----------
        weights : list of ndarray
            The weight matrices; newly pruned entries are set to 0.
        masks : list of ndarray of bool
            True where a synapse is alive; newly pruned entries become False.
        counters : list of ndarray of int
            Consecutive-candidate counters, one per synapse.
        patience : float
            A synapse whose counter exceeds this value is pruned.

        Returns
        -------
        pruned : list of (ndarray of bool or None)
            Per weight matrix, the synapses pruned at this step, or None
            where none was (so callers can skip untouched layers).
        """
        if _kernel_accepts(weights, masks, counters):
            return self._fused_step(weights, masks, counters, patience)
        pruned = []
        for w, mask, counter, candidate in zip(
            weights, masks, counters, self.candidates(weights, masks)
        ):
            # counter <- (counter + 1) if candidate else 0
            counter += 1
            counter *= candidate
            newly = counter > patience
            if newly.any():
                w[newly] = 0
                mask[newly] = False
                counter[newly] = 0
                pruned.append(newly)
            else:
                pruned.append(None)
        return pruned

    def _fused_step(self, weights, masks, counters, patience):
        """:meth:`step` with one compiled pass per matrix (same result)."""
        groups = (
            [[i] for i in range(len(weights))]
            if self.scope == "layer"
            else [list(range(len(weights)))]
        )
        pruned = [None] * len(weights)
        for group in groups:
            pools = []
            for i in group:
                w, m = weights[i].ravel(), masks[i].ravel()
                if m.all():
                    pools.append(np.abs(w))
                else:
                    buffer = np.empty(w.size, dtype=w.dtype)
                    n = _kernels.gather_abs(w, m.view(np.uint8), buffer)
                    pools.append(buffer[:n])
            pool = pools[0] if len(pools) == 1 else np.concatenate(pools)
            k = int(pool.size * self.rate)
            if k > 0:
                pool.partition(k - 1)
                threshold = float(pool[k - 1])
                # After partitioning, every value below the threshold sits
                # in front of it: the rest of the k candidates are ties.
                n_ties = k - int(np.count_nonzero(pool[: k - 1] < pool[k - 1]))
            else:
                threshold, n_ties = -1.0, 0  # no candidates: all counters reset
            for i in group:
                newly = np.zeros(masks[i].shape, dtype=bool)
                n_newly, n_ties = _kernels.bsp_step(
                    weights[i].ravel(),
                    masks[i].ravel().view(np.uint8),
                    threshold,
                    n_ties,
                    counters[i].ravel(),
                    float(patience),
                    newly.ravel().view(np.uint8),
                )
                if n_newly:
                    pruned[i] = newly
        return pruned
