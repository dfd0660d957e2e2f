"""Brain-inspired synaptic pruning (BSP) for scikit-learn.

A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier` that
prunes its own synapses while it learns, after Zhao & Zeng (2021),
*Dynamically Optimizing Network Structure Based on Synaptic Pruning in the
Brain*, Frontiers in Systems Neuroscience 15:620558.
"""

from ._classifier import BSPClassifier

__version__ = "0.1.0"

__all__ = ["BSPClassifier", "__version__"]
