"""
============================================
Pruning while learning: BSP vs MLP on digits
============================================

:class:`~sklearn_bsp.BSPClassifier` is trained next to scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier` on the 8 x 8 handwritten digits.
Both networks start identical (same architecture, same ``random_state``); the
only difference is that BSP removes synapses that stay among the weakest for
long enough. We compare their test accuracy epoch by epoch, follow how many
synapses BSP removes, and look at *which* synapses it removed.
"""

# %%
# Data
# ----
# 1,797 images of 8 x 8 pixels with grey levels 0 to 16, scaled into [0, 1].
# A quarter is held out for testing.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_bsp import BSPClassifier
from sklearn_bsp.inspection import CompressionDisplay
from sklearn_bsp.metrics import learning_speedup, record_learning_curve

digits = load_digits()
X = digits.data / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.25, stratify=digits.target, random_state=0
)
print(f"{X_train.shape[0]} training and {X_test.shape[0]} test images")

# %%
# Two networks, one difference
# ----------------------------
# One hidden layer of 100 neurons, Adam, 100 epochs. ``BSPClassifier`` keeps
# every other parameter of ``MLPClassifier`` with the same meaning. Here its
# pruning follows the paper to the letter: ``pruning_rate="paper"`` and
# ``pruning_patience="paper"`` take the rate and patience from the paper's
# equations 1 and 2, and ``target_compression=None`` lets the rule prune at
# that pace (the default instead reaches a target compression within the
# budget; see the :ref:`user_guide`).
#
# :func:`~sklearn_bsp.metrics.record_learning_curve` fits an estimator exactly
# as ``fit`` would, and scores it on the test set after every epoch, through
# scikit-learn's callback API. ``MLPClassifier`` has no callbacks in
# scikit-learn 1.9, so ``BSPClassifier(pruning_rate=0)`` stands in for it:
# with pruning off it trains the very same weights. Both networks use their
# whole budget of 100 epochs, so the warning that the optimizer has not
# converged is expected and silenced.
params = dict(hidden_layer_sizes=(100,), max_iter=100, random_state=0)
mlp = BSPClassifier(pruning_rate=0, **params)
bsp = BSPClassifier(
    pruning_rate="paper", pruning_patience="paper", target_compression=None, **params
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    curve_mlp = record_learning_curve(mlp, X_train, y_train, X_test, y_test)
    curve_bsp = record_learning_curve(bsp, X_train, y_train, X_test, y_test)

print(f"pruning rate (eq 1):           {bsp.pruning_rate_:.3f}")
print(f"pruning patience (eq 2), last: {bsp.pruning_patience_:.1f} steps")
print(f"MLPClassifier test accuracy:   {mlp.score(X_test, y_test):.4f}")
print(f"BSPClassifier test accuracy:   {bsp.score(X_test, y_test):.4f}")
print(f"synapses pruned:               {bsp.compression_:.1%}")

# %%
# Where the two numbers come from
# -------------------------------
# Equations 1 and 2 of the paper depend only on the number of hidden neurons
# ``Nneu``, the number of training samples ``Nsam``, and (for the patience)
# the share of synapses already pruned. Recomputing them by hand with the
# paper's constants shows what ``"paper"`` resolved to:
n_neurons, n_samples = 100, X_train.shape[0]
D = np.log(max(50 * n_samples / 60000, 1)) ** 2 + 1
rate = 0.048 * np.log(n_neurons) / D
patience_at_start = 2**1 * 1244 / n_neurons + 146 * D
print(f"eq 1: pr = {rate:.3f}")
print(f"eq 2 before any pruning: pc = {patience_at_start:.1f}")

# %%
# So at every minibatch update the weakest fifth or so of the alive synapses
# are *candidates*, and a synapse must stay a candidate for more than about
# 170 consecutive updates before it is pruned. Eq 2 raises the patience as
# synapses are removed, which is why the value in force at the end of the fit
# (printed above) is higher. With 1,347 training images and minibatches of
# 200 there are 7 updates per epoch, so nothing can be pruned before epoch 25:
# until then the two networks are the same network and their curves coincide.
first_epoch = int(np.flatnonzero(bsp.compression_curve_)[0]) + 1
print(f"first synapses pruned in epoch {first_epoch}")

fig, (ax_acc, ax_comp) = plt.subplots(1, 2, figsize=(10, 3.8))
ax_acc.plot(curve_mlp.epochs, curve_mlp.scores, label="MLPClassifier")
ax_acc.plot(curve_bsp.epochs, curve_bsp.scores, "--", label="BSPClassifier")
ax_acc.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.8, 1.0))
ax_acc.legend(loc="lower right")
ax_acc.set_title("Test accuracy")

