# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""Compiled kernels for pruned (sparse) layers.

The layout follows sparse inference engines such as XNNPACK: a block of
``BLOCK`` samples is transposed once into a buffer where each input feature is
a contiguous row of ``BLOCK`` values; then every alive synapse costs one fused
multiply-add over that row, with the output accumulators held in registers.
Each output value is summed by one thread in a fixed order, so results do not
depend on the number of threads.

Structures are compressed columns over *compact* indices: ``src[indices[k]]``
is the input feature of synapse ``k`` and ``dst[j]`` the output neuron of
compressed column ``j``. The pure Python wrapper is ``sklearn_bsp._sparse``.
"""

import numpy as np

from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

ctypedef fused floating:
    float
    double

cdef extern from *:
    """
    #include <string.h>

    /* Samples per block: 64 floats keep 8 AVX accumulators for one output
       neuron in registers, and 784 inputs x 64 samples (200 KB) stay in L2. */
    #define BSP_BLOCK 64

    #if defined(__GNUC__) || defined(__clang__)
    /* GNU vector extensions: the accumulators of a block are a few named
       vector registers. Plain arrays would be kept on the stack by the
       compiler, and the store-to-load latency then caps the speed at a
       quarter of what the loads allow. */
    #  if defined(__AVX__)
    #    define BSP_VBYTES 32
    #  else
    #    define BSP_VBYTES 16
    #  endif
    #  define BSP_KERNELS(T, SFX)                                              \\
    typedef T bsp_v_##SFX __attribute__((vector_size(BSP_VBYTES)));          \\
    enum { BSP_NV_##SFX = BSP_BLOCK * sizeof(T) / BSP_VBYTES,                \\
           BSP_W_##SFX = BSP_VBYTES / sizeof(T) };                           \\
    static inline bsp_v_##SFX bsp_load_##SFX(const T *p) {                   \\
        bsp_v_##SFX v; memcpy(&v, p, sizeof v); return v; }                  \\
    /* out[0:BLOCK] = sum_k val[k] * buf[idx[k]] (rows of BLOCK values) */   \\
    static void bsp_spmm_col_##SFX(const T *buf, const int *idx,             \\
                                   const T *val, Py_ssize_t nnz, T *out) {   \\
        bsp_v_##SFX acc[BSP_NV_##SFX];                                       \\
        for (int v = 0; v < BSP_NV_##SFX; v++) acc[v] = (bsp_v_##SFX){0};    \\
        for (Py_ssize_t k = 0; k < nnz; k++) {                               \\
            const T *x = buf + (Py_ssize_t)idx[k] * BSP_BLOCK;               \\
            const T w = val[k];                                              \\
            for (int v = 0; v < BSP_NV_##SFX; v++)                           \\
                acc[v] += w * bsp_load_##SFX(x + v * BSP_W_##SFX);           \\
        }                                                                    \\
        memcpy(out, acc, sizeof acc);                                        \\
    }                                                                        \\
    /* g[k] += dot(buf[idx[k]], d) over one block of samples */              \\
    static void bsp_sddmm_col_##SFX(const T *buf, const int *idx,            \\
                                    const T *d, Py_ssize_t nnz, T *g) {      \\
        bsp_v_##SFX dv[BSP_NV_##SFX];                                        \\
        for (int v = 0; v < BSP_NV_##SFX; v++)                               \\
            dv[v] = bsp_load_##SFX(d + v * BSP_W_##SFX);                     \\
        for (Py_ssize_t k = 0; k < nnz; k++) {                               \\
            const T *x = buf + (Py_ssize_t)idx[k] * BSP_BLOCK;               \\
            /* two partial sums halve the FMA latency chain */               \\
            bsp_v_##SFX a0 = (bsp_v_##SFX){0}, a1 = (bsp_v_##SFX){0};        \\
            for (int v = 0; v < BSP_NV_##SFX; v += 2) {                      \\
                a0 += bsp_load_##SFX(x + v * BSP_W_##SFX) * dv[v];           \\
                a1 += bsp_load_##SFX(x + (v + 1) * BSP_W_##SFX) * dv[v + 1]; \\
            }                                                                \\
            a0 += a1;                                                        \\
            T s = 0;                                                         \\
            for (int l = 0; l < BSP_W_##SFX; l++) s += a0[l];                \\
            g[k] += s;                                                       \\
        }                                                                    \\
    }
    #else
    /* Portable scalar version for compilers without vector extensions. */
    #  define BSP_KERNELS(T, SFX)                                              \\
    static void bsp_spmm_col_##SFX(const T *buf, const int *idx,             \\
                                   const T *val, Py_ssize_t nnz, T *out) {   \\
        for (int s = 0; s < BSP_BLOCK; s++) out[s] = 0;                      \\
        for (Py_ssize_t k = 0; k < nnz; k++) {                               \\
            const T *x = buf + (Py_ssize_t)idx[k] * BSP_BLOCK;               \\
            for (int s = 0; s < BSP_BLOCK; s++) out[s] += val[k] * x[s];     \\
        }                                                                    \\
    }                                                                        \\
    static void bsp_sddmm_col_##SFX(const T *buf, const int *idx,            \\
                                    const T *d, Py_ssize_t nnz, T *g) {      \\
        for (Py_ssize_t k = 0; k < nnz; k++) {                               \\
            const T *x = buf + (Py_ssize_t)idx[k] * BSP_BLOCK;               \\
            T s = 0;                                                         \\
            for (int l = 0; l < BSP_BLOCK; l++) s += x[l] * d[l];            \\
            g[k] += s;                                                       \\
        }                                                                    \\
    }
    #endif

    BSP_KERNELS(float, f32)
    BSP_KERNELS(double, f64)

    /* The build may lack OpenMP (then prange runs serially). */
    #ifdef _OPENMP
    #  include <omp.h>
    #  define BSP_OPENMP 1
    static int bsp_max_threads(void) { return omp_get_max_threads(); }
    #else
    #  define BSP_OPENMP 0
    static int bsp_max_threads(void) { return 1; }
    #endif
    """
    enum: BSP_BLOCK
    enum: BSP_OPENMP
    int bsp_max_threads() noexcept nogil
    void bsp_spmm_col_f32(const float*, const int*, const float*, Py_ssize_t,
                          float*) noexcept nogil
    void bsp_spmm_col_f64(const double*, const int*, const double*, Py_ssize_t,
                          double*) noexcept nogil
    void bsp_sddmm_col_f32(const float*, const int*, const float*, Py_ssize_t,
                           float*) noexcept nogil
    void bsp_sddmm_col_f64(const double*, const int*, const double*, Py_ssize_t,
                           double*) noexcept nogil

BLOCK = BSP_BLOCK
OPENMP = bool(BSP_OPENMP)

# Input features copied per step of the blocked transposition: a tile of
# 64 buffer rows x BLOCK values (16 KB in float32) stays in L1 while it
# fills, and each sample row of X is read in runs of 64 features.
cdef enum:
    TILE = 64

# Multiply-adds (synapses x samples) below which one thread is used by
# default: about 0.1 ms of work.
cdef double MIN_PARALLEL_WORK = 2e6


cdef inline void _spmm_col(const floating* buf, const int* idx,
                           const floating* val, Py_ssize_t nnz,
                           floating* out) noexcept nogil:
    if floating is float:
        bsp_spmm_col_f32(buf, idx, val, nnz, out)
    else:
        bsp_spmm_col_f64(buf, idx, val, nnz, out)


cdef inline void _sddmm_col(const floating* buf, const int* idx,
                            const floating* d, Py_ssize_t nnz,
                            floating* g) noexcept nogil:
    if floating is float:
        bsp_sddmm_col_f32(buf, idx, d, nnz, g)
    else:
        bsp_sddmm_col_f64(buf, idx, d, nnz, g)


cdef void _gather(const floating[:, :] X, const int* src, Py_ssize_t m,
                  Py_ssize_t b0, Py_ssize_t bs, floating* buf) noexcept nogil:
    """buf[p, s] = X[b0 + s, src[p]] for s < bs, 0 for bs <= s < BLOCK."""
    cdef Py_ssize_t p, p0, p1, s, t
    cdef Py_ssize_t s0 = X.strides[0] // sizeof(floating)
    cdef Py_ssize_t s1 = X.strides[1] // sizeof(floating)
    cdef const floating* x0 = &X[0, 0] + b0 * s0
    cdef const floating* xs
    if s0 == 1:
        # Samples already contiguous (Fortran-ordered X): plain row copies.
        for p in range(m):
            memcpy(buf + p * BSP_BLOCK, x0 + src[p] * s1, bs * sizeof(floating))
    else:
        for t in range((m + TILE - 1) // TILE):
            p0 = t * TILE
            p1 = min(p0 + TILE, m)
            for s in range(bs):
                xs = x0 + s * s0
                for p in range(p0, p1):
                    buf[p * BSP_BLOCK + s] = xs[src[p] * s1]
    # Zero padding lets the last, partial block use the full-width kernel.
    if bs < BSP_BLOCK:
        for p in range(m):
            for s in range(bs, BSP_BLOCK):
                buf[p * BSP_BLOCK + s] = 0


cdef int _n_threads(int n_threads, Py_ssize_t n_tasks, double work) noexcept nogil:
    """Threads to use for ``n_tasks`` parallel tasks and ``work`` multiply-adds.

    ``n_threads <= 0`` means all OpenMP threads, except that small products
    run on one thread: waking a second one costs more than it saves.
    """
    if n_threads <= 0:
        n_threads = bsp_max_threads() if work >= MIN_PARALLEL_WORK else 1
    return <int> max(1, min(n_threads, n_tasks))


def spmm(const floating[:, :] X, const int[::1] src, const int[::1] indptr,
         const int[::1] indices, const floating[::1] data, const int[::1] dst,
         floating[:, ::1] out_t, int n_threads=-1):
    """Compute ``out_t[dst[j], :] = sum_k data[k] * X[:, src[indices[k]]]``.

    The sum runs over ``k`` in ``indptr[j]:indptr[j + 1]``, for every column
    ``j``; rows of ``out_t`` not listed in ``dst`` are left untouched.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), any memory order
    src : ndarray of int32, compact input index -> column of ``X``
    indptr, indices, data : compressed columns over compact indices
    dst : ndarray of int32, compressed column -> row of ``out_t``
    out_t : C-contiguous ndarray of shape (n_outputs, n_samples)
        The transposed result (so ``out_t.T`` is the Fortran-ordered product).
    n_threads : int, default=-1
        OpenMP threads; -1 means all of them for large enough products.
    """
    cdef Py_ssize_t n = X.shape[0], m = src.shape[0], n_cols = dst.shape[0]
    cdef Py_ssize_t n_blocks = (n + BSP_BLOCK - 1) // BSP_BLOCK
    cdef Py_ssize_t b, b0, bs, j, start
    cdef floating* buf
    cdef floating* acc
    if n == 0 or n_cols == 0:
        return
    if X.shape[1] == 0 or m == 0:
        for j in range(n_cols):
            out_t[dst[j], :] = 0
        return
    n_threads = _n_threads(n_threads, n_blocks, <double> indptr[n_cols] * n)
    # One thread handles whole blocks of samples: its transposed block and its
    # outputs are private, so no synchronisation is needed between blocks.
    with nogil, parallel(num_threads=n_threads):
        buf = <floating*> malloc(m * BSP_BLOCK * sizeof(floating))
        acc = <floating*> malloc(BSP_BLOCK * sizeof(floating))
        if buf != NULL and acc != NULL:
            for b in prange(n_blocks, schedule="dynamic"):
                b0 = b * BSP_BLOCK
                bs = min(<Py_ssize_t> BSP_BLOCK, n - b0)
                _gather(X, &src[0], m, b0, bs, buf)
                for j in range(n_cols):
                    start = indptr[j]
                    _spmm_col(buf, &indices[0] + start, &data[0] + start,
                              indptr[j + 1] - start, acc)
                    memcpy(&out_t[dst[j], b0], acc, bs * sizeof(floating))
        free(buf)
        free(acc)


def sddmm(const floating[:, :] X, const int[::1] src, const floating[:, :] D,
          const int[::1] dst, const int[::1] indptr, const int[::1] indices,
          floating[::1] out, int n_threads=-1):
    """Compute ``out[k] = dot(X[:, src[indices[k]]], D[:, dst[j]])``.

    For ``k`` in ``indptr[j]:indptr[j + 1]``: the entries of ``X.T @ D`` at
    the stored positions only (sampled dense-dense product).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), any memory order
    src : ndarray of int32, compact input index -> column of ``X``
    D : ndarray of shape (n_samples, n_outputs), any memory order
    dst : ndarray of int32, compressed column -> column of ``D``
    indptr, indices : compressed columns over compact indices
    out : ndarray of shape (nnz,), overwritten
    n_threads : int, default=-1
        OpenMP threads; -1 means all of them for large enough products.
    """
    cdef Py_ssize_t n = X.shape[0], m = src.shape[0], n_cols = dst.shape[0]
    cdef Py_ssize_t nnz = indptr[n_cols]
    cdef Py_ssize_t n_blocks = (n + BSP_BLOCK - 1) // BSP_BLOCK
    cdef Py_ssize_t b, b0, bs, j, t, j0, j1, start
    cdef int[::1] bounds
    cdef floating* buf
    cdef floating* dbuf
    out[:] = 0
    if n == 0 or nnz == 0:
        return
    n_threads = _n_threads(n_threads, n_cols, <double> nnz * n)
    # Each thread owns a range of columns with about the same number of
    # synapses and sums its entries over the blocks in order: results do not
    # depend on the number of threads, and no reduction is needed.
    bounds = _balanced_bounds(indptr, n_threads)
    with nogil, parallel(num_threads=n_threads):
        buf = <floating*> malloc(m * BSP_BLOCK * sizeof(floating))
        dbuf = <floating*> malloc(n_cols * BSP_BLOCK * sizeof(floating))
        if buf != NULL and dbuf != NULL:
            for t in prange(n_threads, schedule="static", chunksize=1):
                j0 = bounds[t]
                j1 = bounds[t + 1]
                for b in range(n_blocks):
                    b0 = b * BSP_BLOCK
                    bs = min(<Py_ssize_t> BSP_BLOCK, n - b0)
                    _gather(X, &src[0], m, b0, bs, buf)
                    _gather(D, &dst[0] + j0, j1 - j0, b0, bs, dbuf)
                    for j in range(j0, j1):
                        start = indptr[j]
                        _sddmm_col(buf, &indices[0] + start,
                                   dbuf + (j - j0) * BSP_BLOCK,
                                   indptr[j + 1] - start, &out[0] + start)
        free(buf)
        free(dbuf)


cdef int[::1] _balanced_bounds(const int[::1] indptr, int n_parts):
    """Split columns into ``n_parts`` ranges of about equal ``nnz``."""
    cdef Py_ssize_t n_cols = indptr.shape[0] - 1, j = 0
    cdef int t
    cdef double total = indptr[n_cols]
    cdef int[::1] bounds = np.zeros(n_parts + 1, dtype=np.int32)
    for t in range(1, n_parts):
        while j < n_cols and indptr[j] < total * t / n_parts:
            j += 1
        bounds[t] = <int> j
    bounds[n_parts] = <int> n_cols
    return bounds
