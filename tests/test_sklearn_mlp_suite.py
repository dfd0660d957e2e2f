"""scikit-learn's own MLP test module, run against BSPClassifier and BSPRegressor.

The module installed with scikit-learn (``sklearn/neural_network/tests/
test_mlp.py``) is copied with its one import of ``MLPClassifier`` and
``MLPRegressor`` replaced by ours, at their default (pruning) settings, and
run in a separate pytest process. One test is left out because it calls a
private method of scikit-learn's implementation rather than the estimator's
API:

- ``test_gradient`` calls ``MLPClassifier._loss_grad_lbfgs`` with
  scikit-learn's private per-layer buffers.
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
    command += ["--deselect=" + f"test_sklearn_mlp.py::{name}" for name in PRIVATE]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout else ""
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
