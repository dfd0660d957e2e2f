"""CompressionDisplay and WeightHistogramDisplay draw what the fit recorded."""

import copy
import doctest
import io
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import sklearn_bsp.inspection  # noqa: E402
from sklearn_bsp import BSPClassifier  # noqa: E402
from sklearn_bsp.inspection import (  # noqa: E402
    CompressionDisplay,
    WeightHistogramDisplay,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def pruned(digits):
    X, y = digits
    clf = BSPClassifier(
        hidden_layer_sizes=(40, 20),
        pruning_rate=0.1,
        pruning_patience=5,
        max_iter=15,
        random_state=0,
    ).fit(X, y)
    # The checks below mean something only if pruning removed synapses, and
    # not the same share everywhere.
    assert 0 < clf.compression_ < 1
    return clf


@pytest.fixture(scope="module")
def dense(digits):
    X, y = digits
    return MLPClassifier(hidden_layer_sizes=(40, 20), max_iter=15, random_state=0).fit(
        X, y
    )


def _drawn_texts(fig):
    """The non-empty text artists a draw of ``fig`` shows.

    Titles, axis labels, tick labels, bar labels and legend entries of the
    visible Axes. Tick labels whose tick lies outside the view limits are
    left out: the locator makes them, but they are not drawn.
    """
    texts = list(fig.texts)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, *ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += legend.get_texts()
        if not ax.axison:
            continue
        texts += [ax.xaxis.label, ax.yaxis.label]
        for labels, limits, i in [
            (ax.get_xticklabels(), ax.get_xlim(), 0),
            (ax.get_yticklabels(), ax.get_ylim(), 1),
        ]:
            low, high = sorted(limits)
            texts += [t for t in labels if low <= t.get_position()[i] <= high]
    return [t for t in texts if t.get_visible() and t.get_text()]


def _assert_labels_inside(fig, expected):
    """Every drawn text and legend of ``fig`` lies inside the canvas."""
    # Saved as a user would save it: no bbox_inches="tight" to rescue it.
    fig.savefig(io.BytesIO(), format="png")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    texts = _drawn_texts(fig)
    # The check means something only if it sees the labels that were cut off.
    assert set(expected) <= {t.get_text() for t in texts}
    extents = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    extents += [
        ("legend", ax.get_legend().get_window_extent(renderer))
        for ax in fig.axes
        if ax.get_legend() is not None
    ]
    outside = [
        (text, extent.bounds)
        for text, extent in extents
        if extent.x0 < canvas.x0
        or extent.y0 < canvas.y0
        or extent.x1 > canvas.x1
        or extent.y1 > canvas.y1
    ]
    assert not outside, outside


def test_compression_display_draws_curve_and_layers(pruned):
    display = CompressionDisplay.from_estimator(pruned)

    np.testing.assert_allclose(
        display.line_.get_ydata(), 100 * np.asarray(pruned.compression_curve_)
    )
    np.testing.assert_array_equal(
        display.line_.get_xdata(), np.arange(1, pruned.n_iter_ + 1)
    )
    heights = [bar.get_height() for bar in display.bars_]
    alive = [m.sum() / m.size for m in pruned.coef_masks_]
    np.testing.assert_allclose(heights, 100 * (1 - np.array(alive)))
    assert len(display.ax_) == 2
    assert display.line_.axes is display.ax_[0]
    assert display.bars_[0].axes is display.ax_[1]
    assert display.figure_ is display.ax_[0].figure
    labels = [t.get_text() for t in display.ax_[1].get_xticklabels()]
    assert labels == ["64\u219240", "40\u219220", "20\u219210"]
    # Adam records the compression once per epoch.
    assert display.ax_[0].get_xlabel() == "epoch"
    assert display.ax_[0].get_title() == "Compression per epoch"
    assert display.bounding_ax_ is None


def test_compression_display_one_panel_on_given_ax(pruned):
    fig, ax = plt.subplots()
    display = CompressionDisplay.from_estimator(pruned, kind="layers", ax=ax)
    assert display.ax_ is ax and display.figure_ is fig
    assert display.line_ is None and len(display.bars_) == 3

    display = CompressionDisplay.from_estimator(pruned, kind="epochs", name="BSP")
    assert display.bars_ is None
    assert display.ax_.get_legend().get_texts()[0].get_text() == "BSP"


def test_compression_display_from_values_and_errors():
    display = CompressionDisplay(
        compression_curve=[0.0, 0.25, 0.5], layer_compression=[0.5, 0.1]
    ).plot(kind="layers")
    assert [bar.get_height() for bar in display.bars_] == pytest.approx([50, 10])

    # Without shapes the bars are named by index, and the x label does not
    # promise inputs->outputs.
    labels = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert labels == ["layer 0", "layer 1"]
    assert display.ax_.get_xlabel() == "weight matrix"

    fig, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="kind='both' draws 2 panel.*holds 3 Axes"):
        display.plot(ax=axes, kind="both")
    with pytest.raises(ValueError, match="kind='layers' draws 1 panel.*holds 2"):
        display.plot(ax=axes[:2], kind="layers")
    with pytest.raises(ValueError, match="kind must be"):
        display.plot(kind="curve")
    # A list of the right number of Axes is taken as it is.
    display.plot(ax=list(axes[:2]), kind="both")
    assert list(display.ax_) == list(axes[:2]) and display.bounding_ax_ is None
    display.plot(ax=[axes[2]], kind="epochs")
    assert display.ax_ is axes[2]


