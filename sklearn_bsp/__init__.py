"""Brain-inspired synaptic pruning (BSP) for scikit-learn.

Drop-in replacements for :class:`sklearn.neural_network.MLPClassifier` and
:class:`~sklearn.neural_network.MLPRegressor` that prune their own synapses
while they learn, after Zhao & Zeng (2021), *Dynamically Optimizing Network
Structure Based on Synaptic Pruning in the Brain*, Frontiers in Systems
Neuroscience 15:620558.
"""

from ._classifier import BSPClassifier
from ._regressor import BSPRegressor
from ._show_versions import machine_info, show_versions

__version__ = "0.2.0.dev0"

__all__ = [
    "BSPClassifier",
    "BSPRegressor",
    "machine_info",
    "show_versions",
    "__version__",
]
