"""Forward and backward passes of a multilayer perceptron with pruning masks.

The arithmetic follows scikit-learn's ``MLPClassifier`` operation for
operation (``sklearn/neural_network/_multilayer_perceptron.py``), so that an
unpruned network learns exactly the same weights. Pruning enters in one
place: the gradient of a pruned synapse is set to 0, so neither plain SGD,
momentum, Adam nor the L2 penalty can move a pruned weight away from 0
(paper eqs 3-5, ``w <- p(w) * (w - lr * dE/dw)``).

The activations, derivatives and losses are adapted from scikit-learn
(``sklearn/neural_network/_base.py``), Copyright (c) 2007-2024 The
scikit-learn developers, BSD-3-Clause License (see LICENSE).
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, xlogy
from sklearn.utils.extmath import safe_sparse_dot

from ._kernels import sparse_kernels
from ._sparse import NonFiniteInput


def _identity(X):
    """Leave ``X`` unchanged."""


def _logistic(X):
    expit(X, out=X)


def _tanh(X):
    np.tanh(X, out=X)


def _relu(X):
    np.maximum(X, 0, out=X)


def _exp(X):
    np.exp(X, out=X)


def _softmax(X):
    tmp = X - X.max(axis=1)[:, np.newaxis]
    np.exp(tmp, out=X)
    X /= X.sum(axis=1)[:, np.newaxis]


# In-place activations, looked up by name like scikit-learn does.
ACTIVATIONS = {
    "identity": _identity,
    "logistic": _logistic,
    "tanh": _tanh,
    "relu": _relu,
    "softmax": _softmax,
    "exp": _exp,
}


def _identity_derivative(Z, delta):
    """Leave ``delta`` unchanged."""


def _logistic_derivative(Z, delta):
    delta *= Z
    delta *= 1 - Z


def _tanh_derivative(Z, delta):
    delta *= 1 - Z**2


def _relu_derivative(Z, delta):
    delta[Z == 0] = 0


# Derivatives written in terms of the activation's output ``Z``, in place on
# the back-propagated error ``delta``.
DERIVATIVES = {
    "identity": _identity_derivative,
    "logistic": _logistic_derivative,
    "tanh": _tanh_derivative,
    "relu": _relu_derivative,
}


def log_loss(y_true, y_prob, sample_weight=None):
    """Cross-entropy of a softmax (or single logistic) output."""
    eps = np.finfo(y_prob.dtype).eps
    y_prob = np.clip(y_prob, eps, 1 - eps)
    if y_prob.shape[1] == 1:
        y_prob = np.append(1 - y_prob, y_prob, axis=1)
    if y_true.shape[1] == 1:
        y_true = np.append(1 - y_true, y_true, axis=1)
    return -np.average(xlogy(y_true, y_prob), weights=sample_weight, axis=0).sum()


def binary_log_loss(y_true, y_prob, sample_weight=None):
    """Cross-entropy of independent logistic outputs (binary, multilabel)."""
    eps = np.finfo(y_prob.dtype).eps
    y_prob = np.clip(y_prob, eps, 1 - eps)
    return -np.average(
        xlogy(y_true, y_prob) + xlogy(1 - y_true, 1 - y_prob),
        weights=sample_weight,
        axis=0,
    ).sum()


def squared_loss(y_true, y_pred, sample_weight=None):
    """Half the mean squared error (regression, identity output)."""
    return (
        0.5 * np.average((y_true - y_pred) ** 2, weights=sample_weight, axis=0).mean()
    )


def poisson_loss(y_true, y_pred, sample_weight=None):
    """Half the Poisson deviance (regression, exponential output)."""
    return np.average(
        xlogy(y_true, y_true / y_pred) - y_true + y_pred, weights=sample_weight, axis=0
    ).sum()


# Looked up by the estimator's ``loss``; every pair with its output activation
# is a canonical link, so d loss / d z = output - y (see ``backprop``).
LOSS_FUNCTIONS = {
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
    "squared_error": squared_loss,
    "poisson": poisson_loss,
}


def loss_name(loss, out_activation):
    """The loss function's name for a loss and output activation."""
    if loss == "log_loss" and out_activation == "logistic":
        return "binary_log_loss"
    return loss


def _product(a, coef, layer, n_threads=None, check_finite=False):
    """``a @ coef`` as a dense array, through the compact layer's kernel when
    there is one (``coef`` may be a scipy.sparse matrix, and so may ``a``);
    with ``check_finite``, a NaN or an infinity in ``a`` raises
    ``NonFiniteInput``, found by the kernel where there is one."""
    if layer is not None:
        return layer.forward(a, n_threads, check_finite)
    if check_finite and not np.isfinite(a.data if sp.issparse(a) else a).all():
        raise NonFiniteInput("the input holds NaN or infinity")
    product = safe_sparse_dot(a, coef)
    if sp.issparse(product):  # sparse input times sparse-stored weights
        return product.toarray()
    return np.asarray(product)


