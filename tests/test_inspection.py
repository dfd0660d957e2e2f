"""CompressionDisplay and WeightHistogramDisplay draw what the fit recorded."""

import copy
import doctest
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
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

    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="2 panel"):
        display.plot(ax=ax, kind="both")
    with pytest.raises(ValueError, match="kind must be"):
        display.plot(kind="curve")


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
    assert display.ax_.get_title() == "Weights of layer 1"


def test_weight_histogram_against_dense_reference(pruned, digits):
    X, y = digits
    dense = MLPClassifier(hidden_layer_sizes=(40, 20), max_iter=15, random_state=0)
    dense.fit(X, y)

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
