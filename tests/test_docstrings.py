"""The examples in the public docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "sklearn_bsp._classifier",
    "sklearn_bsp._sparse",
    "sklearn_bsp.datasets",
    "sklearn_bsp.metrics",
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0
    assert result.attempted > 0


def test_public_names_have_docstrings():
    import sklearn_bsp
    from sklearn_bsp import datasets, metrics

    names = [sklearn_bsp.BSPClassifier]
    names += [getattr(datasets, n) for n in ("load_fashion_mnist", "read_idx")]
    names += [getattr(metrics, n) for n in metrics.__all__]
    methods = ["fit", "partial_fit", "predict", "predict_proba", "predict_log_proba"]
    names += [getattr(sklearn_bsp.BSPClassifier, m) for m in methods]
    names += [sklearn_bsp.BSPClassifier.sparsify, sklearn_bsp.BSPClassifier.densify]
    for obj in names:
        doc = obj.__doc__ or ""
        assert "Parameters" in doc or "Returns" in doc, obj
