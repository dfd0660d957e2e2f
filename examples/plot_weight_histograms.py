"""
===============================================
Weight distributions: unpruned, dropout and BSP
===============================================

Zhao & Zeng (2021, Fig. 4) compare the weights of three versions of the same
network after training: the unpruned network (the paper's "initial" network),
the network trained with dropout, and the network trained with brain-inspired
synaptic pruning (BSP). This example draws the same comparison with
:class:`~sklearn_bsp.BSPClassifier`, which trains all three: ``pruning_rate=0``
turns pruning off, and ``dropout`` is the paper's baseline.

It uses 1,200 Fashion-MNIST training images, the paper's small-sample setting,
when :func:`~sklearn_bsp.datasets.load_fashion_mnist` finds the data files
(Debian package ``dataset-fashion-mnist``), and scikit-learn's digits
otherwise.
"""

# %%
# Data
# ----
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_bsp import BSPClassifier
from sklearn_bsp.datasets import load_fashion_mnist
from sklearn_bsp.inspection import WeightHistogramDisplay

rng = np.random.default_rng(0)
try:
    X_train, y_train = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
except FileNotFoundError as exc:
    print(f"Fashion-MNIST not found, using digits instead:\n{exc}")
    data_name = "digits"
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
else:
    data_name = "Fashion-MNIST"
    # The paper's small-sample setting: 1,200 training images. A random
    # 2,000 of the 10,000 test images keep the example quick.
    keep = rng.permutation(len(y_train))[:1200]
    X_train, y_train = X_train[keep], y_train[keep]
    keep = rng.permutation(len(y_test))[:2000]
    X_test, y_test = X_test[keep], y_test[keep]
print(f"{data_name}: {X_train.shape[0]} training, {X_test.shape[0]} test images")

# %%
# Three networks
# --------------
# The paper's network: one hidden layer of 100 sigmoid (``"logistic"``)
# neurons, plain stochastic gradient descent with learning rate 0.1. Every
# network trains for 150 epochs (900 minibatch updates on 1,200 images), with
# the stopping rule switched off so that all three see the same number of
# updates. Dropout removes each hidden unit with probability 0.5 at each
# update; BSP uses the paper's equations for its rate and patience.
common = dict(
    hidden_layer_sizes=(100,),
    activation="logistic",
    solver="sgd",
    learning_rate_init=0.1,
    momentum=0.0,
    max_iter=150,
    n_iter_no_change=150,
    random_state=0,
)
models = {
    "unpruned": BSPClassifier(pruning_rate=0, **common),
    "dropout 0.5": BSPClassifier(pruning_rate=0, dropout=0.5, **common),
    "BSP": BSPClassifier(
        pruning_rate="paper",
        pruning_patience="paper",
        target_compression=None,
        **common,
    ),
}
with warnings.catch_warnings():
    # The fixed budget of epochs ends every fit before convergence.
    warnings.simplefilter("ignore", ConvergenceWarning)
    for model in models.values():
        model.fit(X_train, y_train)

for name, model in models.items():
    print(
        f"{name:12s} test accuracy {model.score(X_test, y_test):.4f}, "
        f"synapses pruned {model.compression_:.1%}"
    )
bsp = models["BSP"]
print(
    f"BSP resolved pruning_rate_={bsp.pruning_rate_:.3f}, "
    f"pruning_patience_={bsp.pruning_patience_:.0f} (at the last step)"
)

# %%
# Histograms of the input-to-hidden weights
# -----------------------------------------
# :class:`~sklearn_bsp.inspection.WeightHistogramDisplay` draws the weights
# of one layer of the BSP network (filled) over those of a reference network
# (outline), as densities on a log scale. For BSP only the alive synapses are
# counted: the pruned ones are exactly 0 and would be one tall bar at the
# origin. Training leaves the unpruned and the dropout networks with a large
# mass of weights near zero. BSP has removed those: a synapse whose ``|w|``
# stays among the smallest for long enough is pruned, so what remains are two
# lobes away from zero. The accuracies printed above show what the removal
# cost or gained on this training set.
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, reference in zip(axes, ["unpruned", "dropout 0.5"]):
    WeightHistogramDisplay.from_estimator(
        bsp,
        layer=0,
        reference=models[reference],
        name="BSP",
        reference_name=reference,
        ax=ax,
    )
    ax.set_title(f"BSP against the {reference} network")
fig.suptitle(f"Input-to-hidden weights after training ({data_name})")
fig.tight_layout()

# %%
# How many weights are near zero?
# -------------------------------
# The share of the first layer's synapses with ``|w| < 0.02``; for BSP, out of
# those still alive.
weights = {
    name: model.coefs_[0][model.coef_masks_[0]] for name, model in models.items()
}
for name, w in weights.items():
    print(f"{name:12s} |w| < 0.02: {np.mean(np.abs(w) < 0.02):6.1%}")

plt.show()