# CompressionDisplay draws ``compression_curve_``, the share of synapses
# pruned after each epoch.
CompressionDisplay.from_estimator(bsp, kind="epochs", ax=ax_comp, name="BSP")
ax_comp.set_title("BSP compression (compression_curve_)")
fig.tight_layout()

# %%
# Learning speed (paper eq 6)
# ---------------------------
# :func:`~sklearn_bsp.metrics.learning_speedup` finds the accuracy level at
# which the two curves reach it furthest apart in time and returns the ratio
# of the times. Above 1, BSP got there first; below 1, the dense network did.
# Here time is counted in epochs; ``curve.times`` holds seconds instead.
# Test accuracy moves up and down by a test image or two from one epoch to the
# next, so on a single run a ratio near 1 does not show that either network
# learns faster.
speed = learning_speedup(
    curve_bsp.epochs, curve_bsp.scores, curve_mlp.epochs, curve_mlp.scores
)
print(
    f"largest gap at accuracy {speed.level:.4f}: BSP after {speed.time_bsp:.0f} "
    f"epochs, MLP after {speed.time_ref:.0f} epochs, L = {speed.speedup:.2f}"
)

# %%
# Which synapses were pruned?
# ---------------------------
# ``coef_masks_[0]`` has one row per input pixel and one column per hidden
# neuron, True where the synapse is alive. Summing each row counts the hidden
# neurons a pixel still feeds. A pixel that is blank in every training image
# gives its synapses no gradient except the L2 penalty, which shrinks them
# towards zero: they are always among the weakest, and BSP cuts them all.
# Pixels that are rarely inked keep fewer synapses than the centre of the
# image, where the digits differ.
alive_per_pixel = bsp.coef_masks_[0].sum(axis=1).reshape(8, 8)
mean_image = X_train.mean(axis=0).reshape(8, 8)
blank = X_train.max(axis=0).reshape(8, 8) == 0

fig, (ax_mean, ax_mask) = plt.subplots(1, 2, figsize=(8, 3.6))
im = ax_mean.imshow(mean_image, cmap="gray_r")
ax_mean.set_title("Mean training image")
fig.colorbar(im, ax=ax_mean, label="mean grey level")
im = ax_mask.imshow(alive_per_pixel, cmap="viridis", vmin=0, vmax=100)
ax_mask.set_title("Alive synapses per input pixel")
fig.colorbar(im, ax=ax_mask, label="of 100 hidden neurons")
for ax in (ax_mean, ax_mask):
    ax.set(xticks=[], yticks=[])
fig.tight_layout()

dead = alive_per_pixel == 0
print(f"pixels blank in every training image: {int(blank.sum())}")
print(f"pixels that lost every synapse:       {int(dead.sum())}")
print(f"the same pixels:                      {bool(np.array_equal(blank, dead))}")

# %%
# Compression per layer
# ---------------------
# With the default ``pruning_scope="layer"`` each weight matrix draws its
# candidates at the same rate from its own synapses; here both lose about
# half of them. The bars are the share of each matrix's synapses pruned,
# from ``coef_masks_``. The display's own figure has constrained layout.
CompressionDisplay.from_estimator(bsp, kind="layers", name="BSP")

# sphinx_gallery_thumbnail_number = 2
plt.show()
