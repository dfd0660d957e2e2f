"""Build the compiled kernels (``sklearn_bsp._sparse_kernels``, ``_pruning_kernels``).

Everything else about the package lives in ``pyproject.toml``.
"""

import os
import platform
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _compiles(compiler, flags, code="int main(void) { return 0; }\n"):
    """Whether ``compiler`` builds and links ``code`` with ``flags``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            compiler.link_executable(
                objs, "probe", output_dir=tmp, extra_postargs=flags
            )
        except Exception:
            return False
    return True


_OPENMP_PROBE = """#include <omp.h>
int main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }
"""


class BuildExt(build_ext):
    """Add optimisation, OpenMP and SIMD flags the compiler accepts.

    OpenMP is optional: without it the kernels run on one thread. On x86-64
    the kernels are compiled for AVX2 + FMA (every x86-64 CPU since 2013-15);
    ``sklearn_bsp._kernels`` checks the CPU before importing them. Set
    ``SKLEARN_BSP_NO_AVX2=1`` to build for the baseline instruction set.
    """

    def build_extensions(self):
        cc = self.compiler
        if cc.compiler_type == "msvc":
            opt, omp, simd = ["/O2"], ["/openmp"], ["/arch:AVX2"]
        else:
            opt, omp, simd = ["-O3"], ["-fopenmp"], ["-mavx2", "-mfma"]
        if sys.platform == "darwin":
            omp = ["-Xpreprocessor", "-fopenmp", "-lomp"]
        x86_64 = platform.machine().lower() in ("x86_64", "amd64")
        if not x86_64 or os.environ.get("SKLEARN_BSP_NO_AVX2"):
            simd = []
        flags = list(opt)
        if simd and _compiles(cc, simd):
            flags += simd
        use_omp = _compiles(cc, omp, _OPENMP_PROBE)
        for ext in self.extensions:
            ext.extra_compile_args += flags + (omp if use_omp else [])
            ext.extra_link_args += omp if use_omp and cc.compiler_type != "msvc" else []
        super().build_extensions()


# The C of the kernels, compiled into the same extension, with the same
# flags, as the Cython module that calls it. Paths are relative to this
# file, as setuptools requires.
CSRC = "sklearn_bsp/_csrc"

extensions = [
    Extension(
        "sklearn_bsp._sparse_kernels",
        ["sklearn_bsp/_sparse_kernels.pyx", f"{CSRC}/sparse_kernels.c"],
        include_dirs=[np.get_include(), CSRC],
        depends=[f"{CSRC}/sparse_kernels.h", f"{CSRC}/sparse_kernels_typed.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
    ),
    Extension(
        "sklearn_bsp._fingerprint",
        ["sklearn_bsp/_fingerprint.pyx", f"{CSRC}/xxh64.c"],
        include_dirs=[CSRC],
        depends=[f"{CSRC}/xxh64.h"],
    ),
    Extension(
        "sklearn_bsp._pruning_kernels",
        ["sklearn_bsp/_pruning_kernels.pyx"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
    ),
]

setup(
    ext_modules=cythonize(extensions, language_level=3),
    cmdclass={"build_ext": BuildExt},
)
