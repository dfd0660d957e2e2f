# The C hash of sklearn_bsp._fingerprint (sklearn_bsp/_csrc/xxh64.c): Cython
# reads this file with _fingerprint.pyx.

from libc.stdint cimport uint64_t


cdef extern from "xxh64.h" nogil:
    uint64_t bsp_xxh64(const void *data, size_t n, uint64_t seed) noexcept
