"""Stochastic optimizers (SGD with momentum, Adam) that respect pruning masks.

The arithmetic is the same, operation for operation, as scikit-learn's
``sklearn/neural_network/_stochastic_optimizers.py``, so that with pruning
turned off a fit reproduces ``MLPClassifier`` to the last bit. The one
addition is :meth:`BaseOptimizer.forget`: when synapses are pruned, their
momentum or Adam moments are cleared, so that with masked gradients a pruned
weight receives an update of exactly 0 (paper eqs 3-5).
"""

import numpy as np


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

    def forget(self, index, pruned):
        """Clear the optimizer state of pruned synapses.

        Parameters
        ----------
        index : int
            Position of the weight matrix in ``params``.
        pruned : ndarray of bool
            True where a synapse was just pruned.
        """
        for arrays in self.state_arrays().values():
            arrays[index][pruned] = 0

    def state_arrays(self):
        """Return the per-parameter state, by attribute name.

        Returns
        -------
        state : dict of str to list of ndarray
            Each list is aligned with ``params``.
        """
        return {}

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
    velocities : list of ndarray
        The momentum terms, aligned with ``params``.
    """

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
        self.velocities = [np.zeros_like(param) for param in params]

    def state_arrays(self):
        """Return the velocities, by attribute name.

        Returns
        -------
        state : dict of str to list of ndarray
            ``{"velocities": velocities}``.
        """
        return {"velocities": self.velocities}

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
        updates = [
            self.momentum * velocity - self.learning_rate * grad
            for velocity, grad in zip(self.velocities, grads)
        ]
        self.velocities = updates
        if self.nesterov:
            updates = [
                self.momentum * velocity - self.learning_rate * grad
                for velocity, grad in zip(self.velocities, grads)
            ]
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
    ms, vs : list of ndarray
        First and second moment estimates, aligned with ``params``.
    """

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = [np.zeros_like(param) for param in params]
        self.vs = [np.zeros_like(param) for param in params]

    def state_arrays(self):
        """Return the moment estimates, by attribute name.

        Returns
        -------
        state : dict of str to list of ndarray
            ``{"ms": ms, "vs": vs}``.
        """
        return {"ms": self.ms, "vs": self.vs}

    def _get_updates(self, grads):
        self.t += 1
        self.ms = [
            self.beta_1 * m + (1 - self.beta_1) * grad
            for m, grad in zip(self.ms, grads)
        ]
        self.vs = [
            self.beta_2 * v + (1 - self.beta_2) * (grad**2)
            for v, grad in zip(self.vs, grads)
        ]
        self.learning_rate = (
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        return [
            -self.learning_rate * m / (np.sqrt(v) + self.epsilon)
            for m, v in zip(self.ms, self.vs)
        ]
