"""Whether pruning damaged the network: the loss watch and the probe.

A fit that pruned more than its network could lose should say so, and name
what to change. :class:`DamageWatch` reads the training loss epoch by epoch;
when it has nothing to compare with (the rule pruned before the network had
learned), :func:`probe_pruned_synapses` measures the damage with two short
L-BFGS runs on copies of the weights. :func:`check_damage`, called by the
estimator's solvers once a fit ends, runs both and warns. A loss that runs
away is caught earlier, epoch by epoch (:func:`diverged`), and ends the fit
with an error. Nothing here changes the estimator or draws from its random
state.
"""

import warnings

import numpy as np
import scipy.optimize

from ._layers import SynapseLayer
from ._network import LOSS_FUNCTIONS, MaskedNetwork, loss_name
from ._optimizers import lbfgs_takes_iprint

# A fit whose best training loss since its last pruning step stays above this
# multiple of the lowest one before it warns that pruning damaged the network
# (a recovered network comes back to within a few percent).
_DAMAGE_FACTOR = 1.5
# A rule that prunes before the network has learned leaves no such loss to
# compare with. The probe then compares short L-BFGS runs with and without
# the pruned synapses (probe_pruned_synapses): with them, the loss
# must fall below the other by more than _DAMAGE_FACTOR times and by more
# than this share of the loss of the best constant prediction. Damaged fits
# measured 0.5 or more (e.g. 1 of 20 inputs kept), healthy ones 0.13 or less
# (random labels on 30 samples; digits, diabetes: 0.05 or less).
_DAMAGE_SHARE = 0.25
# The probe's L-BFGS iterations, and the most rows it reads: each run holds
# every hidden activation of those rows at once (10,000 rows of a 500-unit
# layer, 60 MB: five times an MLPClassifier fit's peak); 2,000 rows told the
# same losses apart on Fashion-MNIST within 2 %.
_PROBE_ITER = 10
_PROBE_MAX_SAMPLES = 2_000


class DamageWatch:
    """Whether pruning damaged the network, from the training loss.

    Records the lowest loss reached before the last pruning step and the best
    one since: a network whose best since stays above ``_DAMAGE_FACTOR``
    times the former did not recover what pruning took.
    """

    def __init__(self):
        self._lowest = np.inf
        self._before = None
        self._after = np.inf

    def record(self, loss, pruned):
        """Take an epoch's (an iteration's) loss; ``pruned``: it pruned."""
        if pruned:
            self._before, self._after = self._lowest, loss
        else:
            self._after = min(self._after, loss)
        self._lowest = min(self._lowest, loss)

    def damaged(self):
        """Whether the network stayed far above its loss before pruning."""
        return (
            self._before is not None
            and np.isfinite(self._before)
            and self._after > _DAMAGE_FACTOR * self._before
        )

    def losses(self):
        """The loss before the last pruning step, and the best since."""
        return self._before, self._after

    def pruned(self):
        """Whether any recorded epoch (iteration) pruned."""
        return self._before is not None


