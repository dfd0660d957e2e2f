"""Plots of what pruning did to a fitted network.

The displays follow scikit-learn's Display contract (as
:class:`~sklearn.metrics.ConfusionMatrixDisplay` does): build one with
``from_estimator``, or from precomputed values with the constructor and then
``plot``; ``plot`` returns the display, which keeps the matplotlib artists
(``line_``, ``bars_``, ...), the Axes ``ax_`` and the Figure ``figure_``.
A figure a display creates itself uses matplotlib's constrained layout, so
that a saved figure keeps every label. matplotlib is imported only when a plot
is drawn (``pip install "sklearn-bsp[matplotlib]"``).
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

__all__ = ["CompressionDisplay", "WeightHistogramDisplay"]


def _check_matplotlib_support(caller_name):
    # The message of scikit-learn's own displays
    # (sklearn.utils._optional_dependencies.check_matplotlib_support, private).
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib. You can install matplotlib with "
            "`pip install matplotlib`"
        ) from exc


def _estimator_name(estimator, name):
    return type(estimator).__name__ if name is None else name


def _matrix_name(index, shape=None):
    """Name of weight matrix ``index``, the same in every display.

    ``"n_in\u2192n_out"`` (inputs\u2192outputs) when its shape is known, which
    says where the matrix sits in the network; ``"layer <index>"`` otherwise.
    """
    if shape is None:
        return f"layer {index}"
    n_in, n_out = shape
    return f"{n_in}\u2192{n_out}"


def _check_fitted_with(estimator, attributes, caller, needs):
    """Check that ``estimator`` is fitted and has ``attributes``.

    An unfitted estimator gets scikit-learn's ``NotFittedError``. A fitted one
    of the wrong kind gets a ``TypeError`` that names what is missing: asking
    ``check_is_fitted`` for the attributes instead would say it is "not
    fitted yet", which is false and sends the user to call ``fit`` again.
    """
    check_is_fitted(estimator)
    missing = [a for a in attributes if not hasattr(estimator, a)]
    if missing:
        raise TypeError(
            f"{caller} needs {needs}, with {' and '.join(attributes)}; "
            f"{type(estimator).__name__} has no {' or '.join(missing)}."
        )


def _panel_axes(ax, n_panels, figsize, what):
    """The Axes for ``n_panels`` side-by-side panels, and the Axes divided.

    ``what`` names the plot in error messages. Returns ``(axes,
    bounding_ax)``: a 1-D object array of ``n_panels`` Axes, and the Axes
    given as ``ax`` if it was divided into them, else None.
    """
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    if ax is None:
        # Without a layout engine, savefig cuts off the x labels (and the y
        # label of a log axis, whose tick labels are wider).
        _, axes = plt.subplots(
            1, n_panels, figsize=figsize, layout="constrained", squeeze=False
        )
        return axes.ravel(), None
    if not isinstance(ax, Axes):
        axes = np.asarray(ax, dtype=object).ravel()
        if axes.size != n_panels:
            if n_panels == 1:
                expected = "one Axes"
            else:
                expected = f"one Axes, which is divided into them, or {n_panels} Axes"
            raise ValueError(
                f"{what} draws {n_panels} panel(s): pass {expected}; ax holds "
                f"{axes.size} Axes."
            )
        return axes, None
    if n_panels == 1:
        return np.array([ax], dtype=object), None
    # As sklearn.inspection.PartialDependenceDisplay.plot does: hide the Axes
    # and put the panels where it was. An Axes already hidden was most likely
    # divided by an earlier plot; dividing it again would stack new panels on
    # top of the old ones.
    if not ax.axison:
        raise ValueError(
            "ax was already divided by an earlier plot; pass display.ax_ "
            "(its panels) instead."
        )
    ax.set_axis_off()
    figure = ax.figure
    axes = np.empty(n_panels, dtype=object)
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is not None:
        from matplotlib.gridspec import GridSpecFromSubplotSpec

        # Without a layout engine, the default gap (wspace=0.2) puts the
        # right panel's y label over the left panel. A layout engine makes
        # its own room, and a fixed gap would only narrow the panels further.
        wspace = 0.4 if figure.get_layout_engine() is None else None
        grid = GridSpecFromSubplotSpec(1, n_panels, subplot_spec=spec, wspace=wspace)
        for i, cell in enumerate(grid):
            axes[i] = figure.add_subplot(cell)
    else:
        # An Axes placed by hand (Figure.add_axes): split its rectangle.
        x0, y0, width, height = ax.get_position().bounds
        gap = 0.4 * width / (n_panels + 0.4 * (n_panels - 1))
        panel = (width - gap * (n_panels - 1)) / n_panels
        for i in range(n_panels):
            axes[i] = figure.add_axes([x0 + i * (panel + gap), y0, panel, height])
    return axes, ax


def _alive_weights(estimator, layer):
    """The alive weights of weight matrix ``layer``, as a 1-D array."""
    n_layers = len(estimator.coefs_)
    if not -n_layers <= layer < n_layers:
        raise ValueError(
            f"layer={layer} is out of range: {type(estimator).__name__} has "
            f"{n_layers} weight matrices (0 is input to first hidden layer)."
        )
    coef = estimator.coefs_[layer]
    coef = coef.toarray() if sp.issparse(coef) else np.asarray(coef)
    # An estimator without masks (MLPClassifier) has every synapse alive.
    masks = getattr(estimator, "coef_masks_", None)
    if masks is None:
        return coef.ravel()
    return coef[np.asarray(masks[layer], dtype=bool)]


class CompressionDisplay:
    """Compression per epoch and per layer of a fitted BSP network.

    The left panel is ``compression_curve_``, the share of synapses pruned
    after each epoch (after each iteration for ``solver="lbfgs"``); the right
    panel is the share pruned in each weight matrix at the end of the fit,
    from ``coef_masks_``. Build it with :meth:`from_estimator`; the
    constructor takes precomputed values.

    Parameters
    ----------
    compression_curve : array-like of shape (n_epochs,)
        Share of the synapses pruned after each epoch, in ``[0, 1]``.
    layer_compression : array-like of shape (n_layers,)
        Share of the synapses of each weight matrix pruned, in ``[0, 1]``.
    layer_shapes : list of tuple of int, default=None
        Shape ``(n_in, n_out)`` of each weight matrix, for the bar labels
        (``"n_in\u2192n_out"``); the bars are named ``"layer <index>"`` if
        None.
    estimator_name : str, default=None
        Name of the estimator, for the legend and titles.
    curve_unit : str, default="epoch"
        What one point of ``compression_curve`` stands for, for the x label
        and title of the curve: ``"epoch"`` for the stochastic solvers,
        ``"iteration"`` for L-BFGS.

    Attributes
    ----------
    line_ : matplotlib Line2D or None
        The compression curve; None if not drawn.
    bars_ : matplotlib BarContainer or None
        The per-layer bars; None if not drawn.
    ax_ : matplotlib Axes or ndarray of two Axes
        The Axes drawn on: one, or two for ``kind="both"`` (curve, bars).
    bounding_ax_ : matplotlib Axes or None
        The single Axes passed as ``ax`` for ``kind="both"``, hidden and
        divided into the two Axes of ``ax_``; None otherwise.
    figure_ : matplotlib Figure
        The figure holding the Axes.

    See Also
    --------
    WeightHistogramDisplay : Distribution of the alive weights of a layer.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_bsp import BSPClassifier
    >>> from sklearn_bsp.inspection import CompressionDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = BSPClassifier(pruning_rate=0.1, pruning_patience=10, max_iter=20,
    ...                     random_state=0).fit(X / 16, y)
    >>> display = CompressionDisplay.from_estimator(clf)
    >>> len(display.line_.get_xdata()) == clf.n_iter_
    True
    >>> len(display.bars_)
    2
    """

    def __init__(
        self,
        *,
        compression_curve,
        layer_compression,
        layer_shapes=None,
        estimator_name=None,
        curve_unit="epoch",
    ):
        self.compression_curve = compression_curve
        self.layer_compression = layer_compression
        self.layer_shapes = layer_shapes
        self.estimator_name = estimator_name
        self.curve_unit = curve_unit

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        kind="both",
        ax=None,
        name=None,
        line_kwargs=None,
        bar_kwargs=None,
    ):
        """Plot the compression of a fitted BSP estimator.

        Parameters
        ----------
        estimator : BSPClassifier or BSPRegressor
            A fitted pruning estimator, with ``compression_curve_`` and
            ``coef_masks_``. The curve's x axis counts epochs, or iterations
            for ``solver="lbfgs"``.
        kind : {"both", "epochs", "layers"}, default="both"
            Draw the curve per epoch, the bars per layer, or both side by
            side.
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw: one Axes, which is divided in two for
            ``kind="both"``, or as many Axes as panels; a new figure with
            constrained layout if None.
        name : str, default=None
            Name of the estimator; its class name if None.
        line_kwargs, bar_kwargs : dict, default=None
            Passed to ``Axes.plot`` and ``Axes.bar``.

        Returns
        -------
        display : CompressionDisplay
            The display, with the artists drawn.

        Raises
        ------
        NotFittedError
            If ``estimator`` is not fitted.
        TypeError
            If ``estimator`` is fitted but does not prune (no ``coef_masks_``
            or ``compression_curve_``), such as an ``MLPClassifier``; draw
            its weights with :class:`WeightHistogramDisplay` instead.
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_fitted_with(
            estimator,
            ["coef_masks_", "compression_curve_"],
            f"{cls.__name__}.from_estimator",
            "a pruning estimator (BSPClassifier or BSPRegressor)",
        )
        masks = [np.asarray(m, dtype=bool) for m in estimator.coef_masks_]
        # L-BFGS records the compression once per iteration, not per epoch.
        lbfgs = getattr(estimator, "solver", None) == "lbfgs"
        display = cls(
            compression_curve=np.asarray(estimator.compression_curve_),
            layer_compression=np.array([1.0 - m.mean() for m in masks]),
            layer_shapes=[m.shape for m in masks],
            estimator_name=_estimator_name(estimator, name),
            curve_unit="iteration" if lbfgs else "epoch",
        )
        return display.plot(
            ax=ax, kind=kind, line_kwargs=line_kwargs, bar_kwargs=bar_kwargs
        )

    def plot(
        self, ax=None, *, kind="both", name=None, line_kwargs=None, bar_kwargs=None
    ):
        """Draw the compression curve, the per-layer bars, or both.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw. One Axes takes every ``kind``: for
            ``kind="both"`` it is hidden and divided into two side by side
            (as :class:`~sklearn.inspection.PartialDependenceDisplay` does),
            kept in ``bounding_ax_``. An array-like must hold one Axes per
            panel (two for ``kind="both"``). A new figure with constrained
            layout if None.
        kind : {"both", "epochs", "layers"}, default="both"
            What to draw.
        name : str, default=None
            Overrides ``estimator_name`` for the labels.
        line_kwargs, bar_kwargs : dict, default=None
            Passed to ``Axes.plot`` and ``Axes.bar``.

        Returns
        -------
        display : CompressionDisplay
            This display, with ``line_``, ``bars_``, ``ax_``,
            ``bounding_ax_`` and ``figure_`` set.

        Raises
        ------
        ValueError
            If ``kind`` is unknown, if an array-like ``ax`` does not hold one
            Axes per panel, or if ``ax`` was already divided by an earlier
            call.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")

        panels = {
            "both": ["epochs", "layers"],
            "epochs": ["epochs"],
            "layers": ["layers"],
        }
        if kind not in panels:
            raise ValueError(
                f"kind must be 'both', 'epochs' or 'layers'; got {kind!r}."
            )
        panels = panels[kind]
        axes, self.bounding_ax_ = _panel_axes(
            ax, len(panels), figsize=(4.5 * len(panels), 3.6), what=f"kind={kind!r}"
        )
        name = self.estimator_name if name is None else name

        self.line_ = self.bars_ = None
        for panel_ax, panel in zip(axes, panels):
            if panel == "epochs":
                self._plot_curve(panel_ax, name, line_kwargs)
            else:
                self._plot_layers(panel_ax, name, bar_kwargs)
        self.ax_ = axes[0] if axes.size == 1 else axes
        self.figure_ = axes[0].figure
        return self

    def _plot_curve(self, ax, name, line_kwargs):
        curve = 100 * np.asarray(self.compression_curve, dtype=float)
        epochs = np.arange(1, len(curve) + 1)
        kwargs = {"label": name} if name else {}
        kwargs.update(line_kwargs or {})
        (self.line_,) = ax.plot(epochs, curve, **kwargs)
        unit = self.curve_unit
        ax.set(xlabel=unit, ylabel="synapses pruned (%)", ylim=(0, 100))
        ax.set_title(f"Compression per {unit}")
        if name:
            ax.legend(loc="lower right")

    def _plot_layers(self, ax, name, bar_kwargs):
        values = 100 * np.asarray(self.layer_compression, dtype=float)
        shapes = self.layer_shapes or [None] * len(values)
        labels = [_matrix_name(i, shape) for i, shape in enumerate(shapes)]
        kwargs = {"color": "tab:orange"}
        kwargs.update(bar_kwargs or {})
        self.bars_ = ax.bar(labels, values, **kwargs)
        ax.bar_label(self.bars_, fmt="%.1f")
        xlabel = "weight matrix"
        if self.layer_shapes is not None:
            xlabel += " (inputs\u2192outputs)"
        ax.set(xlabel=xlabel, ylim=(0, 105))
        ax.set_ylabel("synapses pruned (%)")
        # The name on a line of its own: a panel half a default figure wide
        # does not hold "Compression per layer: BSPClassifier" on one line.
        title = "Compression per layer"
        ax.set_title(f"{title}\n{name}" if name else title)


class WeightHistogramDisplay:
    """Distribution of the alive weights of one layer (the paper's Figure 4).

    Zhao & Zeng (2021, Fig. 4) compare the weights of a network trained with
    BSP with those of the same network trained without pruning: pruning
    removes the mass of weights near zero. The histogram counts only the
    alive synapses (a pruned weight is exactly 0 and would be one bar at the
    origin), as a density on a log scale, optionally over the weights of a
    dense reference model such as an
    :class:`~sklearn.neural_network.MLPClassifier`.

    Parameters
    ----------
    weights : array-like of shape (n_alive,)
        The alive weights.
    reference_weights : array-like of shape (n_weights,), default=None
        The weights of the reference model, if any.
    layer : int, default=0
        Index of the weight matrix, for the title.
    estimator_name, reference_name : str, default=None
        Names for the legend.
    layer_shape : tuple of int, default=None
        Shape ``(n_in, n_out)`` of the weight matrix. The title then names
        it ``"n_in\u2192n_out"``, as :class:`CompressionDisplay` names its
        bars; ``"layer <layer>"`` if None.

    Attributes
    ----------
    bars_ : list of matplotlib Patch
        The histogram of ``weights``.
    reference_bars_ : list of matplotlib Patch or None
        The histogram of ``reference_weights``; None without a reference.
    bin_edges_ : ndarray
        The bin edges shared by both histograms.
    ax_ : matplotlib Axes
        The Axes drawn on.
    figure_ : matplotlib Figure
        The figure holding the Axes.

    See Also
    --------
    CompressionDisplay : How many synapses were pruned, per epoch and layer.

    References
    ----------
    F. Zhao and Y. Zeng (2021). Dynamically Optimizing Network Structure
    Based on Synaptic Pruning in the Brain. Frontiers in Systems
    Neuroscience 15:620558. doi:10.3389/fnsys.2021.620558.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_bsp import BSPClassifier
    >>> from sklearn_bsp.inspection import WeightHistogramDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = BSPClassifier(pruning_rate=0.1, pruning_patience=10, max_iter=20,
    ...                     random_state=0).fit(X / 16, y)
    >>> dense = MLPClassifier(max_iter=20, random_state=0).fit(X / 16, y)
    >>> display = WeightHistogramDisplay.from_estimator(clf, reference=dense)
    >>> bool(display.weights.size == clf.coef_masks_[0].sum())
    True
    >>> display.ax_.get_yscale()
    'log'
    """

    def __init__(
        self,
        *,
        weights,
        reference_weights=None,
        layer=0,
        estimator_name=None,
        reference_name=None,
        layer_shape=None,
    ):
        self.weights = weights
        self.reference_weights = reference_weights
        self.layer = layer
        self.estimator_name = estimator_name
        self.reference_name = reference_name
        self.layer_shape = layer_shape

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        layer=0,
        reference=None,
        bins=80,
        ax=None,
        name=None,
        reference_name=None,
        hist_kwargs=None,
        reference_hist_kwargs=None,
    ):
        """Plot the alive weights of one layer of a fitted estimator.

        Parameters
        ----------
        estimator : BSPClassifier, BSPRegressor, MLPClassifier or MLPRegressor
            A fitted multi-layer perceptron (with ``coefs_``). Only the alive
            synapses of a pruning estimator (``coef_masks_``) are counted;
            every weight of a dense one, such as an ``MLPClassifier``.
            Sparse ``coefs_`` (after ``sparsify_coefs()``) work.
        layer : int, default=0
            Index of the weight matrix: 0 for the input-to-hidden weights,
            -1 for the last.
        reference : estimator, default=None
            A fitted network of the same shape to compare with, such as an
            ``MLPClassifier`` or a ``BSPClassifier(pruning_rate=0)``; all its
            weights are counted (its alive ones if it has masks).
        bins : int or array-like, default=80
            Number of bins, or their edges, shared by both histograms.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure with constrained layout if None.
        name, reference_name : str, default=None
            Legend names; the class names if None.
        hist_kwargs, reference_hist_kwargs : dict, default=None
            Passed to ``Axes.hist``.

        Returns
        -------
        display : WeightHistogramDisplay
            The display, with the histograms drawn.

        Raises
        ------
        NotFittedError
            If ``estimator`` or ``reference`` is not fitted.
        TypeError
            If ``estimator`` or ``reference`` is fitted but has no
            ``coefs_`` (it is not a multi-layer perceptron).
        ValueError
            If ``layer`` is out of range.
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        caller = f"{cls.__name__}.from_estimator"
        needs = "a multi-layer perceptron (such as BSPClassifier or MLPClassifier)"
        _check_fitted_with(estimator, ["coefs_"], caller, needs)
        reference_weights = None
        if reference is not None:
            _check_fitted_with(reference, ["coefs_"], caller, needs)
            reference_weights = _alive_weights(reference, layer)
            if reference_name is None:
                reference_name = _estimator_name(reference, None)
                if reference_name == _estimator_name(estimator, name):
                    reference_name = f"{reference_name} (reference)"
        # _alive_weights checks that ``layer`` is in range.
        weights = _alive_weights(estimator, layer)
        display = cls(
            weights=weights,
            reference_weights=reference_weights,
            layer=layer,
            estimator_name=_estimator_name(estimator, name),
            reference_name=reference_name,
            layer_shape=estimator.coefs_[layer].shape,
        )
        return display.plot(
            ax=ax,
            bins=bins,
            hist_kwargs=hist_kwargs,
            reference_hist_kwargs=reference_hist_kwargs,
        )

    def plot(
        self,
        ax=None,
        *,
        bins=80,
        log=True,
        hist_kwargs=None,
        reference_hist_kwargs=None,
    ):
        """Draw the histograms.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure with constrained layout if None.
        bins : int or array-like, default=80
            Number of bins, or their edges, shared by both histograms.
        log : bool, default=True
            Log-scale density axis: it shows the tails and the gap that
            pruning opens around zero.
        hist_kwargs, reference_hist_kwargs : dict, default=None
            Passed to ``Axes.hist``.

        Returns
        -------
        display : WeightHistogramDisplay
            This display, with ``bars_``, ``reference_bars_``,
            ``bin_edges_``, ``ax_`` and ``figure_`` set.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")

        # One panel: a single Axes (or a list holding one) is drawn on as is.
        (ax,), _ = _panel_axes(ax, 1, figsize=(5.5, 3.8), what="The histogram")
        weights = np.asarray(self.weights, dtype=float).ravel()
        everything = [weights]
        if self.reference_weights is not None:
            reference = np.asarray(self.reference_weights, dtype=float).ravel()
            everything.append(reference)
        # Shared edges, so that both densities are over the same bins.
        self.bin_edges_ = np.histogram_bin_edges(np.concatenate(everything), bins)

        kwargs = {
            "histtype": "stepfilled",
            "color": "tab:orange",
            "alpha": 0.7,
            "label": f"{self.estimator_name or 'estimator'}: {weights.size:,} alive",
        }
        kwargs.update(hist_kwargs or {})
        *_, self.bars_ = ax.hist(weights, bins=self.bin_edges_, density=True, **kwargs)
        # The reference's outline is drawn last, so the filled histogram does
        # not hide it.
        self.reference_bars_ = None
        if self.reference_weights is not None:
            kwargs = {
                "histtype": "step",
                "color": "tab:blue",
                "linewidth": 1.5,
                "label": f"{self.reference_name or 'reference'}: {reference.size:,}",
            }
            kwargs.update(reference_hist_kwargs or {})
            *_, self.reference_bars_ = ax.hist(
                reference, bins=self.bin_edges_, density=True, **kwargs
            )
        if log:
            ax.set_yscale("log")
        ax.set(xlabel="weight", ylabel="density")
        title = f"Weights of {_matrix_name(self.layer, self.layer_shape)}"
        if self.layer_shape is not None:
            title += " (inputs\u2192outputs)"
        ax.set_title(title)
        ax.legend(loc="best", fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
