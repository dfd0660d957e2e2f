"""What a bug report or a benchmark needs to say about the machine."""

import os
import platform
import sys

import joblib
import numpy as np
import scipy
import sklearn

# threadpoolctl comes with scikit-learn (one of its own requirements).
from threadpoolctl import threadpool_info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    """Describe the machine, the libraries and the compiled kernels.

    Returns
    -------
    info : dict
        CPU model, logical and physical cores, versions of Python, NumPy,
        SciPy, scikit-learn, joblib and sklearn_bsp, the BLAS and OpenMP
        thread pools in use, whether the compiled kernels are in use, and the
        thread-count environment variables.

    Examples
    --------
    >>> from sklearn_bsp import machine_info
    >>> info = machine_info()
    >>> info["scikit-learn"] == __import__("sklearn").__version__
    True
    """
    from . import __version__
    from ._sparse import COMPILED

    pools = [
        f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads)"
        for p in threadpool_info()
    ]
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    return {
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, "
        f"{joblib.cpu_count(only_physical_cores=True)} physical",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
        "sklearn_bsp": __version__,
        "blas": ", ".join(
            f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads)"
            for p in blas
        )
        or "none found",
        "thread pools": "; ".join(pools),
        "compiled kernels": "yes" if COMPILED else "no (NumPy/SciPy fallback)",
        "environment": ", ".join(
            f"{k}={v}"
            for k, v in sorted(os.environ.items())
            if k.startswith(("OPENBLAS", "OMP", "MKL"))
        )
        or "no OPENBLAS_*/OMP_*/MKL_* variables",
    }


def show_versions():
    """Print :func:`machine_info`, one line per entry.

    Use it in bug reports, and at the top of any benchmark output, so that
    the numbers can be put in context.

    Returns
    -------
    None
        The information is printed.

    Examples
    --------
    >>> from sklearn_bsp import show_versions
    >>> show_versions()  # doctest: +ELLIPSIS
    cpu: ...
    """
    for key, value in machine_info().items():
        print(f"{key}: {value}")
