"""The pruning schedules of Zhao & Zeng (2021), equations 1 and 2.

Both functions are plain arithmetic on counts; they know nothing about
networks or estimators. The printed equations are ambiguous in places; the
reading used here is explained in the user guide ("Interpretation choices")
and in the comments below.
"""

import math

# Constants fitted by the paper's authors (section 2.2 of the paper).
PAPER_ALPHA = 0.048
PAPER_BETA = 50.0
PAPER_MU = 146.0
PAPER_A = 1244.0
PAPER_B = 60000.0

# Eq 1 is clipped into this interval: a rate of 0.5 already makes half of the
# alive synapses candidates at every step.
MAX_PRUNING_RATE = 0.5


def _sample_term(n_samples):
    """Return ``D = ln(max(beta * Nsam / B, 1)) ** 2 + 1``, shared by eqs 1 and 2.

    Two readings of the printed equations (see the user guide):

    - The paper divides eq 1 by ``ln(beta * Nsam / B) ** 2``, which is zero for
      its own 1,200-sample runs (``50 * 1200 / 60000 = 1``). Adding 1, as eq 2
      does, keeps both equations finite for every sample count.
    - The paper states that ``pr`` falls and ``pc`` grows as ``Nsam`` grows.
      The bare square honours that only from ``Nsam = B / beta = 1,200`` up;
      below, it turns the log around, so a 100-sample data set would be
      pruned more weakly than a 1,200-sample one. Clamping the log at 0 gives
      the same values at both of the paper's settings and a ``D`` that never
      decreases with ``Nsam``.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
    return math.log(max(PAPER_BETA * n_samples / PAPER_B, 1.0)) ** 2 + 1.0


def auto_pruning_rate(n_neurons, n_samples):
    """Share of the alive synapses that become candidates at each step (eq 1).

    ``pr = alpha * ln(Nneu) / D``, clipped into ``[0, 0.5]``.

    Parameters
    ----------
    n_neurons : int
        Number of hidden neurons of the network at the start (summed over
        all hidden layers).
    n_samples : int
        Number of training samples.

    Returns
    -------
    rate : float
        The pruning rate, in ``[0, 0.5]``. A network with fewer than two
        hidden neurons gets 0 (``ln(1) = 0``): it has nothing to spare.
    """
    if n_neurons < 2:
        return 0.0
    rate = PAPER_ALPHA * math.log(n_neurons) / _sample_term(n_samples)
    return min(max(rate, 0.0), MAX_PRUNING_RATE)


def auto_pruning_patience(n_neurons, n_samples, n_synapses, n_pruned):
    """Number of consecutive candidate steps a synapse survives (eq 2).

    ``pc = 2 ** (N / (N - Np)) * A / Nneu + mu * D``.

    The first term grows without bound as ``Np -> N``, so the patience is
    recomputed at every step from the current number of pruned synapses and
    the network can never be pruned to nothing.

    Parameters
    ----------
    n_neurons : int
        Number of hidden neurons at the start (at least 1 is used, so a
        network without hidden layers does not divide by zero).
    n_samples : int
        Number of training samples.
    n_synapses : int
        Number of synapses ``N`` at the start.
    n_pruned : int
        Number of synapses ``Np`` pruned so far.

    Returns
    -------
    patience : float
        A synapse is pruned once its counter exceeds this value; ``inf``
        when every synapse is already pruned or the power overflows.
    """
    n_alive = n_synapses - n_pruned
    if n_alive <= 0:
        return math.inf
    exponent = n_synapses / n_alive
    # 2 ** 1024 overflows a double; such a patience is never reached anyway.
    if exponent >= 1024:
        return math.inf
    growth = 2.0**exponent * PAPER_A / max(n_neurons, 1)
    return growth + PAPER_MU * _sample_term(n_samples)


# ----------------------------------------------------------------------
# Beyond the paper: the pace that reaches a named compression in time.
# ----------------------------------------------------------------------

#: Minibatch updates before a target's pruning starts, and over which it
#: runs: magnitudes say which synapses are weak only once the network has
#: learned (pruned at initialisation, a net of iris' size lost 3-8 points in
#: the panel, see the user guide), and a slow cubic prunes fewer synapses
#: that the network still needs. Counted in updates, not epochs, so a data
#: set of 60,000 samples (300 updates an epoch) prunes from epoch 13 to 53,
#: and one of 150 samples within the caps below. Chosen on the panel of
#: the user guide ("The panel behind the default").
TARGET_WARMUP_UPDATES = 4000
TARGET_PRUNING_UPDATES = 12000
#: The window never starts later than this share of ``max_iter`` and never
#: lasts longer than this share, so the network keeps a fifth of the budget
#: or more to recover.
MAX_WARMUP_SHARE = 0.6
MAX_PRUNING_SHARE = 0.2
#: With L-BFGS each iteration sees all the data; the target is reached over
#: this share of ``max_iter`` from the start (L-BFGS restarts after each
#: pruning step and converges again).
LBFGS_PRUNING_SHARE = 0.1

#: Candidate rate of the rule when a target sets the pace: the weakest 30 %
#: of the alive synapses of each matrix compete, so that enough of them stay
#: candidates long enough for the schedule to pick from.
TARGET_PRUNING_RATE = 0.3

#: Patience periods per window: a synapse must stay a candidate for a
#: twentieth of the pruning window to be pruned.
TARGET_PATIENCE_PERIODS = 20


#: ``target_compression="auto"``: the target at these synapse counts, linear
#: in ``log10`` of the count between them and flat outside: 50 % for 1,000
#: synapses or fewer, 65 % at 10,000, 90 % from 50,000 up. Larger layers
#: hold more redundant synapses: in the panel (user guide), 4-100-3 on iris
#: lost 3 points at 65 % and none at 50 %, while scikit-learn's default
#: network on Fashion-MNIST (784-100-10, 79,400 synapses, 200 epochs) ended
#: closer to MLPClassifier at 90 % than at 85 % or 78.5 % (the pruned
#: network has less room to overfit in the epochs after the window).
AUTO_TARGET_POINTS = ((1_000, 0.5), (10_000, 0.65), (50_000, 0.9))


def auto_target_compression(n_synapses):
    """The compression ``target_compression="auto"`` aims at.

    Parameters
    ----------
    n_synapses : int
        Synapses of the network at the start.

    Returns
    -------
    target : float
        Interpolated in ``AUTO_TARGET_POINTS``, linear in
        ``log10(n_synapses)``; never decreasing with ``n_synapses``.
    """
    x = math.log10(max(n_synapses, 1))
    (n_first, target), *rest = AUTO_TARGET_POINTS
    if x <= math.log10(n_first):
        return target
    for (n_low, low), (n_high, high) in zip(AUTO_TARGET_POINTS, rest):
        x_low, x_high = math.log10(n_low), math.log10(n_high)
        if x <= x_high:
            return low + (high - low) * (x - x_low) / (x_high - x_low)
    return AUTO_TARGET_POINTS[-1][1]


def target_window(max_iter, updates_per_epoch=None):
    """Epochs (L-BFGS iterations) between which a target compression is reached.

    Parameters
    ----------
    max_iter : int
        The estimator's ``max_iter``.
    updates_per_epoch : int or None, default=None
        Minibatch updates per epoch; None for L-BFGS.

    Returns
    -------
    start, end : float
        The window, in epochs: from ``TARGET_WARMUP_UPDATES`` updates (at
        most ``MAX_WARMUP_SHARE * max_iter`` epochs) for the length of
        ``TARGET_PRUNING_UPDATES`` updates (at most ``MAX_PRUNING_SHARE *
        max_iter`` epochs, at least one update). With L-BFGS: from 0 to
        ``ceil(LBFGS_PRUNING_SHARE * max_iter)``.
    """
    if updates_per_epoch is None:
        return 0.0, float(max(1, math.ceil(LBFGS_PRUNING_SHARE * max_iter)))
    start = min(TARGET_WARMUP_UPDATES / updates_per_epoch, MAX_WARMUP_SHARE * max_iter)
    length = min(
        TARGET_PRUNING_UPDATES / updates_per_epoch, MAX_PRUNING_SHARE * max_iter
    )
    return start, start + max(length, 1.0 / updates_per_epoch)


def target_patience(steps_per_epoch, window):
    """The rule's patience when a target compression sets the pace.

    Parameters
    ----------
    steps_per_epoch : int
        Pruning steps per epoch (minibatches, or 1 for the epoch unit and
        for L-BFGS).
    window : tuple of float
        ``(start, end)`` of the pruning window, in epochs
        (:func:`target_window`).

    Returns
    -------
    patience : int
        The window's steps divided by ``TARGET_PATIENCE_PERIODS``, at
        least 1.
    """
    steps = steps_per_epoch * (window[1] - window[0])
    return max(1, round(steps / TARGET_PATIENCE_PERIODS))


def target_schedule(epoch, window, target):
    """Compression allowed after ``epoch`` epochs (Zhu & Gupta's cubic).

    ``s(e) = target * (1 - (1 - p) ** 3)`` with ``p = (e - start) / (end -
    start)`` clipped into ``[0, 1]``: nothing before the window, then fast
    while many weak synapses are left, slow near the end, and ``target``
    after it, as in TF-MOT's ``PolynomialDecay(power=3)``. The BSP rule still
    decides *which* synapses go (those that stayed candidates longer than the
    patience, weakest first); the schedule only bounds how many.

    Parameters
    ----------
    epoch : float
        Epochs done, fractions included (minibatches / batches per epoch).
    window : tuple of float
        ``(start, end)`` in epochs (:func:`target_window`).
    target : float
        The compression to reach, in ``(0, 1)``.

    Returns
    -------
    compression : float
        The most compression allowed at ``epoch``, in ``[0, target]``.
    """
    start, end = window
    progress = min(max((epoch - start) / (end - start), 0.0), 1.0)
    return target * (1.0 - (1.0 - progress) ** 3)
