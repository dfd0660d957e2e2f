# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""Compiled kernels for pruned (sparse) layers.

The layout follows sparse inference engines such as XNNPACK. A block of up
to ``MAX_VECTORS`` SIMD vectors of samples (64 float32 or 32 float64 values)
is transposed once into a buffer where each input feature is a contiguous row;
then every alive synapse costs one fused multiply-add per vector of that row,
with the accumulators of one output neuron held in registers.

Measured refinements on top of that (one Zen 4 core, 784 x 500 layer, kernel
alone; ``benchmarks/bench_kernels.py`` for the whole products):

- Blocks are cut to fit the samples: 200 float32 samples are 25 vectors, run
  for example as blocks of 7 + 6 + 6 + 6 vectors instead of 4 blocks of 64
  samples, a fifth of which would be padding.
- When columns are dense enough, the synapses of every column are visited in
  *chunks* of ``CHUNK`` input features, all columns for one chunk before the
  next chunk. The rows of one chunk (32 KB) then stay in L1 while the whole
  block (200 KB for 784 inputs) only fits in L2. Partial sums of the columns
  go through memory between chunks; at 30 % density this raised the
  multiply-add rate from 47 to 69-71 GFLOP/s.
- Without chunks, blocks of 4 vectors (rows of 128 bytes) ran faster than
  blocks of 8: 61-63 against 52-53 GFLOP/s at 5-10 % density.
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

from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

ctypedef fused floating:
    float
    double

