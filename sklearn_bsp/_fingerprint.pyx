# cython: language_level=3, boundscheck=False, wraparound=False
"""XXH64 over the bytes of a buffer (C in ``sklearn_bsp/_csrc/xxh64.c``).

The prediction cache (:mod:`sklearn_bsp._inference`) keys itself on the
hash of every weight and bias array it was built from, so that it needs no
copy of them to notice an edit. XXH64 reads about 8 bytes per cycle: the
check costs a small fraction of one dense product with a single sample.
"""

from libc.stdint cimport uint64_t


def xxh64(const unsigned char[::1] data, uint64_t seed=0):
    """XXH64 of a contiguous buffer of bytes.

    Parameters
    ----------
    data : buffer of bytes
        For example ``array.reshape(-1).view(np.uint8)`` of a contiguous
        array; read-only buffers are accepted.
    seed : int, default=0
        Seed of the hash, in ``[0, 2**64)``.

    Returns
    -------
    digest : int
        The 64-bit hash, as the reference implementation of XXH64 gives it.
    """
    cdef size_t n = data.shape[0]
    cdef const unsigned char *start = NULL
    cdef uint64_t digest
    if n:
        start = &data[0]
    with nogil:
        digest = bsp_xxh64(start, n, seed)
    return digest
