/*
 * Products over the alive synapses of a pruned layer: the C side of
 * sklearn_bsp._sparse_kernels (declared for Cython in _sparse_kernels.pxd).
 *
 * Layout, after sparse inference engines such as XNNPACK: a block of up to
 * BSP_MAXV SIMD vectors of samples is transposed once into a buffer where
 * each input feature is a contiguous row (bsp_pack_*); then every alive
 * synapse costs one multiply-add per vector of that row, with the
 * accumulators of one output neuron held in registers (bsp_spmm_*). The
 * sampled gradient (bsp_sddmm_*) reads two such transposed blocks.
 *
 * Structures are compressed columns: synapse k of column j (k in
 * cptr[j * (nc + 1)] .. cptr[j * (nc + 1) + nc]) reads row idx[k] of the
 * transposed operand; cptr[j * (nc + 1) + c] .. cptr[j * (nc + 1) + c + 1]
 * are its synapses of chunk c (features c * BSP_CHUNK to (c + 1) * BSP_CHUNK).
 *
 * Each function adds in an order fixed by its arguments alone; the caller
 * (_sparse_kernels.pyx) splits the work between threads so that no result
 * depends on the number of threads.
 */
#ifndef SKLEARN_BSP_SPARSE_KERNELS_H
#define SKLEARN_BSP_SPARSE_KERNELS_H

#include <stddef.h>

/* Vectors of samples per block: 8 accumulators cover the 4-cycle latency of
   2 FMA pipes, and leave registers for the rest. */
#define BSP_MAXV 8
/* Input features per chunk: 128 rows of 8 AVX vectors are 32 KB, an L1 data
   cache, so the rows a chunk reads stay in L1 while the whole block may not. */
#define BSP_CHUNK 128

/* Bytes per SIMD vector. The Cython module and sparse_kernels.c are
   compiled with the same flags, so both see the same value. */
#if defined(__AVX__)
#  define BSP_VBYTES 32
#else
#  define BSP_VBYTES 16
#endif

/* The build may lack OpenMP; then the callers' prange loops run serially. */
#ifdef _OPENMP
#  define BSP_OPENMP 1
#else
#  define BSP_OPENMP 0
#endif

/* Internal to the extension module: not exported from the shared object. */
#if defined(__GNUC__) || defined(__clang__)
#  define BSP_API __attribute__((visibility("hidden")))
#else
#  define BSP_API
#endif

/* Number of OpenMP threads a parallel region would use (1 without OpenMP). */
BSP_API int bsp_max_threads(void);

/*
 * out[dst[j] * ldo + s] = sum over the synapses k of column j of
 * val[k] * buf[idx[k] * ldb + s], for s < bs and j < n_cols.
 *
 * buf holds nv vectors of samples per feature row (from bsp_pack_*, padded
 * with zeros past bs); acc is scratch space for n_cols * nv vectors (the
 * partial sums of the columns between chunks).
 */
BSP_API void bsp_spmm_f32(int nv, const float *buf, ptrdiff_t ldb,
                          const int *cptr, ptrdiff_t nc, const int *idx,
                          const float *val, ptrdiff_t n_cols, float *acc,
                          float *out, ptrdiff_t ldo, const int *dst,
                          ptrdiff_t bs);
BSP_API void bsp_spmm_f64(int nv, const double *buf, ptrdiff_t ldb,
                          const int *cptr, ptrdiff_t nc, const int *idx,
                          const double *val, ptrdiff_t n_cols, double *acc,
                          double *out, ptrdiff_t ldo, const int *dst,
                          ptrdiff_t bs);

/*
 * g[k] += dot(xb[idx[k]], db[dst[j]]) for the synapses k of the columns
 * j0 <= j < j1, where xb and db are transposed blocks of nv vectors of
 * samples per row (rows of the input and of the output error).
 */
BSP_API void bsp_sddmm_f32(int nv, const float *xb, const float *db,
                           const int *cptr, ptrdiff_t nc, const int *idx,
                           const int *dst, ptrdiff_t j0, ptrdiff_t j1,
                           float *g);
BSP_API void bsp_sddmm_f64(int nv, const double *xb, const double *db,
                           const int *cptr, ptrdiff_t nc, const int *idx,
                           const int *dst, ptrdiff_t j0, ptrdiff_t j1,
                           double *g);

/*
 * 1 if one of x[0], ..., x[n - 1] is a NaN or an infinity, else 0. The
 * prediction checks each transposed block (bsp_pack_*) while it is in
 * cache, instead of reading the input once more beforehand.
 */
BSP_API int bsp_any_nonfinite_f32(const float *x, ptrdiff_t n);
BSP_API int bsp_any_nonfinite_f64(const double *x, ptrdiff_t n);

/*
 * Transpose a block of bs samples into feature rows of length row:
 * buf[p * row + s] = X[s * s0 + p * s1] for p < m and s < bs, and 0 for
 * bs <= s < row (the padding lets a partial last vector use the full
 * kernels). s0 and s1 are X's strides in elements, any memory order.
 */
BSP_API void bsp_pack_f32(const float *X, ptrdiff_t s0, ptrdiff_t s1,
                          ptrdiff_t m, ptrdiff_t bs, ptrdiff_t row,
                          float *buf);
BSP_API void bsp_pack_f64(const double *X, ptrdiff_t s0, ptrdiff_t s1,
                          ptrdiff_t m, ptrdiff_t bs, ptrdiff_t row,
                          double *buf);

/*
 * x[i * ldx + j] = act(x[i * ldx + j] + b) for i < n_rows and j < n_cols,
 * with b = bias[i] when per_row, else bias[j], and no bias when bias is
 * NULL: the bias and hidden activation of a layer in one pass over its
 * output. BSP_IDENTITY and BSP_RELU give the values of a NumPy addition
 * followed by np.maximum(x, 0) to the bit; BSP_LOGISTIC is within one
 * machine epsilon of scipy.special.expit.
 */
enum { BSP_IDENTITY = 0, BSP_RELU = 1, BSP_LOGISTIC = 2 };
BSP_API void bsp_bias_act_f32(float *x, ptrdiff_t n_rows, ptrdiff_t n_cols,
                              ptrdiff_t ldx, const float *bias, int per_row,
                              int act);
BSP_API void bsp_bias_act_f64(double *x, ptrdiff_t n_rows, ptrdiff_t n_cols,
                              ptrdiff_t ldx, const double *bias, int per_row,
                              int act);

#endif /* SKLEARN_BSP_SPARSE_KERNELS_H */
