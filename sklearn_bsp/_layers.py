"""One owner for the training state of each weight matrix.

While a solver runs, every weight matrix carries per-synapse arrays: the
weights, the alive mask, the pruning counters and the optimizer slots
(momentum, Adam moments). A :class:`SynapseLayer` owns all of them, the way
``torch.nn.utils.prune`` keeps ``weight_orig`` and ``weight_mask`` side by
side: the optimizer, the pruner and the network read and update the arrays
the layer hands out, and only the layer decides where they live.

Dense storage keeps them as ``(n_in, n_out)`` arrays (the estimator's own
``coefs_[i]``, ``coef_masks_[i]`` and ``pruning_counters_[i]``). Once pruning
has made a layer sparse enough that the kernels of
:class:`~sklearn_bsp._sparse.SparseLayer` are faster (the
:class:`CompactionPolicy` says when), every array is gathered into the same
compact 1-D order, the order of ``SparseLayer.data``; :meth:`SynapseLayer.sync`
scatters the compact arrays back into the dense ones.

Hidden neurons without an alive output take no part in the output, and their
error is exactly 0: once enough of a layer's neurons are in that state,
:func:`narrow_hidden_layers` takes them out of the products. The compact
layers on either side are rebuilt over the remaining neurons (their *units*);
the alive synapses into a removed neuron stay alive (the paper prunes them
only when they are weak) but *dormant*: they are stored after the kernel's
synapses, receive their exact gradient (the L2 term alone) and take part in
the rule, without costing a product or an activation.
"""

from dataclasses import dataclass

import numpy as np

from ._pruning import clear_positions
from ._sparse import SparseLayer, choose_kernel

#: Largest count a layer keeps in uint16 counters; the layer widens them to
#: int32 before a count could pass it (far below uint16's 65,535).
NARROW_COUNTER_LIMIT = 60_000


@dataclass(frozen=True)
class CompactionPolicy:
    """When a weight matrix is stored and multiplied by its alive synapses.

    Parameters
    ----------
    min_size : int, default=4096
        Weight matrices with fewer entries stay dense: their products cost
        less than setting up the sparse kernels.
    choose_kernel : callable, default=:func:`sklearn_bsp._sparse.choose_kernel`
        ``choose_kernel(density, n_samples, op) -> "sparse" | "dense"``: the
        crossover measured for each product.
    recompact_share : float, default=0.25
        A compact layer is rebuilt once this share of its stored synapses
        has been pruned since it was built.
    narrow_share : float or None, default=0.1
        Hidden neurons without alive outputs leave the products once this
        share of a layer's computed neurons is in that state (the two compact
        layers around it are rebuilt); None keeps every neuron.
    """

    min_size: int = 4096
    choose_kernel: object = choose_kernel
    recompact_share: float = 0.25
    narrow_share: float | None = 0.1

    def compact_for_training(self, density, size, batch_size):
        """Whether a layer trains faster over its alive synapses.

        Both products of a training step (forward and gradient) must be
        faster through the kernels.
        """
        return size >= self.min_size and all(
            self.choose_kernel(density, batch_size, op) == "sparse"
            for op in ("forward", "grad")
        )

    def compact_for_prediction(self, density, size, n_samples=10_000):
        """Whether prediction on ``n_samples`` rows is faster through the kernels."""
        return (
            size >= self.min_size
            and self.choose_kernel(density, n_samples, "forward") == "sparse"
        )


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