def _lbfgs_probe(estimator, masks, X, y, sample_weight, max_iter, stop_below=-np.inf):
    """Training loss of the fitted network after a short L-BFGS run.

    Parameters
    ----------
    estimator : BaseBSP
        The fitted estimator; its weights are copied, never changed.
    masks : list of ndarray of bool
        The synapses free to move (the others stay at 0).
    X, y, sample_weight : ndarray
        Training data, ``y`` in the form the loss takes.
    max_iter : int
        Most iterations; 0 returns the loss of the fitted weights.
    stop_below : float, default=-inf
        Stop once the loss is at or below this value.

    Returns
    -------
    loss : float
        The lowest loss reached.
    n_iter : int
        The iterations run.
    """
    network = _probe_network(estimator, masks)
    params = [layer.coef for layer in network.layers] + network.intercepts
    selectors = [None if m.all() else m for m in masks]
    selectors += [None] * len(network.intercepts)
    sizes = [p.size if s is None else int(s.sum()) for p, s in zip(params, selectors)]
    bounds = np.cumsum([0] + sizes)

    def pack(arrays):
        return np.hstack(
            [a.ravel() if s is None else a[s] for a, s in zip(arrays, selectors)]
        )

    def loss_grad(packed):
        for k, (param, sel) in enumerate(zip(params, selectors)):
            part = packed[bounds[k] : bounds[k + 1]]
            if sel is None:
                param[...] = part.reshape(param.shape)
            else:
                param[sel] = part
        loss, coef_grads, intercept_grads = network.backprop(X, y, sample_weight)
        return loss, pack(coef_grads + intercept_grads)

    start = pack(params)
    if max_iter == 0:
        return float(loss_grad(start)[0]), 0

    def callback(intermediate_result):  # scipy needs this one name
        if intermediate_result.fun <= stop_below:
            raise StopIteration

    result = scipy.optimize.minimize(
        loss_grad,
        start,
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={
            "maxiter": max_iter,
            "maxfun": 2 * max_iter + 5,
            "gtol": estimator.tol,
            **({"iprint": -1} if lbfgs_takes_iprint() else {}),
        },
    )
    return float(result.fun), int(result.nit)


def check_damage(estimator, damage, X, y, sample_weight, probe=True):
    """Warn when pruning damaged the network.

    The loss curve tells first (:class:`DamageWatch`). It needs a loss
    the network reached before the last pruning step to compare with,
    and a rule that prunes before the network has learned (L-BFGS prunes
    from its first iteration; a short patience does it in any solver)
    leaves none. The probe then measures the damage directly
    (:func:`probe_pruned_synapses`).

    Parameters
    ----------
    estimator : BaseBSP
        The fitted estimator, read only.
    damage : DamageWatch
        The watch that followed the fit's losses.
    X, y, sample_weight : ndarray
        Training data, ``y`` in the form the loss takes.
    probe : bool, default=True
        Whether the probe may run (one ``partial_fit`` call is too short
        for it).
    """
    # The warnings' stacklevel names the user's fit call: estimator.fit ->
    # _fit -> _fit_checked -> the solver -> check_damage -> the warning.
    if damage.damaged():
        before, after = damage.losses()
        # A loss that doubled from nearly nothing (a network that fitted
        # its training set almost exactly before pruning) lost little of
        # what it learned: damage is also a share of the loss the network
        # had removed from that of the best constant prediction.
        null = _null_loss(estimator, y, sample_weight)
        if not np.isfinite(null) or after - before > _DAMAGE_SHARE * (null - before):
            warn_damaged(estimator, before, after, stacklevel=6)
    elif probe and damage.pruned():
        cost = probe_pruned_synapses(estimator, X, y, sample_weight)
        if cost is not None:
            warn_pruning_cost(estimator, *cost)


def _null_loss(estimator, y, sample_weight):
    """The training loss of the best constant prediction (NaN if undefined)."""
    with np.errstate(all="ignore"):
        constant = np.average(y, axis=0, weights=sample_weight)
        prediction = np.broadcast_to(constant, y.shape).astype(
            estimator.coefs_[0].dtype
        )
        loss_function = LOSS_FUNCTIONS[
            loss_name(estimator.loss, estimator.out_activation_)
        ]
        return float(loss_function(y, prediction, sample_weight))