def _logistic_tanh(X):
    # 1 / (1 + exp(-x)) = (1 + tanh(x / 2)) / 2: NumPy's vectorised tanh makes
    # this 3-5x faster than scipy's expit, and it differs from it by about one
    # unit in the last place. The fast logistic where the kernels are not
    # built.
    X *= 0.5
    np.tanh(X, out=X)
    X *= 0.5
    X += 0.5


def _logistic_compiled(X):
    # The kernels' logistic (a vectorised exp), within one machine epsilon of
    # expit and about twice as fast as the tanh form; any array, in place.
    if X.ndim == 2 and (X.flags.c_contiguous or X.flags.f_contiguous):
        sparse_kernels.bias_activation(X, None, "logistic")
    elif X.flags.c_contiguous or X.flags.f_contiguous:
        # a view, in the order of memory
        flat = X.reshape(1, -1, order="C" if X.flags.c_contiguous else "F")
        sparse_kernels.bias_activation(flat, None, "logistic")
    else:
        Y = np.ascontiguousarray(X)
        sparse_kernels.bias_activation(Y.reshape(1, -1), None, "logistic")
        X[...] = Y


# Hidden activations for prediction (and for training behind compact layers)
# where speed matters more than matching scikit-learn to the last bit: used
# for prediction through the compacted network only, since training a dense
# layer keeps expit, the operation scikit-learn uses, so that an unpruned fit
# reproduces MLPClassifier to the bit.
FAST_ACTIVATIONS = {
    **ACTIVATIONS,
    "logistic": _logistic_tanh if sparse_kernels is None else _logistic_compiled,
}


def add_bias_and_activate(a, bias, activation, fast=False):
    """``a += bias``, then the hidden ``activation`` of ``a``, in place.

    One compiled pass over ``a`` instead of two to four NumPy passes, where
    it gives the same values: for the identity and relu always (the same
    operations, to the bit), for the logistic when ``fast`` (it is then the
    fast logistic of ``FAST_ACTIVATIONS``). Other cases, or an ``a`` of
    neither memory order, take the NumPy operations.

    Parameters
    ----------
    a : ndarray of shape (n_samples, n_units)
        Pre-activations without the bias; overwritten.
    bias : ndarray of shape (n_units,)
        The layer's intercepts.
    activation : str
        Name of the hidden activation.
    fast : bool, default=False
        Use ``FAST_ACTIVATIONS`` instead of ``ACTIVATIONS``.
    """
    fused = activation in ("identity", "relu") or (fast and activation == "logistic")
    if (
        fused
        and sparse_kernels is not None
        and a.ndim == 2
        and a.dtype == bias.dtype
        and a.dtype in (np.float32, np.float64)
        and (a.flags.c_contiguous or a.flags.f_contiguous)
        and a.flags.writeable
    ):
        sparse_kernels.bias_activation(a, np.ascontiguousarray(bias), activation)
        return
    a += bias
    (FAST_ACTIVATIONS if fast else ACTIVATIONS)[activation](a)