class SynapseLayer:
    """The training state of one weight matrix, and its storage.

    Parameters
    ----------
    coef : ndarray of shape (n_in, n_out)
        Dense weights, 0 where pruned (updated in place).
    mask : ndarray of bool of shape (n_in, n_out)
        True where a synapse is alive (updated in place).
    counter : ndarray of int32 of shape (n_in, n_out)
        Pruning counters (updated in place).
    slots : dict of str to ndarray
        The optimizer's per-synapse arrays for this matrix; the layer
        replaces its entries when it changes storage. May be empty.
    compactable : bool, default=True
        Whether the layer may be stored compactly (not the first layer when
        the input is a scipy.sparse matrix).
    narrow_counters : bool, default=False
        Keep the counters the rule works on as uint16 (``counter`` stays the
        int32 array that :meth:`sync` writes back to): two bytes less to
        read and write per synapse and step. Every count must stay below
        ``counter_limit``: the layer widens them itself
        (:meth:`fit_counters`).
    counter_limit : int, default=NARROW_COUNTER_LIMIT
        The largest count kept in uint16 counters.

    Attributes
    ----------
    weights, alive, counts : ndarray
        The weights, alive flags and counters in the current storage:
        ``coef``, ``mask`` and ``counter`` themselves when dense; 1-D arrays
        of the stored synapses when compact.
    kernel : SparseLayer or None
        The compact layer's kernels over its units (``kernel.data`` *is*
        ``weights[:n_active]``); None when dense.
    in_units, out_units : ndarray of intp or None
        The input and output neurons the kernel computes, when hidden
        neurons have been taken out (see :func:`narrow_hidden_layers`);
        None means all of them.
    n_active : int
        Number of stored synapses the kernel multiplies with; the stored
        synapses after them are dormant (their output neuron is not
        computed).
    n_alive : int
        Number of alive synapses.
    row_alive : ndarray of intp of shape (n_in,)
        Number of alive synapses leaving each input neuron.
    """

    def __init__(
        self,
        coef,
        mask,
        counter,
        slots,
        compactable=True,
        narrow_counters=False,
        counter_limit=NARROW_COUNTER_LIMIT,
    ):
        self.coef = coef
        self.mask = mask
        self.counter = counter
        self.slots = slots
        self.compactable = compactable
        self.counter_limit = counter_limit
        # Counts carried over (partial_fit, warm_start) must fit as well.
        self.narrow_counters = narrow_counters and not (
            counter.size and counter.max() >= counter_limit
        )
        self.n_alive = int(np.count_nonzero(mask))
        self.row_alive = np.count_nonzero(mask, axis=1)
        self.in_units = self.out_units = None
        self._use_dense()

    def _use_dense(self):
        self.weights, self.alive = self.coef, self.mask
        self.counts = (
            self.counter.astype(np.uint16) if self.narrow_counters else self.counter
        )
        self.kernel = None
        self.positions = None
        self.n_active = self.mask.size
        self._n_stored_dead = self.mask.size - self.n_alive

    @property
    def is_compact(self):
        """Whether the layer is stored by its alive synapses."""
        return self.kernel is not None

    @property
    def density(self):
        """Share of the matrix's synapses that are alive."""
        return self.n_alive / max(self.coef.size, 1)

    @property
    def grad_mask(self):
        """Gradient mask in the current storage; None when all stored are alive."""
        return self.alive if self._n_stored_dead else None

    def prune(self, positions):
        """Record the synapses the rule has just pruned.

        The rule has already zeroed their weights, flags and counters (in
        the current storage); their optimizer state is cleared here so that
        a pruned weight receives an update of exactly 0.

        Parameters
        ----------
        positions : ndarray of intp
            Flat positions, in the current storage, of the synapses just
            pruned (what :meth:`SynapticPruner.step
            <sklearn_bsp._pruning.SynapticPruner.step>` returns).
        """
        clear_positions(positions, *self.slots.values())
        self.n_alive -= positions.size
        self._n_stored_dead += positions.size
        # The rows of the newly pruned synapses, counted: a third of the time
        # of count_nonzero(newly, axis=1) over a dense 784 x 500 matrix.
        dense = positions if self.kernel is None else self.positions[positions]
        sources = dense // self.coef.shape[1]
        self.row_alive -= np.bincount(sources, minlength=len(self.row_alive))

    def update_storage(self, policy, batch_size):
        """Compact, re-compact or keep the storage, by ``policy``.

        Parameters
        ----------
        policy : CompactionPolicy
            The measured crossovers.
        batch_size : int
            Minibatch size of the products to come.

        Returns
        -------
        changed : bool
            Whether ``weights`` is now a different array.
        """
        if not self.compactable:
            return False
        if self.kernel is None:
            if policy.compact_for_training(self.density, self.coef.size, batch_size):
                self._compact()
                return True
            return False
        if self._n_stored_dead > policy.recompact_share * len(self.weights):
            self.expand()
            self._compact()
            return True
        return False

    def set_units(self, in_units, out_units):
        """Compute only these input and output neurons, in compact storage.

        Parameters
        ----------
        in_units, out_units : ndarray of intp or None
            Increasing neuron indices; None means all. Every alive synapse
            must leave one of ``in_units`` (a neuron left out has no alive
            output); alive synapses into neurons outside ``out_units``
            become dormant.
        """
        self.in_units, self.out_units = in_units, out_units
        self.expand()
        self._compact()

    def _compact(self):
        self.sync()  # narrow dense counters are a copy
        n_in, n_out = self.coef.shape
        if self.in_units is None and self.out_units is None:
            rows, cols = np.arange(n_in), np.arange(n_out)
            coef, mask = self.coef, self.mask  # no block to copy
        else:
            rows = np.arange(n_in) if self.in_units is None else self.in_units
            cols = np.arange(n_out) if self.out_units is None else self.out_units
            block = np.ix_(rows, cols)
            coef, mask = self.coef[block], self.mask[block]
        kernel = SparseLayer.from_dense(coef, mask)
        # The kernel's synapses, from its block back to the whole matrix.
        block_rows, block_cols = np.divmod(synapse_positions(kernel), len(cols))
        active = rows[block_rows] * n_out + cols[block_cols]
        dormant = self.mask.copy().ravel()
        dormant[active] = False
        self.positions = np.concatenate([active, np.flatnonzero(dormant)])
        self.weights = self.coef.ravel()[self.positions]
        self.n_active = len(active)
        # The kernel multiplies the active head of the storage in place (the
        # storage itself when nothing is dormant).
        dormant_any = self.n_active < len(self.weights)
        kernel.data = self.weights[: self.n_active] if dormant_any else self.weights
        self.kernel = kernel
        self.alive = np.ones(self.weights.shape, dtype=bool)
        self.counts = self.counter.ravel()[self.positions]
        if self.narrow_counters:
            self.counts = self.counts.astype(np.uint16)
        for name, array in self.slots.items():
            self.slots[name] = array.ravel()[self.positions]
        self._n_stored_dead = 0

    def _scatter(self, compact, dense):
        dense[...] = 0
        dense.ravel()[self.positions] = compact

    def sync(self):
        """Write the weights, mask and counters of the storage to the dense arrays."""
        if self.kernel is not None:
            self._scatter(self.weights, self.coef)
            self._scatter(self.alive, self.mask)
            self._scatter(self.counts, self.counter)
        elif self.counts is not self.counter:
            self.counter[...] = self.counts

    def fit_counters(self, patience, kept=None):
        """Widen the counters to int32 before a count could pass ``counter_limit``.

        Counts stop at the patience, so they fit while the patience is below
        the limit; the exception is a synapse the guard kept alive past its
        patience, whose count runs on.

        Parameters
        ----------
        patience : float
            The patience in force for the coming step.
        kept : ndarray of intp or None, default=None
            Positions (in the storage) of synapses the guard kept alive
            although over the patience.
        """
        if not self.narrow_counters:
            return
        if patience >= self.counter_limit or (
            kept is not None
            and kept.size
            and self.counts.ravel()[kept].max() >= self.counter_limit - 1
        ):
            self.widen_counters()

    def widen_counters(self):
        """Keep the rule's counters as int32 from now on (exact: no count is lost)."""
        if not self.narrow_counters:
            return
        self.sync()
        self.narrow_counters = False
        if self.kernel is None:
            self.counts = self.counter
        else:
            self.counts = self.counter.ravel()[self.positions]

    def expand(self):
        """Return to dense storage, optimizer slots included."""
        if self.kernel is None:
            return
        self.sync()
        self.scatter_slots(self.slots)
        self._use_dense()

    def scatter_slots(self, slots):
        """Replace compact optimizer slots by dense arrays, in place.

        Parameters
        ----------
        slots : dict of str to ndarray
            This layer's optimizer slots in its compact storage (its own, or
            a copy of them); each becomes an array of the weight matrix's
            shape, 0 where a synapse is pruned.
        """
        for name, array in slots.items():
            dense = np.zeros(self.coef.shape, dtype=array.dtype)
            self._scatter(array, dense)
            slots[name] = dense

    def dense_positions(self, positions):
        """C-order positions in the dense matrix of positions in the storage."""
        return positions if self.kernel is None else self.positions[positions]

    def alive_targets(self, source):
        """Columns of the alive synapses leaving input neuron ``source``."""
        if self.kernel is None:
            return np.flatnonzero(self.mask[source])
        n_out = self.coef.shape[1]
        rows, cols = np.divmod(self.positions, n_out)
        return cols[(rows == source) & self.alive]

    def dense_alive(self):
        """The alive mask as a dense matrix (``mask`` itself when dense)."""
        if self.kernel is None:
            return self.mask
        mask = np.zeros(self.coef.shape, dtype=bool)
        mask.flat[self.positions[self.alive]] = True
        return mask

    def dense_weights(self):
        """The current weights as a dense matrix (``coef`` itself when dense)."""
        if self.kernel is None:
            return self.coef
        coef = np.zeros(self.coef.shape, dtype=self.weights.dtype)
        coef.flat[self.positions] = self.weights
        return coef


