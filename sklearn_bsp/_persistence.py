"""Persist pruned networks in a size that follows their alive synapses.

A pruned weight matrix is mostly exact zeros, and so are the per-synapse
arrays that travel with it (pruning counters, momentum, Adam moments): all of
them are 0 wherever the mask is False. Storing only the alive entries, plus
the mask as bits, makes a pickle shrink with the compression while the round
trip stays exact.

The packed state holds nothing but NumPy arrays, numbers, strings, lists and
dicts, next to scikit-learn's own objects: loaders that accept only trusted
types, such as ``skops.io``, need to trust the estimator's class alone. Weights
stored as scipy.sparse matrices (``sparsify_coefs()``) travel as their
compressed arrays in a plain dict and are rebuilt on loading.
"""

import numpy as np
import scipy.sparse as sp

from . import _optimizers

# Marker keys of the plain dicts that stand for packed arrays.
_BITS = "__sklearn_bsp_bits__"
_ALIVE = "__sklearn_bsp_alive_values__"
_OPTIMIZER = "__sklearn_bsp_optimizer__"
_SPARSE = "__sklearn_bsp_sparse__"

# The scipy.sparse classes stored by their compressed arrays, by name; a
# stored state names one of these, never an arbitrary class.
SPARSE_CLASSES = {
    cls.__name__: cls
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array)
}

# Per-layer arrays of a fitted estimator that are 0 wherever their mask is
# False, with that mask's attribute.
MASKED_STATE = (
    ("coefs_", "coef_masks_"),
    ("pruning_counters_", "coef_masks_"),
    ("_best_coefs", "_best_masks"),
    ("_best_counters", "_best_masks"),
)
MASK_KEYS = ("coef_masks_", "_best_masks")
# Rebuilt when needed: the pruner at the next fit, the inference network on
# loading.
TRANSIENT = ("_pruner", "_inference")


def pack_mask(mask):
    """A boolean array as bits (``numpy.packbits``) in a plain dict."""
    return {_BITS: np.packbits(mask, axis=None), "shape": list(mask.shape)}


def unpack_mask(packed):
    """Inverse of :func:`pack_mask` (anything else is returned as is)."""
    if not (isinstance(packed, dict) and _BITS in packed):
        return packed
    shape = tuple(packed["shape"])
    size = int(np.prod(shape))
    return np.unpackbits(packed[_BITS], count=size).astype(bool).reshape(shape)


def pack(array, mask):
    """Keep only the entries of ``array`` where ``mask`` is True.

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
        return {_ALIVE: array[mask], "shape": list(array.shape)}
    return array


def unpack(packed, mask):
    """Inverse of :func:`pack`."""
    if not (isinstance(packed, dict) and _ALIVE in packed):
        return packed
    values = packed[_ALIVE]
    full = np.zeros(tuple(packed["shape"]), dtype=values.dtype)
    full[mask] = values
    return full


def pack_sparse(matrix):
    """A CSR or CSC matrix (or array) as its compressed arrays in a plain dict.

    Anything else is returned unchanged.

    Parameters
    ----------
    matrix : object
        Usually a weight matrix: an ndarray or a scipy.sparse matrix.

    Returns
    -------
    packed : dict or object
        For an instance of one of :data:`SPARSE_CLASSES` (exactly that class),
        ``data``, ``indices`` and ``indptr`` (the matrix's own arrays, not
        copies), its shape and the name of its class; else ``matrix``.
    """
    if type(matrix) not in SPARSE_CLASSES.values():
        return matrix
    return {
        _SPARSE: type(matrix).__name__,
        "data": matrix.data,
        "indices": matrix.indices,
        "indptr": matrix.indptr,
        # Python ints: a loader that checks types trusts them.
        "shape": [int(n) for n in matrix.shape],
    }


def unpack_sparse(packed):
    """Inverse of :func:`pack_sparse` (anything else is returned as is).

    Parameters
    ----------
    packed : dict or object
        The output of :func:`pack_sparse`.

    Returns
    -------
    matrix : scipy.sparse matrix or object
        The matrix, of the stored class, holding the stored arrays
        themselves, as unpickling the matrix would give: memory-mapped
        arrays (``joblib.load(..., mmap_mode="r")``) stay memory-mapped and
        the index dtype is kept.

    Raises
    ------
    ValueError
        If the stored class is not one of :data:`SPARSE_CLASSES`, an array
        is missing, or the arrays do not make a valid matrix of the stored
        shape.
    TypeError
        If the stored arrays are not numeric, or their indices not integers.
    """
    if not (isinstance(packed, dict) and _SPARSE in packed):
        return packed
    name = packed[_SPARSE]
    cls = SPARSE_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown sparse matrix class {name!r} in the stored state; "
            f"expected one of {sorted(SPARSE_CLASSES)}."
        )
    missing = {"data", "indices", "indptr", "shape"}.difference(packed)
    if missing:
        raise ValueError(f"Stored sparse weights lack {sorted(missing)}.")
    data, indices, indptr = (
        np.asanyarray(packed[key]) for key in ("data", "indices", "indptr")
    )
    if data.dtype.kind not in "fiub":
        raise TypeError(f"Stored sparse weights must be numeric, got {data.dtype}.")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise TypeError(
            f"Stored sparse indices must be integers, got {indices.dtype} and "
            f"{indptr.dtype}."
        )
    if not (
        data.ndim == indices.ndim == indptr.ndim == 1
        and len(data) == len(indices)
        and len(indptr) > 0
        and indptr[-1] == len(indices)
    ):
        raise ValueError(
            "Stored sparse weights are inconsistent: data and indices must be "
            "1-d of the same length, the last index pointer that length."
        )
    shape = tuple(int(n) for n in packed["shape"])
    # The constructor and the full format check validate the arrays against
    # each other and the shape.
    try:
        matrix = cls((data, indices, indptr), shape=shape, copy=False)
        matrix.check_format(full_check=True)
    except ValueError as exc:
        raise ValueError(
            f"Stored sparse weights are inconsistent with their shape {shape}: {exc}"
        ) from exc
    # Both may narrow int64 indices and take views: put back the arrays
    # that were stored, as unpickling the matrix itself would.
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return matrix


def pack_list(arrays, masks):
    """:func:`pack` each array of a per-layer list with its layer's mask."""
    return [pack(a, m) for a, m in zip(arrays, masks)]


