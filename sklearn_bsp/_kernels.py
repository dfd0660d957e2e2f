"""The one place that imports the compiled kernels.

Both Cython modules (``_sparse_kernels``: products over alive synapses;
``_pruning_kernels``: the streaming passes of the BSP rule) are built with the
same SIMD flags (see ``setup.py``). Each is None when it is missing (a source
tree without a compiler) or when this CPU cannot run it; the callers then use
their NumPy/SciPy paths, which give the same results.
"""

import importlib
import platform


def cpu_runs_kernels():
    """Whether this CPU runs the compiled kernels.

    On x86-64 they are compiled for AVX2 + FMA (see ``setup.py``); importing
    them on an older CPU would crash the interpreter, so ask NumPy's runtime
    CPU detection first.

    Returns
    -------
    runs : bool
        True where the kernels can be imported safely.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return True
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return False
    return bool(features.get("AVX2") and features.get("FMA3"))


def _load(name):
    if not cpu_runs_kernels():
        return None
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError:  # not built
        return None


sparse_kernels = _load("_sparse_kernels")
pruning_kernels = _load("_pruning_kernels")
