"""The guard against a dead network: no pruning step cuts an output off.

Beyond the paper. A neuron is *reachable* when an alive path of synapses leads
to it from the input. The guard keeps, for every neuron, the number of alive
synapses it receives from reachable neurons, and updates those counts as the
rule prunes: a step that removes ``k`` synapses costs ``O(k)``, plus the
outgoing synapses of any neuron that loses its last reachable input. Only
when a step would leave an output neuron unreachable does the guard step in:
the synapses of one alive path into every output neuron (the strongest, see
:func:`~sklearn_bsp._pruning.output_paths`) stay alive for that step. It
never binds otherwise, so runs that never come near a dead network are
exactly the paper's.
"""

from typing import NamedTuple

import numpy as np

from ._pruning import output_paths


class Verdict(NamedTuple):
    """The guard's answer on the synapses a step is about to prune.

    Attributes
    ----------
    allowed : list of ndarray of intp
        Per layer, storage positions of the synapses that may be pruned.
    vetoed : list of ndarray of intp or None
        Per layer, storage positions of the synapses kept alive (their
        counters run on); None when the guard kept none.
    """

    allowed: list
    vetoed: list | None


class ReachabilityGuard:
    """Counts of reachable inputs per neuron, kept in step with pruning.

    Parameters
    ----------
    layers : list of SynapseLayer
        The network's weight matrices in their training storage. Their alive
        flags must be those of the network when the guard is built, and the
        guard must see every step that prunes (through :meth:`verdict` or
        :meth:`__call__`).
    """

    def __init__(self, layers):
        self.layers = layers
        reach = np.ones(layers[0].coef.shape[0], dtype=bool)
        self.reach = [reach]
        self.counts = []
        for layer in layers:
            counts = layer.dense_alive()[reach].sum(axis=0, dtype=np.int64)
            self.counts.append(counts)
            reach = counts > 0
            self.reach.append(reach)

    def _simulate(self, over):
        """Counts and reachability after pruning ``over`` (nothing is changed)."""
        counts = [c.copy() for c in self.counts]
        reach = [r.copy() for r in self.reach]
        dying = np.empty(0, dtype=np.intp)  # sources that lost their last input
        for i, (layer, positions) in enumerate(zip(self.layers, over)):
            n_out = layer.coef.shape[1]
            # A source that died takes all its alive outgoing synapses along.
            for source in dying:
                np.subtract.at(counts[i], layer.alive_targets(source), 1)
            if positions.size:
                dense = layer.dense_positions(positions)
                rows, cols = np.divmod(dense, n_out)
                from_reachable = reach[i][rows]
                np.subtract.at(counts[i], cols[from_reachable], 1)
            dying = np.flatnonzero(reach[i + 1] & (counts[i] <= 0))
            reach[i + 1][dying] = False
        return counts, reach

    def verdict(self, over):
        """Judge a step and record the synapses it may prune as pruned.

        Parameters
        ----------
        over : list of ndarray of intp
            Per layer, positions (in the layer's storage) of the synapses the
            rule is about to prune.

        Returns
        -------
        verdict : Verdict
            ``allowed`` is ``over`` itself when every output stays
            reachable (``vetoed`` None); otherwise ``over`` without the
            synapses of one path into every output, which are ``vetoed``.
        """
        vetoed = None
        counts, reach = self._simulate(over)
        if not reach[-1].all():
            masks = [layer.dense_alive() for layer in self.layers]
            weights = [layer.dense_weights() for layer in self.layers]
            paths = output_paths(weights, masks)
            on_path = [
                path.flat[layer.dense_positions(positions)]
                for positions, path, layer in zip(over, paths, self.layers)
            ]
            vetoed = [p[keep] for p, keep in zip(over, on_path)]
            over = [p[~keep] for p, keep in zip(over, on_path)]
            counts, reach = self._simulate(over)
        self.counts, self.reach = counts, reach
        return Verdict(over, vetoed)

    def __call__(self, over):
        """The synapses of ``over`` that may be pruned (the pruner's guard).

        See :meth:`verdict`, whose ``allowed`` this returns.
        """
        return self.verdict(over).allowed