def unpack_list(arrays, masks):
    """Inverse of :func:`pack_list`."""
    return [unpack(a, m) for a, m in zip(arrays, masks)]


def _pack_optimizer(optimizer, masks):
    """An optimizer as a plain dict; its weight matrices' slots packed."""
    attributes = {k: v for k, v in vars(optimizer).items() if k != "slots"}
    slots = [
        {name: pack(array, mask) for name, array in slot.items()}
        for slot, mask in zip(optimizer.slots, masks)
    ]
    slots += [dict(slot) for slot in optimizer.slots[len(masks) :]]
    return {
        _OPTIMIZER: type(optimizer).__name__,
        "attributes": attributes,
        "slots": slots,
    }


def _unpack_optimizer(packed, masks):
    """Inverse of :func:`_pack_optimizer`."""
    if not (isinstance(packed, dict) and _OPTIMIZER in packed):
        return packed
    name = packed[_OPTIMIZER]
    if name not in ("SGDOptimizer", "AdamOptimizer"):
        raise ValueError(f"Unknown optimizer {name!r} in the stored state.")
    optimizer = object.__new__(getattr(_optimizers, name))
    vars(optimizer).update(packed["attributes"])
    slots = [dict(slot) for slot in packed["slots"]]
    for slot, mask in zip(slots, masks):
        for key, array in slot.items():
            slot[key] = unpack(array, mask)
    optimizer.slots = slots
    return optimizer


def pack_state(state):
    """Pack an estimator's ``__dict__`` for pickling (or skops).

    Parameters
    ----------
    state : dict
        A copy of the estimator's ``__dict__`` (modified and returned).

    Returns
    -------
    state : dict
        The packed state: only arrays, numbers, strings, lists, dicts and
        scikit-learn's own objects.
    """
    for key in TRANSIENT:
        state.pop(key, None)
    masks = state.get("coef_masks_")
    if not isinstance(masks, list):
        return state
    for key, mask_key in MASKED_STATE:
        if key in state and mask_key in state:
            # Sparse matrices pass through pack() unchanged.
            packed = pack_list(state[key], state[mask_key])
            state[key] = [pack_sparse(a) for a in packed]
    if state.get("_optimizer") is not None:
        state["_optimizer"] = _pack_optimizer(state["_optimizer"], masks)
    for mask_key in MASK_KEYS:
        if mask_key in state:
            state[mask_key] = [pack_mask(m) for m in state[mask_key]]
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
            state[mask_key] = [unpack_mask(m) for m in state[mask_key]]
    masks = state.get("coef_masks_")
    if not isinstance(masks, list):
        return state
    for key, mask_key in MASKED_STATE:
        if key in state and mask_key in state:
            arrays = [unpack_sparse(a) for a in state[key]]
            state[key] = unpack_list(arrays, state[mask_key])
    if state.get("_optimizer") is not None:
        state["_optimizer"] = _unpack_optimizer(state["_optimizer"], masks)
    return state
