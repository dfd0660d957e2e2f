"""Prediction, in one place: the network it runs and the pass through it.

A hidden neuron whose outgoing synapses are all pruned has no effect on the
output; one whose incoming synapses are all pruned outputs the constant
``f(bias)``, which can be added once into the next layer's biases. Both
kinds are removed, so prediction works on a narrower network that computes
the same function (to float rounding), with the sparse layers compacted for
the compiled kernels (:class:`InferenceNetwork`). :func:`predict_output` is
the estimators' only way to an output: it picks that network or the arrays
themselves (:func:`prediction_network`) and runs :func:`forward`, with the
fast activations and the row blocks that keep the thread pools apart.
"""

import hashlib

import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite

from ._kernels import fingerprint
from ._network import ACTIVATIONS, _product, add_bias_and_activate
from ._sparse import NonFiniteInput, SparseLayer
from ._threads import effective_n_threads, map_blocks, single_threaded_blas


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


def compact_network(coefs, intercepts, activation):
    """The network that prediction computes, from the current arrays alone.

    This is the one definition of an alive synapse for inference: a synapse
    takes part where its weight is non-zero, whatever ``coef_masks_`` says
    (a weight set by hand where the mask says pruned counts, a weight set to
    0 where it says alive does not). :class:`InferenceNetwork`, the ONNX
    export and ``sparsify_coefs`` all read the weights this way, so they
    compute one function.

    Parameters
    ----------
    coefs : list of ndarray or sparse matrix
        Weights of each layer, ``(n_in, n_out)``.
    intercepts : list of ndarray
        Biases of each layer, ``(n_out,)``.
    activation : str
        Name of the hidden activation.

    Returns
    -------
    coefs, intercepts, masks : list of ndarray
        The layers without the dead hidden neurons (see
        :func:`remove_dead_neurons`); the weights dense, the masks
        ``coef != 0``. Arrays that need no change may be the inputs
        themselves: do not write to them.

    Raises
    ------
    TypeError
        If a weight or bias array is not numeric.
    ValueError
        If the layers do not chain: a weight matrix that is not 2-d, a
        different number of weight and bias arrays, or mismatched sizes.
    """
    if len(coefs) != len(intercepts) or len(coefs) == 0:
        raise ValueError(
            f"coefs_ and intercepts_ must hold one array per layer, got "
            f"{len(coefs)} weight and {len(intercepts)} bias arrays."
        )
    dense = [c.toarray() if sp.issparse(c) else np.asarray(c) for c in coefs]
    biases = [np.asarray(b) for b in intercepts]
    for i, (coef, bias) in enumerate(zip(dense, biases)):
        if coef.dtype.kind not in "fiub" or bias.dtype.kind not in "fiub":
            raise TypeError(
                f"Layer {i}: weights and biases must be numeric, got dtypes "
                f"{coef.dtype} and {bias.dtype}."
            )
        if coef.ndim != 2 or bias.shape != coef.shape[1:]:
            raise ValueError(
                f"Layer {i}: weights must be of shape (n_in, n_out) and biases "
                f"of shape (n_out,), got {coef.shape} and {bias.shape}."
            )
        if i and coef.shape[0] != dense[i - 1].shape[1]:
            raise ValueError(
                f"Layer {i}: weights of shape {coef.shape} take "
                f"{coef.shape[0]} inputs, but layer {i - 1} has "
                f"{dense[i - 1].shape[1]} outputs."
            )
    masks = [c != 0 for c in dense]
    return remove_dead_neurons(dense, biases, masks, activation)


# Share of hidden units the narrower network must drop to be used without
# any compacted layer.
NARROWER_SHARE = 0.2


# Below this many samples, prediction multiplies the arrays themselves: the
# cache's check reads every weight once, which costs about what a dense
# product with one sample does, and the kernels do not pay there either
# (sklearn_bsp._sparse.choose_kernel).
MIN_CACHED_SAMPLES = 16


def _digest(data):
    """A 64-bit hash of the bytes of a contiguous array."""
    data = data.reshape(-1).view(np.uint8)
    if fingerprint is not None:
        return fingerprint.xxh64(data)
    return hashlib.blake2b(data, digest_size=8).digest()


def array_key(array):
    """What prediction depends on in one weight or bias array.

    Parameters
    ----------
    array : array-like or sparse matrix
        A weight or bias array of the estimator.

    Returns
    -------
    key : tuple or None
        The storage, shape, dtype and a hash of the values (of the stored
        entries and their positions, for a CSR or CSC matrix). None for an
        array the cache cannot key (not numeric, another sparse format):
        such an array never matches.
    """
    if sp.issparse(array):
        if array.format not in ("csr", "csc") or array.dtype.kind not in "fiub":
            return None
        parts = (array.indptr, array.indices, array.data)
        return (array.format, array.shape, array.dtype.str) + tuple(
            _digest(np.ascontiguousarray(part)) for part in parts
        )
    array = np.asarray(array)
    if array.dtype.kind not in "fiub":
        return None
    # The hash reads the values in C order, whatever the array's layout.
    return ("dense", array.shape, array.dtype.str, _digest(np.ascontiguousarray(array)))


