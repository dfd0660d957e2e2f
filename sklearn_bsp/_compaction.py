"""Move a pruned layer's training state between dense and compact storage.

During training every weight matrix carries per-synapse arrays: the weights,
the mask, the pruning counters and the optimizer state (momentum, Adam
moments). Dense storage keeps them as ``(n_in, n_out)`` arrays; once pruning
has made a layer sparse enough that :class:`~sklearn_bsp._sparse.SparseLayer`
is faster, every one of those arrays is gathered into the same compact 1-D
order (the order of ``SparseLayer.data``), so the optimizer, the pruner and
the kernels all work on alive synapses only. Expanding scatters them back.
"""

import numpy as np

from ._sparse import SparseLayer


def synapse_positions(layer):
    """Flat index into the dense matrix of each synapse stored in ``layer``.

    Parameters
    ----------
    layer : SparseLayer
        A compact layer.

    Returns
    -------
    positions : ndarray of intp of shape (layer.nnz,)
        ``positions[k]`` is the C-order index of synapse ``k`` in the dense
        ``(n_in, n_out)`` matrix.
    """
    cols = np.repeat(layer.cols, np.diff(layer.indptr))
    return layer.rows[layer.indices].astype(np.intp) * layer.shape[1] + cols


class CompactLayer:
    """Training storage of one weight matrix by its alive synapses.

    Parameters
    ----------
    coef : ndarray of shape (n_in, n_out)
        Dense weights, 0 where pruned.
    mask : ndarray of bool of shape (n_in, n_out)
        True where a synapse is alive.
    counter : ndarray of int of shape (n_in, n_out)
        Pruning counters.

    Attributes
    ----------
    layer : SparseLayer
        The kernels' view; ``layer.data`` *is* :attr:`values`.
    values : ndarray of shape (nnz,)
        Weights of the stored synapses (the optimizer updates it in place).
    alive : ndarray of bool of shape (nnz,)
        False for synapses pruned since the layer was compacted; they stay
        stored (as exact zeros) until :meth:`needs_recompaction` says the
        waste is worth a rebuild.
    counter : ndarray of shape (nnz,)
        Pruning counters of the stored synapses.
    positions : ndarray of intp of shape (nnz,)
        Where each stored synapse sits in the dense matrix.
    """

    # Rebuild once this share of the stored synapses has been pruned.
    RECOMPACT_SHARE = 0.25

    def __init__(self, coef, mask, counter):
        self.shape = coef.shape
        self.layer = SparseLayer.from_dense(coef, mask)
        self.values = self.layer.data
        self.positions = synapse_positions(self.layer)
        self.alive = np.ones(self.values.shape, dtype=bool)
        self.counter = counter.ravel()[self.positions]
        self.n_dead = 0

    def gather(self, array):
        """Compact a dense per-synapse array into this layer's order."""
        return array.ravel()[self.positions]

    def scatter(self, compact, dtype=None):
        """Expand a compact per-synapse array to the dense shape (0 elsewhere)."""
        dense = np.zeros(self.shape, dtype=dtype or compact.dtype)
        dense.ravel()[self.positions] = compact
        return dense

    def dense_mask(self):
        """Return the dense boolean mask of alive synapses."""
        return self.scatter(self.alive, dtype=bool)

    def needs_recompaction(self):
        """Whether enough stored synapses are dead to rebuild the layer."""
        return self.n_dead > self.RECOMPACT_SHARE * len(self.values)


class TrainingState:
    """Per-layer storage of the synapses while a stochastic solver runs.

    Holds, for every weight matrix, the arrays the optimizer and the pruner
    work on: dense ``(n_in, n_out)`` arrays at first, compact 1-D arrays
    (:class:`CompactLayer`) once a layer is sparse enough. The estimator's own
    ``coefs_``, ``coef_masks_`` and ``pruning_counters_`` stay dense; call
    :meth:`sync` to bring them up to date and :meth:`finish` at the end.

    Parameters
    ----------
    coefs, masks, counters : list of ndarray
        The estimator's dense per-layer arrays (updated in place).
    optimizer : BaseOptimizer
        Its per-synapse state follows the layers between storages.
    compactable : list of bool
        Which layers may be compacted (e.g. not the first layer when the
        input is a sparse matrix).
    should_compact : callable
        ``should_compact(density, size) -> bool``: the measured crossover.
    """

    def __init__(self, coefs, masks, counters, optimizer, compactable, should_compact):
        self.coefs = coefs
        self.dense_masks = masks
        self.dense_counters = counters
        self.optimizer = optimizer
        self.compactable = compactable
        self.should_compact = should_compact
        n = len(coefs)
        self.weights = list(coefs)
        self.masks = list(masks)
        self.counters = list(counters)
        self.compact = [None] * n
        self.alive = [int(np.count_nonzero(m)) for m in masks]
        for i in range(n):
            self._maybe_compact(i)

    @property
    def layers(self):
        """The kernels' views, None for a dense layer."""
        return [c.layer if c is not None else None for c in self.compact]

    def network_mask(self, i):
        """Mask of layer ``i`` for the gradient: None if nothing is pruned."""
        c = self.compact[i]
        mask = self.masks[i]
        full = c.n_dead == 0 if c is not None else self.alive[i] == mask.size
        return None if full else mask

    def network_masks(self):
        """:meth:`network_mask` of every layer."""
        return [self.network_mask(i) for i in range(len(self.masks))]

    def _maybe_compact(self, i):
        size = self.coefs[i].size
        if self.compactable[i] and self.should_compact(self.alive[i] / size, size):
            self._compact(i)

    def _compact(self, i):
        c = CompactLayer(self.coefs[i], self.dense_masks[i], self.dense_counters[i])
        for arrays in self.optimizer.state_arrays().values():
            arrays[i] = c.gather(arrays[i])
        self.weights[i], self.masks[i], self.counters[i] = c.values, c.alive, c.counter
        self.compact[i] = c

    def _expand(self, i):
        self._sync_layer(i)
        c = self.compact[i]
        for arrays in self.optimizer.state_arrays().values():
            arrays[i] = c.scatter(arrays[i])
        self.weights[i] = self.coefs[i]
        self.masks[i] = self.dense_masks[i]
        self.counters[i] = self.dense_counters[i]
        self.compact[i] = None

    def _sync_layer(self, i):
        c = self.compact[i]
        self.coefs[i][...] = 0
        self.coefs[i].ravel()[c.positions] = c.values
        self.dense_masks[i][...] = False
        self.dense_masks[i].ravel()[c.positions] = c.alive
        self.dense_counters[i][...] = 0
        self.dense_counters[i].ravel()[c.positions] = c.counter

    def pruned(self, i, n_newly):
        """Record ``n_newly`` synapses pruned in layer ``i`` at this step."""
        self.alive[i] -= n_newly
        c = self.compact[i]
        if c is None:
            self._maybe_compact(i)
            return
        c.n_dead += n_newly
        if c.needs_recompaction():
            self._expand(i)
            self._compact(i)

    def sync(self):
        """Write compact layers back into the dense estimator arrays."""
        for i, c in enumerate(self.compact):
            if c is not None:
                self._sync_layer(i)

    def finish(self):
        """Return every layer, optimizer state included, to dense storage."""
        for i, c in enumerate(self.compact):
            if c is not None:
                self._expand(i)
