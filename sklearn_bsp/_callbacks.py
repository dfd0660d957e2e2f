"""scikit-learn's callback support, where the installed scikit-learn has it.

``sklearn.callback`` is public from scikit-learn 1.9. With an older release the
estimators work as before, without ``set_callbacks``.
"""

import copy
from typing import NamedTuple

from ._inference import InferenceNetwork

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class _NoCallbackContext:
        """Stands in for ``CallbackContext`` when callbacks are unavailable."""

        def subcontext(self, *args, **kwargs):
            return self

        def call_on_fit_task_begin(self, **kwargs):
            return self

        def call_on_fit_task_end(self, **kwargs):
            return False

    class CallbackSupportMixin:  # noqa: D101 - a private stand-in
        def _init_callback_context(self, **kwargs):
            return _NoCallbackContext()


# Attributes that exist only while a fit runs: scikit-learn's callback
# contexts (the fit's data reach the epochs as a FitContext argument). They
# are no part of a fitted model: a copy or a pickle made meanwhile (the
# fitted_estimator handed to a callback) leaves them out.
FIT_PLUMBING = (
    "_callback_fit_ctx",
    "_skl_callbacks_to_teardown",
    "_parent_callback_ctx",
)


def with_callbacks(method):
    """Run ``method`` inside scikit-learn's callback management, if available.

    The callbacks' ``teardown`` hooks then run whatever happens in ``fit``.
    """
    try:
        from sklearn.callback import with_callbacks as sklearn_with_callbacks
    except ImportError:  # scikit-learn < 1.9
        return method
    return sklearn_with_callbacks(method)


class FitContext(NamedTuple):
    """What each epoch of a fit hands to scikit-learn's callbacks.

    Attributes
    ----------
    callback_ctx : CallbackContext
        The fit's task; each epoch (L-BFGS iteration) opens a subtask.
    X, y : array-like
        The data as passed to ``fit``: callbacks' scorers call ``predict``
        on ``X`` and compare with the labels.
    metadata : dict or None
        ``{"sample_weight": ...}`` when weights were passed.
    """

    callback_ctx: object
    X: object
    y: object
    metadata: dict | None

    def epoch_begin(self, estimator):
        """Open an epoch's (an L-BFGS iteration's) subtask.

        Parameters
        ----------
        estimator : BaseBSP
            The estimator being fitted.

        Returns
        -------
        epoch_ctx : CallbackContext
            The epoch's subtask, for :meth:`task_end`.
        """
        epoch_ctx = self.callback_ctx.subcontext(task_name="epoch")
        epoch_ctx.call_on_fit_task_begin(
            estimator=estimator, X=self.X, y=self.y, metadata=self.metadata
        )
        return epoch_ctx

    def task_end(self, estimator, task_ctx, layers=None):
        """Close an epoch's subtask, or the fit's task.

        Parameters
        ----------
        estimator : BaseBSP
            The estimator being fitted.
        task_ctx : CallbackContext
            The subtask :meth:`epoch_begin` opened, or ``callback_ctx``.
        layers : list of SynapseLayer or None, default=None
            The running solver's layers (see :func:`fitted_snapshot`); None
            once the fit is over.

        Returns
        -------
        stop : bool
            True when a callback asks the fit to stop.
        """
        return task_ctx.call_on_fit_task_end(
            estimator=estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            # Evaluated only for callbacks that ask for a fitted estimator.
            reconstruction_attributes=lambda: fitted_snapshot(estimator, layers),
        )


def fitted_snapshot(estimator, layers=None):
    """Attributes of an independent copy of the estimator, fitted as of now.

    scikit-learn builds the ``fitted_estimator`` a callback receives as a
    shallow copy of the estimator with these attributes set. They cover
    the whole state, copied, so that the copy predicts, pickles and goes
    on training (``partial_fit``, ``warm_start``) like the estimator
    would from here, and nothing done to it reaches the running fit.

    Parameters
    ----------
    estimator : BaseBSP
        The estimator being fitted (or just fitted).
    layers : list of SynapseLayer or None, default=None
        The training state of the running solver; the optimizer slots of
        its compact layers are scattered back to dense arrays, the form
        the estimator keeps between fits.

    Returns
    -------
    attributes : dict
        Attribute name to value.
    """
    # __getstate__ leaves the running fit's plumbing out of the copy; the
    # pruner is rebuilt by the next fit and the stale inference network
    # is replaced below.
    skip = FIT_PLUMBING + ("_pruner", "_inference", "_skl_callbacks")
    state = copy.deepcopy(
        {key: value for key, value in estimator.__dict__.items() if key not in skip}
    )
    optimizer = state.get("_optimizer")
    for i, layer in enumerate(layers or []):
        if optimizer is not None and layer.is_compact:
            layer.scatter_slots(optimizer.slots[i])
    # The callbacks belong to the running fit: a fit of the copy must not
    # set them up (and reset what they recorded) again.
    state["_skl_callbacks"] = []
    state["_inference"] = InferenceNetwork(
        state["coefs_"],
        state["intercepts_"],
        estimator.activation,
        estimator._compaction_policy,
    )
    return state
