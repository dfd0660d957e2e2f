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

import numpy as np
import scipy.sparse as sp

from ._network import ACTIVATIONS, FAST_ACTIVATIONS, _product
from ._sparse import SparseLayer
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


def _snapshot(array):
    """An independent copy of a weight or bias array (dense or scipy.sparse)."""
    return array.copy()


def _same(array, snapshot):
    """Whether ``array`` still holds exactly the values of ``snapshot``."""
    if sp.issparse(array) != sp.issparse(snapshot):
        return False
    if array.shape != snapshot.shape or array.dtype != snapshot.dtype:
        return False
    if sp.issparse(array):
        return (
            array.format == snapshot.format
            and np.array_equal(array.indptr, snapshot.indptr)
            and np.array_equal(array.indices, snapshot.indices)
            and np.array_equal(array.data, snapshot.data)
        )
    return np.array_equal(array, snapshot)


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

    The network keeps a copy of the arrays it was built from; :meth:`matches`
    compares them with the estimator's current arrays, value for value, so an
    edit in place (``clf.intercepts_[0] += 1``) is never missed. The check
    reads every weight once, the cost of one dense product with a single
    sample.

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
        self._coefs = [_snapshot(c) for c in coefs]
        self._intercepts = [_snapshot(b) for b in intercepts]
        # Built from the network's own copies: an array it kept would
        # otherwise be the estimator's, which training changes in place.
        self.coefs, self.intercepts, masks = compact_network(
            self._coefs, self._intercepts, activation
        )
        # Worth the check on its own when it drops a good share of the
        # hidden units (each product shrinks with them).
        hidden = sum(c.shape[1] for c in self._coefs[:-1])
        kept = sum(c.shape[1] for c in self.coefs[:-1])
        self.narrower = hidden > 0 and kept <= (1 - NARROWER_SHARE) * hidden
        self.kernels = []
        for coef, mask in zip(self.coefs, masks):
            density = np.count_nonzero(mask) / max(mask.size, 1)
            # Decided for a large batch; smaller ones are checked per call.
            if policy.compact_for_prediction(density, mask.size):
                self.kernels.append(SparseLayer.from_dense(coef, mask))
            else:
                self.kernels.append(None)

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
            storage differs.
        """
        return (
            activation == self.activation
            and len(coefs) == len(self._coefs)
            and len(intercepts) == len(self._intercepts)
            and all(_same(a, b) for a, b in zip(coefs, self._coefs))
            and all(
                _same(np.asarray(a), b) for a, b in zip(intercepts, self._intercepts)
            )
        )

    def kernels_for(self, X, policy):
        """The kernels worth using for ``X`` (None where a dense product is faster)."""
        kernels = list(self.kernels)
        if sp.issparse(X) or X.dtype != self.coefs[0].dtype:
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
    saves work for ``X`` (a layer multiplies faster through the kernels, or
    enough dead neurons are gone) and it still matches the arrays value for
    value (that check reads each weight once). Otherwise prediction
    multiplies the arrays themselves, as scikit-learn's MLP does: never
    stale, never slower.

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
    if cached is not None:
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
            return cached.coefs, cached.intercepts, kernels, True
    return coefs, intercepts, None, False


def predict_output(cached, X, coefs, intercepts, activation, out_activation, policy):
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

    Returns
    -------
    output : ndarray of shape (n_samples, n_outputs)
        As :func:`forward` computes it, through the network
        :func:`prediction_network` picks.
    """
    coefs, intercepts, kernels, compacted = prediction_network(
        cached, X, coefs, intercepts, activation, policy
    )
    # The compacted network differs from the arrays in the order of its sums
    # anyway; it also takes the faster logistic and the row blocks.
    return forward(
        X, coefs, intercepts, activation, out_activation, kernels, fast=compacted
    )


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
        Compute the hidden logistic activation as ``(1 + tanh(x / 2)) / 2``
        (faster, within about one unit in the last place of ``expit``), and
        go through many samples in blocks of rows, on
        :func:`~sklearn_bsp._threads.effective_n_threads` threads.
    n_threads : int, default=None
        Threads for the kernels of an unblocked pass; None lets the kernels
        choose (see ``sklearn_bsp._threads``).

    Returns
    -------
    output : ndarray of shape (n_samples, n_outputs)
        The output layer's activations.
    """
    n_samples = X.shape[0]
    layers = layers or [None] * len(coefs)
    if fast and n_samples > 2 * ROW_BLOCK:
        # Block by block, each hidden activation stays in cache between the
        # product that writes it, the activation and the next product,
        # instead of going to memory and back (a 10,000 x 500 float32 layer
        # is 20 MB). Each thread runs whole blocks with one-threaded kernels
        # and BLAS, so that no thread pool spins beside another one. Each
        # row's result depends neither on the blocks nor on the threads.
        def block(start):
            return _forward_layers(
                X[start : start + ROW_BLOCK],
                coefs,
                intercepts,
                activation,
                out_activation,
                layers,
                fast,
                n_threads=1,
            )

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
            return _forward_layers(
                X, coefs, intercepts, activation, out_activation, layers, fast, 1
            )
    return _forward_layers(
        X, coefs, intercepts, activation, out_activation, layers, fast, n_threads
    )


def _forward_layers(
    X, coefs, intercepts, activation, out_activation, layers, fast, n_threads=None
):
    """The layers of :func:`forward` one after the other, on all of ``X``."""
    hidden = (FAST_ACTIVATIONS if fast else ACTIVATIONS)[activation]
    last = len(coefs) - 1
    a = X
    for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
        a = _product(a, coef, layers[i], n_threads)
        a += intercept
        if i != last:
            hidden(a)
    ACTIVATIONS[out_activation](a)
    return a
