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

:func:`layer_step` makes both passes and everything between them (the
threshold from the band, its ties, the band's own counters) in one call when
the band holds the threshold, the usual case of ``scope="layer"``: the
Python between the passes cost about as much as the passes themselves.

Both passes split the matrix into contiguous blocks, one per thread
(OpenMP). Every block writes only its own entries and its own slice of the
output buffers, and the slices are joined in block order, so the results do
not depend on the number of threads.
"""

from cython.parallel cimport prange
from libc.math cimport fabs
from libc.stdlib cimport free, malloc
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


cdef inline int _pass_threads(Py_ssize_t n, int n_threads) noexcept nogil:
    """Threads for a pass over ``n`` synapses: one below 65,536 (not worth
    waking a second thread)."""
    if n_threads < 1 or n < 65536:
        return 1
    return n_threads


cdef inline int _patience_int(double patience) noexcept nogil:
    """Counters are integers: ``c > patience`` is ``c > floor(patience)``."""
    if patience >= 2147483647.0:
        return 2147483647
    return <int> patience


cdef Py_ssize_t _band_pass(const floating *w, const unsigned char *alive,
                           floating lo, floating hi, Py_ssize_t n,
                           unsigned char *code, Py_ssize_t *out,
                           Py_ssize_t *counts, Py_ssize_t *belows,
                           Py_ssize_t *alives, int n_threads,
                           Py_ssize_t *n_band, Py_ssize_t *n_alive) noexcept nogil:
    """:func:`band_select` without the GIL; ``counts``, ``belows``, ``alives``
    hold one entry per thread. Returns the count below the band."""
    cdef Py_ssize_t b, start, stop, below = 0, total = 0, n_al = 0
    for b in prange(n_threads, num_threads=n_threads, schedule="static"):
        start = (n * b) // n_threads
        stop = (n * (b + 1)) // n_threads
        belows[b] = _band_block(w, alive, lo, hi, start, stop, code, out,
                                &counts[b], &alives[b])
    # Join the blocks' slices in block order (C order overall).
    for b in range(n_threads):
        start = (n * b) // n_threads
        below += belows[b]
        n_al += alives[b]
        if counts[b] and start != total:
            memmove(&out[total], &out[start], counts[b] * sizeof(Py_ssize_t))
        total += counts[b]
    n_band[0] = total
    n_alive[0] = n_al
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
    cdef Py_ssize_t n = w.shape[0], below, n_band = 0, n_alive = 0
    if n == 0:
        return 0, 0, 0
    n_threads = _pass_threads(n, n_threads)
    cdef Py_ssize_t[::1] scratch = np.zeros(3 * n_threads, dtype=np.intp)
    with nogil:
        below = _band_pass(&w[0], &alive[0], <floating> lo, <floating> hi, n,
                           &code[0], &out[0], &scratch[0],
                           &scratch[n_threads], &scratch[2 * n_threads],
                           n_threads, &n_band, &n_alive)
    return n_alive, below, n_band


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


cdef Py_ssize_t _update_pass(const unsigned char *code, counter_t *counter,
                             int pat, Py_ssize_t n, Py_ssize_t *over,
                             Py_ssize_t *counts, int n_threads) noexcept nogil:
    """:func:`update_counters` without the GIL; returns n_over."""
    cdef Py_ssize_t b, start, total = 0
    for b in prange(n_threads, num_threads=n_threads, schedule="static"):
        counts[b] = _update_block(code, counter, pat, (n * b) // n_threads,
                                  (n * (b + 1)) // n_threads, over)
    # Join the blocks' slices in block order (C order overall).
    for b in range(n_threads):
        start = (n * b) // n_threads
        if counts[b] and start != total:
            memmove(&over[total], &over[start], counts[b] * sizeof(Py_ssize_t))
        total += counts[b]
    return total


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
    cdef Py_ssize_t n = counter.shape[0], n_over
    cdef int pat = _patience_int(patience)
    if n == 0:
        return 0
    n_threads = _pass_threads(n, n_threads)
    cdef Py_ssize_t[::1] counts = np.zeros(n_threads, dtype=np.intp)
    with nogil:
        n_over = _update_pass(&code[0], &counter[0], pat, n, &over[0],
                              &counts[0], n_threads)
    return n_over


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




# ----------------------------------------------------------------------
# One whole step of the rule over one matrix, when the band holds the
# threshold (the usual case): the band pass, the threshold from the band's
# few magnitudes, the ties, the counter pass and the synapses over the
# patience, in one call. The same operations, in the same order, as
# ``SynapticPruner._threshold`` and ``_update`` in Python, which remain the
# path for a threshold outside the band and for ``scope="network"``.
# ----------------------------------------------------------------------



cdef inline void _swap(floating *v, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    cdef floating t = v[i]
    v[i] = v[j]
    v[j] = t


cdef void _heapsort(floating *v, Py_ssize_t n) noexcept nogil:
    """Sort ``v[:n]`` in place (the fallback of a selection gone deep)."""
    cdef Py_ssize_t start, end, root, child
    if n < 2:
        return
    start = n // 2
    end = n
    while end > 1:
        if start > 0:
            start -= 1
        else:
            end -= 1
            _swap(v, 0, end)
        root = start
        while 2 * root + 1 < end:
            child = 2 * root + 1
            if child + 1 < end and v[child] < v[child + 1]:
                child += 1
            if v[root] < v[child]:
                _swap(v, root, child)
                root = child
            else:
                break


cdef void _select(floating *v, Py_ssize_t left, Py_ssize_t right,
                  Py_ssize_t kth) noexcept nogil:
    """Put the ``kth`` smallest of ``v[left:right + 1]`` at ``v[kth]``.

    Quickselect (median of three, Hoare partition: runs of equal values
    split evenly), with a heapsort of what is left once it has gone deeper
    than twice the size's bit length: linear time in practice, never worse
    than n log n. The values hold no NaN (they are band magnitudes).
    """
    cdef Py_ssize_t i, j, mid, depth = 0, limit = 8, size = right - left + 1
    cdef floating pivot, a, b, c
    while size > 1:
        size >>= 1
        limit += 2
    while right > left:
        if depth > limit:
            _heapsort(&v[left], right - left + 1)
            return
        depth += 1
        mid = left + (right - left) // 2
        a, b, c = v[left], v[mid], v[right]
        # The median of the three values.
        if a < b:
            pivot = b if b < c else (c if a < c else a)
        else:
            pivot = a if a < c else (c if b < c else b)
        i, j = left, right
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                _swap(v, i, j)
                i += 1
                j -= 1
        # v[left:j + 1] <= pivot <= v[i:right + 1], and pivot in between.
        if kth <= j:
            right = j
        elif kth >= i:
            left = i
        else:
            return


def layer_step(floating[::1] w, unsigned char[::1] alive,
               counter_t[::1] counter, double lo, double hi, double rate,
               Py_ssize_t half_width, double band_share, Py_ssize_t band_min,
               double patience, Py_ssize_t[::1] band, unsigned char[::1] code,
               Py_ssize_t[::1] over, int n_threads=1):
    """One step of the rule over one matrix whose band ``[lo, hi]`` is known.

    Parameters
    ----------
    w, alive, counter : ndarray, 1-D, C-contiguous, same size
        The weights, the alive flags (uint8) and the counters (int32 or
        uint16), as for :func:`band_select` and :func:`update_counters`.
    lo, hi : float
        The band kept from the previous step (values of the weights' dtype).
    rate : float
        Share of the alive synapses that are candidates.
    half_width : int
        The band's half-width, in ranks, kept from the previous step.
    band_share, band_min : float, int
        The narrowest half-width is ``max(band_min, int(n_alive *
        band_share))``.
    patience : float
        >= 0.
    band, over : ndarray of intp, same size
        Scratch: band positions; positions over the patience.
    code : ndarray of uint8, same size
        Scratch: the codes of :func:`band_select`.
    n_threads : int, default=1
        OpenMP threads of the two passes; the result does not depend on it.

    Returns
    -------
    status : int
        0: no candidate (``int(n_alive * rate) == 0``); nothing was changed.
        1: done. The counters are updated, ``over[:n_over]`` holds the
        positions over the patience in increasing order.
        2: the threshold is outside the band; nothing was changed, and
        ``band[:n_band]`` holds the positions in the band.
    n_alive : int
    n_below, n_band : int
        The band pass's counts (status 2), else 0.
    n_over : int
        Status 1: number of positions in ``over``.
    lo, hi, half_width : float, float, int
        Status 1: the band to keep for the next step.
    """
    cdef Py_ssize_t n = w.shape[0], n_alive = 0, n_band = 0, n_below, k
    cdef Py_ssize_t rank, lo_rank, hi_rank, narrowest, j, p, m, n_over
    cdef Py_ssize_t n_less, n_ties, i_src, dst
    cdef floating threshold, new_lo, new_hi, a
    cdef floating *mags
    cdef floating *sel
    cdef Py_ssize_t *scratch
    cdef int *next_count
    cdef int pat, cnt
    if n == 0:
        return 0, 0, 0, 0, 0, lo, hi, half_width
    pat = _patience_int(patience)
    n_threads = _pass_threads(n, n_threads)
    scratch = <Py_ssize_t *> malloc(4 * n_threads * sizeof(Py_ssize_t))
    if scratch == NULL:
        raise MemoryError()
    with nogil:
        n_below = _band_pass(&w[0], &alive[0], <floating> lo, <floating> hi,
                             n, &code[0], &band[0], scratch,
                             &scratch[n_threads], &scratch[2 * n_threads],
                             n_threads, &n_band, &n_alive)
    k = <Py_ssize_t> (n_alive * rate)
    if k == 0:
        free(scratch)
        return 0, n_alive, 0, 0, 0, lo, hi, half_width
    if not (n_below < k <= n_below + n_band):
        free(scratch)
        return 2, n_alive, n_below, n_band, 0, lo, hi, half_width
    narrowest = <Py_ssize_t> (n_alive * band_share)
    if narrowest < band_min:
        narrowest = band_min
    half_width = half_width * 7 // 8
    if half_width < narrowest:
        half_width = narrowest
    mags = <floating *> malloc(2 * n_band * sizeof(floating) + 1)
    next_count = <int *> malloc(n_band * sizeof(int) + 1)
    if mags == NULL or next_count == NULL:
        free(mags)
        free(next_count)
        free(scratch)
        raise MemoryError()
    sel = &mags[n_band]
    with nogil:
        for j in range(n_band):
            mags[j] = fabs(w[band[j]])
            sel[j] = mags[j]
        # The threshold and the band's new ends: three order statistics.
        rank = k - 1 - n_below
        lo_rank = rank - half_width if rank > half_width else 0
        hi_rank = rank + half_width
        if hi_rank > n_band - 1:
            hi_rank = n_band - 1
        _select(sel, 0, n_band - 1, rank)
        if lo_rank < rank:
            _select(sel, 0, rank - 1, lo_rank)
        if hi_rank > rank:
            _select(sel, rank + 1, n_band - 1, hi_rank)
        threshold, new_lo, new_hi = sel[rank], sel[lo_rank], sel[hi_rank]
        # Candidates in the band: below the threshold, then the first ones
        # equal to it (C order) up to k.
        n_less = 0
        for j in range(n_band):
            n_less += mags[j] < threshold
        n_ties = k - n_below - n_less
        for j in range(n_band):
            a = mags[j]
            if a < threshold or (a == threshold and n_ties > 0):
                if a == threshold:
                    n_ties -= 1
                next_count[j] = <int> counter[band[j]] + 1
            else:
                next_count[j] = 0
        # The counter pass resets the band's counters: theirs are set after.
        n_over = _update_pass(&code[0], &counter[0], pat, n, &over[0],
                              scratch, n_threads)
        m = 0
        for j in range(n_band):
            p = band[j]
            cnt = next_count[j]
            counter[p] = <counter_t> cnt
            if cnt > pat:
                band[m] = p  # band[j] is read: write behind it
                m += 1
        # Merge the band's positions over the patience into ``over`` (both
        # increasing; no position is in both: the pass reset the band's).
        i_src = n_over - 1
        dst = n_over + m - 1
        j = m - 1
        while j >= 0:
            if i_src >= 0 and over[i_src] > band[j]:
                over[dst] = over[i_src]
                i_src -= 1
            else:
                over[dst] = band[j]
                j -= 1
            dst -= 1
        n_over += m
    free(mags)
    free(next_count)
    free(scratch)
    return 1, n_alive, 0, 0, n_over, new_lo, new_hi, half_width
