"""The one place that imports the compiled kernels.

The Cython modules (``_sparse_kernels``: products over alive synapses;
``_pruning_kernels``: the streaming passes of the BSP rule; ``_fingerprint``:
the hash that keys the prediction cache) are built with the same SIMD flags
(see ``setup.py``). Each is None when it is missing (a source
tree without a compiler) or when this CPU cannot run it; the callers then use
their NumPy/SciPy paths, which give the same results (the hash falls back to
``hashlib``'s BLAKE2b: other values, the same use).
"""

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


# Not even imported on a CPU that cannot run them: the import itself would
# crash the interpreter.
if cpu_runs_kernels():
    try:
        from . import _sparse_kernels as sparse_kernels
    except ImportError:  # not built
        sparse_kernels = None
    try:
        from . import _pruning_kernels as pruning_kernels
    except ImportError:  # not built
        pruning_kernels = None
    try:
        from . import _fingerprint as fingerprint
    except ImportError:  # not built
        fingerprint = None
else:
    sparse_kernels = pruning_kernels = fingerprint = None