cdef extern from *:
    """
    #include <string.h>
    #if defined(__AVX__)
    #  include <immintrin.h>
    #endif

    /* Vectors of samples per block: 8 accumulators cover the 4-cycle
       latency of 2 FMA pipes, and leave registers for the rest. */
    #define BSP_MAXV 8
    /* Input features per chunk: 128 rows of 8 AVX vectors are 32 KB, the L1
       data cache of the machines measured. */
    #define BSP_CHUNK 128

    #if defined(__AVX__)
    #  define BSP_VBYTES 32
    #else
    #  define BSP_VBYTES 16
    #endif

    #if defined(__GNUC__) || defined(__clang__)
    #  define BSP_INLINE static inline __attribute__((always_inline))
    #  define BSP_VEC 1
    #else
    #  define BSP_INLINE static __inline
    #  define BSP_VEC 0
    #endif

    /* The kernels take the number of vectors ``nv`` as an argument; the
       dispatchers call them with constants so that the compiler unrolls the
       vector loops and keeps the accumulators in named registers (arrays
       indexed at run time would live on the stack). */
    #define BSP_DISPATCH(CALL)                                               \\
        switch (nv) {                                                        \\
        case 1: CALL(1); break; case 2: CALL(2); break;                      \\
        case 3: CALL(3); break; case 4: CALL(4); break;                      \\
        case 5: CALL(5); break; case 6: CALL(6); break;                      \\
        case 7: CALL(7); break; default: CALL(8); break;                     \\
        }

    #if BSP_VEC
    typedef float bsp_v_f32 __attribute__((vector_size(BSP_VBYTES)));
    typedef double bsp_v_f64 __attribute__((vector_size(BSP_VBYTES)));
    /* Lane sum in the pairwise order of the horizontal adds below, so that
       a synapse's gradient does not depend on whether it was reduced alone
       or in a group of four (that is, on the chunks). */
    #  define BSP_SUM(T, SFX)                                                 \\
    BSP_INLINE T bsp_sum_##SFX(bsp_v_##SFX a) {                              \\
        enum { W = BSP_VBYTES / sizeof(T) };                                 \\
        T t[W];                                                              \\
        memcpy(t, &a, sizeof t);                                             \\
        for (int h = 1; h < W; h *= 2)                                       \\
            for (int i = 0; i < W; i += 2 * h) t[i] += t[i + h];             \\
        return t[0]; }
    BSP_SUM(float, f32)
    BSP_SUM(double, f64)
    #  if defined(__AVX__)
    /* g[0:4] += the lane sums of a0..a3 (horizontal adds) */
    BSP_INLINE void bsp_add4_f32(float *g, bsp_v_f32 a0, bsp_v_f32 a1,
                                 bsp_v_f32 a2, bsp_v_f32 a3) {
        __m256 h = _mm256_hadd_ps(_mm256_hadd_ps((__m256)a0, (__m256)a1),
                                  _mm256_hadd_ps((__m256)a2, (__m256)a3));
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(h),
                              _mm256_extractf128_ps(h, 1));
        _mm_storeu_ps(g, _mm_add_ps(_mm_loadu_ps(g), s));
    }
    BSP_INLINE void bsp_add4_f64(double *g, bsp_v_f64 a0, bsp_v_f64 a1,
                                 bsp_v_f64 a2, bsp_v_f64 a3) {
        __m256d h01 = _mm256_hadd_pd((__m256d)a0, (__m256d)a1);
        __m256d h23 = _mm256_hadd_pd((__m256d)a2, (__m256d)a3);
        __m256d s = _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
                                  _mm256_permute2f128_pd(h01, h23, 0x31));
        _mm256_storeu_pd(g, _mm256_add_pd(_mm256_loadu_pd(g), s));
    }
    #  else
    #    define BSP_ADD4(T, SFX)                                              \\
    BSP_INLINE void bsp_add4_##SFX(T *g, bsp_v_##SFX a0, bsp_v_##SFX a1,     \\
                                   bsp_v_##SFX a2, bsp_v_##SFX a3) {         \\
        g[0] += bsp_sum_##SFX(a0); g[1] += bsp_sum_##SFX(a1);                \\
        g[2] += bsp_sum_##SFX(a2); g[3] += bsp_sum_##SFX(a3);                \\
    }
    BSP_ADD4(float, f32)
    BSP_ADD4(double, f64)
    #  endif
    #  define BSP_KERNELS(T, SFX)                                              \\
    enum { BSP_W_##SFX = BSP_VBYTES / sizeof(T) };                           \\
    BSP_INLINE bsp_v_##SFX bsp_ld_##SFX(const T *p) {                        \\
        bsp_v_##SFX v; memcpy(&v, p, sizeof v); return v; }                  \\
    BSP_INLINE void bsp_st_##SFX(T *p, bsp_v_##SFX v) {                      \\
        memcpy(p, &v, sizeof v); }                                           \\
    /* out[dst[j] * ldo + s] = sum over the synapses of column j of       */ \\
    /* val[k] * buf[idx[k] * ldb + s], for s < bs; acc holds the partial  */ \\
    /* sums between chunks                                                */ \\
    BSP_INLINE void bsp_spmm_nv_##SFX(                                       \\
            const int nv, const T *buf, Py_ssize_t ldb, const int *cptr,     \\
            Py_ssize_t nc, const int *idx, const T *val, Py_ssize_t n_cols,  \\
            T *acc, T *out, Py_ssize_t ldo, const int *dst, Py_ssize_t bs) { \\
        const Py_ssize_t row = nv * BSP_W_##SFX;                             \\
        for (Py_ssize_t c = 0; c < nc; c++) {                                \\
            for (Py_ssize_t j = 0; j < n_cols; j++) {                        \\
                const int *cp = cptr + j * (nc + 1) + c;                     \\
                T *o = acc + j * row;                                        \\
                bsp_v_##SFX a[BSP_MAXV];                                     \\
                for (int v = 0; v < nv; v++)                                 \\
                    a[v] = c ? bsp_ld_##SFX(o + v * BSP_W_##SFX)             \\
                             : (bsp_v_##SFX){0};                             \\
                for (Py_ssize_t k = cp[0]; k < cp[1]; k++) {                 \\
                    const T *x = buf + (Py_ssize_t)idx[k] * ldb;             \\
                    const T w = val[k];                                      \\
                    for (int v = 0; v < nv; v++)                             \\
                        a[v] += w * bsp_ld_##SFX(x + v * BSP_W_##SFX);       \\
                }                                                            \\
                if (c + 1 < nc) {                                            \\
                    for (int v = 0; v < nv; v++)                             \\
                        bsp_st_##SFX(o + v * BSP_W_##SFX, a[v]);             \\
                    continue;                                                \\
                }                                                            \\
                /* last chunk: straight into the output row */              \\
                T *y = out + (Py_ssize_t)dst[j] * ldo;                       \\
                for (int v = 0; v < nv; v++) {                               \\
                    Py_ssize_t left = bs - v * BSP_W_##SFX;                  \\
                    if (left >= BSP_W_##SFX)                                 \\
                        bsp_st_##SFX(y + v * BSP_W_##SFX, a[v]);             \\
                    else if (left > 0)                                       \\
                        memcpy(y + v * BSP_W_##SFX, &a[v], left * sizeof(T)); \\
                }                                                            \\
            }                                                                \\
        }                                                                    \\
    }                                                                        \\
    /* g[k] += dot(xb[idx[k]], db[dst[j]]) for the columns j0 <= j < j1 */   \\
    BSP_INLINE void bsp_sddmm_nv_##SFX(                                      \\
            const int nv, const T *xb, const T *db, const int *cptr,         \\
            Py_ssize_t nc, const int *idx, const int *dst,                   \\
            Py_ssize_t j0, Py_ssize_t j1, T *g) {                            \\
        const Py_ssize_t row = nv * BSP_W_##SFX;                             \\
        for (Py_ssize_t c = 0; c < nc; c++) {                                \\
            for (Py_ssize_t j = j0; j < j1; j++) {                           \\
                const int *cp = cptr + j * (nc + 1) + c;                     \\
                const T *d = db + (Py_ssize_t)dst[j] * row;                  \\
                bsp_v_##SFX dv[BSP_MAXV];                                    \\
                for (int v = 0; v < nv; v++)                                 \\
                    dv[v] = bsp_ld_##SFX(d + v * BSP_W_##SFX);               \\
                Py_ssize_t k = cp[0];                                        \\
                /* four synapses at a time: one horizontal reduction for  */ \\
                /* four dot products instead of one each                  */ \\
                for (; k + 4 <= cp[1]; k += 4) {                             \\
                    const T *x0 = xb + (Py_ssize_t)idx[k] * row;             \\
                    const T *x1 = xb + (Py_ssize_t)idx[k + 1] * row;         \\
                    const T *x2 = xb + (Py_ssize_t)idx[k + 2] * row;         \\
                    const T *x3 = xb + (Py_ssize_t)idx[k + 3] * row;         \\
                    bsp_v_##SFX a0 = bsp_ld_##SFX(x0) * dv[0];               \\
                    bsp_v_##SFX a1 = bsp_ld_##SFX(x1) * dv[0];               \\
                    bsp_v_##SFX a2 = bsp_ld_##SFX(x2) * dv[0];               \\
                    bsp_v_##SFX a3 = bsp_ld_##SFX(x3) * dv[0];               \\
                    for (int v = 1; v < nv; v++) {                           \\
                        const Py_ssize_t o = v * BSP_W_##SFX;                \\
                        a0 += bsp_ld_##SFX(x0 + o) * dv[v];                  \\
                        a1 += bsp_ld_##SFX(x1 + o) * dv[v];                  \\
                        a2 += bsp_ld_##SFX(x2 + o) * dv[v];                  \\
                        a3 += bsp_ld_##SFX(x3 + o) * dv[v];                  \\
                    }                                                        \\
                    bsp_add4_##SFX(g + k, a0, a1, a2, a3);                   \\
                }                                                            \\
                for (; k < cp[1]; k++) {                                     \\
                    const T *x = xb + (Py_ssize_t)idx[k] * row;              \\
                    bsp_v_##SFX a = bsp_ld_##SFX(x) * dv[0];                 \\
                    for (int v = 1; v < nv; v++)                             \\
                        a += bsp_ld_##SFX(x + v * BSP_W_##SFX) * dv[v];      \\
                    g[k] += bsp_sum_##SFX(a);                                \\
                }                                                            \\
            }                                                                \\
        }                                                                    \\
    }


    #else
    /* Portable scalar version for compilers without vector extensions:
       "vectors" of BSP_VBYTES bytes are plain runs of values. */
    #  define BSP_KERNELS(T, SFX)                                              \\
    enum { BSP_W_##SFX = BSP_VBYTES / sizeof(T) };                           \\
    BSP_INLINE void bsp_spmm_nv_##SFX(                                       \\
            const int nv, const T *buf, Py_ssize_t ldb, const int *cptr,     \\
            Py_ssize_t nc, const int *idx, const T *val, Py_ssize_t n_cols,  \\
            T *acc, T *out, Py_ssize_t ldo, const int *dst, Py_ssize_t bs) { \\
        const Py_ssize_t row = nv * BSP_W_##SFX;                             \\
        for (Py_ssize_t c = 0; c < nc; c++)                                  \\
            for (Py_ssize_t j = 0; j < n_cols; j++) {                        \\
                const int *cp = cptr + j * (nc + 1) + c;                     \\
                T *o = acc + j * row;                                        \\
                if (!c) for (Py_ssize_t s = 0; s < row; s++) o[s] = 0;       \\
                for (Py_ssize_t k = cp[0]; k < cp[1]; k++) {                 \\
                    const T *x = buf + (Py_ssize_t)idx[k] * ldb;             \\
                    for (Py_ssize_t s = 0; s < row; s++) o[s] += val[k] * x[s]; \\
                }                                                            \\
                if (c + 1 == nc)                                             \\
                    memcpy(out + (Py_ssize_t)dst[j] * ldo, o, bs * sizeof(T)); \\
            }                                                                \\
    }                                                                        \\
    BSP_INLINE void bsp_sddmm_nv_##SFX(                                      \\
            const int nv, const T *xb, const T *db, const int *cptr,         \\
            Py_ssize_t nc, const int *idx, const int *dst,                   \\
            Py_ssize_t j0, Py_ssize_t j1, T *g) {                            \\
        const Py_ssize_t row = nv * BSP_W_##SFX;                             \\
        for (Py_ssize_t c = 0; c < nc; c++)                                  \\
            for (Py_ssize_t j = j0; j < j1; j++) {                           \\
                const int *cp = cptr + j * (nc + 1) + c;                     \\
                const T *d = db + (Py_ssize_t)dst[j] * row;                  \\
                for (Py_ssize_t k = cp[0]; k < cp[1]; k++) {                 \\
                    const T *x = xb + (Py_ssize_t)idx[k] * row;              \\
                    T s = 0;                                                 \\
                    for (Py_ssize_t l = 0; l < row; l++) s += x[l] * d[l];   \\
                    g[k] += s;                                               \\
                }                                                            \\
            }                                                                \\
    }
    #endif

    BSP_KERNELS(float, f32)
    BSP_KERNELS(double, f64)

    #define BSP_DISPATCHERS(T, SFX)                                          \\
    static void bsp_spmm_##SFX(int nv, const T *buf, Py_ssize_t ldb,         \\
                               const int *cptr, Py_ssize_t nc,               \\
                               const int *idx, const T *val,                 \\
                               Py_ssize_t n_cols, T *acc, T *out,            \\
                               Py_ssize_t ldo, const int *dst,               \\
                               Py_ssize_t bs) {                              \\
        BSP_DISPATCH(BSP_SPMM_##SFX) }                                       \\
    static void bsp_sddmm_##SFX(int nv, const T *xb, const T *db,            \\
                                const int *cptr, Py_ssize_t nc,              \\
                                const int *idx, const int *dst,              \\
                                Py_ssize_t j0, Py_ssize_t j1, T *g) {        \\
        BSP_DISPATCH(BSP_SDDMM_##SFX) }                                      \\
    /* buf[p * row + s] = X[s * s0 + p * s1] for s < bs, 0 up to row */      \\
    static void bsp_pack_generic_##SFX(                                      \\
            const T *X, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t p_begin,    \\
            Py_ssize_t m, Py_ssize_t s_begin, Py_ssize_t bs,                 \\
            Py_ssize_t row, T *buf) {                                        \\
        /* tiles of 16 features: each sample row is read in short runs    */ \\
        /* while 16 buffer rows are written                               */ \\
        for (Py_ssize_t p0 = p_begin; p0 < m; p0 += 16) {                    \\
            Py_ssize_t p1 = p0 + 16 < m ? p0 + 16 : m;                       \\
            for (Py_ssize_t s = s_begin; s < bs; s++) {                      \\
                const T *xs = X + s * s0;                                    \\
                for (Py_ssize_t p = p0; p < p1; p++)                         \\
                    buf[p * row + s] = xs[p * s1];                           \\
            }                                                                \\
        }                                                                    \\
    }
    #define BSP_SPMM_ARGS \\
        buf, ldb, cptr, nc, idx, val, n_cols, acc, out, ldo, dst, bs
    #define BSP_SPMM_f32(NV) bsp_spmm_nv_f32(NV, BSP_SPMM_ARGS)
    #define BSP_SPMM_f64(NV) bsp_spmm_nv_f64(NV, BSP_SPMM_ARGS)
    #define BSP_SDDMM_f32(NV) \\
        bsp_sddmm_nv_f32(NV, xb, db, cptr, nc, idx, dst, j0, j1, g)
    #define BSP_SDDMM_f64(NV) \\
        bsp_sddmm_nv_f64(NV, xb, db, cptr, nc, idx, dst, j0, j1, g)
    BSP_DISPATCHERS(float, f32)
    BSP_DISPATCHERS(double, f64)

    /* Transposition of a block of samples into feature rows:
       buf[p * row + s] = X[s * s0 + p * s1] for s < bs, 0 for bs <= s < row.
       Samples contiguous (s0 == 1): row copies. Features contiguous
       (s1 == 1, float32, AVX): 8 x 8 tiles transposed in registers, about
       twice as fast as element copies. */
    static Py_ssize_t bsp_pack_fast_f32(const float *X, Py_ssize_t s0,
                                        Py_ssize_t m, Py_ssize_t bs,
                                        Py_ssize_t row, float *buf) {
    #if defined(__AVX__)
        Py_ssize_t m8 = m - m % 8, b8 = bs - bs % 8;
        /* 8 samples at a time, all features: 8 sequential read streams */
        for (Py_ssize_t q = 0; q < b8; q += 8) {
            for (Py_ssize_t p0 = 0; p0 < m8; p0 += 8) {
                const float *x = X + q * s0 + p0;
                __m256 r0 = _mm256_loadu_ps(x), r1 = _mm256_loadu_ps(x + s0);
                __m256 r2 = _mm256_loadu_ps(x + 2 * s0);
                __m256 r3 = _mm256_loadu_ps(x + 3 * s0);
                __m256 r4 = _mm256_loadu_ps(x + 4 * s0);
                __m256 r5 = _mm256_loadu_ps(x + 5 * s0);
                __m256 r6 = _mm256_loadu_ps(x + 6 * s0);
                __m256 r7 = _mm256_loadu_ps(x + 7 * s0);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1);
                __m256 t1 = _mm256_unpackhi_ps(r0, r1);
                __m256 t2 = _mm256_unpacklo_ps(r2, r3);
                __m256 t3 = _mm256_unpackhi_ps(r2, r3);
                __m256 t4 = _mm256_unpacklo_ps(r4, r5);
                __m256 t5 = _mm256_unpackhi_ps(r4, r5);
                __m256 t6 = _mm256_unpacklo_ps(r6, r7);
                __m256 t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44);
                __m256 u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44);
                __m256 u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44);
                __m256 u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44);
                __m256 u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *b = buf + p0 * row + q;
                _mm256_storeu_ps(b, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_storeu_ps(b + row, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_storeu_ps(b + 2 * row, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_storeu_ps(b + 3 * row, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_storeu_ps(b + 4 * row, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_storeu_ps(b + 5 * row, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_storeu_ps(b + 6 * row, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_storeu_ps(b + 7 * row, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        }
        /* the last bs % 8 samples of these features */
        bsp_pack_generic_f32(X, s0, 1, 0, m8, b8, bs, row, buf);
        return m8;
    #else
        (void)X; (void)s0; (void)m; (void)bs; (void)row; (void)buf;
        return 0;
    #endif
    }

    #define BSP_PACK(T, SFX, FAST)                                           \\
    static void bsp_pack_##SFX(const T *X, Py_ssize_t s0, Py_ssize_t s1,     \\
                               Py_ssize_t m, Py_ssize_t bs, Py_ssize_t row,  \\
                               T *buf) {                                     \\
        if (s0 == 1) {                                                       \\
            for (Py_ssize_t p = 0; p < m; p++)                               \\
                memcpy(buf + p * row, X + p * s1, bs * sizeof(T));           \\
        } else {                                                             \\
            Py_ssize_t done = s1 == 1 ? FAST : 0;                            \\
            bsp_pack_generic_##SFX(X, s0, s1, done, m, 0, bs, row, buf);     \\
        }                                                                    \\
        /* zero padding lets a partial last vector use the full kernels */   \\
        if (bs < row)                                                        \\
            for (Py_ssize_t p = 0; p < m; p++)                               \\
                memset(buf + p * row + bs, 0, (row - bs) * sizeof(T));       \\
    }
    BSP_PACK(float, f32, bsp_pack_fast_f32(X, s0, m, bs, row, buf))
    BSP_PACK(double, f64, 0)

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
    enum: BSP_MAXV
    enum: BSP_CHUNK
    enum: BSP_VBYTES
    enum: BSP_OPENMP
    int bsp_max_threads() noexcept nogil
    void bsp_spmm_f32(int, const float*, Py_ssize_t, const int*, Py_ssize_t,
                      const int*, const float*, Py_ssize_t, float*, float*,
                      Py_ssize_t, const int*, Py_ssize_t) noexcept nogil
    void bsp_spmm_f64(int, const double*, Py_ssize_t, const int*, Py_ssize_t,
                      const int*, const double*, Py_ssize_t, double*, double*,
                      Py_ssize_t, const int*, Py_ssize_t) noexcept nogil
    void bsp_sddmm_f32(int, const float*, const float*, const int*, Py_ssize_t,
                       const int*, const int*, Py_ssize_t, Py_ssize_t,
                       float*) noexcept nogil
    void bsp_sddmm_f64(int, const double*, const double*, const int*,
                       Py_ssize_t, const int*, const int*, Py_ssize_t,
                       Py_ssize_t, double*) noexcept nogil
    void bsp_pack_f32(const float*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                      Py_ssize_t, Py_ssize_t, float*) noexcept nogil
    void bsp_pack_f64(const double*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                      Py_ssize_t, Py_ssize_t, double*) noexcept nogil

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


cdef inline void _pack(const floating* X, Py_ssize_t s0, Py_ssize_t s1,
                       Py_ssize_t m, Py_ssize_t bs, Py_ssize_t row,
                       floating* buf) noexcept nogil:
    if floating is float:
        bsp_pack_f32(X, s0, s1, m, bs, row, buf)
    else:
        bsp_pack_f64(X, s0, s1, m, bs, row, buf)


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
         int n_threads=-1):
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
    """
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], n_cols = dst.shape[0]
    cdef Py_ssize_t nc = cptr.shape[1] - 1
    cdef Py_ssize_t w = BSP_VBYTES // sizeof(floating)
    cdef Py_ssize_t n_vec = (n + w - 1) // w
    cdef Py_ssize_t s0 = X.strides[0] // sizeof(floating)
    cdef Py_ssize_t s1 = X.strides[1] // sizeof(floating)
    cdef Py_ssize_t nb, b, bv0, bv1, start, bs, j, ldb
    # Blocks of 8 vectors when their rows are read from L1 (chunks, or few
    # features), else of 4: one Zen 4 core then ran 61-63 instead of 52-53
    # GFLOP/s at 5-10 % density (rows read from L2).
    cdef Py_ssize_t max_v = BSP_MAXV if nc > 1 or m <= BSP_CHUNK else BSP_MAXV // 2
    cdef floating* buf
    cdef floating* acc
    cdef int failed = 0
    if n == 0 or n_cols == 0:
        return
    if m == 0 or data.shape[0] == 0:
        for j in range(n_cols):
            out_t[dst[j], :] = 0
        return
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
        buf = <floating*> malloc(m * BSP_MAXV * w * sizeof(floating))
        acc = <floating*> malloc(n_cols * BSP_MAXV * w * sizeof(floating))
        for b in prange(nb, schedule="dynamic"):
            if buf == NULL or acc == NULL:
                failed += 1
                continue
            bv0 = n_vec * b // nb
            bv1 = n_vec * (b + 1) // nb
            start = bv0 * w
            bs = min(bv1 * w, n) - start
            # Copied even when X is Fortran-ordered: reading X in place
            # (rows n_samples apart) was slower at n = 10,000, 10 % density
            # (59 against 40 ms, on a busy machine).
            _pack(&X[0, 0] + start * s0, s0, s1, m, bs, (bv1 - bv0) * w, buf)
            ldb = (bv1 - bv0) * w
            if floating is float:
                bsp_spmm_f32(bv1 - bv0, buf, ldb, &cptr[0, 0], nc, &idx[0],
                             &data[0], n_cols, acc, &out_t[0, 0] + start, n,
                             &dst[0], bs)
            else:
                bsp_spmm_f64(bv1 - bv0, buf, ldb, &cptr[0, 0], nc, &idx[0],
                             &data[0], n_cols, acc, &out_t[0, 0] + start, n,
                             &dst[0], bs)
        free(buf)
        free(acc)
    if failed:
        raise MemoryError("not enough memory for the kernels' buffers")


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
    xp = np.empty(m * n_vec * w, dtype=dtype)
    dp = np.empty(n_out * n_vec * w, dtype=dtype)
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