class MaskedNetwork:
    """Training-time passes of a masked MLP.

    The network copies nothing: at every pass it reads the weights, the
    gradient mask and the kernels from the layers that own them, so updates
    made by the optimizer and the pruner, and changes of storage, are seen at
    once.

    Parameters
    ----------
    layers : list of SynapseLayer
        The weight matrices' training state (see ``sklearn_bsp._layers``).
        A compact layer multiplies through its kernels and its ``weights``
        is the 1-D array of the stored synapses' values.
    intercepts : list of ndarray
        Biases of each layer.
    activation : str
        Name of the hidden activation.
    out_activation : str
        Name of the output activation.
    loss : {"log_loss", "squared_error", "poisson"}, default="log_loss"
        The loss; with ``out_activation="logistic"``, log-loss is the binary
        cross-entropy of each output.
    alpha : float, default=0.0
        L2 penalty, divided by the sum of sample weights as in scikit-learn.
    dropout : float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout: kept units are scaled by ``1 / (1 - dropout)``).
    rng : numpy.random.Generator, default=None
        Source of the dropout masks; required when ``dropout > 0``.
    """

    def __init__(
        self,
        layers,
        intercepts,
        activation,
        out_activation,
        *,
        loss="log_loss",
        alpha=0.0,
        dropout=0.0,
        rng=None,
    ):
        self.layers = layers
        self.intercepts = intercepts
        self.activation = activation
        self.out_activation = out_activation
        self.loss = LOSS_FUNCTIONS[loss_name(loss, out_activation)]
        self.alpha = alpha
        self.dropout = dropout
        self.rng = rng

    def _forward_train(self, X):
        """Forward pass keeping each layer's output for back-propagation.

        Returns the activations (inputs of each layer, then the output) and,
        with dropout, the per-layer scale applied to the hidden units plus
        the hidden outputs before that scale (the derivatives need them).
        """
        last = len(self.layers) - 1
        activations = [X]
        scales = [None] * len(self.layers)
        raw = [None] * len(self.layers)
        for i, (layer, intercept) in enumerate(zip(self.layers, self.intercepts)):
            a = _product(activations[i], layer.weights, layer.kernel)
            units = layer.out_units
            bias = intercept if units is None else intercept[units]
            if i == last:
                a += bias
            else:
                # Behind a compact layer the sums already differ from the
                # dense product's in the last bits (another order), so the
                # faster logistic costs no further agreement with
                # scikit-learn; a dense layer keeps its exact operation.
                fast = layer.kernel is not None
                add_bias_and_activate(a, bias, self.activation, fast)
                if self.dropout > 0:
                    # Drawn for every neuron, so that the stream of random
                    # numbers does not depend on which neurons are computed.
                    keep = self.rng.random((a.shape[0], len(intercept)))
                    keep = (keep if units is None else keep[:, units]) >= self.dropout
                    scales[i] = keep.astype(a.dtype) / a.dtype.type(1 - self.dropout)
                    raw[i] = a.copy()
                    a *= scales[i]
            activations.append(a)
        ACTIVATIONS[self.out_activation](activations[-1])
        return activations, scales, raw

    def backprop(self, X, y, sample_weight=None):
        """Loss and gradients for one minibatch.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The minibatch.
        y : ndarray of shape (n_samples, n_outputs)
            Binarized (classification) or real (regression) targets.
        sample_weight : ndarray of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        loss : float
            Data loss plus the L2 penalty.
        coef_grads, intercept_grads : list of ndarray
            Gradients, in each layer's storage; pruned synapses get exactly 0.
        """
        activations, scales, raw = self._forward_train(X)
        n_samples = X.shape[0]
        loss = self.loss(y, activations[-1], sample_weight)
        values = 0
        for layer in self.layers:
            s = layer.weights.ravel()
            values += np.dot(s, s)
        sw_sum = n_samples if sample_weight is None else sample_weight.sum()
        loss += (0.5 * self.alpha) * values / sw_sum

        n_layers = len(self.layers)
        coef_grads = [None] * n_layers
        intercept_grads = [None] * n_layers
        # Canonical link: d loss / d z = output - y for softmax + cross-entropy,
        # logistic + binary cross-entropy, identity + squared error and
        # exp + Poisson deviance.
        delta = activations[-1] - y
        if sample_weight is not None:
            delta *= sample_weight.reshape(-1, 1)
        derivative = DERIVATIVES[self.activation]
        for i in range(n_layers - 1, -1, -1):
            coef_grads[i] = self._coef_grad(i, activations[i], delta, sw_sum)
            intercept_grads[i] = self._intercept_grad(i, delta, sw_sum)
            if i == 0:
                break
            layer = self.layers[i]
            if layer.kernel is not None:
                delta = layer.kernel.backward(delta)
            else:
                delta = safe_sparse_dot(delta, layer.weights.T)
            if scales[i - 1] is not None:
                delta *= scales[i - 1]
                derivative(raw[i - 1], delta)
            else:
                derivative(activations[i], delta)
        return loss, coef_grads, intercept_grads

    def _intercept_grad(self, i, delta, sw_sum):
        grad = np.sum(delta, axis=0) / sw_sum
        units = self.layers[i].out_units
        if units is None:
            return grad
        # The error of a neuron that is not computed is exactly 0.
        full = np.zeros(len(self.intercepts[i]), dtype=grad.dtype)
        full[units] = grad
        return full

    def _coef_grad(self, i, a, delta, sw_sum):
        layer = self.layers[i]
        if layer.kernel is not None:
            grad = layer.kernel.sampled_grad(a, delta)
            if layer.n_active < len(layer.weights):
                # Dormant synapses feed a neuron whose error is exactly 0:
                # only the L2 term below moves them.
                grad = np.concatenate(
                    [grad, np.zeros(len(layer.weights) - layer.n_active, grad.dtype)]
                )
        else:
            grad = safe_sparse_dot(a.T, delta)
        grad += self.alpha * layer.weights
        grad /= sw_sum
        mask = layer.grad_mask
        if mask is not None:
            grad *= mask
        return grad