def narrow_hidden_layers(layers, policy, batch_size=200):
    """Take hidden neurons without alive outputs out of the products.

    A hidden neuron whose outgoing synapses are all pruned has no effect on
    the output, and the error back-propagated to it is exactly 0. Once
    ``policy.narrow_share`` of the neurons a hidden layer still computes are
    in that state, the compact layers on both sides are rebuilt over the
    others. The layer before must already be compact; the layer after is
    compacted for it if it is small (below ``policy.min_size``) or sparse
    enough to train compact anyway. Pruning is permanent, so a removed
    neuron never comes back; a neuron that dies after the rebuild is
    computed (uselessly, and exactly) until the next.

    Parameters
    ----------
    layers : list of SynapseLayer
        The network's weight matrices, input side first.
    policy : CompactionPolicy
        Gives ``narrow_share`` and the crossovers.
    batch_size : int or None, default=200
        Minibatch size of the products to come; None when the layers are
        never compact (L-BFGS), so nothing narrows.

    Returns
    -------
    changed : bool
        Whether any layer was rebuilt.
    """
    if policy.narrow_share is None:
        return False
    changed = False
    for into, out_of in zip(layers[:-1], layers[1:]):
        if not (into.is_compact and out_of.compactable):
            continue
        size = out_of.coef.size
        if not (
            out_of.is_compact
            or size < policy.min_size
            or policy.compact_for_training(out_of.density, size, batch_size)
        ):
            continue  # its kernels would be slower than its dense products
        n_computed = (
            into.coef.shape[1] if into.out_units is None else len(into.out_units)
        )
        live = np.flatnonzero(out_of.row_alive)
        if len(live) == 0 or n_computed - len(live) < policy.narrow_share * n_computed:
            continue
        into.set_units(into.in_units, live)
        out_of.set_units(live, out_of.out_units)
        changed = True
    return changed
