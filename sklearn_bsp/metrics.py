"""Learning-speed metrics of the BSP paper (Zhao & Zeng 2021, eq 6).

A learning curve is a pair of 1-D arrays: ``times`` (iterations, epochs or seconds,
non-decreasing) and ``scores`` (accuracy or any score where higher is better),
recorded as training goes on, e.g. the test accuracy after each ``partial_fit``.
"""

import numbers
import time

import numpy as np
from sklearn.metrics import check_scoring
from sklearn.utils import Bunch

__all__ = ["learning_speedup", "record_learning_curve", "time_to_score"]


def _check_curve(times, scores, name):
    """Return ``times`` and ``scores`` as float arrays, or raise ValueError."""
    times = np.asarray(times, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    for label, array in ((f"times{name}", times), (f"scores{name}", scores)):
        if array.ndim != 1:
            raise ValueError(f"{label} must be 1-D, got shape {array.shape}.")
        if array.size == 0:
            raise ValueError(f"{label} must not be empty.")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{label} must be finite, got NaN or infinity.")
    if times.shape != scores.shape:
        raise ValueError(
            f"times{name} and scores{name} must have the same length, got "
            f"{times.size} and {scores.size}."
        )
    if times[0] < 0:
        raise ValueError(f"times{name} must be non-negative, got {times[0]}.")
    if np.any(np.diff(times) < 0):
        raise ValueError(
            f"times{name} must be non-decreasing (one entry per evaluation, in the "
            "order they were recorded)."
        )
    return times, scores


def _first_times(times, scores, levels):
    """Vectorised :func:`time_to_score` on validated arrays."""
    # The running best score is non-decreasing, so the first index where it
    # reaches a level is a binary search, for every level at once.
    best_so_far = np.maximum.accumulate(scores)
    index = np.searchsorted(best_so_far, levels, side="left")
    reached = index < times.size
    return np.where(reached, times[np.minimum(index, times.size - 1)], np.inf)


def time_to_score(times, scores, level):
    """First time at which a learning curve reaches a score level.

    Parameters
    ----------
    times : array-like of shape (n_evaluations,)
        When each score was recorded (iterations, epochs or seconds),
        non-negative and non-decreasing.

    scores : array-like of shape (n_evaluations,)
        The score (e.g. accuracy) recorded at each time; higher is better. It
        need not increase monotonically.

    level : float or array-like of float
        Score level(s) to reach.

    Returns
    -------
    time : float or ndarray of float
        ``times[k]`` for the first ``k`` with ``scores[k] >= level``, or
        ``np.inf`` if the curve never reaches ``level``. An array of the shape
        of ``level`` when ``level`` is array-like.

    Raises
    ------
    ValueError
        If ``times`` and ``scores`` are not 1-D, non-empty, finite and of equal
        length, or ``times`` is negative or decreasing, or ``level`` is NaN.

    See Also
    --------
    learning_speedup : Compare the time-to-score of two curves (paper eq 6).

    Notes
    -----
    A never-reached level gives ``np.inf`` rather than NaN because "never" is
    later than any time: it sorts last, compares correctly, and a ratio with a
    finite time is infinite or zero rather than undefined.

    The comparison ``scores[k] >= level`` is exact; pass levels taken from the
    recorded scores, or round both, when floating-point noise matters.

    Examples
    --------
    >>> from sklearn_bsp.metrics import time_to_score
    >>> times = [10, 20, 30, 40]
    >>> scores = [0.50, 0.80, 0.75, 0.90]
    >>> time_to_score(times, scores, 0.75)
    20.0
    >>> time_to_score(times, scores, [0.85, 0.95])
    array([40., inf])
    """
    times, scores = _check_curve(times, scores, "")
    levels = np.asarray(level, dtype=np.float64)
    if np.any(np.isnan(levels)):
        raise ValueError("level must not be NaN.")
    result = _first_times(times, scores, levels)
    return float(result) if result.ndim == 0 else result


def learning_speedup(times_bsp, scores_bsp, times_ref, scores_ref, *, levels=None):
    r"""Learning-speed improvement of one learning curve over another (paper eq 6).

    For each score level, take the first time each curve reaches it; at the level
    where the two times differ most, report the reference time divided by the BSP
    time. A value above 1 means BSP got there faster.

    Parameters
    ----------
    times_bsp : array-like of shape (n_evaluations_bsp,)
        When each score of the BSP network was recorded (iterations, epochs or
        seconds), non-negative and non-decreasing.

    scores_bsp : array-like of shape (n_evaluations_bsp,)
        Scores (e.g. test accuracy) of the BSP network; higher is better.

    times_ref : array-like of shape (n_evaluations_ref,)
        When each score of the compared network (unpruned, dropout, ...) was
        recorded, in the same unit as ``times_bsp``.

    scores_ref : array-like of shape (n_evaluations_ref,)
        Scores of the compared network.

    levels : array-like of float, default=None
        Score levels at which to compare the curves. Levels that either curve
        never reaches are reported with an infinite time and left out of the
        maximum. If None, every distinct score recorded in either curve up to the
        best score both curves reach: the time-to-score of a curve only changes
        at a recorded score, so these levels cover every pair of times that any
        level could give, and the result is the maximum over all levels.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        speedup : float
            ``L = time_ref / time_bsp`` at the level of largest gap. Infinite
            if ``time_bsp`` is 0 and ``time_ref`` is not; 1.0 if both are 0.
        level : float
            The score level ``i`` of largest gap ``|time_bsp - time_ref|``.
            Among tied levels, the lowest.
        time_bsp, time_ref : float
            First time each curve reaches ``level``.
        levels : ndarray of shape (n_levels,)
            Every level considered, sorted increasingly.
        times_bsp, times_ref : ndarray of shape (n_levels,)
            First time each curve reaches each level, ``np.inf`` if never; plot
            them against ``levels`` to see where the curves part.

    Raises
    ------
    ValueError
        If a curve is invalid (see :func:`time_to_score`), ``levels`` is not a
        1-D finite array, or no level is reached by both curves.

    See Also
    --------
    time_to_score : First time a curve reaches a score level.

    Notes
    -----
    With :math:`T_b[i]` and :math:`T_c[i]` the first times at which the BSP
    network and the compared network reach score level :math:`i`, eq 6 of [1]_
    is

    .. math::

        L = \frac{T_c[i^*]}{T_b[i^*]}, \qquad
        i^* = \operatorname{argmax}_i \lvert T_b[i] - T_c[i] \rvert,

    over the levels both networks reach. "Reaching" a level means a recorded
    score at or above it, so a curve that rises and falls keeps the first time.
    The paper measures time in iterations or seconds; any unit works as long as
    both curves use the same one and it starts at 0 with training.

    References
    ----------
    .. [1] F. Zhao and Y. Zeng (2021). Dynamically Optimizing Network Structure
       Based on Synaptic Pruning in the Brain. Frontiers in Systems Neuroscience
       15:620558. doi:10.3389/fnsys.2021.620558.

    Examples
    --------
    BSP reaches accuracies 0.5, 0.7 and 0.9 after 1, 2 and 3 epochs, the dense
    network after 2, 4 and 9. The gaps are 1, 2 and 6 epochs, largest at 0.9,
    where the dense network needs three times as long:

    >>> from sklearn_bsp.metrics import learning_speedup
    >>> result = learning_speedup([1, 2, 3], [0.5, 0.7, 0.9],
    ...                           [2, 4, 9], [0.5, 0.7, 0.9])
    >>> result.speedup, result.level, result.time_bsp, result.time_ref
    (3.0, 0.9, 3.0, 9.0)
    >>> result.times_ref - result.times_bsp
    array([1., 2., 6.])
    """
    times_bsp, scores_bsp = _check_curve(times_bsp, scores_bsp, "_bsp")
    times_ref, scores_ref = _check_curve(times_ref, scores_ref, "_ref")
    best_common = min(scores_bsp.max(), scores_ref.max())

    if levels is None:
        levels = np.union1d(scores_bsp, scores_ref)
        levels = levels[levels <= best_common]
    else:
        levels = np.asarray(levels, dtype=np.float64)
        if levels.ndim != 1 or levels.size == 0 or not np.all(np.isfinite(levels)):
            raise ValueError(
                "levels must be a non-empty 1-D array of finite floats, got an "
                f"array of shape {levels.shape}."
            )
        levels = np.unique(levels)  # sorted, so ties resolve to the lowest level

    level_times_bsp = _first_times(times_bsp, scores_bsp, levels)
    level_times_ref = _first_times(times_ref, scores_ref, levels)
    common = np.isfinite(level_times_bsp) & np.isfinite(level_times_ref)
    if not np.any(common):
        raise ValueError(
            f"No common score level: the BSP curve reaches at most "
            f"{scores_bsp.max()} and the reference curve at most {scores_ref.max()}, "
            f"but every level given is above {best_common}."
        )

    # Indexing by `common` keeps inf - inf (levels neither curve reaches) out.
    gaps = np.full(levels.shape, -np.inf)
    gaps[common] = np.abs(level_times_bsp[common] - level_times_ref[common])
    best = int(np.argmax(gaps))
    time_bsp, time_ref = float(level_times_bsp[best]), float(level_times_ref[best])
    if time_bsp == time_ref:
        speedup = 1.0  # covers 0 / 0: equal times are no speed-up either way
    elif time_bsp == 0:
        speedup = np.inf
    else:
        speedup = time_ref / time_bsp
    return Bunch(
        speedup=speedup,
        level=float(levels[best]),
        time_bsp=time_bsp,
        time_ref=time_ref,
        levels=levels,
        times_bsp=level_times_bsp,
        times_ref=level_times_ref,
    )


def record_learning_curve(
    estimator,
    X,
    y,
    X_test,
    y_test,
    *,
    scoring=None,
    sample_weight=None,
    partial_fit_epochs=None,
    classes=None,
):
    """Train an MLP and record its test score and training time per epoch.

    By default the estimator is fitted once, exactly as ``estimator.fit(X, y)``
    would fit it (same epochs, shuffling, stopping rule); after every epoch
    (every L-BFGS iteration) it is scored on ``(X_test, y_test)``. The time
    spent scoring is not counted as training time, so ``times`` is the
    wall-clock time the fit itself took up to each epoch. The result feeds
    :func:`learning_speedup`.

    The epochs of a fit are observed through scikit-learn's callback API
    (``set_callbacks``), which :class:`~sklearn_bsp.BSPClassifier` and
    :class:`~sklearn_bsp.BSPRegressor` support. scikit-learn 1.9's
    ``MLPClassifier`` does not; ``BSPClassifier(pruning_rate=0)`` trains the
    same network to the bit and stands in for it.

    With ``partial_fit_epochs``, the estimator is instead trained by that many
    ``partial_fit`` calls, one epoch each, and scored after each call; any
    estimator with ``partial_fit`` works. Training goes on from the state the
    estimator is in, so a long run can be recorded in parts (saving the
    estimator between them) and the parts' curves joined.

    Parameters
    ----------
    estimator : estimator instance
        A BSP estimator, or any scikit-learn estimator supporting its
        callbacks, with any solver; with ``partial_fit_epochs``, any estimator
        with ``partial_fit``. It is trained in place; the callbacks it
        already has are kept.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.

    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Training targets.

    X_test : {array-like, sparse matrix} of shape (n_test, n_features)
        Data scored after each epoch.

    y_test : array-like of shape (n_test,) or (n_test, n_outputs)
        Targets of ``X_test``.

    scoring : str or callable, default=None
        A scikit-learn scorer name or ``scorer(estimator, X, y)``; None uses
        ``estimator.score`` (accuracy for a classifier).

    sample_weight : array-like of shape (n_samples,), default=None
        Passed to ``fit`` (to every ``partial_fit`` call).

    partial_fit_epochs : int, default=None
        Train with this many ``partial_fit`` calls instead of one ``fit``.

    classes : array-like of shape (n_classes,), default=None
        Passed to every ``partial_fit`` call (a classifier's first call needs
        it); only with ``partial_fit_epochs``.

    Returns
    -------
    curve : :class:`~sklearn.utils.Bunch`
        With one entry per epoch recorded (``n_iter_`` of a fit, or
        ``partial_fit_epochs``):

        - ``epochs``: 1, 2, ... the number of epochs recorded.
        - ``times``: cumulative training seconds at the end of each epoch
          (with ``partial_fit_epochs``: the seconds spent in the
          ``partial_fit`` calls so far).
        - ``scores``: test score after each epoch.
        - ``losses``: training loss of each epoch (the last entries of
          ``loss_curve_``; NaN for an estimator without one).
        - ``compressions``: share of synapses pruned after each epoch
          (0 for a network without ``compression_``).

    Raises
    ------
    TypeError
        Without ``partial_fit_epochs``, if the estimator does not support
        scikit-learn's callbacks.
    ValueError
        If ``partial_fit_epochs`` is not a positive integer, or ``classes`` is
        given without it.

    See Also
    --------
    learning_speedup : Compare two such curves (paper eq 6).

    Notes
    -----
    With ``early_stopping=True`` the recorded scores are those of each epoch,
    not of the restored best weights.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_bsp import BSPClassifier
    >>> from sklearn_bsp.metrics import record_learning_curve
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = BSPClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    >>> curve = record_learning_curve(clf, X[:1000] / 16, y[:1000],
    ...                               X[1000:] / 16, y[1000:])  # doctest: +SKIP
    >>> curve.epochs  # doctest: +SKIP
    array([1, 2, 3, 4, 5])

    The same network trained by ``partial_fit``, three epochs at a time:

    >>> clf = BSPClassifier(hidden_layer_sizes=(32,), random_state=0)
    >>> part = record_learning_curve(clf, X[:1000] / 16, y[:1000],
    ...                              X[1000:] / 16, y[1000:],
    ...                              partial_fit_epochs=3,
    ...                              classes=range(10))  # doctest: +SKIP
    >>> part.epochs  # doctest: +SKIP
    array([1, 2, 3])
    """
    scorer = check_scoring(estimator, scoring=scoring)
    if partial_fit_epochs is not None:
        if (
            not isinstance(partial_fit_epochs, numbers.Integral)
            or isinstance(partial_fit_epochs, bool)
            or partial_fit_epochs < 1
        ):
            raise ValueError(
                "partial_fit_epochs must be None or an int >= 1, got "
                f"{partial_fit_epochs!r}."
            )
        times, scores, compressions = _record_partial_fits(
            estimator,
            X,
            y,
            X_test,
            y_test,
            scorer,
            partial_fit_epochs,
            sample_weight=sample_weight,
            classes=classes,
        )
    else:
        if classes is not None:
            raise ValueError(
                "classes is passed to partial_fit: give it with "
                "partial_fit_epochs only (fit finds the classes in y)."
            )
        times, scores, compressions = _record_fit(
            estimator, X, y, X_test, y_test, scorer, sample_weight
        )
    n = len(times)
    losses = getattr(estimator, "loss_curve_", None)
    return Bunch(
        epochs=np.arange(1, n + 1),
        times=np.asarray(times, dtype=np.float64),
        scores=np.asarray(scores, dtype=np.float64),
        losses=np.asarray(
            losses[-n:] if losses is not None else [np.nan] * n, dtype=np.float64
        ),
        compressions=np.asarray(compressions, dtype=np.float64),
    )


def _record_fit(estimator, X, y, X_test, y_test, scorer, sample_weight):
    """One ``fit``, observed by a callback: per-epoch times, scores, compressions."""
    if not hasattr(estimator, "set_callbacks"):
        raise TypeError(
            "record_learning_curve observes the epochs of a fit through "
            "scikit-learn's callback API, which "
            f"{type(estimator).__name__} does not support. "
            "For scikit-learn's MLPClassifier, use "
            "sklearn_bsp.BSPClassifier(pruning_rate=0, ...): it trains the same "
            "network to the bit; or record partial_fit calls "
            "(partial_fit_epochs)."
        )
    recorder = _EpochRecorder(scorer, X_test, y_test)
    previous = list(getattr(estimator, "_skl_callbacks", []))
    estimator.set_callbacks(*previous, recorder)
    try:
        if sample_weight is None:
            estimator.fit(X, y)
        else:
            estimator.fit(X, y, sample_weight=sample_weight)
    finally:
        estimator.set_callbacks(*previous)
    return recorder.times, recorder.scores, recorder.compressions


def _record_partial_fits(
    estimator, X, y, X_test, y_test, scorer, n_epochs, *, sample_weight, classes
):
    """``n_epochs`` timed ``partial_fit`` calls, each scored after it."""
    fit_params = {}
    if sample_weight is not None:
        fit_params["sample_weight"] = sample_weight
    if classes is not None:
        fit_params["classes"] = classes
    times, scores, compressions = [], [], []
    seconds = 0.0
    for _ in range(n_epochs):
        start = time.perf_counter()
        estimator.partial_fit(X, y, **fit_params)
        seconds += time.perf_counter() - start
        times.append(seconds)
        scores.append(scorer(estimator, X_test, y_test))
        compressions.append(getattr(estimator, "compression_", 0.0))
    return times, scores, compressions


class _EpochRecorder:
    """A scikit-learn callback: times and scores the estimator after each epoch."""

    def __init__(self, scorer, X_test, y_test):
        self.scorer, self.X_test, self.y_test = scorer, X_test, y_test

    def setup(self, estimator, context):
        self.times, self.scores, self.compressions = [], [], []
        self.scoring = 0.0
        self.start = time.perf_counter()

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        if context.task_name != "epoch":
            return False
        now = time.perf_counter()
        self.times.append(now - self.start - self.scoring)
        # At the end of an epoch the estimator's arrays hold that epoch's
        # weights, and prediction never changes the estimator.
        self.scores.append(self.scorer(estimator, self.X_test, self.y_test))
        self.compressions.append(getattr(estimator, "compression_", 0.0))
        self.scoring += time.perf_counter() - now
        return False

    def teardown(self, estimator, context):
        pass