def probe_pruned_synapses(estimator, X, y, sample_weight):
    """Whether the pruned synapses hold what the network needs.

    Two short L-BFGS runs from the fitted weights, on the training data
    (at most ``_PROBE_MAX_SAMPLES`` rows): one with the pruned synapses
    given back, one without (the control: an optimizer that trains on
    from here, as adam's fits can, lowers the loss without them too).
    Pruning damaged the network when the first ends far below the
    second: by more than ``_DAMAGE_FACTOR`` times, and by more than
    ``_DAMAGE_SHARE`` of the loss the network can remove from that of
    the best constant prediction. Neither run changes the estimator or
    draws random numbers.

    Returns
    -------
    cost : tuple or None
        ``(loss_without, loss_with, null_loss, n_iter)`` when pruning
        damaged the network, None otherwise.
    """
    n_samples = X.shape[0]
    if n_samples > _PROBE_MAX_SAMPLES:
        # Evenly spaced rows: deterministic, and every stretch of the
        # data has its share.
        rows = slice(None, None, -(-n_samples // _PROBE_MAX_SAMPLES))
        X, y = X[rows], y[rows]
        if sample_weight is not None:
            sample_weight = sample_weight[rows]
    if sample_weight is not None and not sample_weight.sum() > 0:
        return None
    full = [np.ones(m.shape, dtype=bool) for m in estimator.coef_masks_]
    null_loss = _null_loss(estimator, y, sample_weight)
    with np.errstate(all="ignore"):
        loss, _ = _lbfgs_probe(estimator, estimator.coef_masks_, X, y, sample_weight, 0)
        # Damage needs loss - with >= share * (null - with), with >= 0:
        # a network that already removed most of the null loss is
        # spared both runs.
        if not (np.isfinite(null_loss) and loss >= _DAMAGE_SHARE * null_loss > 0):
            return None
        target = min(
            (loss - _DAMAGE_SHARE * null_loss) / (1 - _DAMAGE_SHARE),
            loss / _DAMAGE_FACTOR,
        )
        with_pruned, n_iter = _lbfgs_probe(
            estimator, full, X, y, sample_weight, _PROBE_ITER, stop_below=target
        )
        if not with_pruned <= target or not with_pruned < null_loss:
            # Not far below, or nothing to learn beyond the constant
            # (constant targets): no share of it can be lost.
            return None
        # The control, with as many iterations: it must stay above what
        # the network reached with every synapse.
        floor = max(
            _DAMAGE_FACTOR * with_pruned,
            with_pruned + _DAMAGE_SHARE * (null_loss - with_pruned),
        )
        without, _ = _lbfgs_probe(
            estimator,
            estimator.coef_masks_,
            X,
            y,
            sample_weight,
            n_iter,
            stop_below=floor,
        )
    if not without > floor:
        return None
    return without, with_pruned, null_loss, n_iter


def warn_pruning_cost(estimator, without, with_pruned, null_loss, n_iter):
    """Warn with what the probe measured, and name what to change."""
    # A lower bound: the probe stops once the damage is plain.
    share = (without - with_pruned) / (null_loss - with_pruned)
    n_inputs = int(np.count_nonzero(estimator.coef_masks_[0].any(axis=1)))
    capped = estimator.max_compression is not None
    if estimator.target_compression_ is None:
        advice = (
            "Lower pruning_rate or raise pruning_patience (the rule may have "
            "pruned before the network had learned which synapses matter), "
            + (
                "lower max_compression"
                if capped
                else "set target_compression or max_compression to bound it"
            )
        )
    else:
        advice = "Lower target_compression" + (" or max_compression" if capped else "")
    warnings.warn(
        f"Pruning damaged the network: given its pruned synapses back, it "
        f"lowers its training loss to {with_pruned:.4g} in {n_iter} L-BFGS "
        f"iteration(s), against {without:.4g} without them; the best "
        f"constant prediction scores {null_loss:.4g}, so pruning cost at "
        f"least {share:.0%} of what the network learns "
        f"({estimator.compression_:.1%} of the synapses pruned; hidden neurons "
        f"still connected: {connected_hidden(estimator)} of "
        f"{estimator._hidden_layer_sizes()}; input features still connected: "
        f"{n_inputs} of {estimator.coef_masks_[0].shape[0]}). {advice}, or widen "
        "hidden_layer_sizes.",
        UserWarning,
        stacklevel=6,
    )


def connected_hidden(estimator):
    """Hidden neurons per layer with an alive input and an alive output."""
    return [
        int(np.count_nonzero(m_in.any(axis=0) & m_out.any(axis=1)))
        for m_in, m_out in zip(estimator.coef_masks_[:-1], estimator.coef_masks_[1:])
    ]


def _probe_network(estimator, masks):
    """A dense network over copies of the weights, without dropout."""
    coefs = [np.array(c) for c in estimator.coefs_]
    layers = [
        SynapseLayer(
            coef,
            mask.copy(),
            np.zeros(coef.shape, dtype=np.int32),
            {},
            compactable=False,
        )
        for coef, mask in zip(coefs, masks)
    ]
    return MaskedNetwork(
        layers,
        [b.copy() for b in estimator.intercepts_],
        estimator.activation,
        estimator.out_activation_,
        loss=estimator.loss,
        alpha=estimator.alpha,
    )


def warn_if_nearly_dead(estimator):
    """Warn when a weight matrix has fewer alive synapses than neurons to feed.

    Parameters
    ----------
    estimator : BaseBSP
        The fitted estimator (its masks, compression and target).
    """
    # Fewer alive synapses into a layer than it has neurons: most of them
    # compute a constant. The guard keeps the outputs reachable, but such
    # a network has lost what it learned. With a target compression the
    # structure is what the user asked for (a narrow input layer of a
    # small network is then normal); the loss says whether it hurt
    # (warn_damaged).
    if estimator.target_compression_ is not None:
        return
    starved = [
        i
        for i, mask in enumerate(estimator.coef_masks_)
        if np.count_nonzero(mask) < mask.shape[1]
    ]
    if starved:
        warnings.warn(
            f"Pruning left almost nothing alive ({estimator.compression_:.2%} of "
            f"the synapses pruned; weight matrices {starved} have fewer "
            "alive synapses than neurons to feed). Set max_compression, "
            "or lower pruning_rate or raise pruning_patience.",
            UserWarning,
            stacklevel=7,
        )


def warn_damaged(estimator, loss_before, best_loss_after, stacklevel=5):
    # Name what to change; a layer left with few neurons is the usual
    # cause (pruning took their inputs or outputs).
    alive = connected_hidden(estimator)
    warnings.warn(
        f"Pruning damaged the network: its training loss stayed at "
        f"{best_loss_after:.4g} or more since the last pruning step, against "
        f"{loss_before:.4g} reached before it ("
        f"{estimator.compression_:.1%} of the "
        f"synapses pruned; hidden neurons still connected: {alive} of "
        f"{estimator._hidden_layer_sizes()}). Lower target_compression or "
        "max_compression (without a target: lower pruning_rate or raise "
        "pruning_patience), raise max_iter so the network has time to "
        "recover, or widen hidden_layer_sizes.",
        UserWarning,
        stacklevel=stacklevel,
    )


# A loss this many times its first value (or 1) means the weights are
# running away: cross-entropy that large needs logits in the thousands.
_DIVERGENCE_FACTOR = 1e4


def diverged(loss, loss_curve):
    """Whether an epoch's loss shows a diverging fit.

    Parameters
    ----------
    loss : float
        The epoch's (the iteration's) training loss.
    loss_curve : list of float
        The losses of the epochs before it.

    Returns
    -------
    diverged : bool
        True for a non-finite loss, or one above ``_DIVERGENCE_FACTOR``
        times the first loss (or 1).
    """
    if not np.isfinite(loss):
        return True
    reference = max(loss_curve[0] if loss_curve else loss, 1.0)
    return loss > _DIVERGENCE_FACTOR * reference


def divergence_message(loss, n_iter):
    """The error message of a diverged fit, with what to change.

    Parameters
    ----------
    loss : float
        The loss that showed the divergence.
    n_iter : int
        The epoch (the iteration) it was reached at.

    Returns
    -------
    message : str
        Starts like scikit-learn's message, so code that matches it still
        does.
    """
    reason = (
        "Solver produced non-finite parameter weights. The input data may "
        "contain large values and need to be preprocessed."
        if not np.isfinite(loss)
        else f"The loss became {loss:.3g}."
    )
    return (
        f"{reason} The fit diverged at iteration {n_iter}: lower "
        "learning_rate_init, or scale the input (e.g. with StandardScaler)."
    )
