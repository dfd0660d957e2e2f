"""The BSP rule's bookkeeping during one fit.

The rule itself (candidates by rate, consecutive-candidate counters, pruning
after a patience) is :class:`~sklearn_bsp._pruning.SynapticPruner`; the
schedules it follows are :mod:`~sklearn_bsp._schedules`. What one fit adds
around them lives here: the compression budget (``max_compression``, the
target and the cubic schedule that paces it), the patience in force (eq 2
recomputes it as the network shrinks), the guard's veto, the width of the
counters and the storage of the layers. The estimator builds one controller
per fit, calls :meth:`PruningController.step` where the solver's loop allows
a step, and publishes the controller's counts as its fitted attributes.
"""

import math

import numpy as np

from ._guard import ReachabilityGuard
from ._layers import (
    NARROW_COUNTER_LIMIT,
    CompactionPolicy,
    SynapseLayer,
    narrow_hidden_layers,
)
from ._pruning import SynapticPruner
from ._schedules import (
    TARGET_PRUNING_RATE,
    auto_pruning_patience,
    auto_pruning_rate,
    auto_target_compression,
    target_patience,
    target_schedule,
    target_window,
)

# The largest count the rule's int32 counters hold.
COUNTER_MAX = int(np.iinfo(np.int32).max)


