# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Streaming passes of the BSP rule over a weight matrix.

A step of the rule over a matrix of ``n`` synapses takes two passes here,
each touching every synapse once, instead of the ten or so array passes of
the NumPy reference or a fresh ``np.partition`` of all alive ``|w|``:

1. :func:`band_select` counts the alive synapses below a band of magnitudes
   ``[lo, hi]`` and gathers the positions of those inside it. When the band
   holds the k-th smallest ``|w|`` (the caller keeps it from the previous
   step: weights move little between minibatches), the threshold is found by
   partitioning the few band entries only.
   It also codes every synapse (below the band, in it, neither), so that
2. :func:`update_counters` updates the consecutive-candidate counters from
   the codes alone (one byte per synapse instead of its weight and mask):
   below the band means candidate. The few synapses in the band are settled
   by the caller once the threshold is known, and so are the few that go
   over the patience (the caller prunes them, or chooses among them).

Both passes split the matrix into contiguous blocks, one per thread
(OpenMP). Every block writes only its own entries and its own slice of the
output buffers, and the slices are joined in block order, so the results do
not depend on the number of threads.
"""

from cython.parallel cimport prange
from libc.math cimport fabs
from libc.string cimport memmove
from cython cimport floating

# Counters: int32, or uint16 while every count stays far below 65,535 (the
# caller widens them before one could get there): 2 bytes less to read and
# to write per synapse and step.
ctypedef fused counter_t:
    int
    unsigned short

import numpy as np

# Entries per chunk of the counter pass (CHUNK): the chunk is first scanned
# by a loop the compiler vectorises, and only chunks that hold a rare event
# (a counter over the patience) are scanned again one entry at a time. The
# band pass counts in bytes, so its chunks (BYTE_CHUNK) hold fewer than 256
# entries. Enum constants, so that the C compiler sees the chunk sizes.
cdef enum:
    CHUNK = 32
    BYTE_CHUNK = 224
# Bit 1 of each of eight codes: "in the band".
cdef unsigned long long BAND_BITS = 0x0202020202020202ULL


cdef Py_ssize_t _band_block(const floating *w, const unsigned char *alive,
                            floating lo, floating hi, Py_ssize_t start,
                            Py_ssize_t stop, unsigned char *code,
                            Py_ssize_t *out, Py_ssize_t *n_band,
                            Py_ssize_t *n_alive) noexcept nogil:
    """Count alive ``|w| < lo`` in ``[start, stop)``; gather band positions.

    Band positions go to ``out[start:start + n_band]`` in order.
    """
    cdef Py_ssize_t i, j, c, end, below = 0, m = 0, total = 0
    cdef floating a
    cdef unsigned char al, b, below_chunk, alive_chunk
    cdef Py_ssize_t n_words = (stop - start) // 8
    # One branch-free loop the compiler vectorises: count below the band and
    # code every entry ... The counts are bytes over chunks of fewer than
    # 256 entries: wider ones would cut the vector width.
    c = start
    while c < stop:
        end = c + BYTE_CHUNK if c + BYTE_CHUNK < stop else stop
        below_chunk = 0
        alive_chunk = 0
        for i in range(c, end):
            a = fabs(w[i])
            al = alive[i]
            b = al & (a < lo)
            alive_chunk += al
            below_chunk += b
            # 1: below the band, 2: in it, 0: above it, NaN or dead.
            code[i] = b | ((al & (a >= lo) & (a <= hi)) << 1)
        below += below_chunk
        total += alive_chunk
        c = end
    # ... then find the few entries in the band eight at a time.
    for j in range(n_words):
        if ((<const unsigned long long *> &code[start])[j] & BAND_BITS) == 0:
            continue
        for i in range(start + 8 * j, start + 8 * j + 8):
            out[start + m] = i
            m += code[i] >> 1
    for i in range(start + 8 * n_words, stop):
        out[start + m] = i
        m += code[i] >> 1
    n_band[0] = m
    n_alive[0] = total
    return below


def band_select(floating[::1] w, unsigned char[::1] alive, double lo,
                double hi, Py_ssize_t[::1] out, unsigned char[::1] code,
                int n_threads=1):
    """Count the alive entries below ``[lo, hi]``; gather those inside it.

    Parameters
    ----------
    w : ndarray of float32 or float64, 1-D, C-contiguous
        The weights; their magnitudes are compared.
    alive : ndarray of uint8, same size
        1 where the synapse is alive, else 0 (a bool mask viewed as uint8).
    lo, hi : float
        The band of magnitudes, both ends included. They are compared in the
        weights' own precision, so they should be values of that dtype.
    out : ndarray of intp, same size
        Receives the positions of the alive entries with
        ``lo <= |w| <= hi`` in C order, in ``out[:n_band]``.
    code : ndarray of uint8, same size
        Receives 1 where an alive entry is below the band, 2 where it is in
        the band, 0 elsewhere (above it, NaN, or dead): the input of
        :func:`update_counters`.
    n_threads : int, default=1
        OpenMP threads; the result does not depend on it.

    Returns
    -------
    n_alive : int
        Number of alive entries.
    n_below : int
        Number of alive entries with ``|w| < lo``.
    n_band : int
        Number of positions written to ``out``.
    """
    cdef Py_ssize_t n = w.shape[0], n_blocks, b, start, stop, below = 0, j
    cdef Py_ssize_t total = 0
    cdef floating flo = <floating> lo, fhi = <floating> hi
    if n_threads < 1:
        n_threads = 1
    if n < 65536:  # not worth waking a second thread
        n_threads = 1
    n_blocks = n_threads
    cdef Py_ssize_t[::1] counts = np.zeros(n_blocks, dtype=np.intp)
    cdef Py_ssize_t[::1] belows = np.zeros(n_blocks, dtype=np.intp)
    cdef Py_ssize_t[::1] alives = np.zeros(n_blocks, dtype=np.intp)
    cdef Py_ssize_t n_alive = 0
    if n == 0:
        return 0, 0, 0
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            start = (n * b) // n_blocks
            stop = (n * (b + 1)) // n_blocks
            belows[b] = _band_block(&w[0], &alive[0], flo, fhi, start, stop,
                                    &code[0], &out[0], &counts[b],
                                    &alives[b])
        # Join the blocks' slices in block order (C order overall).
        for b in range(n_blocks):
            start = (n * b) // n_blocks
            below += belows[b]
            n_alive += alives[b]
            if counts[b] and start != total:
                memmove(&out[total], &out[start], counts[b] * sizeof(Py_ssize_t))
            total += counts[b]
    return n_alive, below, total


cdef Py_ssize_t _update_block(const unsigned char *code, counter_t *counter,
                              int patience, Py_ssize_t start, Py_ssize_t stop,
                              Py_ssize_t *over) noexcept nogil:
    """:func:`update_counters` on ``[start, stop)``; returns n_over."""
    cdef Py_ssize_t i, c, end, m = 0
    cdef int any_over, cnt
    c = start
    while c < stop:
        end = c + CHUNK if c + CHUNK < stop else stop
        any_over = 0
        # Branch-free and vectorised: every counter is rewritten, which
        # costs less than the branch mispredictions a skip would bring.
        for i in range(c, end):
            cnt = (<int> counter[i] + 1) & -(<int> (code[i] == 1))
            counter[i] = <counter_t> cnt
            any_over |= cnt > patience
        if any_over:
            for i in range(c, end):
                if counter[i] > patience:
                    over[start + m] = i
                    m += 1
        c = end
    return m


def update_counters(const unsigned char[::1] code, counter_t[::1] counter,
                    double patience, Py_ssize_t[::1] over, int n_threads=1):
    """Update the consecutive-candidate counters, in place.

    The synapses coded 1 by :func:`band_select` (alive, below a band that
    holds the threshold) are candidates: their counters grow by one. Every
    other counter is reset to 0, those in the band (code 2) included: the
    caller settles the band's few synapses itself.

    Nothing is pruned here: the positions of the synapses whose counter now
    exceeds ``patience`` are returned, and the caller prunes them (or chooses
    among them).

    Parameters
    ----------
    code : ndarray of uint8, 1-D
        From :func:`band_select`.
    counter : ndarray of int32 or uint16, same size
        uint16 counters must stay below 65,535 (they are not saturated).
    patience : float
        Must be >= 0.
    over : ndarray of intp, same size
        Receives the positions over the patience in C order, in
        ``over[:n_over]``.
    n_threads : int, default=1
        OpenMP threads; the result does not depend on it.

    Returns
    -------
    n_over : int
        Number of positions written to ``over``.
    """
    cdef Py_ssize_t n = counter.shape[0], n_blocks, b, start, total = 0
    # Counters are integers: ``c > patience`` is ``c > floor(patience)``.
    cdef int pat
    if patience >= 2147483647.0:
        pat = 2147483647
    else:
        pat = <int> patience
    if n == 0:
        return 0
    if n_threads < 1 or n < 65536:  # not worth waking a second thread
        n_threads = 1
    n_blocks = n_threads
    cdef Py_ssize_t[::1] counts = np.zeros(n_blocks, dtype=np.intp)
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            counts[b] = _update_block(&code[0], &counter[0], pat,
                                      (n * b) // n_blocks,
                                      (n * (b + 1)) // n_blocks, &over[0])
        # Join the blocks' slices in block order (C order overall).
        for b in range(n_blocks):
            start = (n * b) // n_blocks
            if counts[b] and start != total:
                memmove(&over[total], &over[start], counts[b] * sizeof(Py_ssize_t))
            total += counts[b]
    return total


def gather_abs(floating[::1] w, unsigned char[::1] alive, floating[::1] out):
    """Write ``|w|`` of the alive entries, in order, to the front of ``out``.

    Branch-free (every entry is written, the position only advances for
    alive ones), so a random mask costs no mispredictions; NumPy's boolean
    indexing is several times slower on such masks.

    Returns
    -------
    n : int
        Number of alive entries written.
    """
    cdef Py_ssize_t i, j = 0, n = w.shape[0]
    with nogil:
        for i in range(n):
            out[j] = fabs(w[i])
            j += alive[i] != 0
    return j


