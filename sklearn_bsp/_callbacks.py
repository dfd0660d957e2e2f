"""scikit-learn's callback support, where the installed scikit-learn has it.

``sklearn.callback`` is public from scikit-learn 1.9. With an older release the
estimators work as before, without ``set_callbacks``.
"""

from typing import NamedTuple

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
