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

Two options go beyond the paper (both off by default): a cap on the number
of synapses one step may prune (the weakest go first), and a guard that may
keep some of the synapses a step would prune alive (the estimators' guard,
:class:`~sklearn_bsp._guard.ReachabilityGuard`, keeps one path into every
output neuron with :func:`output_paths`).

Two implementations give bit-equal results: a NumPy reference, and compiled
streaming passes (``_pruning_kernels``) that find the candidate threshold
from a band of magnitudes kept from the previous step instead of
partitioning every alive ``|w|`` at every minibatch.
"""

import itertools
import numbers

import numpy as np

from ._kernels import pruning_kernels as _kernels

PRUNING_SCOPES = ("layer", "network")

# Half-width, in ranks, of the band of magnitudes kept around the threshold
# between steps, as a share of the alive synapses (with a floor for small
# matrices). Between two minibatches the threshold's rank moves by far less
# than this on the paper's networks; a miss only costs one exact partition,
# after which the band is widened.
_BAND_SHARE = 1 / 512
_BAND_MIN = 64
# Passes spent looking for a threshold that left the band before falling
# back to partitioning every alive |w|.
_BAND_TRIES = 4


def _kernel_accepts(weights, masks, counters):
    """Whether the compiled passes can update these arrays in place."""
    if _kernels is None or not weights:
        return False
    dtype = weights[0].dtype
    # One dtype for all matrices: with mixed precisions the threshold of
    # ``scope="network"`` would have to be compared in two precisions.
    if dtype not in (np.float32, np.float64):
        return False
    for w, m, c in zip(weights, masks, counters):
        if not (
            w.dtype == dtype
            and m.dtype == np.bool_
            and c.dtype in (np.int32, np.uint16)
            and w.shape == m.shape == c.shape
            and w.flags.c_contiguous
            and m.flags.c_contiguous
            and c.flags.c_contiguous
            and w.flags.writeable
            and m.flags.writeable
            and c.flags.writeable
        ):
            return False
    return True


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


def _weakest(weights, positions, max_pruned):
    """Keep the ``max_pruned`` weakest of the given synapses.

    ``positions`` holds, per matrix, flat positions in increasing order. The
    smallest ``|w|`` win; ties go to the earlier matrix, then the earlier
    position (a stable sort of the matrices' entries laid end to end).
    """
    sizes = [p.size for p in positions]
    if sum(sizes) <= max_pruned:
        return positions
    magnitude = np.concatenate(
        [np.abs(w.ravel()[p]) for w, p in zip(weights, positions)]
    )
    # The max_pruned smallest, ties by position: everything below the
    # max_pruned-th magnitude, then the first of those equal to it (what a
    # stable argsort gives, in linear time: the schedule of a target makes
    # this run at every step, over every synapse past the patience).
    if max_pruned == 0:
        keep = np.zeros(magnitude.size, dtype=bool)
    else:
        kth = np.partition(magnitude, max_pruned - 1)[max_pruned - 1]
        keep = magnitude < kth
        ties = np.flatnonzero(magnitude == kth)
        keep[ties[: max_pruned - int(np.count_nonzero(keep))]] = True
    # Plain slices: on two or three matrices np.split costs more than the
    # ranking above, and this runs at every step of a target.
    ends = itertools.accumulate(sizes)
    return [p[keep[end - p.size : end]] for p, end in zip(positions, ends)]


def output_paths(weights, masks):
    """Mark one alive input-to-output path into every output neuron.

    Reachability is computed forwards: every input feature is reachable,
    and a neuron of the next layer is reachable when some alive synapse
    comes into it from a reachable neuron. The paths are then built
    greedily backwards: each output neuron takes its strongest (largest
    ``|w|``; ties to the lowest index) alive synapse from a reachable
    neuron, that neuron does the same, and so on down to the input. A step
    that keeps these synapses alive cannot disconnect an output neuron that
    is still connected (the estimators' guard does so when a step would).

    Parameters
    ----------
    weights : list of ndarray of shape (n_in, n_out)
        The weight matrices, input layer first.
    masks : list of ndarray of bool
        True where a synapse is alive.

    Returns
    -------
    paths : list of ndarray of bool
        One per matrix, True on the synapses of the chosen paths. An output
        neuron that is already unreachable gets no path.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_bsp._pruning import output_paths
    >>> w = [np.array([[0.1, 0.9], [0.5, 0.2]]), np.array([[0.3], [0.4]])]
    >>> m = [np.ones((2, 2), dtype=bool), np.ones((2, 1), dtype=bool)]
    >>> [p.astype(int).tolist() for p in output_paths(w, m)]
    [[[0, 1], [0, 0]], [[0], [1]]]
    """
    reachable = [np.ones(weights[0].shape[0], dtype=bool)]
    for mask in masks:
        reachable.append(np.any(mask & reachable[-1][:, None], axis=0))
    paths = [np.zeros(m.shape, dtype=bool) for m in masks]
    # Output neurons that need a path, then the neurons feeding those paths.
    needed = reachable[-1].copy()
    for layer in range(len(weights) - 1, -1, -1):
        usable = masks[layer] & reachable[layer][:, None]
        score = np.where(usable, np.abs(weights[layer]), -np.inf)
        source = np.argmax(score, axis=0)  # first of equal maxima
        targets = np.flatnonzero(needed)
        paths[layer][source[targets], targets] = True
        needed = np.zeros(weights[layer].shape[0], dtype=bool)
        needed[source[targets]] = True
    return paths


class SynapticPruner:
    """The BSP rule as a small object.

    Parameters
    ----------
    rate : float
        Share of the alive synapses that are candidates at each step, in
        ``[0, 1)``.
    scope : {"layer", "network"}, default="layer"
        Where candidates compete: within each weight matrix, or across the
        whole network (one ranking of all alive synapses).
    n_threads : int, default=1
        OpenMP threads of the compiled passes (the result never depends on
        it). One thread is the default: the passes take a fraction of a
        millisecond, and on a loaded machine waiting for a second core costs
        more than it saves.

    Notes
    -----
    The object caches, per group of matrices that compete together, a band
    of magnitudes around the last threshold, and scratch buffers. The cache
    only makes :meth:`step` faster; results never depend on it, and copies
    (``copy.deepcopy``, pickle) leave it out.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_bsp._pruning import SynapticPruner
    >>> w = [np.array([[0.01, 1.0], [2.0, 3.0]])]
    >>> m = [np.ones((2, 2), dtype=bool)]
    >>> c = [np.zeros((2, 2), dtype=np.int32)]
    >>> pruner = SynapticPruner(rate=0.25)
    >>> [pruner.step(w, m, c, patience=3)[0] is None for _ in range(4)]
    [True, True, True, False]
    >>> m[0].tolist()
    [[False, True], [True, True]]
    """

    def __init__(self, rate, scope="layer", n_threads=1):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}.")
        if scope not in PRUNING_SCOPES:
            raise ValueError(f"scope must be one of {PRUNING_SCOPES}, got {scope!r}.")
        if not isinstance(n_threads, numbers.Integral) or n_threads < 1:
            raise ValueError(f"n_threads must be an int >= 1, got {n_threads!r}.")
        self.rate = rate
        self.scope = scope
        self.n_threads = int(n_threads)
        self._clear_cache()

    def _clear_cache(self):
        self._bands = {}
        self._buffers = {}

    # Copies leave the cache out. The estimators deep-copy their pruner at
    # every partial_fit and warm-started fit, to restore it if the call
    # fails: the copy needs neither the band nor the scratch buffers (some 17
    # bytes per synapse), which only speed up the next step.
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_bands", None)
        state.pop("_buffers", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._clear_cache()

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

    def step(
        self,
        weights,
        masks,
        counters,
        patience,
        *,
        max_pruned=None,
        guard=None,
    ):
        """Apply one step of the rule, in place.

        Parameters
        ----------
        weights : list of ndarray
            The weight matrices; newly pruned entries are set to 0.
        masks : list of ndarray of bool
            True where a synapse is alive; newly pruned entries become False.
        counters : list of ndarray of int
            Consecutive-candidate counters, one per synapse (int32, or uint16
            while every count stays below 65,535).
        patience : float
            A synapse whose counter exceeds this value is pruned; >= 0.
        max_pruned : int or None, default=None
            Prune at most this many synapses at this step, summed over all
            matrices (whatever the scope). When more exceed the patience,
            the smallest ``|w|`` go first (ties: earlier matrix, then
            earlier position in C order); the others stay alive and keep
            their counters. ``0`` prunes nothing but still counts. None: no
            cap.
        guard : callable or None, default=None
            ``guard(positions) -> positions``: called (only when something
            is to be pruned, after ``max_pruned``) with, per matrix, the flat
            positions of the synapses about to be pruned; returns the ones
            that may be. Those it keeps alive keep their counters. Lets a
            caller veto a step that would, e.g., disconnect the network.

        Returns
        -------
        pruned : list of (ndarray of intp or None)
            Per weight matrix, the flat C-order positions (increasing) of the
            synapses pruned at this step, or None where none was (so callers
            can skip untouched layers). Positions, not a mask: a step prunes
            a few synapses of a large matrix, and a mask would cost a pass
            over all of them for each use.
        """
        if max_pruned is not None and (
            not isinstance(max_pruned, numbers.Integral)
            or isinstance(max_pruned, bool)
            or max_pruned < 0
        ):
            raise ValueError(
                f"max_pruned must be None or an int >= 0, got {max_pruned!r}."
            )
        if not patience >= 0:  # also rejects NaN
            raise ValueError(f"patience must be >= 0, got {patience!r}.")
        if _kernel_accepts(weights, masks, counters):
            return self._fused_step(
                weights, masks, counters, patience, max_pruned, guard
            )
        return self._numpy_step(weights, masks, counters, patience, max_pruned, guard)

    def _numpy_step(self, weights, masks, counters, patience, max_pruned, guard=None):
        """:meth:`step` in NumPy: the reference the compiled path must match."""
        over = []
        for counter, candidate in zip(counters, self.candidates(weights, masks)):
            # counter <- (counter + 1) if candidate else 0
            counter += 1
            counter *= candidate
            over.append(np.flatnonzero(counter > patience))
        if max_pruned is not None:
            over = _weakest(weights, over, max_pruned)
        if guard is not None and any(p.size for p in over):
            over = guard(over)
        pruned = []
        for w, mask, counter, positions in zip(weights, masks, counters, over):
            if positions.size:
                clear_positions(positions, w, mask, counter)
                pruned.append(positions)
            else:
                pruned.append(None)
        return pruned

    def _fused_step(self, weights, masks, counters, patience, max_pruned, guard=None):
        """:meth:`step` in compiled passes, usually two per matrix (same result)."""
        groups = (
            [[i] for i in range(len(weights))]
            if self.scope == "layer"
            else [list(range(len(weights)))]
        )
        over = [None] * len(weights)
        for group_id, group in enumerate(groups):
            first = None
            if len(group) == 1:
                (i,) = group
                over[i], first = self._layer_step(
                    group_id, weights[i], masks[i], counters[i], patience
                )
                if over[i] is not None:
                    continue
            bands = self._threshold(
                group_id,
                [weights[i] for i in group],
                [masks[i] for i in group],
                first,
            )
            if bands is None:  # no candidates: every counter resets
                for i in group:
                    counters[i].fill(0)
                    over[i] = np.empty(0, dtype=np.intp)
                continue
            for j, (i, (band, candidate)) in enumerate(zip(group, bands)):
                over[i] = self._update(
                    counters[i], self._buffers[("code", j)], band, candidate, patience
                )
        if max_pruned is not None:
            over = _weakest(weights, over, max_pruned)
        if guard is not None and any(p.size for p in over):
            over = guard(over)
        pruned = [None] * len(weights)
        for i, positions in enumerate(over):
            if positions.size:
                clear_positions(positions, weights[i], masks[i], counters[i])
                pruned[i] = positions
        return pruned

    def _layer_step(self, group_id, w, mask, counter, patience):
        """The rule's passes over one matrix in one compiled call.

        Returns ``(over, None)``, the positions over the patience, when the
        band kept from the last step holds the threshold (the counters are
        then updated). Otherwise nothing is changed and ``(None, first)``:
        ``first`` is the band pass's ``(n_alive, n_below, bands)`` for
        :meth:`_threshold` to go on from, or None without a band.
        """
        key = _band_key(group_id, [w])
        lo, hi, half_width = self._bands.get(key, (None, None, None))
        if lo is None:
            return None, None
        flat_w = w.ravel()
        flat_alive = mask.ravel().view(np.uint8)
        band = self._buffer(0, w.size)
        code = self._buffer(("code", 0), w.size, np.uint8)
        over = self._buffer("over", w.size)
        status, n_alive, n_below, n_band, n_over, lo, hi, half_width = (
            _kernels.layer_step(
                flat_w,
                flat_alive,
                counter.ravel(),
                lo,
                hi,
                self.rate,
                half_width,
                _BAND_SHARE,
                _BAND_MIN,
                float(patience),
                band,
                code,
                over,
                self.n_threads,
            )
        )
        if status == 0:  # no candidates: every counter resets
            counter.fill(0)
            return np.empty(0, dtype=np.intp), None
        if status == 1:
            self._bands[key] = (w.dtype.type(lo), w.dtype.type(hi), half_width)
            return over[:n_over].copy(), None
        return None, (n_alive, n_below, [band[:n_band].copy()])

    def _buffer(self, slot, size, dtype=np.intp):
        """A scratch array of ``size`` entries, reused between steps."""
        buffer = self._buffers.get(slot)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[slot] = np.empty(size, dtype=dtype)
        return buffer[:size]

    def _band(self, flat_w, flat_alive, lo, hi):
        """One pass over a group: alive count, count below ``[lo, hi]``, and
        per matrix the positions of the alive entries inside it.

        Also leaves, per matrix ``j`` of the group, the code of every
        synapse (below the band, in it, neither) in the buffer
        ``("code", j)``, for the counter pass.
        """
        n_alive = n_below = 0
        bands = []
        for j, (w, alive) in enumerate(zip(flat_w, flat_alive)):
            buffer = self._buffer(j, w.size)
            code = self._buffer(("code", j), w.size, np.uint8)
            alive_j, below_j, n_band = _kernels.band_select(
                w, alive, lo, hi, buffer, code, self.n_threads
            )
            n_alive += alive_j
            n_below += below_j
            bands.append(buffer[:n_band].copy())
        return n_alive, n_below, bands

    def _threshold(self, group_id, weights, masks, first=None):
        """Find the k-th smallest alive ``|w|`` of a group, and a band around it.

        Returns None when there are no candidates. Otherwise the last band
        pass (see :meth:`_band`) had a band that holds the threshold; returns
        per matrix the flat positions of the synapses in it, and which of
        them are candidates (below the threshold, or equal to it and among
        the first ones in C order, matrix by matrix, up to ``k``).

        ``first``: the result of a first band pass over the cached band,
        already made (by :meth:`_layer_step`).
        """
        flat_w = [w.ravel() for w in weights]
        flat_alive = [m.ravel().view(np.uint8) for m in masks]
        key = _band_key(group_id, weights)
        lo, hi, half_width = self._bands.get(key, (None, None, None))
        if lo is None:
            n_alive = sum(int(np.count_nonzero(m)) for m in masks)
        elif first is not None:
            n_alive, n_below, bands = first
        else:  # the first band pass counts them
            n_alive, n_below, bands = self._band(flat_w, flat_alive, lo, hi)
        k = int(n_alive * self.rate)
        if k == 0:
            return None
        narrowest = max(_BAND_MIN, int(n_alive * _BAND_SHARE))
        for attempt in range(_BAND_TRIES if lo is not None else 0):
            if attempt:
                n_alive, n_below, bands = self._band(flat_w, flat_alive, lo, hi)
            magnitude = (
                np.abs(flat_w[0][bands[0]])
                if len(bands) == 1
                else np.concatenate([np.abs(w[p]) for w, p in zip(flat_w, bands)])
            )
            # The k-th smallest lies in the band when fewer than k are below
            # it and at least k are below or in it; anything else (above hi,
            # or NaN, which np.partition puts last) ranks after the band.
            if n_below < k <= n_below + magnitude.size:
                # Kept up at once: narrow the band back (fewer entries to
                # gather and partition); needed a repair: widen it.
                half_width = (
                    max(narrowest, half_width * 7 // 8)
                    if attempt == 0
                    else min(2 * half_width, n_alive)
                )
                rank = k - 1 - n_below
                # A copy: the ties below are read in the band's order.
                threshold, lo, hi = _order_stats(magnitude.copy(), rank, half_width)
                self._bands[key] = (lo, hi, half_width)
                n_ties = k - n_below - int(np.count_nonzero(magnitude < threshold))
                result, end = [], 0
                for positions in bands:
                    start, end = end, end + positions.size
                    part = magnitude[start:end]
                    candidate = part < threshold
                    ties = np.flatnonzero(part == threshold)
                    candidate[ties[: max(n_ties, 0)]] = True
                    n_ties -= ties.size
                    result.append((positions, candidate))
                return result
            # Missed: the threshold moved out of the band (typically after
            # many synapses were pruned at once). Look on its side with one
            # more pass: below the band, everything from 0 holds it; above
            # it, a band further up, wider at each try.
            if k <= n_below:
                lo, hi = lo.dtype.type(0), lo
            else:
                width = (hi - lo) * 2 ** (attempt + 1)
                if not 0 < width < np.inf:  # empty or NaN band: no direction
                    break
                lo, hi = hi, hi + width
        half_width = narrowest if lo is None else min(2 * half_width, n_alive)
        # Exact: partition every alive |w| (the path before the band cache).
        pools = []
        for w, alive, mask in zip(flat_w, flat_alive, masks):
            if mask.all():
                pools.append(np.abs(w))
            else:
                pool = np.empty(w.size, dtype=w.dtype)
                pools.append(pool[: _kernels.gather_abs(w, alive, pool)])
        pool = pools[0] if len(pools) == 1 else np.concatenate(pools)
        threshold, lo, hi = _order_stats(pool, k - 1, half_width)
        self._bands[key] = (lo, hi, half_width)
        n_ties = k - int(np.count_nonzero(pool < threshold))
        # A band of the threshold alone: below it, candidates; in it, ties.
        result = []
        for ties in self._band(flat_w, flat_alive, threshold, threshold)[2]:
            candidate = np.zeros(ties.size, dtype=bool)
            candidate[: max(n_ties, 0)] = True
            n_ties -= ties.size
            result.append((ties, candidate))
        return result

    def _update(self, counter, code, band, candidate, patience):
        """The counter pass over one matrix; returns the positions over the patience."""
        counter = counter.ravel()
        # The band's synapses: the pass resets them, so keep their next
        # count aside.
        band_count = (counter[band] + 1) * candidate if band.size else None
        buffer = self._buffer("over", counter.size)
        n_over = _kernels.update_counters(
            code[: counter.size],
            counter,
            float(patience),
            buffer,
            self.n_threads,
        )
        over = buffer[:n_over].copy()
        if band_count is not None:
            counter[band] = band_count
            band_over = band[band_count > patience]
            if band_over.size:
                over = np.sort(np.concatenate([over, band_over]))
        return over


def _band_key(group_id, weights):
    """The key of a group's cached band: its place, dtype and sizes."""
    return (group_id, weights[0].dtype.str, tuple(w.size for w in weights))


def clear_positions(positions, *arrays):
    """Set the entries at these flat C-order positions to 0 in each array.

    Parameters
    ----------
    positions : ndarray of intp
        Flat positions, in C order.
    *arrays : ndarray
        The arrays to clear (weights, alive flags, counters, optimizer
        slots), each at least ``positions.max() + 1`` entries long.
    """
    for array in arrays:
        if array.flags.c_contiguous:
            # A view: indexing it costs a fourth of ``.flat``.
            array.reshape(-1)[positions] = 0
        else:
            array.flat[positions] = 0


def _order_stats(values, rank, half_width):
    """The value of ``rank`` in ``values`` and those ``half_width`` around it.

    Partitions ``values`` in place; the outer two bound the band kept for
    the next step.
    """
    last = values.size - 1
    lo_rank, hi_rank = max(rank - half_width, 0), min(rank + half_width, last)
    values.partition(sorted({lo_rank, rank, hi_rank}))
    return values[rank], values[lo_rank], values[hi_rank]
