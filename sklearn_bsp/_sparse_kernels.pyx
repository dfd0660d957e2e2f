# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""Compiled kernels for pruned (sparse) layers.

The products themselves are C (``sklearn_bsp/_csrc/sparse_kernels.c``,
declared in ``_sparse_kernels.pxd``). Their layout follows sparse inference
engines such as XNNPACK: a block of up to ``MAX_VECTORS`` SIMD vectors of
samples (64 float32 or 32 float64 values) is transposed once into a buffer
where each input feature is a contiguous row; then every alive synapse costs
one fused multiply-add per vector of that row, with the accumulators of one
output neuron held in registers. This module cuts the samples into blocks,
hands the blocks to OpenMP threads and owns the buffers.

- Blocks are cut to fit the samples: 200 float32 samples are 25 vectors, run
  for example as blocks of 7 + 6 + 6 + 6 vectors instead of 4 blocks of 64
  samples, a fifth of which would be padding.
- When columns are dense enough, the synapses of every column are visited in
  *chunks* of ``CHUNK`` input features, all columns for one chunk before the
  next chunk. The rows of one chunk (32 KB) then stay in L1 while the whole
  block (200 KB for 784 inputs) only fits in L2. Partial sums of the columns
  go through memory between chunks.
- Without chunks, on more features than one chunk, the rows come from L2;
  blocks are then of 4 vectors (rows of 128 bytes) instead of 8.
- The sampled gradient reduces four dot products at a time (horizontal adds)
  instead of summing the lanes of each one in turn.

Every output value is summed in the same order whatever the number of
threads and the cut of the blocks: forward and backward sum each sample's
lane over the synapses of a column in storage order; the sampled gradient
splits the samples into blocks that depend on ``n_samples`` only and adds the
blocks in order. Results are therefore identical for any number of threads.
Work is handed out to the threads dynamically, in blocks of samples (forward,
backward) or ranges of columns (gradient), so that on a shared machine a
thread that is not scheduled does not hold up the others.

Structures are compressed columns: synapse ``k`` of column ``j`` (``k`` in
``cptr[j, 0]:cptr[j, -1]``) reads feature ``idx[k]`` of the dense operand;
``cptr[j, c]:cptr[j, c + 1]`` are its synapses of chunk ``c``. The pure Python
wrapper that builds them is ``sklearn_bsp._sparse``.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc

#: Most SIMD vectors of samples in one block.
MAX_VECTORS = BSP_MAXV
#: Input features per chunk (see the module docstring).
CHUNK = BSP_CHUNK
#: Bytes per SIMD vector the kernels were compiled for.
VECTOR_BYTES = BSP_VBYTES
#: Whether the kernels were built with OpenMP.
OPENMP = bool(BSP_OPENMP)

# Multiply-adds (synapses x samples) below which one thread is used by
# default: about 0.1 ms of work.
cdef double MIN_PARALLEL_WORK = 2e6
# Column ranges per thread in the sampled gradient: enough for one thread to
# take over the work of one that is not scheduled, few enough that every
# range still has hundreds of synapses.
cdef Py_ssize_t TASKS_PER_THREAD = 4


# Vector loads that straddle two cache lines cost two loads: the buffers the
# kernels read start on a cache line (malloc and NumPy only promise 16
# bytes, so the same product ran up to 20 % slower from one process to the
# next, as the allocator happened to place them).
cdef Py_ssize_t ALIGN = 64


cdef inline void* _line_start(void* p) noexcept nogil:
    """The first cache-line boundary at or after ``p``."""
    return <void*> ((<size_t> p + ALIGN - 1) & ~(<size_t> (ALIGN - 1)))


