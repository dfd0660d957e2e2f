"""scikit-learn's own MLP test module, run against BSPClassifier and BSPRegressor.

The module installed with scikit-learn (``sklearn/neural_network/tests/
test_mlp.py``) is copied with its one import of ``MLPClassifier`` and
``MLPRegressor`` replaced by ours, at their default (pruning) settings, and
run in a separate pytest process. Left out:

- ``test_gradient`` calls ``MLPClassifier._loss_grad_lbfgs`` with
  scikit-learn's private per-layer buffers, not the estimator's API.

And four tests that pin what pruning changes by design (the default prunes
50 % of their small networks, see ``target_compression``):

- ``test_lbfgs_regression[X0-y0]`` asks a 50-neuron network for R^2 > 0.98 on
  200 samples; pruned to 53 % it reaches 0.979.
- ``test_partial_fit_regression`` asks 100 ``partial_fit`` calls (with
  ``max_iter=200``) for the weights of ``fit`` with ``max_iter=100``: the
  target's pruning window is a share of ``max_iter``.
- ``test_early_stopping`` asks for ``best_validation_score_ ==
  max(validation_scores_)`` and ``test_n_iter_no_change_inf`` for
  ``_no_improvement_count == n_iter_ - 1``: the stopping rule's reference
  restarts at each pruning step, so the restored network is a pruned one.

``tests/test_target.py`` tests what the estimators do instead.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import sklearn

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OURS = (
    "from sklearn_bsp import BSPClassifier as MLPClassifier, "
    "BSPRegressor as MLPRegressor"
)
PRIVATE = ["test_gradient"]
BY_DESIGN = [
    "test_lbfgs_regression[X0-y0]",
    "test_partial_fit_regression",
    # Parametrized by the class, whose name is ours.
    "test_early_stopping[BSPClassifier]",
    "test_early_stopping[BSPRegressor]",
    "test_n_iter_no_change_inf",
]

CONFTEST = """
import pytest


@pytest.fixture
def global_random_seed():
    # scikit-learn's conftest provides this; its default seed is 42.
    return 42
"""


@pytest.mark.slow
def test_sklearn_mlp_tests_pass_against_ours(tmp_path):
    if not SOURCE.exists():
        pytest.skip(f"scikit-learn was installed without its tests ({SOURCE})")
    text = SOURCE.read_text()
    assert IMPORT in text, "scikit-learn changed the import this test replaces"
    (tmp_path / "test_sklearn_mlp.py").write_text(text.replace(IMPORT, OURS))
    (tmp_path / "conftest.py").write_text(CONFTEST)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    left_out = PRIVATE + BY_DESIGN
    command += ["--deselect=" + f"test_sklearn_mlp.py::{name}" for name in left_out]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout else ""
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
