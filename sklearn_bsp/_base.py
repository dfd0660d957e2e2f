"""The shared base of BSPClassifier and BSPRegressor.

One class owns what the two estimators share, the way scikit-learn's
``BaseMultilayerPerceptron`` does for ``MLPClassifier`` and ``MLPRegressor``:
the parameters, the network's initialisation, the training loops of every
solver, the storage of pruned layers, prediction through the compacted
network and persistence. The loops hand the rule's bookkeeping (budget,
patience, schedule, guard, counters) to a
:class:`~sklearn_bsp._controller.PruningController` built for each fit, and
the check for a damaged network to :mod:`~sklearn_bsp._damage`. The
subclasses differ only where scikit-learn's do: targets, output activation,
loss, predictions and score.

The training loops are adapted from scikit-learn
(``sklearn/neural_network/_multilayer_perceptron.py``), Copyright (c)
2007-2024 The scikit-learn developers, BSD-3-Clause License (see LICENSE).
"""

import copy
import warnings
from abc import ABCMeta, abstractmethod
from contextlib import nullcontext
from itertools import chain
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, check_random_state, gen_batches, shuffle
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._callbacks import (
    FIT_PLUMBING,
    CallbackSupportMixin,
    FitContext,
)
from ._controller import PruningController
from ._damage import (
    DamageWatch,
    check_damage,
    diverged,
    divergence_message,
    warn_if_nearly_dead,
)
from ._inference import InferenceNetwork, predict_output
from ._layers import (
    NARROW_COUNTER_LIMIT,
    CompactionPolicy,
)
from ._network import MaskedNetwork
from ._optimizers import (
    AdamOptimizer,
    BaseOptimizer,
    SGDOptimizer,
    lbfgs_takes_iprint,
)
from ._persistence import pack_state, unpack_state
from ._pruning import SynapticPruner
from ._threads import single_threaded_blas

_STOCHASTIC_SOLVERS = ("sgd", "adam")