class PruningController:
    """The compression budget, the patience and the layers of one fit.

    Owns, for the length of one ``fit`` (or one ``partial_fit`` call): the
    synapse count and how many are pruned, the caps on that count
    (``max_compression``, the target) and the target's window and schedule,
    the patience in force and its recomputation, the pruner, the guard that
    keeps every output reachable, the width of the rule's counters (uint16
    while no count can pass :data:`~sklearn_bsp._layers.NARROW_COUNTER_LIMIT`)
    and the layers' training storage. The estimator's ``coefs_``,
    ``coef_masks_`` and ``pruning_counters_`` are the layers' dense arrays,
    updated in place.

    Parameters
    ----------
    coefs, masks, counters : list of ndarray
        The estimator's weight matrices, alive flags and int32 counters.
    slots : list of dict
        The optimizer's per-synapse arrays of each matrix (empty dicts for
        L-BFGS).
    n_samples : int
        The training-set size eqs 1 and 2 take.
    max_iter : int
        The fit's epoch (L-BFGS iteration) budget; it places the window.
    pruning_rate, pruning_patience, pruning_scope, max_compression, \
target_compression
        The estimator's parameters.
    steps_per_epoch : int, default=1
        Steps of the rule per epoch (batches with ``pruning_unit='batch'``).
    updates_per_epoch : int or None, default=None
        Optimizer updates per epoch; None for L-BFGS (one per iteration).
    epochs : int, default=0
        Epochs (L-BFGS iterations) trained before this fit: the target's
        schedule goes on from there.
    batch_size : int or None, default=None
        The solver's batch size; None keeps every layer dense with int32
        counters (L-BFGS works on the dense arrays).
    sparse_input : bool, default=False
        Whether ``X`` is a scipy.sparse matrix: the first layer then keeps
        scipy.sparse's product (the kernels multiply dense input).
    policy : CompactionPolicy or None, default=None
        Where compact storage pays; None takes the default policy.
    narrow_counter_limit : int, default=NARROW_COUNTER_LIMIT
        Counts up to this many steps are kept in uint16.
    pruner : SynapticPruner or None, default=None
        The previous call's pruner, kept when its rate and scope still
        apply (its cached threshold band makes the next step cheap).

    Attributes
    ----------
    layers : list of SynapseLayer
        The weight matrices in their training storage.
    guard : ReachabilityGuard or None
        None when the rule is off (rate 0).
    pruner : SynapticPruner
    n_synapses, n_pruned : int
    max_pruned : int or None
        ``max_compression``'s cap on ``n_pruned``.
    pruning_rate_ : float
    target_compression_ : float or None
    window : tuple of float
        The epochs in which the target's schedule runs.
    patience : float
        The patience in force, as computed (eq 2 gives fractions).
    epochs : int
        Epochs (L-BFGS iterations) completed, earlier fits' included.
    """

    def __init__(
        self,
        coefs,
        masks,
        counters,
        slots,
        *,
        n_samples,
        max_iter,
        pruning_rate="auto",
        pruning_patience="auto",
        pruning_scope="layer",
        max_compression=None,
        target_compression="auto",
        steps_per_epoch=1,
        updates_per_epoch=None,
        epochs=0,
        batch_size=None,
        sparse_input=False,
        policy=None,
        narrow_counter_limit=NARROW_COUNTER_LIMIT,
        pruner=None,
    ):
        self.n_samples = n_samples
        self.pruning_patience = pruning_patience
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.batch_size = batch_size
        self.policy = CompactionPolicy() if policy is None else policy
        self.narrow_counter_limit = narrow_counter_limit
        self.n_hidden_neurons = int(sum(c.shape[1] for c in coefs[:-1]))
        self.n_synapses = int(sum(c.size for c in coefs))

        if target_compression == "auto":
            self.target_compression_ = auto_target_compression(self.n_synapses)
        else:
            self.target_compression_ = target_compression
        paced = self.target_compression_ is not None
        self.window = target_window(max_iter, updates_per_epoch)
        if pruning_rate == "paper" or (pruning_rate == "auto" and not paced):
            self.pruning_rate_ = auto_pruning_rate(self.n_hidden_neurons, n_samples)
        elif pruning_rate == "auto":
            self.pruning_rate_ = TARGET_PRUNING_RATE
        else:
            self.pruning_rate_ = float(pruning_rate)
        self.target_patience = target_patience(steps_per_epoch, self.window)
        self.recount(masks)
        self.patience = self.current_patience()
        if (
            pruner is None
            or pruner.rate != self.pruning_rate_
            or pruner.scope != pruning_scope
        ):
            pruner = SynapticPruner(self.pruning_rate_, scope=pruning_scope)
        self.pruner = pruner
        self.max_pruned = (
            None
            if max_compression is None
            else math.floor(max_compression * self.n_synapses)
        )
        self.layers = self._build_layers(coefs, masks, counters, slots, sparse_input)
        self.guard = ReachabilityGuard(self.layers) if self.pruning else None

    # ------------------------------------------------------------------
    # Counts
    # ------------------------------------------------------------------

    @property
    def pruning(self):
        """Whether the rule is on (a rate above 0)."""
        return self.pruning_rate_ > 0

    @property
    def compression(self):
        """Share of the synapses pruned."""
        return self.n_pruned / self.n_synapses

    @property
    def pruning_patience_(self):
        """The patience in force as an int (see :meth:`current_patience`).

        An integer counter exceeds ``p`` exactly when it exceeds
        ``floor(p)``. A patience no int32 counter can exceed (eq 2 grows
        without bound) is reported as the largest count a counter holds.
        """
        return int(min(self.patience, COUNTER_MAX))

    def publish(self, estimator):
        """Set the fitted attributes that follow the counts on ``estimator``.

        Parameters
        ----------
        estimator : BaseBSP
            The estimator being fitted; its ``compression_`` and
            ``pruning_patience_`` are set from this fit's counts.
        """
        estimator.compression_ = self.compression
        estimator.pruning_patience_ = self.pruning_patience_

    def recount(self, masks):
        """Count the pruned synapses anew from the alive flags ``masks``."""
        alive = sum(int(np.count_nonzero(m)) for m in masks)
        self.n_pruned = self.n_synapses - alive

    def current_patience(self):
        """The patience the rule compares the counters with, as computed.

        ``'paper'`` (and ``'auto'`` without a target) is eq 2, which grows
        with the pruned count; ``'auto'`` with a target is the pace that
        reaches it within the window; an int is itself.
        """
        paper = self.pruning_patience == "paper" or (
            self.pruning_patience == "auto" and self.target_compression_ is None
        )
        if paper:
            return auto_pruning_patience(
                self.n_hidden_neurons, self.n_samples, self.n_synapses, self.n_pruned
            )
        if self.pruning_patience == "auto":
            return float(self.target_patience)
        return float(self.pruning_patience)

    # ------------------------------------------------------------------
    # Budget and schedule
    # ------------------------------------------------------------------

    def epochs_done(self, steps_done=0):
        """Epochs of training so far, ``steps_done`` steps into the next one."""
        return self.epochs + steps_done / self.steps_per_epoch

    def final_pruned(self):
        """Most synapses this fit may prune in all; None when unbounded."""
        caps = []
        if self.max_pruned is not None:
            caps.append(self.max_pruned)
        if self.target_compression_ is not None:
            caps.append(math.floor(self.target_compression_ * self.n_synapses))
        return min(caps) if caps else None

    def room(self, steps_done=0):
        """Synapses the rule may prune at this step; None when unbounded.

        ``max_compression`` caps the whole fit; the target caps it too and,
        through its cubic schedule, paces it.
        """
        final = self.final_pruned()
        if final is None:
            return None
        if self.target_compression_ is not None:
            allowed = target_schedule(
                self.epochs_done(steps_done), self.window, self.target_compression_
            )
            final = min(final, math.floor(allowed * self.n_synapses))
        return max(final - self.n_pruned, 0)

    def target_pending(self):
        """Whether a target is set, pruning is on, and the target not reached."""
        return (
            self.target_compression_ is not None
            and self.pruning
            and self.n_pruned < self.final_pruned()
        )

    def still_pruning(self):
        """Whether the target's schedule is running (no stopping yet)."""
        start, end = self.window
        return self.target_pending() and start <= self.epochs_done() < end

    def open_window_on_convergence(self):
        """Start the target's window now if the dense network has converged.

        The warm-up only gives the network time to learn; once the stopping
        rule says it has, pruning starts at once (same length, same
        patience) instead of the fit idling until the planned start.

        Returns
        -------
        moved : bool
            Whether the window moved.
        """
        start, end = self.window
        now = self.epochs_done()
        if now >= start or not self.target_pending():
            return False
        self.window = (now, now + end - start)
        return True

    # ------------------------------------------------------------------
    # The rule's steps
    # ------------------------------------------------------------------

    def _build_layers(self, coefs, masks, counters, slots, sparse_input):
        compactable = [not sparse_input] + [True] * (len(coefs) - 1)
        if self.batch_size is None:
            compactable = [False] * len(coefs)
        narrow = (
            self.batch_size is not None
            and self.pruning
            and self.current_patience() < self.narrow_counter_limit
        )
        layers = [
            SynapseLayer(
                coef,
                mask,
                counter,
                slot,
                compactable=ok,
                narrow_counters=narrow,
                counter_limit=self.narrow_counter_limit,
            )
            for coef, mask, counter, slot, ok in zip(
                coefs, masks, counters, slots, compactable
            )
        ]
        for layer in layers:
            layer.update_storage(self.policy, self.batch_size)
        # Only compact layers narrow: never with L-BFGS (batch_size None).
        narrow_hidden_layers(layers, self.policy, self.batch_size)
        return layers

    def step(self, steps_done=0):
        """One step of the BSP rule over the layers' current storage.

        Parameters
        ----------
        steps_done : int, default=0
            Steps of the current epoch before this one (the target's
            schedule advances within an epoch).

        Returns
        -------
        pruned : bool
            Whether the step pruned any synapse.
        """
        if not self.pruning:
            return False
        final = self.final_pruned()
        if final is not None and self.n_pruned >= final:
            # max_compression or the target reached: the rule is over for
            # this fit (and costs nothing more).
            return False
        if self.target_compression_ is not None and self.patience < (
            (self.window[0] - self.epochs_done(steps_done)) * self.steps_per_epoch
        ):
            # Still learning before the target's window: no synapse could
            # be pruned before it opens, so the rule need not count yet.
            return False
        # Below the schedule's bound the rule still counts (room 0 prunes
        # nothing), so candidacy stays consecutive.
        room = self.room(steps_done)
        self.patience = self.current_patience()
        layers = self.layers
        for layer in layers:
            layer.fit_counters(self.patience)
        vetoed = None

        def guard(over):
            # The pruner asks at most once per step, only when it would
            # prune; the verdict's veto stays with this step.
            nonlocal vetoed
            verdict = self.guard.verdict(over)
            vetoed = verdict.vetoed
            return verdict.allowed

        pruned = self.pruner.step(
            [layer.weights for layer in layers],
            [layer.alive for layer in layers],
            [layer.counts for layer in layers],
            self.patience,
            max_pruned=room,
            guard=guard,
        )
        if vetoed is not None:
            # The only counts that run past the patience: synapses the guard
            # keeps alive although they are over it.
            for layer, kept in zip(layers, vetoed):
                layer.fit_counters(self.patience, kept)
        any_pruned = False
        for layer, positions in zip(layers, pruned):
            if positions is not None:
                any_pruned = True
                layer.prune(positions)
                layer.update_storage(self.policy, self.batch_size)
        if any_pruned:
            narrow_hidden_layers(layers, self.policy, self.batch_size)
            self.n_pruned = self.n_synapses - sum(layer.n_alive for layer in layers)
        return any_pruned
