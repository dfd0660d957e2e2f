"""BSPClassifier: an MLPClassifier that prunes its own synapses while it learns."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseBSP
from ._callbacks import with_callbacks


class BSPClassifier(ClassifierMixin, BaseBSP):
    """Multi-layer perceptron classifier with brain-inspired synaptic pruning.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`
    that removes weak synapses while it learns, following Zhao & Zeng (2021).
    At every pruning step the fraction ``pruning_rate`` of the alive synapses
    with the smallest ``|w|`` become *candidates*; a synapse that stays a
    candidate for more than ``pruning_patience`` consecutive steps is pruned:
    its weight is set to exactly 0 and never updated again. Biases are never
    pruned.

    With ``pruning_rate=0`` the estimator is exactly ``MLPClassifier``: the
    same ``random_state`` gives the same weights.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element represents the number of neurons in the ith hidden
        layer.

    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation function for the hidden layers. The paper uses
        ``'logistic'``.

    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        The solver for weight optimization. Every solver prunes. With
        ``'lbfgs'`` one iteration (which sees all the data) is one step of
        the rule, whatever ``pruning_unit`` says; after a step that prunes,
        L-BFGS restarts from the current weights over the alive synapses, and
        ``max_iter`` and ``max_fun`` bound the totals across restarts.

    alpha : float, default=0.0001
        Strength of the L2 regularization term, divided by the sample size
        when added to the loss. Pruned synapses are not penalised (they are 0).

    batch_size : int or 'auto', default='auto'
        Size of minibatches for stochastic optimizers. When set to "auto",
        ``batch_size=min(200, n_samples)``.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning rate schedule for weight updates, as in ``MLPClassifier``.
        Only used when ``solver='sgd'``.

    learning_rate_init : float, default=0.001
        The initial learning rate. Only used when solver='sgd' or 'adam'.

    power_t : float, default=0.5
        The exponent for inverse scaling learning rate. Only used when
        ``solver='sgd'`` and ``learning_rate='invscaling'``.

    max_iter : int, default=200
        Maximum number of epochs for stochastic solvers (iterations for
        'lbfgs').

    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.

    random_state : int, RandomState instance or None, default=None
        Determines weight initialization, the early-stopping split, batch
        sampling and dropout masks. Pass an int for reproducible results.

    tol : float, default=1e-4
        Tolerance for the optimization: training stops when the loss (or
        validation score) does not improve by ``tol`` for
        ``n_iter_no_change`` consecutive epochs.

    verbose : bool, default=False
        Whether to print the loss and the compression after each epoch.

    warm_start : bool, default=False
        When True, reuse the previous solution, masks and pruning counters
        as the starting point of the next call to fit.

    momentum : float, default=0.9
        Momentum for gradient descent update. Only used when solver='sgd'.

    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum.

    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of the training data and
        stop when the validation score stops improving. The weights, masks
        and counters of the best epoch are restored.

    validation_fraction : float, default=0.1
        Proportion of training data set aside for early stopping.

    beta_1 : float, default=0.9
        Decay rate of Adam's first moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of Adam's second moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Value for numerical stability in Adam.

    n_iter_no_change : int, default=10
        Maximum number of epochs without ``tol`` improvement.

    max_fun : int, default=15000
        Only used when solver='lbfgs'. Maximum number of loss function calls.

    pruning_rate : float, 'auto' or 'paper', default='auto'
        Share of the alive synapses that are candidates at each pruning
        step, in [0, 1). ``'paper'`` uses the paper's eq 1 from the number
        of hidden neurons and training samples. ``'auto'`` is 0.3 when a
        target compression sets the pace, and eq 1 when
        ``target_compression=None``. ``0`` turns pruning off (the network is
        then exactly the dense one, whatever the target).

    pruning_patience : int, 'auto' or 'paper', default='auto'
        A synapse is pruned when it has been a candidate for more than this
        many consecutive steps. ``'paper'`` uses the paper's eq 2,
        recomputed at every step from the number of synapses pruned so far.
        ``'auto'`` is a twentieth of the target's pruning window (one epoch
        of 60,000 samples in batches of 200), and eq 2 when
        ``target_compression=None``.

    pruning_unit : {'batch', 'epoch'}, default='batch'
        What a pruning step is: one minibatch update (the scale at which
        eq 2's values make sense) or one epoch.

    pruning_scope : {'layer', 'network'}, default='layer'
        Where candidates compete: within each weight matrix, or across all
        weight matrices of the network.

    dropout : float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout), in [0, 1). The paper's baseline; independent of pruning.

    max_compression : float in (0, 1) or None, default=None
        Beyond the paper: the share of synapses pruning may remove at most.
        Once the network's compression reaches it, the rule stops (and costs
        nothing more) and the network trains on; a step that would overshoot
        prunes only the weakest synapses that fit. None prunes as far as the
        rule goes. Whatever the setting, pruning never cuts the last alive
        path from the input to an output neuron.

    target_compression : float in (0, 1), 'auto' or None, default='auto'
        Beyond the paper: the share of synapses to prune, reached within the
        training budget. The BSP rule still decides which synapses go (those
        that stayed candidates longer than the patience, weakest first);
        the target bounds how many may have gone after each step, along a
        cubic schedule (Zhu & Gupta, 2017) that opens after 4,000 updates
        (at most 60 % of ``max_iter`` epochs; at once when the dense network
        has converged earlier) and reaches the target 12,000 updates later
        (at most a fifth of ``max_iter``); with L-BFGS over the first
        tenth of ``max_iter`` iterations. The rest of the budget lets the
        pruned network recover. ``'auto'`` grows with the network: 50 % for
        1,000 synapses or fewer, 65 % at 10,000, 90 % from 50,000 up (see the
        user guide for the measurements behind it). None lets the rule prune at its own
        pace (the paper's behaviour, with ``pruning_rate='paper'`` and
        ``pruning_patience='paper'``). ``max_compression``, when lower,
        still caps it.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels for each output.

    loss_ : float
        The current loss computed with the loss function.

    best_loss_ : float or None
        The minimum loss reached by the solver throughout fitting; None when
        ``early_stopping=True``.

    loss_curve_ : list of shape (`n_iter_`,)
        The loss at the end of each epoch.

    validation_scores_ : list of shape (`n_iter_`,) or None
        Accuracy on the held-out validation set after each epoch, when
        ``early_stopping=True``; otherwise None.

    best_validation_score_ : float or None
        The best validation score, when ``early_stopping=True``.

    t_ : int
        The number of training samples seen by the solver during fitting.

    coefs_ : list of shape (n_layers - 1,)
        The ith element is the weight matrix of layer i. Pruned synapses are
        exactly 0.

    intercepts_ : list of shape (n_layers - 1,)
        The ith element is the bias vector of layer i + 1.

    coef_masks_ : list of ndarray of bool
        One mask per weight matrix, True where the synapse is alive.

    compression_ : float
        Share of synapses pruned, ``1 - alive / total``, in [0, 1].

    compression_curve_ : list of float
        The compression after each epoch.

    pruning_rate_ : float
        The pruning rate used (eq 1 when ``pruning_rate='paper'``).

    target_compression_ : float or None
        The target compression used (``target_compression='auto'``
        resolved); None without a target.

    pruning_patience_ : int
        The patience in force at the last pruning step: a synapse is pruned
        once it has been a candidate for more than this many consecutive
        steps. Eq 2 rounded down (the same bound for whole counts) when
        ``pruning_patience='paper'``, recomputed at every step; computed even
        when pruning is off. 2,147,483,647, the largest count a counter
        holds, once eq 2 grows without bound.

    pruning_counters_ : list of ndarray of int
        Per synapse, the number of consecutive steps it has been a candidate.
        Kept so that ``partial_fit`` and ``warm_start`` resume the rule.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    n_iter_ : int
        The number of iterations the solver has run.

    n_layers_ : int
        Number of layers.

    n_outputs_ : int
        Number of outputs.

    out_activation_ : str
        Name of the output activation function.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The same network without pruning.

    Notes
    -----
    A pruning step runs after each weight update (``pruning_unit='batch'``)
    or after each epoch. Pruned synapses get a zero gradient and their
    momentum or Adam moments are cleared, so they stay exactly 0 under every
    solver and under the L2 penalty. The interpretation of the paper's
    equations is described in the user guide.

    References
    ----------
    Zhao, F. & Zeng, Y. (2021). Dynamically Optimizing Network Structure
    Based on Synaptic Pruning in the Brain. Frontiers in Systems
    Neuroscience 15:620558. doi:10.3389/fnsys.2021.620558

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn_bsp import BSPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
    >>> clf = BSPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0)
    >>> clf = clf.fit(X_train, y_train)
    >>> bool(clf.score(X_test, y_test) > 0.9)
    True
    >>> round(clf.target_compression_, 2), round(clf.compression_, 2)
    (0.6, 0.6)
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        pruning_rate="auto",
        pruning_patience="auto",
        pruning_unit="batch",
        pruning_scope="layer",
        dropout=0.0,
        max_compression=None,
        target_compression="auto",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            pruning_rate=pruning_rate,
            pruning_patience=pruning_patience,
            pruning_unit=pruning_unit,
            pruning_scope=pruning_scope,
            dropout=dropout,
            max_compression=max_compression,
            target_compression=target_compression,
            loss="log_loss",
        )

    @_fit_context(prefer_skip_nested_validation=True)
    @with_callbacks
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y, pruning as it learns.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values: class labels, or a label indicator matrix for
            multilabel classification.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @with_callbacks
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        The masks, pruning counters and optimizer state carry over from the
        previous call, so a sequence of calls prunes like one long fit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        classes : array-like of shape (n_classes,), default=None
            Classes across all calls to partial_fit. Required on the first
            call, ignored afterwards.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        # bool keeps float32 data from being upcast in the loss.
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def _output_activation(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        # Binary and multilabel: one logistic output per label.
        return "logistic"

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        # No input validation here: it would drop feature names.
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict using the pruned multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._predict(X)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.out_activation_ == "logistic":
            # Independent probabilities of each label: a saturated logistic
            # (|logit| > 37 in float64) rounds to exactly 0 or 1; keep them
            # inside the open interval, as probabilities of a label are.
            info = np.finfo(y_pred.dtype)
            np.clip(y_pred, info.tiny, 1 - info.epsneg, out=y_pred)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """Return the log of probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