class BaseBSP(CallbackSupportMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the pruning multi-layer perceptrons.

    Warning: This class should not be used directly. Use
    :class:`~sklearn_bsp.BSPClassifier` or :class:`~sklearn_bsp.BSPRegressor`.
    """

    # Where compact storage and the sparse kernels pay (measured crossovers).
    # A class attribute, so a subclass (or a test) can pass another policy
    # without touching module state.
    _compaction_policy = CompactionPolicy()
    # Counts up to this many steps are kept in uint16 while training.
    _narrow_counter_limit = NARROW_COUNTER_LIMIT
    # The bookkeeping of the rule during a fit (a class attribute for the
    # same reason).
    _pruning_controller = PruningController

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
        "pruning_rate": [
            StrOptions({"auto", "paper"}),
            Interval(Real, 0, 1, closed="left"),
        ],
        "pruning_patience": [
            StrOptions({"auto", "paper"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "pruning_unit": [StrOptions({"batch", "epoch"})],
        "pruning_scope": [StrOptions({"layer", "network"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_compression": [None, Interval(Real, 0, 1, closed="neither")],
        "target_compression": [
            None,
            StrOptions({"auto"}),
            Interval(Real, 0, 1, closed="neither"),
        ],
    }

    @abstractmethod
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
        loss=None,
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
        self.max_compression = max_compression
        self.target_compression = target_compression
        self.loss = loss

    # ------------------------------------------------------------------
    # What the classifier and the regressor define
    # ------------------------------------------------------------------

    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validate ``X`` and ``y``; return ``y`` in the form the loss takes."""

    @abstractmethod
    def _output_activation(self):
        """Name of the output activation, known after ``_validate_input``."""

    @abstractmethod
    def _predict(self, X, check_input=True):
        """Predictions without the fitted check."""

    @abstractmethod
    def _score(self, X, y, sample_weight=None):
        """The stopping rule's validation score, without input validation."""

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def _hidden_layer_sizes(self):
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
        return hidden_layer_sizes

    def _fit(self, X, y, sample_weight=None, incremental=False):
        if incremental:
            # scikit-learn skips this once fitted; a changed parameter must
            # be refused before it touches the network, as fit refuses it.
            self._validate_params()
        if not hasattr(self, "coefs_") or not (self.warm_start or incremental):
            return self._fit_checked(X, y, sample_weight, incremental)
        # Continuing a fitted network: a call that raises leaves it as it was
        # (weights, masks, counters, optimizer, n_iter_, curves).
        saved = {key: _copy_state(value) for key, value in self.__dict__.items()}
        try:
            return self._fit_checked(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_checked(self, X, y, sample_weight, incremental):
        hidden_layer_sizes = self._hidden_layer_sizes()
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        # Callbacks get the data as passed to fit: their scorers call predict
        # on X (which checks its feature names) and compare with labels, not
        # with the binarized targets the loss takes.
        X_given, y_given = X, y
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [X.shape[1]] + hidden_layer_sizes + [y.shape[1]]
        if not first_pass:
            self._check_same_network(layer_units, hidden_layer_sizes)
            # A model loaded with joblib.load(..., mmap_mode="r") holds
            # read-only arrays: train on copies of them.
            self._ensure_writeable()
            if any(sp.issparse(c) for c in self.coefs_):
                # Training updates dense arrays; sparsify_coefs() afterwards.
                self.densify_coefs()
            self._complete_pruning_state()
        self.n_outputs_ = y.shape[1]

        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        # Stale from here on; rebuilt once the weights are final.
        self.__dict__.pop("_inference", None)

        # scikit-learn's callbacks: the fit is one task, each epoch (each
        # L-BFGS iteration) one of its subtasks.
        n_tasks = 1 if incremental else self.max_iter
        callback_ctx = self._init_callback_context(max_subtasks=n_tasks)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        callback_ctx.call_on_fit_task_begin(
            estimator=self, X=X_given, y=y_given, metadata=metadata
        )
        # Handed down to the solvers' epochs, never kept on the estimator.
        fit_ctx = FitContext(callback_ctx, X_given, y_given, metadata)
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, y, sample_weight, incremental, first_pass, fit_ctx)
        else:
            self._fit_lbfgs(X, y, sample_weight, fit_ctx)

        weights = chain(self.coefs_, self.intercepts_)
        if not all(np.isfinite(w).all() for w in weights):
            raise ValueError(divergence_message(np.inf, self.n_iter_))
        warn_if_nearly_dead(self)
        self._refresh_inference()
        fit_ctx.task_end(self, callback_ctx)
        return self

    def _check_same_network(self, layer_units, hidden_layer_sizes):
        """Refuse data or parameters that do not fit the previous network."""
        shapes = [tuple(c.shape) for c in self.coefs_]
        if shapes == list(zip(layer_units[:-1], layer_units[1:])):
            return
        previous = [shapes[0][0]] + [s[1] for s in shapes]
        if previous[-1] != layer_units[-1]:
            what = (
                f"y has {layer_units[-1]} output(s) (columns or classes), but the "
                f"network of the previous fit has {previous[-1]}"
            )
        elif previous[0] != layer_units[0]:
            what = (
                f"X has {layer_units[0]} features, but the network of the "
                f"previous fit has {previous[0]}"
            )
        else:
            what = (
                f"hidden_layer_sizes is {hidden_layer_sizes}, but the network of "
                f"the previous fit has hidden layers {previous[1:-1]}"
            )
        raise ValueError(f"{what}. Set warm_start=False and call fit to start anew.")

    def _ensure_writeable(self):
        """Replace read-only arrays of the training state by copies."""
        for name in ("coefs_", "intercepts_", "coef_masks_", "pruning_counters_"):
            arrays = getattr(self, name, None)
            if arrays is not None and any(
                isinstance(a, np.ndarray) and not a.flags.writeable for a in arrays
            ):
                setattr(self, name, [np.array(a) for a in arrays])
        optimizer = self.__dict__.get("_optimizer")
        if optimizer is not None:
            for slot in optimizer.slots:
                for key, array in slot.items():
                    if isinstance(array, np.ndarray) and not array.flags.writeable:
                        slot[key] = np.array(array)

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()

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

        self.__dict__.pop("_optimizer", None)
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

    def _complete_pruning_state(self):
        """Derive the pruning state from ``coefs_`` where it is missing.

        ``coefs_`` and ``intercepts_`` are the truth: a network whose weights
        were set by hand (as scikit-learn's own tests do with MLPClassifier)
        resumes with every synapse alive and every counter at 0.
        """
        masks = getattr(self, "coef_masks_", None)
        if masks is None or [m.shape for m in masks] != [c.shape for c in self.coefs_]:
            self.coef_masks_ = [np.ones(c.shape, dtype=bool) for c in self.coefs_]
            self.pruning_counters_ = [
                np.zeros(c.shape, dtype=np.int32) for c in self.coefs_
            ]
            self.__dict__.pop("_optimizer", None)
        defaults = {
            "compression_": 0.0,
            "compression_curve_": [],
            "_schedule_n_samples": None,
            "n_iter_": 0,
            "t_": 0,
        }
        for name, value in defaults.items():
            if not hasattr(self, name):
                setattr(self, name, value)

    def _init_coef(self, fan_in, fan_out, dtype):
        # Glorot et al. (2010) initialisation, the same draws as scikit-learn.
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
    # Pruning
    # ------------------------------------------------------------------

    @property
    def _n_hidden_neurons(self):
        return int(sum(c.shape[1] for c in self.coefs_[:-1]))

    @property
    def _n_synapses(self):
        return int(sum(c.size for c in self.coefs_))

    def _start_pruning(
        self,
        X,
        slots,
        batch_size,
        incremental=False,
        steps_per_epoch=1,
        updates_per_epoch=None,
    ):
        """The pruning controller of this fit, its results published.

        ``'paper'`` (and ``'auto'`` without a target) takes eqs 1 and 2;
        ``'auto'`` with ``target_compression`` takes the pace that reaches
        the target within the window (see ``_schedules``).
        """
        # eq 1 and 2 need the size of the training set; partial_fit sees it
        # one chunk at a time, so the first chunk's size is kept.
        if not incremental or self._schedule_n_samples is None:
            self._schedule_n_samples = X.shape[0]
        if self.solver == "lbfgs":
            epochs = 0  # L-BFGS counts its iterations from 0 in every fit
        else:
            epochs = len(getattr(self, "loss_curve_", None) or [])
        controller = self._pruning_controller(
            self.coefs_,
            self.coef_masks_,
            self.pruning_counters_,
            slots,
            n_samples=self._schedule_n_samples,
            max_iter=self.max_iter,
            pruning_rate=self.pruning_rate,
            pruning_patience=self.pruning_patience,
            pruning_scope=self.pruning_scope,
            max_compression=self.max_compression,
            target_compression=self.target_compression,
            steps_per_epoch=steps_per_epoch,
            updates_per_epoch=updates_per_epoch,
            epochs=epochs,
            batch_size=batch_size,
            sparse_input=sp.issparse(X),
            policy=self._compaction_policy,
            narrow_counter_limit=self._narrow_counter_limit,
            pruner=getattr(self, "_pruner", None),
        )
        # Kept between partial_fit calls: its cached threshold band (a hint
        # that never changes the result) makes the next step cheap.
        self._pruner = controller.pruner
        self.target_compression_ = controller.target_compression_
        self.pruning_rate_ = controller.pruning_rate_
        controller.publish(self)
        return controller

    def _network(self, layers):
        rng = None
        if self.dropout > 0:
            # A separate stream, drawn only when dropout is on, so that a
            # dense fit consumes random numbers exactly like scikit-learn's.
            rng = np.random.default_rng(self._random_state.randint(2**31 - 1))
        return MaskedNetwork(
            layers,
            self.intercepts_,
            self.activation,
            self.out_activation_,
            loss=self.loss,
            alpha=self.alpha,
            dropout=self.dropout,
            rng=rng,
        )

    # ------------------------------------------------------------------
    # Solvers
    # ------------------------------------------------------------------

    def _fit_lbfgs(self, X, y, sample_weight, fit_ctx):
        # One L-BFGS iteration sees all the data, like one epoch: it is one
        # step of the rule. After a step that prunes, L-BFGS restarts from
        # the current weights over the alive synapses only: its curvature
        # pairs describe a problem that no longer exists.
        controller = self._start_pruning(X, [{} for _ in self.coefs_], None)
        layers = controller.layers
        network = self._network(layers)
        damage = DamageWatch()
        iprint = 1 if (self.verbose is True or self.verbose >= 1) else -1
        n_iter = n_fun = n_runs = 0

        def count_iterations(n):
            # One L-BFGS iteration is one epoch of the target's schedule.
            self.n_iter_ = controller.epochs = n

        count_iterations(0)
        while True:
            # The free parameters of this run: alive weights, all biases.
            alive = [None if m.all() else m.copy() for m in self.coef_masks_]
            params = list(self.coefs_) + list(self.intercepts_)
            selectors = alive + [None] * len(self.intercepts_)

            def pack(arrays, selectors=selectors):
                return np.hstack(
                    [
                        a.ravel() if s is None else a[s]
                        for a, s in zip(arrays, selectors)
                    ]
                )

            sizes = [
                p.size if s is None else int(s.sum()) for p, s in zip(params, selectors)
            ]
            bounds = np.cumsum([0] + sizes)

            def unpack(packed, params=params, selectors=selectors, bounds=bounds):
                for k, (param, sel) in enumerate(zip(params, selectors)):
                    part = packed[bounds[k] : bounds[k + 1]]
                    if sel is None:
                        param[...] = part.reshape(param.shape)
                    else:
                        param[sel] = part

            def loss_grad(packed, unpack=unpack, pack=pack):
                unpack(packed)
                loss, coef_grads, intercept_grads = network.backprop(
                    X, y, sample_weight
                )
                return loss, pack(coef_grads + intercept_grads)

            pruned_now = stopped = False

            def callback(intermediate_result):  # scipy needs this one name
                nonlocal pruned_now, stopped
                count_iterations(self.n_iter_ + 1)
                iteration_ctx = fit_ctx.epoch_begin(self)
                unpack(intermediate_result.x)
                if controller.step():
                    pruned_now = True
                controller.publish(self)
                self.loss_ = float(intermediate_result.fun)
                damage.record(self.loss_, pruned_now)
                self.compression_curve_.append(self.compression_)
                if fit_ctx.task_end(self, iteration_ctx, layers):
                    stopped = True
                if pruned_now or stopped:
                    raise StopIteration

            opt_res = scipy.optimize.minimize(
                loss_grad,
                pack(params),
                method="L-BFGS-B",
                jac=True,
                callback=callback,
                options={
                    "maxfun": self.max_fun - n_fun,
                    "maxiter": self.max_iter - n_iter,
                    "gtol": self.tol,
                    **({"iprint": iprint} if lbfgs_takes_iprint() else {}),
                },
            )
            n_iter += opt_res.nit
            n_fun += opt_res.nfev
            n_runs += 1
            self.loss_ = float(opt_res.fun)
            if stopped:
                # A callback asked to stop: the weights of that iteration
                # are in place (and pruned if it pruned).
                break
            if not pruned_now:
                unpack(opt_res.x.astype(self.coefs_[0].dtype, copy=False))
                count_iterations(n_iter)
                # Converged on this network before the target's schedule is
                # done: the weights stay, the rule goes on (one step per
                # iteration) until it prunes, and L-BFGS starts again.
                while (
                    not pruned_now
                    and n_iter < self.max_iter
                    and controller.still_pruning()
                ):
                    n_iter += 1
                    count_iterations(n_iter)
                    pruned_now = controller.step()
                    controller.publish(self)
                    self.compression_curve_.append(self.compression_)
                if not pruned_now:
                    # The fit ends with this run: judge it as scikit-learn
                    # does, over the iterations of every run (a run cut
                    # short before a restart is no failure).
                    if opt_res.status != 0:
                        self._warn_lbfgs_not_converged(
                            n_iter, n_fun, n_runs, opt_res.status, opt_res.message
                        )
                    break
                continue
            if n_iter >= self.max_iter or n_fun >= self.max_fun:
                # Pruned at the last iteration the budget allowed: scipy's
                # status and wording for the limit that was reached.
                limit = (
                    "ITERATIONS REACHED LIMIT"
                    if n_iter >= self.max_iter
                    else "F,G EVALUATIONS EXCEEDS LIMIT"
                )
                self._warn_lbfgs_not_converged(
                    n_iter, n_fun, n_runs, 1, f"STOP: TOTAL NO. OF {limit}"
                )
                break
        self.n_iter_ = n_iter
        # Masked gradients keep pruned weights at 0 up to the line search's
        # arithmetic; make it exact.
        for coef, mask in zip(self.coefs_, self.coef_masks_):
            coef *= mask
        controller.recount(self.coef_masks_)
        controller.publish(self)
        damage.record(self.loss_, False)
        check_damage(self, damage, X, y, sample_weight)

    def _fit_stochastic(self, X, y, sample_weight, incremental, first_pass, fit_ctx):
        if not incremental or not hasattr(self, "_optimizer") or first_pass:
            params = self.coefs_ + self.intercepts_
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
            # Stratify unless multilabel or regression, as scikit-learn does.
            should_stratify = is_classifier(self) and self.n_outputs_ == 1
            stratify = y if should_stratify else None
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
            if is_classifier(self):
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
                    stacklevel=4,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        updates_per_epoch = -(-n_samples // batch_size)
        steps_per_epoch = updates_per_epoch if self.pruning_unit == "batch" else 1
        controller = self._start_pruning(
            X_train,
            self._optimizer.slots[: len(self.coefs_)],
            batch_size,
            incremental,
            steps_per_epoch,
            updates_per_epoch,
        )
        prune_each_batch = self.pruning_unit == "batch"
        layers = controller.layers
        network = self._network(layers)
        damage = DamageWatch()

        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                epoch_ctx = fit_ctx.epoch_begin(self)
                if self.shuffle:
                    # Shuffle indices rather than X and y to save memory.
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)

                accumulated_loss = 0.0
                n_pruned_before = controller.n_pruned
                # The kernels' OpenMP threads and BLAS's must not spin at
                # once (see _threads): once a layer multiplies through the
                # kernels, BLAS works on one thread.
                compact = any(layer.is_compact for layer in layers)
                blas = single_threaded_blas() if compact else nullcontext()
                with blas:
                    batches = gen_batches(n_samples, batch_size)
                    for step, batch_slice in enumerate(batches):
                        if self.shuffle:
                            batch_idx = sample_idx[batch_slice]
                            # Plain fancy indexing on an ndarray: the same rows
                            # as _safe_indexing's, without its per-call checks
                            # (a third of the time of gathering a 200 x 784
                            # batch).
                            X_batch = (
                                X_train[batch_idx]
                                if isinstance(X_train, np.ndarray)
                                else _safe_indexing(X_train, batch_idx)
                            )
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
                        # The layers hand out their current storage.
                        params = [layer.weights for layer in layers] + self.intercepts_
                        self._optimizer.update_params(
                            params, coef_grads + intercept_grads
                        )
                        if prune_each_batch:
                            controller.step(step + 1)

                if not prune_each_batch:
                    controller.step(1)
                for layer in layers:
                    layer.sync()
                controller.publish(self)

                self.n_iter_ += 1
                self.loss_ = accumulated_loss / X_train.shape[0]
                # With early stopping, scikit-learn keeps going and restores
                # the best epoch (a diverged one scores NaN); so do we.
                if not early_stopping and diverged(self.loss_, self.loss_curve_):
                    raise ValueError(divergence_message(self.loss_, self.n_iter_))
                self.t_ += n_samples
                damage.record(self.loss_, controller.n_pruned != n_pruned_before)
                self.loss_curve_.append(self.loss_)
                controller.epochs += 1
                self.compression_curve_.append(self.compression_)
                if self.verbose:
                    print(
                        "Iteration %d, loss = %.8f, compression = %.4f"
                        % (self.n_iter_, self.loss_, self.compression_)
                    )

                self._update_no_improvement_count(
                    early_stopping, X_val, y_val, sample_weight_val
                )
                converged = self._no_improvement_count > self.n_iter_no_change
                if (
                    controller.n_pruned != n_pruned_before
                    or controller.still_pruning()
                    or (converged and controller.open_window_on_convergence())
                ):
                    # The network changed (or is about to): judge
                    # convergence anew from here, so the fit neither stops
                    # mid-pruning nor before the pruned network has had
                    # n_iter_no_change epochs to recover.
                    self._restart_convergence_reference(early_stopping)
                self._optimizer.iteration_ends(self.t_)
                if fit_ctx.task_end(self, epoch_ctx, layers):
                    # A callback asked to stop: the epoch is complete, the
                    # estimator is fitted as of now.
                    break

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
                        stacklevel=4,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        finally:
            # Leave dense arrays behind whatever happened, so the estimator
            # (and a later partial_fit) sees one consistent state.
            for layer in layers:
                layer.expand()
            controller.publish(self)

        if early_stopping:
            # Restore the best epoch whole: weights and the masks that go
            # with them.
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts
            self.coef_masks_ = self._best_masks
            self.pruning_counters_ = self._best_counters
            # The restored lists must not alias the next snapshot.
            self._snapshot_best()
            controller.recount(self.coef_masks_)
            controller.publish(self)
        # One partial_fit call is one epoch: too little for the probe's
        # reference, and it would cost more than the call itself.
        check_damage(
            self, damage, X_train, y_train, sample_weight_train, probe=not incremental
        )

    def _warn_lbfgs_not_converged(self, n_iter, n_fun, n_runs, status, message):
        """scikit-learn's ConvergenceWarning for L-BFGS, over all the runs.

        The last run alone may have done a few iterations after the restarts
        that pruning caused; the warning counts those of every run, as
        ``n_iter_`` does, and keeps scikit-learn's wording and hints.
        """
        note = None
        if n_runs > 1:
            note = (
                f"Pruning restarted L-BFGS {n_runs - 1} time(s); max_iter and "
                f"max_fun bound all the runs together ({n_iter} iteration(s) and "
                f"{n_fun} function calls, max_fun={self.max_fun})."
            )
        result = scipy.optimize.OptimizeResult(
            nit=n_iter, status=status, message=message
        )
        _check_optimize_result("lbfgs", result, self.max_iter, extra_warning_msg=note)

    def _restart_convergence_reference(self, early_stopping):
        """Take the current epoch as the reference of the stopping rule."""
        self._no_improvement_count = 0
        if early_stopping:
            score = self.validation_scores_[-1]
            if np.isfinite(score):
                self.best_validation_score_ = score
                # The best epoch to restore is one of the network as it is.
                self._snapshot_best()
            else:
                # A diverged epoch is never restored: any finite one is
                # better.
                self.best_validation_score_ = -np.inf
        else:
            self.best_loss_ = self.loss_curve_[-1]

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

    def _refresh_inference(self):
        self._inference = InferenceNetwork(
            self.coefs_, self.intercepts_, self.activation, self._compaction_policy
        )

    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            # NaN and infinity are looked for by predict_output, inside the
            # first kernel where there is one (a pass of its own over a large
            # X costs a sixth of the prediction).
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc"],
                reset=False,
                ensure_all_finite=False,
            )
        return predict_output(
            self.__dict__.get("_inference"),
            X,
            self.coefs_,
            self.intercepts_,
            self.activation,
            self.out_activation_,
            self._compaction_policy,
            estimator_name=type(self).__name__ if check_input else None,
        )

    # ------------------------------------------------------------------
    # Storage form of the weights
    # ------------------------------------------------------------------

    def sparsify_coefs(self):
        """Store the weight matrices as scipy.sparse CSR matrices.

        After pruning, most synapses are 0; in sparse form ``coefs_`` holds
        only the alive ones, which shrinks memory and pickles. Predictions
        are unchanged. A later ``fit``, ``partial_fit`` or ``warm_start`` fit
        converts the weights back to dense arrays first.

        Returns
        -------
        self : object
            The estimator, with sparse ``coefs_``.

        See Also
        --------
        densify_coefs : The inverse operation.
        """
        check_is_fitted(self)
        # Non-zero entries, not coef_masks_: the weights prediction uses
        # (sklearn_bsp._inference.compact_network), edits included.
        self.coefs_ = [c if sp.issparse(c) else sp.csr_matrix(c) for c in self.coefs_]
        self._refresh_inference()
        return self

    def densify_coefs(self):
        """Store the weight matrices as dense NumPy arrays (the default form).

        Returns
        -------
        self : object
            The estimator, with dense ``coefs_``.

        See Also
        --------
        sparsify_coefs : The inverse operation.
        """
        check_is_fitted(self)
        self.coefs_ = [c.toarray() if sp.issparse(c) else c for c in self.coefs_]
        self._refresh_inference()
        return self

    # ------------------------------------------------------------------
    # Persistence
    # ------------------------------------------------------------------

    def __getstate__(self):
        # A copy: the base class may hand back the live __dict__.
        state = dict(super().__getstate__())
        for key in FIT_PLUMBING:
            state.pop(key, None)
        return pack_state(state)

    def __setstate__(self, state):
        super().__setstate__(unpack_state(state))
        if isinstance(getattr(self, "coef_masks_", None), list):
            self._refresh_inference()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _copy_state(value):
    """A copy of a piece of fitted state that training could change in place.

    Arrays, and the lists, tuples and dicts holding them, are copied; the
    optimizer and the pruner are deep-copied; anything else (callbacks, the
    label binarizer, numbers) is kept as is.
    """
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy_state(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_state(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy_state(v) for k, v in value.items()}
    if isinstance(value, (BaseOptimizer, SynapticPruner)):
        return copy.deepcopy(value)
    return value