def network_key(coefs, intercepts, activation):
    """The key of a network: activation and every array's :func:`array_key`.

    Parameters
    ----------
    coefs, intercepts : list of ndarray or sparse matrix
        Weights and biases of each layer.
    activation : str
        Name of the hidden activation (input-less neurons are folded through
        it into the next biases).

    Returns
    -------
    key : tuple or None
        None if one array cannot be keyed.
    """
    keys = tuple(array_key(a) for a in list(coefs) + list(intercepts))
    if any(k is None for k in keys):
        return None
    return (activation, len(coefs), keys)


class _Marker:
    """A named placeholder, the same object after a copy or a pickle."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        # The module attribute of that name: copies and pickles give back
        # the marker itself, so that ``is`` still recognises it.
        return self.name

    def __repr__(self):
        return self.name


# Markers of InferenceNetwork's layers: the layer is the estimator's array
# itself, unchanged (read from the estimator at each call); or it is only
# kept compacted, and its dense form is built from the kernel when needed.
_AS_IS = _Marker("_AS_IS")
_FROM_KERNEL = _Marker("_FROM_KERNEL")


def _unchanged(layer, source):
    """Whether the compaction left ``source`` as it is (or a view of it)."""
    return layer is source or (
        isinstance(source, np.ndarray) and np.may_share_memory(layer, source)
    )


class InferenceNetwork:
    """The network that prediction runs, derived from the weights and biases.

    Built from ``coefs_`` and ``intercepts_`` alone by
    :func:`compact_network`: a synapse takes part where its weight is
    non-zero, so the narrower network computes exactly the function of the
    current arrays, whatever the masks say. Hidden
    neurons without non-zero outputs are removed, input-less ones are folded
    into the next biases (:func:`remove_dead_neurons`), and the layers that
    multiply faster through the sparse kernels get a
    :class:`~sklearn_bsp._sparse.SparseLayer`.

    The network is keyed on everything it depends on: the activation and
    the shape, dtype, storage and a 64-bit hash (XXH64) of every array it
    was built from (:func:`network_key`). :meth:`matches` recomputes the key
    from the estimator's current arrays, so an edit in place
    (``clf.intercepts_[0] += 1``) is never missed; the hash reads each
    weight once, the cost of one dense product with a single sample. No
    copy of the arrays is kept for the check, and none of the estimator's
    arrays is kept either: a layer the compaction leaves as it is is read
    from the estimator at each call, once the key says it is unchanged (an
    array kept here could be one the estimator no longer holds, edited
    since). What the network holds of its own is what it changed: the
    narrowed layers and biases, and the compacted layers.

    Parameters
    ----------
    coefs, intercepts : list of ndarray or sparse matrix
        The estimator's weights (0 where pruned) and biases.
    activation : str
        Name of the hidden activation.
    policy : CompactionPolicy
        Where the sparse kernels pay.
    """

    def __init__(self, coefs, intercepts, activation, policy):
        # Folding input-less neurons into the next biases used f(bias): the
        # network holds for this activation only.
        self.activation = activation
        self._key = network_key(coefs, intercepts, activation)
        dense, biases, masks = compact_network(coefs, intercepts, activation)
        # Worth the check on its own when it drops a good share of the
        # hidden units (each product shrinks with them).
        hidden = sum(np.shape(c)[1] for c in coefs[:-1])
        kept = sum(c.shape[1] for c in dense[:-1])
        self.narrower = hidden > 0 and kept <= (1 - NARROWER_SHARE) * hidden
        self.kernels = []
        for coef, mask in zip(dense, masks):
            density = np.count_nonzero(mask) / max(mask.size, 1)
            # Decided for a large batch; smaller ones are checked per call.
            if policy.compact_for_prediction(density, mask.size):
                self.kernels.append(SparseLayer.from_dense(coef, mask))
            else:
                self.kernels.append(None)
        self._coefs = [
            _AS_IS if _unchanged(c, source) else _FROM_KERNEL if k is not None else c
            for c, source, k in zip(dense, coefs, self.kernels)
        ]
        self._intercepts = [
            _AS_IS if _unchanged(b, source) else b
            for b, source in zip(biases, intercepts)
        ]

    def matches(self, coefs, intercepts, activation):
        """Whether the network was built from exactly these arrays.

        Parameters
        ----------
        coefs, intercepts : list of ndarray or sparse matrix
            The estimator's current weights and biases.
        activation : str
            The estimator's current hidden activation.

        Returns
        -------
        matches : bool
            False as soon as the activation, or one value, shape, dtype or
            storage differs (by their keys, :func:`network_key`).
        """
        return (
            self._key is not None
            and activation == self.activation
            and len(coefs) == len(self._coefs)
            and len(intercepts) == len(self._intercepts)
            and network_key(coefs, intercepts, activation) == self._key
        )

    def layers(self, coefs, intercepts, kernels):
        """The weights and biases to multiply with, with ``kernels``.

        Parameters
        ----------
        coefs, intercepts : list of ndarray
            The estimator's current arrays, which :meth:`matches`.
        kernels : list of (SparseLayer or None)
            As :meth:`kernels_for` gives them: a layer with a kernel needs
            no dense weights (None in the result).

        Returns
        -------
        coefs, intercepts : list of ndarray
            The narrower network's arrays.
        """
        dense = []
        for i, (coef, kernel) in enumerate(zip(self._coefs, kernels)):
            if coef is _AS_IS:
                coef = np.asarray(coefs[i])
            elif coef is _FROM_KERNEL and kernel is None:
                # Dense input of another dtype, or sparse input: built once,
                # then kept (the first layer only, in practice).
                coef = self._coefs[i] = self.kernels[i].toarray()
            elif coef is _FROM_KERNEL:
                coef = None
            dense.append(coef)
        biases = [
            np.asarray(intercepts[i]) if b is _AS_IS else b
            for i, b in enumerate(self._intercepts)
        ]
        return dense, biases

    def kernels_for(self, X, policy):
        """The kernels worth using for ``X`` (None where a dense product is faster)."""
        kernels = list(self.kernels)
        if kernels[0] is not None and (sp.issparse(X) or X.dtype != kernels[0].dtype):
            # The kernels multiply dense input of the weights' own dtype.
            kernels[0] = None
        n_samples = X.shape[0]
        return [
            k
            if k is not None
            and policy.choose_kernel(k.density, n_samples, "forward") == "sparse"
            else None
            for k in kernels
        ]


def prediction_network(cached, X, coefs, intercepts, activation, policy):
    """The network to predict ``X`` with, and the kernels to use.

    The compacted network built after fitting (or loading) is used where it
    saves work for ``X`` (at least ``MIN_CACHED_SAMPLES`` samples, and a
    layer multiplies faster through the kernels, or enough dead neurons are
    gone) and its key still matches the arrays (that check reads each weight
    once). Otherwise prediction multiplies the arrays themselves, as
    scikit-learn's MLP does: never stale, never slower.

    Parameters
    ----------
    cached : InferenceNetwork or None
        The compacted network the estimator keeps.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The validated input.
    coefs, intercepts : list of ndarray or sparse matrix
        The estimator's current weights and biases.
    activation : str
        The estimator's current hidden activation.
    policy : CompactionPolicy
        Where the sparse kernels pay.

    Returns
    -------
    coefs, intercepts : list of ndarray
        The weights and biases to multiply with.
    kernels : list of (SparseLayer or None) or None
        The compact layers to multiply through (None: dense products).
    compacted : bool
        Whether the cached, compacted network is used.
    """
    if cached is not None and X.shape[0] >= MIN_CACHED_SAMPLES:
        kernels = cached.kernels_for(X, policy)
        # Also for weights stored sparse (sparsify_coefs): the cached network
        # holds them dense, and the check reads only the stored entries,
        # where a sparse-by-sparse product would be slow.
        worth = (
            any(k is not None for k in kernels)
            or cached.narrower
            or any(sp.issparse(c) for c in coefs)
        )
        if worth and cached.matches(coefs, intercepts, activation):
            dense, biases = cached.layers(coefs, intercepts, kernels)
            return dense, biases, kernels, True
    return coefs, intercepts, None, False


def predict_output(
    cached,
    X,
    coefs,
    intercepts,
    activation,
    out_activation,
    policy,
    estimator_name=None,
):
    """The output layer's activations for ``X``; never changes its arguments.

    Parameters
    ----------
    cached : InferenceNetwork or None
        The compacted network the estimator keeps.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The validated input.
    coefs, intercepts : list of ndarray or sparse matrix
        The estimator's current weights and biases.
    activation, out_activation : str
        Names of the hidden and output activations.
    policy : CompactionPolicy
        Where the sparse kernels pay.
    estimator_name : str or None, default=None
        Set when ``X`` has not been checked for NaN and infinity yet: the
        check runs here, with scikit-learn's message naming this estimator.
        Where the first layer goes through a kernel, the kernel checks each
        block of samples it has just transposed, in cache: a separate pass
        over a large ``X`` (``validate_data``'s) costs about a sixth of the
        whole prediction.

    Returns
    -------
    output : ndarray of shape (n_samples, n_outputs)
        As :func:`forward` computes it, through the network
        :func:`prediction_network` picks.

    Raises
    ------
    ValueError
        If ``estimator_name`` is set and ``X`` holds a NaN or an infinity.
    """
    coefs, intercepts, kernels, compacted = prediction_network(
        cached, X, coefs, intercepts, activation, policy
    )
    check = estimator_name is not None
    in_kernel = check and kernels is not None and kernels[0] is not None
    if check and not in_kernel:
        assert_all_finite(X, input_name="X", estimator_name=estimator_name)
    try:
        # The compacted network differs from the arrays in the order of its
        # sums anyway; it also takes the faster logistic and the row blocks.
        return forward(
            X,
            coefs,
            intercepts,
            activation,
            out_activation,
            kernels,
            fast=compacted,
            check_finite=in_kernel,
        )
    except NonFiniteInput:
        # scikit-learn's own message (it says NaN or infinity, and how to
        # handle missing values).
        assert_all_finite(X, input_name="X", estimator_name=estimator_name)
        raise


# Rows per block of a fast forward pass (see ``forward``); 256-1,024 were
# within 4 % of each other, 4,096 as slow as one block.
ROW_BLOCK = 512


def forward(
    X,
    coefs,
    intercepts,
    activation,
    out_activation,
    layers=None,
    fast=False,
    n_threads=None,
    check_finite=False,
):
    """Compute the network's output for ``X`` (inference, no dropout).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The input.
    coefs, intercepts : list of ndarray
        Weights and biases of each layer; pruned weights are 0.
    activation : str
        Name of the hidden activation.
    out_activation : str
        Name of the output activation.
    layers : list of (SparseLayer or None), default=None
        Compact copies of the weight matrices to multiply with instead of
        ``coefs`` (same values, computed over alive synapses only).
    fast : bool, default=False
        Compute the hidden logistic activation by the fast form of
        ``sklearn_bsp._network.FAST_ACTIVATIONS`` (within one machine epsilon
        of ``expit``), and
        go through many samples in blocks of rows, on
        :func:`~sklearn_bsp._threads.effective_n_threads` threads.
    n_threads : int, default=None
        Threads for the kernels of an unblocked pass; None lets the kernels
        choose (see ``sklearn_bsp._threads``).
    check_finite : bool, default=False
        Check that ``X`` holds no NaN or infinity, in the first layer's
        kernel if it has one (see ``SparseLayer.forward``).

    Returns
    -------
    output : ndarray of shape (n_samples, n_outputs)
        The output layer's activations.

    Raises
    ------
    NonFiniteInput
        If ``check_finite`` and ``X`` holds a NaN or an infinity.
    """
    n_samples = X.shape[0]
    layers = layers or [None] * len(coefs)

    def layers_on(rows, threads):
        return _forward_layers(
            rows,
            coefs,
            intercepts,
            activation,
            out_activation,
            layers,
            fast,
            threads,
            check_finite,
        )

    if fast and n_samples > 2 * ROW_BLOCK:
        # Block by block, each hidden activation stays in cache between the
        # product that writes it, the activation and the next product,
        # instead of going to memory and back (a 10,000 x 500 float32 layer
        # is 20 MB). Each thread runs whole blocks with one-threaded kernels
        # and BLAS, so that no thread pool spins beside another one. Each
        # row's result depends neither on the blocks nor on the threads.
        def block(start):
            return layers_on(X[start : start + ROW_BLOCK], 1)

        with single_threaded_blas():
            blocks = map_blocks(
                block, range(0, n_samples, ROW_BLOCK), effective_n_threads()
            )
        return np.concatenate(blocks)
    if fast and n_threads is None and any(layer is not None for layer in layers):
        # A few rows through compact layers run on the calling thread
        # alone, kernels and BLAS: with thread pools, the kernels' OpenMP
        # team and BLAS's threads (ours, or another estimator's) take turns
        # on the same cores, each spinning while the other works, and a
        # small product waits for the scheduler (docs/performance.rst).
        with single_threaded_blas():
            return layers_on(X, 1)
    return layers_on(X, n_threads)


def _forward_layers(
    X,
    coefs,
    intercepts,
    activation,
    out_activation,
    layers,
    fast,
    n_threads=None,
    check_finite=False,
):
    """The layers of :func:`forward` one after the other, on all of ``X``."""
    last = len(coefs) - 1
    a = X
    for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
        a = _product(a, coef, layers[i], n_threads, check_finite and i == 0)
        if i == last:
            a += intercept
        else:
            add_bias_and_activate(a, intercept, activation, fast)
    ACTIVATIONS[out_activation](a)
    return a