@pytest.mark.parametrize("kind", ["both", "epochs", "layers"])
def test_compression_display_takes_one_axes_for_every_kind(pruned, kind):
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")

    display = CompressionDisplay.from_estimator(pruned, kind=kind, ax=ax)

    assert display.figure_ is fig
    if kind != "both":
        assert display.ax_ is ax and display.bounding_ax_ is None
        assert ax.axison
        _assert_labels_inside(fig, [ax.get_xlabel()])
        return
    # As PartialDependenceDisplay does: the Axes is hidden and two panels
    # take its place, side by side, in the same figure.
    assert display.bounding_ax_ is ax and not ax.axison
    assert len(display.ax_) == 2
    left, right = display.ax_
    assert left is not ax and right is not ax
    assert left in fig.axes and right in fig.axes
    assert display.line_.axes is left and display.bars_[0].axes is right
    _assert_labels_inside(fig, ["epoch", "weight matrix (inputs\u2192outputs)"])
    renderer = fig.canvas.get_renderer()
    assert left.get_tightbbox(renderer).x1 < right.get_tightbbox(renderer).x0
    outer = ax.get_position()
    for panel in display.ax_:
        inner = panel.get_position()
        assert outer.x0 - 1e-9 <= inner.x0 < inner.x1 <= outer.x1 + 1e-9

    # Dividing it again would stack new panels over the old ones.
    with pytest.raises(ValueError, match="already divided.*display.ax_"):
        display.plot(ax=ax)
    display.plot(ax=display.ax_)
    assert display.bounding_ax_ is None


