"""Stochastic optimizers (SGD with momentum, Adam) that respect pruning masks.

The arithmetic is the same, operation for operation, as scikit-learn's
``sklearn/neural_network/_stochastic_optimizers.py``, so that with pruning
turned off a fit reproduces ``MLPClassifier`` to the last bit. Only where
the values go differs: the momentum and the Adam moments are updated in
their own arrays, where scikit-learn builds new ones (and their
temporaries, each the size of a weight matrix) at every minibatch. Where
scikit-learn's expression would change the state's dtype (a float64
gradient or NumPy float64 hyperparameters with float32 weights) or the
state is read-only (a model loaded with ``mmap_mode``), the expression is
used as it is.

The per-parameter state lives in :attr:`BaseOptimizer.slots`, one dict of
arrays per parameter. While a solver runs, the dict of a weight matrix is
handed to that matrix's :class:`~sklearn_bsp._layers.SynapseLayer`, which
owns it: when the layer changes storage (dense or compact) it replaces the
dict's arrays, and the optimizer reads them from the dict at every update.
When synapses are pruned the layer also clears their momentum or Adam
moments (:meth:`~sklearn_bsp._layers.SynapseLayer.prune`), so that with
masked gradients a pruned weight receives an update of exactly 0 (paper
eqs 3-5).

Adapted from scikit-learn (``sklearn/neural_network/_stochastic_optimizers.py``),
Copyright (c) 2007-2024 The scikit-learn developers, BSD-3-Clause License
(see LICENSE).
"""

import numpy as np
import scipy


class BaseOptimizer:
    """Base stochastic gradient descent optimizer.

    Parameters
    ----------
    learning_rate_init : float, default=0.1
        The initial step size.

    Attributes
    ----------
    learning_rate : float
        The current step size.
    """

    def __init__(self, learning_rate_init=0.1):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def update_params(self, params, grads):
        """Add the update computed from ``grads`` to ``params`` in place.

        Parameters
        ----------
        params : list of ndarray
            ``coefs_ + intercepts_``.
        grads : list of ndarray
            Gradients aligned with ``params``.
        """
        updates = self._get_updates(grads)
        for param, update in zip(params, updates):
            param += update

    #: Names of the per-parameter state arrays (one dict entry each).
    slot_names = ()

    def _init_slots(self, params):
        self.slots = [
            {name: np.zeros_like(param) for name in self.slot_names} for param in params
        ]

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops after a stall.

        Parameters
        ----------
        msg : str
            Message printed when ``verbose``.
        verbose : bool
            Whether to print ``msg``.

        Returns
        -------
        is_stopping : bool
            True if training should stop.
        """
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    Parameters
    ----------
    params : list of ndarray
        ``coefs_ + intercepts_``, used to shape the velocities.
    learning_rate_init : float, default=0.1
        The initial step size.
    lr_schedule : {"constant", "adaptive", "invscaling"}, default="constant"
        Step-size schedule, as in ``MLPClassifier``.
    momentum : float, default=0.9
        Momentum, in ``[0, 1]``.
    nesterov : bool, default=True
        Whether to use Nesterov's momentum.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.

    Attributes
    ----------
    learning_rate : float
        The current step size.
    slots : list of dict
        Per parameter, ``{"velocity": array}``: the momentum terms.
    """

    slot_names = ("velocity",)

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self._init_slots(params)

    def iteration_ends(self, time_step):
        """Update the "invscaling" step size at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        """Stop, or divide the step size by 5 under the "adaptive" schedule.

        Parameters
        ----------
        msg : str
            Message printed when ``verbose``.
        verbose : bool
            Whether to print ``msg``.

        Returns
        -------
        is_stopping : bool
            True if training should stop.
        """
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    def _get_updates(self, grads):
        updates = []
        for slot, grad in zip(self.slots, grads):
            velocity = slot["velocity"]
            if _in_place(velocity, grad, self.momentum, self.learning_rate):
                # The expressions below, term for term, without temporaries
                # the size of the matrix (learning_rate * grad is computed
                # once: both expressions use the same product).
                step = np.multiply(grad, self.learning_rate)
                velocity *= self.momentum
                velocity -= step
                if self.nesterov:
                    update = np.multiply(velocity, self.momentum)
                    update -= step
                else:
                    update = velocity
            else:
                update = self.momentum * velocity - self.learning_rate * grad
                slot["velocity"] = update
                if self.nesterov:
                    update = self.momentum * update - self.learning_rate * grad
            updates.append(update)
        return updates


class AdamOptimizer(BaseOptimizer):
    """Adam (Kingma & Ba, 2014).

    Parameters
    ----------
    params : list of ndarray
        ``coefs_ + intercepts_``, used to shape the moment estimates.
    learning_rate_init : float, default=0.001
        The initial step size.
    beta_1 : float, default=0.9
        Decay rate of the first moment estimate, in ``[0, 1)``.
    beta_2 : float, default=0.999
        Decay rate of the second moment estimate, in ``[0, 1)``.
    epsilon : float, default=1e-8
        Added to the denominator for numerical stability.

    Attributes
    ----------
    learning_rate : float
        The current (bias-corrected) step size.
    t : int
        Number of updates so far.
    slots : list of dict
        Per parameter, ``{"m": array, "v": array}``: the first and second
        moment estimates.
    """

    slot_names = ("m", "v")

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self._init_slots(params)

    def _get_updates(self, grads):
        self.t += 1
        for slot, grad in zip(self.slots, grads):
            m, v = slot["m"], slot["v"]
            if _in_place(m, grad, self.beta_1) and _in_place(v, grad, self.beta_2):
                # beta_1 * m + (1 - beta_1) * grad and
                # beta_2 * v + (1 - beta_2) * grad**2, the same operations in
                # the same order, into the moments' own arrays.
                term = np.multiply(grad, 1 - self.beta_1)
                m *= self.beta_1
                m += term
                np.square(grad, out=term)
                term *= 1 - self.beta_2
                v *= self.beta_2
                v += term
            else:
                slot["m"] = self.beta_1 * m + (1 - self.beta_1) * grad
                slot["v"] = self.beta_2 * v + (1 - self.beta_2) * (grad**2)
        self.learning_rate = (
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        updates = []
        for slot in self.slots:
            # -learning_rate * m / (sqrt(v) + epsilon), in that order (the
            # sum is left to NumPy: a NumPy float64 epsilon makes it float64).
            update = np.multiply(slot["m"], -self.learning_rate)
            update /= np.sqrt(slot["v"]) + self.epsilon
            updates.append(update)
        return updates


def _in_place(state, grad, *scalars):
    """Whether ``state`` can take an update from ``grad`` in its own array.

    Only when scikit-learn's expression would give an array of the same
    dtype anyway (a float64 gradient or a NumPy float64 hyperparameter turns
    float32 state into float64 there) and ``state`` is writeable (a model
    loaded with ``mmap_mode``).
    """
    return (
        state.flags.writeable and np.result_type(state, grad, *scalars) == state.dtype
    )


def lbfgs_takes_iprint():
    """Whether scipy's L-BFGS-B still takes the ``iprint`` option."""
    # scipy 1.15 deprecated L-BFGS-B's `iprint` option; passing it warns.
    major, minor = (int(p) for p in scipy.__version__.split(".")[:2])
    return (major, minor) < (1, 15)
