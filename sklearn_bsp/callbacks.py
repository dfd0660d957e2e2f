"""Callbacks that show what pruning does while a network trains.

They follow scikit-learn's callback API (``sklearn.callback``, scikit-learn
>= 1.9): pass them to :meth:`BSPClassifier.set_callbacks
<sklearn_bsp.BSPClassifier.set_callbacks>` or
:meth:`BSPRegressor.set_callbacks <sklearn_bsp.BSPRegressor.set_callbacks>`,
alone or next to scikit-learn's own (``ProgressBar``, ``ScoringMonitor``).

The hooks receive ``X`` and ``y`` as passed to ``fit`` (class labels, not the
binarized targets the loss takes; feature names kept), so scikit-learn's
scorers apply. The ``fitted_estimator`` of a task is an independent copy
fitted as of its end: it predicts, pickles and trains on (``partial_fit``,
``warm_start``) without touching the running fit, and carries no callbacks.
Name the score of a ``ScoringMonitor`` (``scoring="accuracy"``, ``"r2"``, a
list or a dict): with ``scoring=None``, scikit-learn 1.9's monitor raises a
``TypeError`` for every estimator, its own included, as it expects a dict of
scores where ``score`` returns one number.
"""

__all__ = ["PruningMonitor"]


class PruningMonitor:
    """Record (and optionally print) loss and compression after each epoch.

    Each epoch of a stochastic solver, and each iteration of L-BFGS, is one
    fit task of the estimator; at its end the monitor records the epoch
    number, the training loss, the compression and the number of alive
    synapses of each weight matrix. It can also stop the fit once a target
    compression is reached.

    Parameters
    ----------
    verbose : bool, default=False
        Print one line per epoch.
    stop_at_compression : float or None, default=None
        Ask the estimator to stop at the end of the first epoch whose
        compression reaches this value. The estimator then ends fitted, with
        ``n_iter_`` telling where it stopped.

    Attributes
    ----------
    records_ : list of dict
        One entry per epoch of the last fit: ``epoch``, ``loss``,
        ``compression``, ``alive`` (alive synapses per weight matrix).

    See Also
    --------
    sklearn.callback.ProgressBar : A progress bar (needs ``rich``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_bsp import BSPClassifier
    >>> from sklearn_bsp.callbacks import PruningMonitor
    >>> X, y = load_digits(return_X_y=True)
    >>> monitor = PruningMonitor(stop_at_compression=0.5)
    >>> clf = BSPClassifier(hidden_layer_sizes=(64,), pruning_rate=0.1,
    ...                     pruning_patience=5, max_iter=50, random_state=0)
    >>> clf = clf.set_callbacks(monitor).fit(X / 16, y)
    >>> clf.n_iter_ == len(monitor.records_) < 50
    True
    >>> monitor.records_[-1]["compression"] >= 0.5
    True
    """

    def __init__(self, verbose=False, stop_at_compression=None):
        self.verbose = verbose
        self.stop_at_compression = stop_at_compression

    def setup(self, estimator, context):
        """Start a new record at the beginning of a fit.

        Parameters
        ----------
        estimator : estimator instance
            The estimator being fitted.
        context : sklearn.callback.CallbackContext
            The fit's root task.
        """
        self.records_ = []

    def on_fit_task_begin(self, estimator, context):
        """Nothing to do when a task begins.

        Parameters
        ----------
        estimator : estimator instance
            The estimator being fitted.
        context : sklearn.callback.CallbackContext
            The task.
        """

    def on_fit_task_end(self, estimator, context):
        """Record an epoch; ask to stop once the target compression is reached.

        Parameters
        ----------
        estimator : estimator instance
            The estimator being fitted.
        context : sklearn.callback.CallbackContext
            The task: the whole fit or one epoch.

        Returns
        -------
        stop : bool
            True to stop the fit after this epoch.
        """
        if context.task_name != "epoch":
            return False
        loss_curve = getattr(estimator, "loss_curve_", None)
        record = {
            "epoch": estimator.n_iter_,
            "loss": float(
                loss_curve[-1]
                if loss_curve
                else estimator.__dict__.get("loss_", float("nan"))
            ),
            "compression": float(estimator.compression_),
            "alive": [int(m.sum()) for m in estimator.coef_masks_],
        }
        self.records_.append(record)
        if self.verbose:
            print(
                f"epoch {record['epoch']}: loss {record['loss']:.6f}, "
                f"compression {record['compression']:.2%}, alive {record['alive']}"
            )
        return (
            self.stop_at_compression is not None
            and record["compression"] >= self.stop_at_compression
        )

    def teardown(self, estimator, context):
        """Nothing to release at the end of a fit.

        Parameters
        ----------
        estimator : estimator instance
            The fitted estimator.
        context : sklearn.callback.CallbackContext
            The fit's root task.
        """