def test_compression_display_divides_axes_without_layout_engine():
    # A figure without a layout engine gets a gap wide enough for the right
    # panel's y label; matplotlib's default gap puts it over the left panel.
    fig, ax = plt.subplots()
    display = CompressionDisplay(
        compression_curve=[0.0, 0.5],
        layer_compression=[0.5, 1.0],
        layer_shapes=[(64, 40), (40, 10)],
        estimator_name="BSP",
    ).plot(ax=ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left, right = display.ax_
    assert left.get_tightbbox(renderer).x1 < right.get_tightbbox(renderer).x0

    # An Axes placed by hand has no grid cell: its rectangle is split.
    fig = plt.figure()
    ax = fig.add_axes([0.1, 0.2, 0.8, 0.7])
    display.plot(ax=ax)
    left, right = (panel.get_position() for panel in display.ax_)
    assert left.x0 == pytest.approx(0.1) and right.x1 == pytest.approx(0.9)
    assert left.x1 < right.x0
    assert left.y0 == right.y0 == pytest.approx(0.2)


@pytest.mark.parametrize("kind", ["both", "epochs", "layers"])
@pytest.mark.parametrize("name", [None, "BSP"])
def test_compression_display_own_figure_keeps_labels_inside(pruned, kind, name):
    display = CompressionDisplay.from_estimator(pruned, kind=kind, name=name)
    expected = {
        "both": ["epoch", "weight matrix (inputs\u2192outputs)"],
        "epochs": ["epoch", "synapses pruned (%)"],
        "layers": ["weight matrix (inputs\u2192outputs)", "synapses pruned (%)"],
    }[kind]
    _assert_labels_inside(display.figure_, expected)


@pytest.mark.parametrize("log", [True, False])
@pytest.mark.parametrize("with_reference", [False, True])
def test_weight_histogram_own_figure_keeps_labels_inside(
    pruned, dense, log, with_reference
):
    display = WeightHistogramDisplay.from_estimator(
        pruned, reference=dense if with_reference else None, layer=1
    ).plot(log=log)
    assert display.ax_.get_yscale() == ("log" if log else "linear")
    _assert_labels_inside(display.figure_, ["weight", "density"])


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_compression_display_counts_iterations_for_lbfgs(digits, solver):
    X, y = digits
    clf = BSPClassifier(
        hidden_layer_sizes=(20,),
        solver=solver,
        pruning_rate=0.1,
        pruning_patience=3,
        max_iter=12,
        random_state=0,
    ).fit(X[:400], y[:400])

    display = CompressionDisplay.from_estimator(clf, kind="epochs")

    # L-BFGS records the compression once per iteration, the stochastic
    # solvers once per epoch.
    unit = "iteration" if solver == "lbfgs" else "epoch"
    assert display.curve_unit == unit
    assert display.ax_.get_xlabel() == unit
    assert display.ax_.get_title() == f"Compression per {unit}"
    assert len(display.line_.get_xdata()) == clf.n_iter_
    _assert_labels_inside(display.figure_, [unit])


def test_displays_name_weight_matrices_alike(pruned):
    compression = CompressionDisplay.from_estimator(pruned, kind="layers")
    bars = [t.get_text() for t in compression.ax_.get_xticklabels()]
    titles = [
        WeightHistogramDisplay.from_estimator(pruned, layer=layer).ax_.get_title()
        for layer in range(len(pruned.coefs_))
    ]
    assert titles == [f"Weights of {bar} (inputs\u2192outputs)" for bar in bars]
    # A negative index names the matrix it selects.
    last = WeightHistogramDisplay.from_estimator(pruned, layer=-1)
    assert last.ax_.get_title() == titles[-1]

    # From precomputed values without shapes, both fall back to the index.
    compression = CompressionDisplay(
        compression_curve=[0.5], layer_compression=[0.5, 0.2]
    ).plot(kind="layers")
    bars = [t.get_text() for t in compression.ax_.get_xticklabels()]
    histogram = WeightHistogramDisplay(weights=[-1.0, 1.0], layer=1).plot()
    assert histogram.ax_.get_title() == f"Weights of {bars[1]}"


def test_compression_display_rejects_estimators_that_do_not_prune(dense):
    # A fitted MLPClassifier is fitted: saying otherwise sends the user to
    # fit it again. The error names what is missing instead.
    with pytest.raises(TypeError, match="pruning estimator.*coef_masks_") as info:
        CompressionDisplay.from_estimator(dense)
    assert "not fitted" not in str(info.value)
    assert "MLPClassifier has no coef_masks_" in str(info.value)

    for unfitted in [BSPClassifier(), MLPClassifier()]:
        with pytest.raises(NotFittedError):
            CompressionDisplay.from_estimator(unfitted)


def test_weight_histogram_of_a_dense_network(pruned, dense, digits):
    # A dense network's weights are a legitimate histogram: all are counted.
    display = WeightHistogramDisplay.from_estimator(dense, layer=1)
    np.testing.assert_array_equal(display.weights, dense.coefs_[1].ravel())
    assert display.ax_.get_title() == "Weights of 40\u219220 (inputs\u2192outputs)"

    # An estimator without coefs_ is no network; an unfitted one is unfitted.
    X, y = digits
    linear = LogisticRegression(max_iter=20).fit(X, y)
    with pytest.raises(TypeError, match="multi-layer perceptron.*coefs_"):
        WeightHistogramDisplay.from_estimator(linear)
    with pytest.raises(TypeError, match="LogisticRegression has no coefs_"):
        WeightHistogramDisplay.from_estimator(pruned, reference=linear)
    with pytest.raises(NotFittedError):
        WeightHistogramDisplay.from_estimator(BSPClassifier())
    with pytest.raises(NotFittedError):
        WeightHistogramDisplay.from_estimator(pruned, reference=MLPClassifier())


@pytest.mark.parametrize("sparsify", [False, True])
def test_weight_histogram_counts_alive_weights_only(pruned, sparsify):
    expected = np.sort(pruned.coefs_[1][pruned.coef_masks_[1]])
    if sparsify:
        pruned = copy.deepcopy(pruned).sparsify_coefs()

    display = WeightHistogramDisplay.from_estimator(pruned, layer=1, bins=30)

    np.testing.assert_array_equal(np.sort(display.weights), expected)
    assert display.weights.size < pruned.coef_masks_[1].size
    assert len(display.bin_edges_) == 31
    # The filled outline reaches the highest density of the alive weights.
    density, _ = np.histogram(expected, display.bin_edges_, density=True)
    top = display.bars_[0].get_xy()[:, 1].max()
    assert top == pytest.approx(density.max())
    assert display.reference_bars_ is None
    assert display.ax_.get_yscale() == "log"
    assert display.ax_.get_title() == "Weights of 40\u219220 (inputs\u2192outputs)"


def test_weight_histogram_against_dense_reference(pruned, dense):
    display = WeightHistogramDisplay.from_estimator(pruned, reference=dense, name="BSP")

    assert display.reference_weights.size == dense.coefs_[0].size
    edges = display.bin_edges_
    everything = np.concatenate([display.weights, display.reference_weights])
    assert edges[0] == everything.min() and edges[-1] == everything.max()
    assert display.reference_bars_ is not None
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend[0].startswith("BSP: ")
    assert legend[1].startswith("MLPClassifier: 2,560")


def test_weight_histogram_rejects_missing_layer(pruned):
    with pytest.raises(ValueError, match="3 weight matrices"):
        WeightHistogramDisplay.from_estimator(pruned, layer=3)


def test_displays_need_matplotlib(pruned, monkeypatch):
    # As if matplotlib were not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="requires matplotlib"):
        CompressionDisplay.from_estimator(pruned)
    with pytest.raises(ImportError, match="requires matplotlib"):
        WeightHistogramDisplay.from_estimator(pruned)


def test_docstring_examples():
    result = doctest.testmod(
        sklearn_bsp.inspection,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0
