"""BSPClassifier: an MLPClassifier that prunes its own synapses while it learns."""

import copy
import math
import warnings
from itertools import chain
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import (
    _safe_indexing,
    check_random_state,
    column_or_1d,
    gen_batches,
    shuffle,
)
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._compaction import TrainingState
from ._inference import remove_dead_neurons
from ._network import MaskedNetwork, forward
from ._optimizers import AdamOptimizer, SGDOptimizer
from ._persistence import PackedMask, pack_list, unpack_list
from ._pruning import SynapticPruner
from ._schedules import auto_pruning_patience, auto_pruning_rate
from ._sparse import SparseLayer, choose_kernel

_STOCHASTIC_SOLVERS = ("sgd", "adam")

# Per-layer arrays that are 0 wherever their mask is False, with that mask's
# attribute: pickled as alive entries only (see __getstate__).
_MASKED_STATE = (
    ("coefs_", "coef_masks_"),
    ("pruning_counters_", "coef_masks_"),
    ("_best_coefs", "_best_masks"),
    ("_best_counters", "_best_masks"),
)
_MASK_KEYS = ("coef_masks_", "_best_masks")

# Weight matrices smaller than this stay dense: their products cost less
# than setting up the sparse kernels.
_MIN_COMPACT_SIZE = 4096


