"""Pickle pruned networks in a size that follows their alive synapses.

A pruned weight matrix is mostly exact zeros, and so are the per-synapse
arrays that travel with it (pruning counters, momentum, Adam moments): all of
them are 0 wherever the mask is False. Storing only the alive entries, plus
the mask as bits, makes a pickle shrink with the compression while the round
trip stays exact.
"""

import copy

import numpy as np
import scipy.sparse as sp


class PackedMask:
    """A boolean array stored as bits (``numpy.packbits``)."""

    def __init__(self, mask):
        self.shape = mask.shape
        self.bits = np.packbits(mask, axis=None)

    def unpack(self):
        """Return the boolean array."""
        size = int(np.prod(self.shape))
        return np.unpackbits(self.bits, count=size).astype(bool).reshape(self.shape)


class AliveValues:
    """The entries of an array where a mask is True; zeros elsewhere."""

    def __init__(self, array, mask):
        self.shape = array.shape
        self.values = array[mask]

    def unpack(self, mask):
        """Return the full array, given the same mask."""
        full = np.zeros(self.shape, dtype=self.values.dtype)
        full[mask] = self.values
        return full


def pack(array, mask):
    """Pack ``array`` by ``mask`` when the shapes match and it saves space.

    Anything else (a compact 1-D layout, a sparse matrix, a mismatched shape,
    or an array that is not 0 wherever the mask is False, which packing would
    change) is returned unchanged, so the round trip is always exact.
    """
    if (
        isinstance(array, np.ndarray)
        and not sp.issparse(array)
        and array.shape == mask.shape
        and not mask.all()
        and not np.any(array[~mask])
    ):
        return AliveValues(array, mask)
    return array


def unpack(packed, mask):
    """Inverse of :func:`pack`."""
    if isinstance(packed, AliveValues):
        return packed.unpack(mask)
    return packed


def pack_list(arrays, masks):
    """:func:`pack` each array of a per-layer list with its layer's mask."""
    return [pack(a, m) for a, m in zip(arrays, masks)]


def unpack_list(arrays, masks):
    """Inverse of :func:`pack_list`."""
    return [unpack(a, m) for a, m in zip(arrays, masks)]


# Per-layer arrays of a fitted estimator that are 0 wherever their mask is
# False, with that mask's attribute.
MASKED_STATE = (
    ("coefs_", "coef_masks_"),
    ("pruning_counters_", "coef_masks_"),
    ("_best_coefs", "_best_masks"),
    ("_best_counters", "_best_masks"),
)
MASK_KEYS = ("coef_masks_", "_best_masks")


def _map_optimizer_slots(optimizer, masks, function):
    """A shallow copy of ``optimizer`` with ``function(array, mask)`` applied
    to the slots of its weight matrices (the biases' slots are left as is)."""
    optimizer = copy.copy(optimizer)
    slots = [dict(slot) for slot in optimizer.slots]
    for slot, mask in zip(slots, masks):
        for name, array in slot.items():
            slot[name] = function(array, mask)
    optimizer.slots = slots
    return optimizer


def pack_state(state):
    """Pack an estimator's ``__dict__`` for pickling.

    Weights, counters and optimizer slots keep their alive entries only;
    masks are stored as bits. Anything that is not a fitted pruned network
    passes through unchanged.

    Parameters
    ----------
    state : dict
        A copy of the estimator's ``__dict__`` (modified and returned).

    Returns
    -------
    state : dict
        The packed state.
    """
    masks = state.get("coef_masks_")
    if not isinstance(masks, list):
        return state
    for key, mask_key in MASKED_STATE:
        if key in state and mask_key in state:
            state[key] = pack_list(state[key], state[mask_key])
    if state.get("_optimizer") is not None:
        state["_optimizer"] = _map_optimizer_slots(state["_optimizer"], masks, pack)
    for mask_key in MASK_KEYS:
        if mask_key in state:
            state[mask_key] = [PackedMask(m) for m in state[mask_key]]
    return state


def unpack_state(state):
    """Inverse of :func:`pack_state`.

    Parameters
    ----------
    state : dict
        A packed state (modified and returned).

    Returns
    -------
    state : dict
        The estimator's ``__dict__``.
    """
    for mask_key in MASK_KEYS:
        if mask_key in state:
            state[mask_key] = [
                m.unpack() if isinstance(m, PackedMask) else m for m in state[mask_key]
            ]
    masks = state.get("coef_masks_")
    if not isinstance(masks, list):
        return state
    for key, mask_key in MASKED_STATE:
        if key in state and mask_key in state:
            state[key] = unpack_list(state[key], state[mask_key])
    if state.get("_optimizer") is not None:
        state["_optimizer"] = _map_optimizer_slots(state["_optimizer"], masks, unpack)
    return state
