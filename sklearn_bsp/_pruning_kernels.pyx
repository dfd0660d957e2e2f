# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""One fused pass of the BSP rule over a weight matrix.

Given the candidate threshold (the k-th smallest ``|w|`` among alive
synapses, found by the caller), this pass decides candidacy, updates the
consecutive-candidate counters and prunes, touching each synapse once
instead of the ten or so array passes the same rule takes in NumPy.
"""

from libc.math cimport fabs
from cython cimport floating


def bsp_step(floating[::1] w, unsigned char[::1] alive, double threshold,
             Py_ssize_t n_ties, int[::1] counter, double patience,
             unsigned char[::1] newly):
    """Update counters and masks in place; see ``SynapticPruner.step``.

    A synapse is a candidate when it is alive and ``|w| < threshold``, or
    ``|w| == threshold`` and fewer than ``n_ties`` such ties came before it
    in C order. Candidates' counters grow by one, others reset to 0; a
    counter above ``patience`` prunes its synapse (weight 0, alive 0,
    counter 0, newly 1). ``newly`` must come in zeroed; only pruned
    synapses are written.

    Returns
    -------
    n_newly : int
        Number of synapses pruned.
    n_ties_left : int
        Ties at the threshold not taken (for the next matrix, when
        candidates compete across the network).
    """
    cdef Py_ssize_t i, n = w.shape[0], n_newly = 0
    # Compare in the weights' own precision (the threshold is one of them).
    cdef floating thr = <floating> threshold, a
    cdef bint candidate
    with nogil:
        for i in range(n):
            if not alive[i]:
                continue
            a = fabs(w[i])
            candidate = a < thr
            if not candidate and a == thr and n_ties > 0:
                candidate = True
                n_ties -= 1
            if candidate:
                counter[i] += 1
                if counter[i] > patience:
                    w[i] = 0
                    alive[i] = 0
                    counter[i] = 0
                    newly[i] = 1
                    n_newly += 1
            elif counter[i] != 0:
                # Most synapses are not candidates and already at 0: skip
                # the store.
                counter[i] = 0
    return n_newly, n_ties


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
