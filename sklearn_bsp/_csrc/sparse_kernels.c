/*
 * Products over the alive synapses of a pruned layer; see sparse_kernels.h
 * for what each function computes. The kernels for float and double are one
 * text, sparse_kernels_typed.h, included once per type at the end of this
 * file; what differs between the types (the AVX reductions and the register
 * transposition, which exist for some types only) is written out here.
 */
#include "sparse_kernels.h"

#include <stdint.h>
#include <string.h>
#if defined(__AVX__)
#  include <immintrin.h>
#endif
#ifdef _OPENMP
#  include <omp.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define BSP_INLINE static inline __attribute__((always_inline))
#  define BSP_VEC 1
#else
#  define BSP_INLINE static __inline
#  define BSP_VEC 0
#endif

/* BSP_NAME(bsp_spmm) is bsp_spmm_f32 or bsp_spmm_f64, by BSP_SFX. */
#define BSP_CAT_(a, b) a##_##b
#define BSP_CAT(a, b) BSP_CAT_(a, b)
#define BSP_NAME(name) BSP_CAT(name, BSP_SFX)

/* The kernels take the number of vectors nv as an argument; the dispatchers
   call them with constants so that the compiler unrolls the vector loops and
   keeps the accumulators in named registers (arrays indexed at run time
   would live on the stack). */
#define BSP_DISPATCH(CALL)                                                    \
    switch (nv) {                                                             \
    case 1: CALL(1); break;                                                   \
    case 2: CALL(2); break;                                                   \
    case 3: CALL(3); break;                                                   \
    case 4: CALL(4); break;                                                   \
    case 5: CALL(5); break;                                                   \
    case 6: CALL(6); break;                                                   \
    case 7: CALL(7); break;                                                   \
    default: CALL(8); break;                                                  \
    }

#if BSP_VEC
typedef float bsp_v_f32 __attribute__((vector_size(BSP_VBYTES)));
typedef double bsp_v_f64 __attribute__((vector_size(BSP_VBYTES)));

#  if defined(__AVX__)
/* g[0:4] += the lane sums of a0..a3, by horizontal adds: one reduction for
   four dot products. The pairwise order of the adds is the order of
   bsp_sum (sparse_kernels_typed.h), which reduces the other synapses. */
BSP_INLINE void bsp_add4_f32(float *g, bsp_v_f32 a0, bsp_v_f32 a1,
                             bsp_v_f32 a2, bsp_v_f32 a3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps((__m256)a0, (__m256)a1),
                              _mm256_hadd_ps((__m256)a2, (__m256)a3));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h),
                          _mm256_extractf128_ps(h, 1));
    _mm_storeu_ps(g, _mm_add_ps(_mm_loadu_ps(g), s));
}

BSP_INLINE void bsp_add4_f64(double *g, bsp_v_f64 a0, bsp_v_f64 a1,
                             bsp_v_f64 a2, bsp_v_f64 a3)
{
    __m256d h01 = _mm256_hadd_pd((__m256d)a0, (__m256d)a1);
    __m256d h23 = _mm256_hadd_pd((__m256d)a2, (__m256d)a3);
    __m256d s = _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
                              _mm256_permute2f128_pd(h01, h23, 0x31));
    _mm256_storeu_pd(g, _mm256_add_pd(_mm256_loadu_pd(g), s));
}
#  endif
#endif

/* Defined below: it finishes with bsp_pack_generic_f32. */
static ptrdiff_t bsp_pack_fast_f32(const float *X, ptrdiff_t s0, ptrdiff_t m,
                                   ptrdiff_t bs, ptrdiff_t row, float *buf);

#define BSP_T float
#define BSP_SFX f32
#define BSP_BITS uint32_t
#define BSP_EXPONENT 0x7F800000u
#define BSP_PACK_FAST(X, s0, m, bs, row, buf)                                 \
    bsp_pack_fast_f32(X, s0, m, bs, row, buf)
#include "sparse_kernels_typed.h"
#undef BSP_PACK_FAST
#undef BSP_EXPONENT
#undef BSP_BITS
#undef BSP_SFX
#undef BSP_T

#define BSP_T double
#define BSP_SFX f64
#define BSP_BITS uint64_t
#define BSP_EXPONENT 0x7FF0000000000000u
#define BSP_PACK_FAST(X, s0, m, bs, row, buf) 0
#include "sparse_kernels_typed.h"
#undef BSP_PACK_FAST
#undef BSP_EXPONENT
#undef BSP_BITS
#undef BSP_SFX
#undef BSP_T

/* The first m - m % 8 features of bsp_pack_f32 when they are contiguous
   (s1 == 1), with AVX: 8 x 8 tiles transposed in registers, whole vectors
   read and written instead of single values. Returns how many features it
   transposed (0 without AVX). */
static ptrdiff_t bsp_pack_fast_f32(const float *X, ptrdiff_t s0, ptrdiff_t m,
                                   ptrdiff_t bs, ptrdiff_t row, float *buf)
{
#if defined(__AVX__)
    ptrdiff_t m8 = m - m % 8, b8 = bs - bs % 8;
    /* 8 samples at a time, all features: 8 sequential read streams */
    for (ptrdiff_t q = 0; q < b8; q += 8) {
        for (ptrdiff_t p0 = 0; p0 < m8; p0 += 8) {
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

int bsp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