class BSPClassifier(ClassifierMixin, BaseEstimator):
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
        The solver for weight optimization. Pruning counts steps of a
        stochastic solver, so ``'lbfgs'`` requires ``pruning_rate=0``: it then
        trains (or fine-tunes, with ``warm_start``) the network without
        pruning, keeping the synapses already pruned at 0.

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

    pruning_rate : float or 'auto', default='auto'
        Share of the alive synapses that are candidates at each pruning
        step, in [0, 1). ``'auto'`` uses the paper's eq 1 from the number of
        hidden neurons and training samples. ``0`` turns pruning off.

    pruning_patience : int or 'auto', default='auto'
        A synapse is pruned when it has been a candidate for more than this
        many consecutive steps. ``'auto'`` uses the paper's eq 2, recomputed
        at every step from the number of synapses pruned so far.

    pruning_unit : {'batch', 'epoch'}, default='batch'
        What a pruning step is: one minibatch update (the scale at which
        eq 2's values make sense) or one epoch.

    pruning_scope : {'layer', 'network'}, default='layer'
        Where candidates compete: within each weight matrix, or across all
        weight matrices of the network.

    dropout : float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout), in [0, 1). The paper's baseline; independent of pruning.

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
        The pruning rate used (eq 1 when ``pruning_rate='auto'``).

    pruning_patience_ : float
        The patience in force at the last pruning step (eq 2 when
        ``pruning_patience='auto'``; computed even when pruning is off;
        ``inf`` after an L-BFGS fit, which never prunes).

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
    >>> clf = BSPClassifier(hidden_layer_sizes=(64,), pruning_rate=0.05,
    ...                     pruning_patience=10, max_iter=50, random_state=0)
    >>> clf = clf.fit(X_train, y_train)
    >>> bool(clf.score(X_test, y_test) > 0.9)
    True
    >>> bool(clf.compression_ > 0.5)
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "pruning_rate": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left")],
        "pruning_patience": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "pruning_unit": [StrOptions({"batch", "epoch"})],
        "pruning_scope": [StrOptions({"layer", "network"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

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
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.pruning_rate = pruning_rate
        self.pruning_patience = pruning_patience
        self.pruning_unit = pruning_unit
        self.pruning_scope = pruning_scope
        self.dropout = dropout

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
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

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
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

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if not all(
            isinstance(n, Integral) and not isinstance(n, bool)
            for n in hidden_layer_sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must contain integers (the number of neurons "
                f"of each hidden layer), got {self.hidden_layer_sizes!r}."
            )
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError(
                "hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes
            )
        if self.solver == "lbfgs" and self.pruning_rate != 0:
            raise ValueError(
                "solver='lbfgs' cannot prune: the BSP rule counts the "
                "consecutive minibatch or epoch updates in which a synapse is "
                "weak, and L-BFGS has no such updates. Use solver='sgd' or "
                "'adam', or set pruning_rate=0 to train without pruning "
                f"(got pruning_rate={self.pruning_rate!r})."
            )

        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [n_features] + hidden_layer_sizes + [y.shape[1]]
        if not first_pass:
            shapes = [tuple(c.shape) for c in self.coefs_]
            if shapes != list(zip(layer_units[:-1], layer_units[1:])):
                raise ValueError(
                    "The network of the previous fit has layers "
                    f"{[s[1] for s in shapes[:-1]]}, but hidden_layer_sizes is "
                    f"{hidden_layer_sizes}. Set warm_start=False to start anew."
                )
        self.n_outputs_ = y.shape[1]
        if not first_pass and any(sp.issparse(c) for c in self.coefs_):
            # Training updates dense arrays; sparsify() again afterwards.
            self.densify()

        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)

        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, y, sample_weight, incremental, first_pass)
        else:
            self._fit_lbfgs(X, y, sample_weight)

        weights = chain(self.coefs_, self.intercepts_)
        if not all(np.isfinite(w).all() for w in weights):
            raise ValueError(
                "Solver produced non-finite parameter weights: the fit diverged. "
                "The input data may contain large values and need to be "
                "preprocessed, or learning_rate_init may be too large."
            )
        self._refresh_inference_layers()
        return self

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"

        self.coefs_ = []
        self.intercepts_ = []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            coef_init, intercept_init = self._init_coef(fan_in, fan_out, dtype)
            self.coefs_.append(coef_init)
            self.intercepts_.append(intercept_init)
        self.coef_masks_ = [np.ones(c.shape, dtype=bool) for c in self.coefs_]
        self.pruning_counters_ = [
            np.zeros(c.shape, dtype=np.int32) for c in self.coefs_
        ]
        self.compression_ = 0.0
        self.compression_curve_ = []
        self._schedule_n_samples = None
        if self.early_stopping:
            # Only early stopping restores a snapshot; without it, a copy of
            # every weight would only double memory and pickle size.
            self._snapshot_best()

        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _init_coef(self, fan_in, fan_out, dtype):
        # Glorot et al. (2010) initialisation, the same draws as MLPClassifier.
        factor = 6.0
        if self.activation == "logistic":
            factor = 2.0
        init_bound = np.sqrt(factor / (fan_in + fan_out))
        coef_init = self._random_state.uniform(
            -init_bound, init_bound, (fan_in, fan_out)
        )
        intercept_init = self._random_state.uniform(-init_bound, init_bound, fan_out)
        return coef_init.astype(dtype, copy=False), intercept_init.astype(
            dtype, copy=False
        )

    def _snapshot_best(self):
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        self._best_masks = [m.copy() for m in self.coef_masks_]
        self._best_counters = [c.copy() for c in self.pruning_counters_]

    # ------------------------------------------------------------------
    # Pruning bookkeeping
    # ------------------------------------------------------------------

    @property
    def _n_hidden_neurons(self):
        return int(sum(c.shape[1] for c in self.coefs_[:-1]))

    @property
    def _n_synapses(self):
        return int(sum(c.size for c in self.coefs_))

    def _update_compression(self):
        alive = sum(int(np.count_nonzero(m)) for m in self.coef_masks_)
        self._n_pruned = self._n_synapses - alive
        self.compression_ = self._n_pruned / self._n_synapses

    def _resolve_pruning(self, n_samples, incremental):
        # eq 1 and 2 need the size of the training set; partial_fit sees it
        # one chunk at a time, so the first chunk's size is kept.
        if not incremental or self._schedule_n_samples is None:
            self._schedule_n_samples = n_samples
        if self.pruning_rate == "auto":
            self.pruning_rate_ = auto_pruning_rate(
                self._n_hidden_neurons, self._schedule_n_samples
            )
        else:
            self.pruning_rate_ = float(self.pruning_rate)
        self._update_compression()
        self.pruning_patience_ = self._current_patience()
        self._pruner = SynapticPruner(self.pruning_rate_, scope=self.pruning_scope)

    def _current_patience(self):
        if self.pruning_patience == "auto":
            return auto_pruning_patience(
                self._n_hidden_neurons,
                self._schedule_n_samples,
                self._n_synapses,
                self._n_pruned,
            )
        return float(self.pruning_patience)

    def _prune_step(self, state, network):
        """One step of the BSP rule, then keep network and optimizer in sync.

        Returns True when a layer changed storage (the caller's list of
        parameters must then be rebuilt).
        """
        self.pruning_patience_ = self._current_patience()
        pruned = self._pruner.step(
            state.weights, state.masks, state.counters, self.pruning_patience_
        )
        changed = False
        for i, newly in enumerate(pruned):
            if newly is None:
                continue
            n_newly = int(np.count_nonzero(newly))
            self._n_pruned += n_newly
            self._optimizer.forget(i, newly)
            storage = state.compact[i]
            state.pruned(i, n_newly)
            if state.compact[i] is not storage:
                changed = True
                network.coefs[i] = state.weights[i]
                network.layers[i] = state.layers[i]
            network.masks[i] = state.network_mask(i)
        self.compression_ = self._n_pruned / self._n_synapses
        return changed

    def _training_state(self, X, batch_size):
        """Dense or compact storage of each layer, by the measured crossover."""

        def should_compact(density, size):
            # Compact only where both products of a training step (forward
            # and gradient) are faster over alive synapses; tiny matrices do
            # not amortise the kernels' setup.
            return size >= _MIN_COMPACT_SIZE and all(
                choose_kernel(density, batch_size, op) == "sparse"
                for op in ("forward", "grad")
            )

        compactable = [not sp.issparse(X)] + [True] * (len(self.coefs_) - 1)
        return TrainingState(
            self.coefs_,
            self.coef_masks_,
            self.pruning_counters_,
            self._optimizer,
            compactable,
            should_compact,
        )

    def _network(self, state=None):
        if state is None:
            coefs, layers = self.coefs_, None
            masks = [None if m.all() else m for m in self.coef_masks_]
        else:
            coefs, layers, masks = (
                list(state.weights),
                state.layers,
                state.network_masks(),
            )
        rng = None
        if self.dropout > 0:
            # A separate stream, drawn only when dropout is on, so that a
            # dense fit consumes random numbers exactly like MLPClassifier.
            rng = np.random.default_rng(self._random_state.randint(2**31 - 1))
        return MaskedNetwork(
            coefs,
            self.intercepts_,
            masks,
            self.activation,
            self.out_activation_,
            alpha=self.alpha,
            dropout=self.dropout,
            rng=rng,
            layers=layers,
        )

    # ------------------------------------------------------------------
    # Solvers
    # ------------------------------------------------------------------

    def _fit_lbfgs(self, X, y, sample_weight):
        # L-BFGS never prunes (pruning_rate must be 0), but the resolved
        # values are reported all the same.
        self.pruning_rate_ = 0.0
        self.pruning_patience_ = math.inf
        self._clear_inference_layers()
        self._update_compression()
        network = self._network()
        shapes = [c.shape for c in self.coefs_] + [b.shape for b in self.intercepts_]
        sizes = [math.prod(s) for s in shapes]
        bounds = np.cumsum([0] + sizes)
        params = self.coefs_ + self.intercepts_

        def unpack(packed):
            for k, shape in enumerate(shapes):
                params[k][...] = packed[bounds[k] : bounds[k + 1]].reshape(shape)

        def loss_grad(packed):
            unpack(packed)
            loss, coef_grads, intercept_grads = network.backprop(X, y, sample_weight)
            return loss, np.hstack([g.ravel() for g in coef_grads + intercept_grads])

        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        packed = np.hstack([p.ravel() for p in params])
        opt_res = scipy.optimize.minimize(
            loss_grad,
            packed,
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **({"iprint": iprint} if _lbfgs_takes_iprint() else {}),
            },
        )
        self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        self.loss_ = opt_res.fun
        unpack(opt_res.x.astype(self.coefs_[0].dtype, copy=False))
        # Masked gradients keep pruned weights at 0 up to the line search's
        # arithmetic; make it exact.
        for coef, mask in zip(self.coefs_, self.coef_masks_):
            coef *= mask

    def _fit_stochastic(self, X, y, sample_weight, incremental, first_pass):
        params = self.coefs_ + self.intercepts_
        if not incremental or not hasattr(self, "_optimizer") or first_pass:
            if self.solver == "sgd":
                self._optimizer = SGDOptimizer(
                    params,
                    self.learning_rate_init,
                    self.learning_rate,
                    self.momentum,
                    self.nesterovs_momentum,
                    self.power_t,
                )
            else:
                self._optimizer = AdamOptimizer(
                    params,
                    self.learning_rate_init,
                    self.beta_1,
                    self.beta_2,
                    self.epsilon,
                )

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            # Stratify unless multilabel, as MLPClassifier does.
            stratify = y if self.n_outputs_ == 1 else None
            if sample_weight is None:
                X_train, X_val, y_train, y_val = train_test_split(
                    X,
                    y,
                    random_state=self._random_state,
                    test_size=self.validation_fraction,
                    stratify=stratify,
                )
                sample_weight_train = sample_weight_val = None
            else:
                (
                    X_train,
                    X_val,
                    y_train,
                    y_val,
                    sample_weight_train,
                    sample_weight_val,
                ) = train_test_split(
                    X,
                    y,
                    sample_weight,
                    random_state=self._random_state,
                    test_size=self.validation_fraction,
                    stratify=stratify,
                )
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            y_val = self._label_binarizer.inverse_transform(y_val)
        else:
            X_train, y_train, sample_weight_train = X, y, sample_weight
            X_val = y_val = sample_weight_val = None

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped",
                    stacklevel=3,
                )
            batch_size = np.clip(self.batch_size, 1, n_samples)

        self._resolve_pruning(n_samples, incremental)
        pruning = self.pruning_rate_ > 0
        prune_each_batch = pruning and self.pruning_unit == "batch"
        self._clear_inference_layers()
        state = self._training_state(X_train, batch_size)
        network = self._network(state)

        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                params = state.weights + self.intercepts_
                if self.shuffle:
                    # Shuffle indices rather than X and y to save memory.
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)

                accumulated_loss = 0.0
                for batch_slice in gen_batches(n_samples, batch_size):
                    if self.shuffle:
                        batch_idx = sample_idx[batch_slice]
                        X_batch = _safe_indexing(X_train, batch_idx)
                    else:
                        batch_idx = batch_slice
                        X_batch = X_train[batch_idx]
                    y_batch = y_train[batch_idx]
                    if sample_weight is None:
                        sample_weight_batch = None
                    else:
                        sample_weight_batch = sample_weight_train[batch_idx]
                        if not sample_weight_batch.any():
                            # Zero weights: no loss, no gradient, no update.
                            # (The weighted average would divide by zero.)
                            continue

                    batch_loss, coef_grads, intercept_grads = network.backprop(
                        X_batch, y_batch, sample_weight_batch
                    )
                    accumulated_loss += batch_loss * (
                        batch_slice.stop - batch_slice.start
                    )
                    self._optimizer.update_params(params, coef_grads + intercept_grads)
                    if prune_each_batch:
                        if self._prune_step(state, network):
                            params = state.weights + self.intercepts_

                if pruning and not prune_each_batch:
                    self._prune_step(state, network)
                state.sync()

                self.n_iter_ += 1
                self.loss_ = accumulated_loss / X_train.shape[0]
                if _diverged(self.loss_, self.loss_curve_):
                    raise ValueError(
                        f"The loss became {self.loss_} at epoch {self.n_iter_}: the "
                        "fit diverged. Lower learning_rate_init, or scale the "
                        "input (e.g. with StandardScaler)."
                    )
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                self.compression_curve_.append(self.compression_)
                if self.verbose:
                    print(
                        "Iteration %d, loss = %.8f, compression = %.4f"
                        % (self.n_iter_, self.loss_, self.compression_)
                    )

                self._update_no_improvement_count(
                    early_stopping, X_val, y_val, sample_weight_val
                )
                self._optimizer.iteration_ends(self.t_)

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            "tol=%f for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f"
                            " for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    if self._optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break

                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet."
                        % self.max_iter,
                        ConvergenceWarning,
                        stacklevel=3,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        finally:
            # Leave dense arrays behind whatever happened, so the estimator
            # (and a later partial_fit) sees one consistent state.
            state.finish()

        if early_stopping:
            # Restore the best epoch whole: weights and the masks that go
            # with them.
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts
            self.coef_masks_ = self._best_masks
            self.pruning_counters_ = self._best_counters
            # The restored lists must not alias the next snapshot.
            self._snapshot_best()
            self._update_compression()

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight):
        if early_stopping:
            val_score = self._score(X, y, sample_weight=sample_weight)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._snapshot_best()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------

    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        coefs, intercepts, layers = self._inference_layers(X)
        return forward(
            X, coefs, intercepts, self.activation, self.out_activation_, layers=layers
        )

    def _inference_key(self):
        # Identity, shape and a checksum of each weight matrix: a change to
        # coefs_ (a refit, sparsify, or an edit in place) changes the key.
        return tuple(
            (id(c), c.shape, c.nnz if sp.issparse(c) else float(np.sum(c)))
            for c in self.coefs_
        )

    def _build_inference_layers(self):
        """The network prediction runs: dead neurons removed, sparse layers
        compacted where that multiplies faster."""
        dense = [c.toarray() if sp.issparse(c) else c for c in self.coefs_]
        coefs, intercepts, masks = remove_dead_neurons(
            dense, self.intercepts_, self.coef_masks_, self.activation
        )
        layers = []
        for coef, mask in zip(coefs, masks):
            density = np.count_nonzero(mask) / max(mask.size, 1)
            # Decided for a large batch; smaller ones are checked per call.
            if (
                mask.size >= _MIN_COMPACT_SIZE
                and choose_kernel(density, 10_000, "forward") == "sparse"
            ):
                layers.append(SparseLayer.from_dense(coef, mask))
            else:
                layers.append(None)
        return self._inference_key(), (coefs, intercepts, layers)

    def _refresh_inference_layers(self):
        self._inference_cache = self._build_inference_layers()

    def _inference_layers(self, X):
        """The network to predict ``X`` with: weights, biases, compact layers.

        Built after each fit (and on loading) rather than here, so that
        prediction never changes the estimator; weights changed since are
        noticed by the key and handled without caching.
        """
        cached = getattr(self, "_inference_cache", None)
        if cached is None or cached[0] != self._inference_key():
            cached = self._build_inference_layers()
        coefs, intercepts, layers = cached[1]
        layers = list(layers)
        if sp.issparse(X) or X.dtype != coefs[0].dtype:
            layers[0] = None
        n_samples = X.shape[0]
        layers = [
            layer
            if layer is not None
            and choose_kernel(layer.density, n_samples, "forward") == "sparse"
            else None
            for layer in layers
        ]
        return coefs, intercepts, layers

    def _clear_inference_layers(self):
        self.__dict__.pop("_inference_cache", None)

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

    # ------------------------------------------------------------------
    # Storage form of the weights
    # ------------------------------------------------------------------

    def sparsify(self):
        """Store the weight matrices as scipy.sparse CSR matrices.

        After pruning, most synapses are 0; in sparse form ``coefs_`` holds
        only the alive ones, which shrinks memory and pickles and lets
        prediction skip pruned synapses. Predictions are unchanged (to float
        rounding). A later ``fit``, ``partial_fit`` or ``warm_start`` fit
        converts the weights back to dense arrays first.

        Returns
        -------
        self : object
            The estimator, with sparse ``coefs_``.

        See Also
        --------
        densify : The inverse operation.
        """
        check_is_fitted(self)
        self.coefs_ = [
            c if sp.issparse(c) else sp.csr_matrix(c * m)
            for c, m in zip(self.coefs_, self.coef_masks_)
        ]
        self._refresh_inference_layers()
        return self

    def densify(self):
        """Store the weight matrices as dense NumPy arrays (the default form).

        Returns
        -------
        self : object
            The estimator, with dense ``coefs_``.

        See Also
        --------
        sparsify : The inverse operation.
        """
        check_is_fitted(self)
        self.coefs_ = [c.toarray() if sp.issparse(c) else c for c in self.coefs_]
        self._refresh_inference_layers()
        return self

    # ------------------------------------------------------------------
    # Persistence
    # ------------------------------------------------------------------

    def __getstate__(self):
        # A copy: the base class may hand back the live __dict__.
        state = dict(super().__getstate__())
        # Rebuilt by __setstate__ on loading.
        state.pop("_inference_cache", None)
        masks = state.get("coef_masks_")
        if not isinstance(masks, list):
            return state
        # Weights, counters and optimizer state are 0 wherever a synapse is
        # pruned: keep only the alive entries, and the masks as bits.
        for key, mask_key in _MASKED_STATE:
            if key in state and mask_key in state:
                state[key] = pack_list(state[key], state[mask_key])
        optimizer = state.get("_optimizer")
        if optimizer is not None:
            optimizer = copy.copy(optimizer)
            for name, arrays in optimizer.state_arrays().items():
                setattr(
                    optimizer, name, pack_list(arrays, masks) + arrays[len(masks) :]
                )
            state["_optimizer"] = optimizer
        for mask_key in _MASK_KEYS:
            if mask_key in state:
                state[mask_key] = [PackedMask(m) for m in state[mask_key]]
        return state

    def __setstate__(self, state):
        for mask_key in _MASK_KEYS:
            if mask_key in state:
                state[mask_key] = [
                    m.unpack() if isinstance(m, PackedMask) else m
                    for m in state[mask_key]
                ]
        masks = state.get("coef_masks_")
        if isinstance(masks, list):
            for key, mask_key in _MASKED_STATE:
                if key in state and mask_key in state:
                    state[key] = unpack_list(state[key], state[mask_key])
            optimizer = state.get("_optimizer")
            if optimizer is not None:
                for name, arrays in optimizer.state_arrays().items():
                    setattr(
                        optimizer,
                        name,
                        unpack_list(arrays, masks) + arrays[len(masks) :],
                    )
        super().__setstate__(state)
        if isinstance(masks, list) and hasattr(self, "coefs_"):
            self._refresh_inference_layers()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags


# A loss this many times its first value (or 1) means the weights are
# running away: cross-entropy that large needs logits in the thousands.
_DIVERGENCE_FACTOR = 1e4


def _diverged(loss, loss_curve):
    """Whether an epoch's loss shows a diverging fit."""
    if not np.isfinite(loss):
        return True
    reference = max(loss_curve[0] if loss_curve else loss, 1.0)
    return loss > _DIVERGENCE_FACTOR * reference


def _lbfgs_takes_iprint():
    # scipy 1.15 deprecated L-BFGS-B's `iprint` option; passing it warns.
    major, minor = (int(p) for p in scipy.__version__.split(".")[:2])
    return (major, minor) < (1, 15)
