"""The examples in the public docstrings run, and every public name has one."""

import doctest
import importlib
import inspect
import pkgutil

import pytest

import sklearn_bsp

# Every module of the package, found rather than listed, so a new module's
# examples cannot be skipped silently. Optional extras may be missing.
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(sklearn_bsp.__path__, "sklearn_bsp.")
    if not info.name.endswith("_kernels")
)


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # an optional extra is not installed
        pytest.skip(f"{name}: {exc}")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = _import(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", None) == module.__name__
        ]
    return [getattr(module, n) for n in names if n != "__version__"]


@pytest.mark.parametrize(
    "name", [m for m in MODULES if not m.rsplit(".", 1)[-1].startswith("_")]
)
def test_public_names_have_numpydoc_docstrings(name):
    module = _import(name)
    objects = _public_names(module)
    assert objects or name == "sklearn_bsp.demo", name
    for obj in objects:
        doc = inspect.getdoc(obj) or ""
        assert doc, obj
        if inspect.isclass(obj):
            assert "Parameters" in doc or "Attributes" in doc, obj
            for method_name, method in vars(obj).items():
                if method_name.startswith("_") or not callable(method):
                    continue
                method_doc = inspect.getdoc(method) or ""
                assert "Returns" in method_doc or "Parameters" in method_doc, (
                    obj,
                    method_name,
                )
        elif inspect.isfunction(obj):
            assert "Parameters" in doc or "Returns" in doc, obj


def test_estimators_have_examples():
    for estimator in (sklearn_bsp.BSPClassifier, sklearn_bsp.BSPRegressor):
        assert "Examples" in estimator.__doc__
