"""Pickle pruned networks in a size that follows their alive synapses.

A pruned weight matrix is mostly exact zeros, and so are the per-synapse
arrays that travel with it (pruning counters, momentum, Adam moments): all of
them are 0 wherever the mask is False. Storing only the alive entries, plus
the mask as bits, makes a pickle shrink with the compression while the round
trip stays exact.
"""

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
