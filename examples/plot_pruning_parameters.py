"""
==========================================================
How pruning rate and patience set compression and accuracy
==========================================================

Two parameters drive the BSP rule of :class:`~sklearn_bsp.BSPClassifier`:

* ``pruning_rate``: at every pruning step, the share of the alive synapses
  with the smallest ``|w|`` that are *candidates*;
* ``pruning_patience``: how many consecutive steps a synapse may stay a
  candidate before it is pruned.

This example trains the same network on the digits data set over a small
grid of both, with the rule at its own pace (``target_compression=None``),
and shows how far the network can be pruned before test accuracy suffers.
The default, a target compression, is one more point on the map.
"""

# %%
# Setup
# -----
# One hidden layer of 100 neurons, Adam, exactly 100 epochs for every network:
# the stopping rule is switched off (``n_iter_no_change=max_iter``) so that
# only the pruning parameters differ between the fits. With 1,347 training
# images and minibatches of 200, 100 epochs are 700 minibatch updates, and
# with the default ``pruning_unit="batch"`` each update is one pruning step.
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_bsp import BSPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)
n_epochs = 100
n_steps = n_epochs * math.ceil(X_train.shape[0] / 200)
params = dict(
    hidden_layer_sizes=(100,),
    max_iter=n_epochs,
    n_iter_no_change=n_epochs,
    random_state=0,
)
rule_alone = dict(target_compression=None)


def fit_and_score(**pruning):
    clf = BSPClassifier(**params, **pruning)
    with warnings.catch_warnings():
        # The fixed budget of epochs ends every fit before convergence.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    return clf.score(X_test, y_test), clf.compression_


dense_accuracy, _ = fit_and_score(pruning_rate=0)
print(f"{n_steps} pruning steps; dense network: test accuracy {dense_accuracy:.4f}")

# %%
# The grid
# --------
# Five rates and three patiences: fifteen fits, plus the paper's equations
# (``"paper"``) and the default target.
rates = [0.02, 0.05, 0.1, 0.2, 0.4]
patiences = [10, 50, 200]
accuracy = np.empty((len(patiences), len(rates)))
compression = np.empty_like(accuracy)
for i, patience in enumerate(patiences):
    for j, rate in enumerate(rates):
        accuracy[i, j], compression[i, j] = fit_and_score(
            pruning_rate=rate, pruning_patience=patience, **rule_alone
        )

print("patience  rate   accuracy  pruned")
for i, patience in enumerate(patiences):
    for j, rate in enumerate(rates):
        print(
            f"{patience:8d}  {rate:4.2f}   {accuracy[i, j]:.4f}    "
            f"{compression[i, j]:6.1%}"
        )

paper_accuracy, paper_compression = fit_and_score(
    pruning_rate="paper", pruning_patience="paper", **rule_alone
)
print(
    f"'paper' (eqs 1 and 2): accuracy {paper_accuracy:.4f}, "
    f"pruned {paper_compression:.1%}"
)
auto_accuracy, auto_compression = fit_and_score()
print(f"default target: accuracy {auto_accuracy:.4f}, pruned {auto_compression:.1%}")

# %%
# An upper bound on compression
# -----------------------------
# A synapse pruned at some step was a candidate at that step and at the
# ``patience`` steps before it. So every synapse pruned within a window of
# ``patience + 1`` consecutive steps was a candidate at the first step of the
# window: at most the share ``rate`` of the synapses then alive. After ``S``
# steps the share pruned is therefore at most
#
# .. math::
#
#     1 - (1 - \mathrm{rate})^{\lceil S / (\mathrm{patience} + 1) \rceil}.
#
# The bound is reached only if the same synapses stay the weakest from step to
# step; in training they change places, so the real compression is lower. The
# dotted lines below show the bound for the 700 steps of these fits.


def compression_bound(rate, patience, n_steps=n_steps):
    return 1 - (1 - np.asarray(rate)) ** math.ceil(n_steps / (patience + 1))


within = all(
    np.all(compression[i] <= compression_bound(rates, patience))
    for i, patience in enumerate(patiences)
)
print(f"every fit within its bound: {within}")

fine_rates = np.linspace(0.0, 0.45, 200)
fig, (ax_comp, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
for i, patience in enumerate(patiences):
    label = f"patience {patience}"
    (line,) = ax_comp.plot(rates, 100 * compression[i], "o-", label=label)
    bound = 100 * compression_bound(fine_rates, patience)
    ax_comp.plot(fine_rates, bound, ":", color=line.get_color())
    ax_acc.plot(rates, accuracy[i], "o-", label=label)
ax_comp.set(xlabel="pruning_rate", ylabel="synapses pruned (%)", ylim=(0, 102))
ax_comp.set_title("Compression (dotted: upper bound)")
ax_comp.legend(loc="lower right")
ax_acc.axhline(dense_accuracy, color="k", lw=1, ls="--", label="dense network")
ax_acc.set(xlabel="pruning_rate", ylabel="test accuracy", ylim=(0, 1))
ax_acc.set_title("Test accuracy")
ax_acc.legend(loc="lower left")
fig.tight_layout()

# %%
# Compression against accuracy
# ----------------------------
# Every fit of the grid is one point. Accuracy holds at the level of the dense
# network while a moderate share of the synapses is removed, then falls
# steeply once pruning takes the synapses that carry the decision: past that
# point the network cannot recover, because pruning is irreversible.
fig, ax = plt.subplots(figsize=(5.5, 4))
for i, patience in enumerate(patiences):
    ax.plot(100 * compression[i], accuracy[i], "o", label=f"patience {patience}")
ax.plot(100 * paper_compression, paper_accuracy, "k*", ms=12, label="'paper'")
ax.plot(100 * auto_compression, auto_accuracy, "rD", ms=8, label="default target")
ax.axhline(dense_accuracy, color="k", lw=1, ls="--", label="dense network")
ax.set(xlabel="synapses pruned (%)", ylabel="test accuracy", xlim=(0, 101))
ax.legend(loc="lower left")
fig.tight_layout()

# %%
# Reading the grid
# ----------------
# * A higher rate or a shorter patience prunes more. Through the bound, the
#   patience and the length of the fit act together: what counts is the number
#   ``S / (patience + 1)`` of windows in which a share ``rate`` can go.
# * With a short patience the compression comes close to the bound: the
#   weakest synapses stay the weakest, and the bound is a usable estimate.
#   With a long patience the candidates change places often enough that the
#   real compression stays well below it.
# * To aim at a compression ``c`` within ``S`` steps, pick ``rate`` and
#   ``patience`` whose bound is somewhat above ``c``, then check
#   ``compression_`` and a validation score, for instance in a
#   :class:`~sklearn.model_selection.GridSearchCV` over both parameters.
# * ``"paper"`` is one point on this map, chosen by the paper's equations from
#   the size of the network and of the training set; it is a starting point,
#   not an optimum.
# * The default names the compression instead (``target_compression``) and
#   lets the schedule set the pace: the rule still picks which synapses go.

plt.show()
