"""Remove the hidden neurons that pruning has made dead, for prediction.

A hidden neuron whose outgoing synapses are all pruned has no effect on the
output; one whose incoming synapses are all pruned outputs the constant
``f(bias)``, which can be added once into the next layer's biases. Both
kinds are removed, so prediction works on a narrower network that computes
the same function (to float rounding).
"""

import numpy as np

from ._network import ACTIVATIONS


def remove_dead_neurons(coefs, intercepts, masks, activation):
    """Return a narrower network computing the same output.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Dense weights (0 where pruned) and biases of each layer.
    masks : list of ndarray of bool
        True where a synapse is alive.
    activation : str
        Name of the hidden activation.

    Returns
    -------
    coefs, intercepts, masks : list of ndarray
        The same layers without the dead hidden neurons (new arrays; the
        inputs and the outputs of the network are kept).
    """
    coefs = [np.asarray(c) for c in coefs]
    intercepts = [np.asarray(b) for b in intercepts]
    masks = list(masks)
    for i in range(len(coefs) - 1):
        has_in = masks[i].any(axis=0)
        has_out = masks[i + 1].any(axis=1)
        constant = ~has_in & has_out
        if constant.any():
            # A neuron without inputs outputs f(bias): fold it into the
            # next layer's biases.
            value = intercepts[i][constant].copy()
            ACTIVATIONS[activation](value)
            intercepts[i + 1] = intercepts[i + 1] + value @ coefs[i + 1][constant]
        keep = has_in & has_out
        if keep.all():
            continue
        coefs[i] = coefs[i][:, keep]
        masks[i] = masks[i][:, keep]
        intercepts[i] = intercepts[i][keep]
        coefs[i + 1] = coefs[i + 1][keep]
        masks[i + 1] = masks[i + 1][keep]
    return coefs, intercepts, masks
