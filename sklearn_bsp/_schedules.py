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