def _aligned_empty(Py_ssize_t size, dtype):
    """``np.empty(size, dtype)`` whose first value starts a cache line."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(size + ALIGN // itemsize, dtype=dtype)
    offset = (-raw.ctypes.data % ALIGN) // itemsize
    return raw[offset : offset + size]


cdef inline void _pack(const floating* X, Py_ssize_t s0, Py_ssize_t s1,
                       Py_ssize_t m, Py_ssize_t bs, Py_ssize_t row,
                       floating* buf) noexcept nogil:
    if floating is float:
        bsp_pack_f32(X, s0, s1, m, bs, row, buf)
    else:
        bsp_pack_f64(X, s0, s1, m, bs, row, buf)


cdef inline int _any_nonfinite(const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return bsp_any_nonfinite_f32(x, n)
    else:
        return bsp_any_nonfinite_f64(x, n)


cdef int _n_threads(int n_threads, Py_ssize_t n_tasks, double work) noexcept nogil:
    """Threads to use for ``n_tasks`` parallel tasks and ``work`` multiply-adds.

    ``n_threads <= 0`` means all OpenMP threads, except that small products
    run on one thread: waking a second one costs more than it saves.
    """
    if n_threads <= 0:
        n_threads = bsp_max_threads() if work >= MIN_PARALLEL_WORK else 1
    return <int> max(1, min(n_threads, n_tasks))


def spmm(const floating[:, :] X, const int[::1] idx, const int[:, ::1] cptr,
         const floating[::1] data, const int[::1] dst, floating[:, ::1] out_t,
         int n_threads=-1, bint check_finite=False):
    """Compute ``out_t[dst[j], :] = sum_k data[k] * X[:, idx[k]]``.

    The sum runs over the synapses ``k`` of column ``j``, in
    ``cptr[j, 0]:cptr[j, -1]``; rows of ``out_t`` not listed in ``dst`` are
    left untouched.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), any memory order
    idx : ndarray of int32 of shape (nnz,)
        Column of ``X`` read by each synapse, increasing within a column.
    cptr : ndarray of int32 of shape (n_columns, n_chunks + 1)
        First synapse of each column in each chunk of ``CHUNK`` features.
    data : ndarray of shape (nnz,)
        Weights of the synapses.
    dst : ndarray of int32 of shape (n_columns,)
        Row of ``out_t`` written by each column.
    out_t : C-contiguous ndarray of shape (n_outputs, n_samples)
        The transposed result (so ``out_t.T`` is the Fortran-ordered product).
    n_threads : int, default=-1
        OpenMP threads; -1 means all of them for large enough products.
    check_finite : bool, default=False
        Also look for NaN and infinity in ``X``, block by block as each is
        transposed (the block is then in cache).

    Returns
    -------
    nonfinite : bool
        Whether ``check_finite`` found a NaN or an infinity in ``X``.
    """
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], n_cols = dst.shape[0]
    cdef Py_ssize_t nc = cptr.shape[1] - 1
    cdef Py_ssize_t w = BSP_VBYTES // sizeof(floating)
    cdef Py_ssize_t n_vec = (n + w - 1) // w
    cdef Py_ssize_t s0 = X.strides[0] // sizeof(floating)
    cdef Py_ssize_t s1 = X.strides[1] // sizeof(floating)
    cdef Py_ssize_t nb, b, bv0, bv1, start, bs, j, ldb
    # Blocks of 8 vectors when their rows are read from L1 (chunks, or few
    # features), else of 4: rows read from L2 stream better when shorter.
    cdef Py_ssize_t max_v = BSP_MAXV if nc > 1 or m <= BSP_CHUNK else BSP_MAXV // 2
    cdef void* buf_raw
    cdef void* acc_raw
    cdef floating* buf
    cdef floating* acc
    cdef int failed = 0
    cdef int nonfinite = 0
    if n == 0 or n_cols == 0 or m == 0 or data.shape[0] == 0:
        # No block to transpose: X is read here, if asked.
        for j in range(n_cols):
            out_t[dst[j], :] = 0
        return bool(check_finite) and not np.isfinite(np.asarray(X)).all()
    n_threads = _n_threads(n_threads, n_vec, <double> data.shape[0] * n)
    # Blocks of at most max_v vectors of nearly equal size, their number a
    # multiple of the threads (25 float32 vectors, 2 threads, max_v = 4: 8
    # blocks of 3-4 vectors, 13 + 12 per thread). Handed out dynamically: on a
    # shared machine a thread that is not scheduled leaves its blocks to the
    # others instead of holding up the call. A block's transposed copy and
    # accumulators are private, and the result does not depend on the cut:
    # each sample's lane sums the synapses of a column in storage order.
    nb = (n_vec + max_v - 1) // max_v
    nb = min(n_vec, (nb + n_threads - 1) // n_threads * n_threads)
    with nogil, parallel(num_threads=n_threads):
        buf_raw = malloc(m * BSP_MAXV * w * sizeof(floating) + ALIGN)
        acc_raw = malloc(n_cols * BSP_MAXV * w * sizeof(floating) + ALIGN)
        buf = <floating*> _line_start(buf_raw)
        acc = <floating*> _line_start(acc_raw)
        for b in prange(nb, schedule="dynamic"):
            if buf_raw == NULL or acc_raw == NULL:
                failed += 1
                continue
            bv0 = n_vec * b // nb
            bv1 = n_vec * (b + 1) // nb
            start = bv0 * w
            bs = min(bv1 * w, n) - start
            # Copied even when X is Fortran-ordered, so that the block's rows
            # lie next to each other: in X they are n_samples apart, which
            # spreads the rows the kernels keep reading over the caches.
            _pack(&X[0, 0] + start * s0, s0, s1, m, bs, (bv1 - bv0) * w, buf)
            ldb = (bv1 - bv0) * w
            if check_finite:
                nonfinite += _any_nonfinite(buf, m * ldb)
            if floating is float:
                bsp_spmm_f32(bv1 - bv0, buf, ldb, &cptr[0, 0], nc, &idx[0],
                             &data[0], n_cols, acc, &out_t[0, 0] + start, n,
                             &dst[0], bs)
            else:
                bsp_spmm_f64(bv1 - bv0, buf, ldb, &cptr[0, 0], nc, &idx[0],
                             &data[0], n_cols, acc, &out_t[0, 0] + start, n,
                             &dst[0], bs)
        free(buf_raw)
        free(acc_raw)
    if failed:
        raise MemoryError("not enough memory for the kernels' buffers")
    return nonfinite > 0


def sddmm(const floating[:, :] X, const int[::1] idx, const floating[:, :] D,
          const int[::1] dst, const int[:, ::1] cptr, floating[::1] out,
          int n_threads=-1):
    """Compute ``out[k] = dot(X[:, idx[k]], D[:, dst[j]])``.

    For the synapses ``k`` of column ``j`` (``cptr[j, 0]:cptr[j, -1]``): the
    entries of ``X.T @ D`` at the stored positions only (sampled dense-dense
    product).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), any memory order
    idx : ndarray of int32 of shape (nnz,)
        Column of ``X`` read by each synapse.
    D : ndarray of shape (n_samples, n_outputs), any memory order
    dst : ndarray of int32 of shape (n_columns,)
        Column of ``D`` of each compressed column.
    cptr : ndarray of int32 of shape (n_columns, n_chunks + 1)
        First synapse of each column in each chunk of ``CHUNK`` features.
    out : ndarray of shape (nnz,), overwritten
    n_threads : int, default=-1
        OpenMP threads; -1 means all of them for large enough products.
    """
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], n_cols = dst.shape[0]
    cdef Py_ssize_t n_out = D.shape[1], nc = cptr.shape[1] - 1
    cdef Py_ssize_t nnz = out.shape[0]
    cdef Py_ssize_t w = BSP_VBYTES // sizeof(floating)
    cdef Py_ssize_t n_vec = (n + w - 1) // w
    cdef Py_ssize_t nb = (n_vec + BSP_MAXV - 1) // BSP_MAXV
    cdef Py_ssize_t xs0 = X.strides[0] // sizeof(floating)
    cdef Py_ssize_t xs1 = X.strides[1] // sizeof(floating)
    cdef Py_ssize_t ds0 = D.strides[0] // sizeof(floating)
    cdef Py_ssize_t ds1 = D.strides[1] // sizeof(floating)
    cdef Py_ssize_t t, b, bv0, bv1, start, bs, n_tasks
    cdef int[::1] bounds
    cdef floating[::1] xp, dp
    out[:] = 0
    if n == 0 or nnz == 0:
        return
    n_threads = _n_threads(n_threads, max(n_cols, nb), <double> nnz * n)
    # The blocks depend on n_samples only (never on the threads), and each
    # entry adds its blocks in order: results do not depend on the threads.
    # Block b covers vectors n_vec * b // nb to n_vec * (b + 1) // nb; its
    # transposed X and D start at m (n_out) values per vector before it.
    dtype = np.float32 if floating is float else np.float64
    xp = _aligned_empty(m * n_vec * w, dtype)
    dp = _aligned_empty(n_out * n_vec * w, dtype)
    # Transpose all blocks first (shared by the threads, which split the
    # columns next and each need every block). The copies take as much memory
    # as X and D: this is meant for minibatches.
    with nogil:
        for b in prange(nb, schedule="dynamic", num_threads=n_threads):
            bv0 = n_vec * b // nb
            bv1 = n_vec * (b + 1) // nb
            start = bv0 * w
            bs = min(bv1 * w, n) - start
            _pack(&X[0, 0] + start * xs0, xs0, xs1, m, bs, (bv1 - bv0) * w,
                  &xp[0] + m * start)
            _pack(&D[0, 0] + start * ds0, ds0, ds1, n_out, bs, (bv1 - bv0) * w,
                  &dp[0] + n_out * start)
    # Tasks are ranges of columns with about the same number of synapses, a
    # few per thread and handed out dynamically (see spmm); no two tasks
    # write the same entry, and which thread runs a task does not matter.
    n_tasks = min(n_cols, TASKS_PER_THREAD * n_threads)
    bounds = _balanced_bounds(cptr, n_tasks)
    with nogil:
        for t in prange(n_tasks, schedule="dynamic", num_threads=n_threads):
            for b in range(nb):
                bv0 = n_vec * b // nb
                bv1 = n_vec * (b + 1) // nb
                start = bv0 * w
                if floating is float:
                    bsp_sddmm_f32(bv1 - bv0, &xp[0] + m * start,
                                  &dp[0] + n_out * start, &cptr[0, 0], nc,
                                  &idx[0], &dst[0], bounds[t], bounds[t + 1],
                                  &out[0])
                else:
                    bsp_sddmm_f64(bv1 - bv0, &xp[0] + m * start,
                                  &dp[0] + n_out * start, &cptr[0, 0], nc,
                                  &idx[0], &dst[0], bounds[t], bounds[t + 1],
                                  &out[0])


#: The activations :func:`bias_activation` computes, by name.
ACTIVATION_CODES = {"identity": BSP_IDENTITY, "relu": BSP_RELU, "logistic": BSP_LOGISTIC}


def bias_activation(floating[:, :] A, const floating[::1] bias, str activation):
    """Compute ``A[:] = activation(A + bias)`` in place, in one pass.

    ``identity`` and ``relu`` give the values of ``A += bias`` followed by
    ``np.maximum(A, 0, out=A)`` to the bit; ``logistic`` is computed as
    ``1 / (1 + exp(-x))`` with a vectorised exponential, within one machine
    epsilon of :func:`scipy.special.expit` and several times faster.

    Parameters
    ----------
    A : ndarray of shape (n_samples, n_units)
        C- or Fortran-ordered (its rows or its columns contiguous).
    bias : ndarray of shape (n_units,) or None
        Added to each row of ``A`` before the activation; None adds nothing.
    activation : {"identity", "relu", "logistic"}
        The activation.

    Raises
    ------
    ValueError
        If ``A`` has neither order, ``bias`` has the wrong length, or the
        activation is not one of these.
    """
    cdef int act
    cdef Py_ssize_t itemsize = sizeof(floating)
    cdef Py_ssize_t n_rows, n_cols, ld
    cdef int per_row
    cdef const floating* b = NULL
    try:
        act = ACTIVATION_CODES[activation]
    except KeyError:
        raise ValueError(f"no compiled activation {activation!r}") from None
    if bias is not None:
        if bias.shape[0] != A.shape[1]:
            raise ValueError(
                f"bias has {bias.shape[0]} values for {A.shape[1]} units"
            )
        if bias.shape[0]:
            b = &bias[0]
    if A.shape[0] == 0 or A.shape[1] == 0:
        return
    if A.strides[1] == itemsize:  # rows contiguous: the bias runs along them
        n_rows, n_cols, ld, per_row = A.shape[0], A.shape[1], A.strides[0], 0
    elif A.strides[0] == itemsize:  # columns contiguous: one bias per column
        n_rows, n_cols, ld, per_row = A.shape[1], A.shape[0], A.strides[1], 1
    else:
        raise ValueError("A must have contiguous rows or columns")
    ld //= itemsize
    with nogil:
        if floating is float:
            bsp_bias_act_f32(&A[0, 0], n_rows, n_cols, ld, b, per_row, act)
        else:
            bsp_bias_act_f64(&A[0, 0], n_rows, n_cols, ld, b, per_row, act)


cdef int[::1] _balanced_bounds(const int[:, ::1] cptr, int n_parts):
    """Split columns into ``n_parts`` ranges of about equal ``nnz``."""
    cdef Py_ssize_t n_cols = cptr.shape[0], last = cptr.shape[1] - 1, j = 0
    cdef int t
    cdef double total = cptr[n_cols - 1, last] if n_cols else 0
    cdef int[::1] bounds = np.zeros(n_parts + 1, dtype=np.int32)
    for t in range(1, n_parts):
        while j < n_cols and cptr[j, 0] < total * t / n_parts:
            j += 1
        bounds[t] = <int> j
    bounds[n_parts] = <int> n_cols
    return bounds
