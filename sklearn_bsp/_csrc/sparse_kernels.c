/*
 * Products over the alive synapses of a pruned layer; see sparse_kernels.h
 * for what each function computes. The kernels for float and double are one
 * text, sparse_kernels_typed.h, included once per type at the end of this
 * file; what differs between the types (the AVX reductions and the register
 * transposition, which exist for some types only) is written out here.
 */
#include "sparse_kernels.h"

#include <math.h>
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

typedef int32_t bsp_vi_f32 __attribute__((vector_size(BSP_VBYTES)));
typedef int64_t bsp_vi_f64 __attribute__((vector_size(BSP_VBYTES)));

/* min(max(x, lo), hi), a NaN staying NaN. With AVX, maxps and minps return
   their second operand when one is a NaN, so x goes second; the masks of the
   portable version cost 1.5x the whole logistic (measured on AVX2). */
#  if defined(__AVX__)
BSP_INLINE bsp_v_f32 bsp_clamp_f32(bsp_v_f32 x, float lo, float hi)
{
    return (bsp_v_f32)_mm256_min_ps(
        _mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), (__m256)x));
}

BSP_INLINE bsp_v_f64 bsp_clamp_f64(bsp_v_f64 x, double lo, double hi)
{
    return (bsp_v_f64)_mm256_min_pd(
        _mm256_set1_pd(hi), _mm256_max_pd(_mm256_set1_pd(lo), (__m256d)x));
}
#  else
#    define BSP_CLAMP(V, VI, T)                                               \
        BSP_INLINE V bsp_clamp_##T(V x, T lo, T hi)                          \
        {                                                                     \
            V vlo = (V){0} + lo, vhi = (V){0} + hi;                           \
            VI below = x < vlo, above = x > vhi;                              \
            return (V)(((VI)x & ~(below | above)) | ((VI)vlo & below) |       \
                       ((VI)vhi & above));                                    \
        }
BSP_CLAMP(bsp_v_f32, bsp_vi_f32, float)
BSP_CLAMP(bsp_v_f64, bsp_vi_f64, double)
#    undef BSP_CLAMP
#  endif

/* exp(x) for -87 <= x <= 88, after Cephes' expf (see the notice at the end
   of this file): x = n ln2 + r with
   |r| <= ln2 / 2 and n an integer, exp(r) by a polynomial of degree 7, then
   2^n written into the exponent bits. Adding 1.5 * 2^23 rounds x / ln2 to
   the nearest integer n, which then lies in the low bits of the sum. */
BSP_INLINE bsp_v_f32 bsp_exp_f32(bsp_v_f32 x)
{
    const bsp_v_f32 magic = (bsp_v_f32){0} + 12582912.0f;
    bsp_v_f32 fx = x * 1.44269504088896341f + magic;
    bsp_v_f32 n = fx - magic;
    bsp_v_f32 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    bsp_v_f32 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r;
    p = p + 1.0f;
    bsp_vi_f32 e = ((bsp_vi_f32)fx - (bsp_vi_f32)magic + 127) << 23;
    return p * (bsp_v_f32)e;
}

/* exp(x) for -708 <= x <= 708, after Cephes' exp: the same reduction, then
   exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)). */
BSP_INLINE bsp_v_f64 bsp_exp_f64(bsp_v_f64 x)
{
    const bsp_v_f64 magic = (bsp_v_f64){0} + 6755399441055744.0;
    bsp_v_f64 fx = x * 1.4426950408889634073599 + magic;
    bsp_v_f64 n = fx - magic;
    bsp_v_f64 r = x - n * 6.93145751953125e-1;
    r = r - n * 1.42860682030941723212e-6;
    bsp_v_f64 rr = r * r;
    bsp_v_f64 p = rr * 1.26177193074810590878e-4 + 3.02994407707441961300e-2;
    p = p * rr + 9.99999999999999999910e-1;
    p = p * r;
    bsp_v_f64 q = rr * 3.00198505138664455042e-6 + 2.52448340349684104192e-3;
    q = q * rr + 2.27265548208155028766e-1;
    q = q * rr + 2.00000000000000000009e0;
    p = p / (q - p);
    p = p * 2.0 + 1.0;
    bsp_vi_f64 e = ((bsp_vi_f64)fx - (bsp_vi_f64)magic + 1023) << 52;
    return p * (bsp_v_f64)e;
}
#endif

/* Defined below: it finishes with bsp_pack_generic_f32. */
static ptrdiff_t bsp_pack_fast_f32(const float *X, ptrdiff_t s0, ptrdiff_t m,
                                   ptrdiff_t bs, ptrdiff_t row, float *buf);

#define BSP_T float
#define BSP_SFX f32
#define BSP_EXP_MIN -87.0f
#define BSP_EXP_MAX 88.0f
#define BSP_BITS uint32_t
#define BSP_EXPONENT 0x7F800000u
#define BSP_PACK_FAST(X, s0, m, bs, row, buf)                                 \
    bsp_pack_fast_f32(X, s0, m, bs, row, buf)
#include "sparse_kernels_typed.h"
#undef BSP_PACK_FAST
#undef BSP_EXPONENT
#undef BSP_EXP_MAX
#undef BSP_EXP_MIN
#undef BSP_BITS
#undef BSP_SFX
#undef BSP_T

#define BSP_T double
#define BSP_SFX f64
#define BSP_EXP_MIN -708.0
#define BSP_EXP_MAX 708.0
#define BSP_BITS uint64_t
#define BSP_EXPONENT 0x7FF0000000000000u
#define BSP_PACK_FAST(X, s0, m, bs, row, buf) 0
#include "sparse_kernels_typed.h"
#undef BSP_PACK_FAST
#undef BSP_EXPONENT
#undef BSP_EXP_MAX
#undef BSP_EXP_MIN
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

/*
 * bsp_exp_f32 and bsp_exp_f64 follow expf.c and exp.c of the Cephes
 * Mathematical Library, Release 2.8, Copyright 1984, 1995, 2000 by
 * Stephen L. Moshier, distributed under the 3-clause BSD licence with the
 * author's permission (as SciPy bundles it; see
 * https://lists.debian.org/debian-legal/2004/12/msg00295.html):
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are
 * met: (1) redistributions of source code must retain the above copyright
 * notice, this list of conditions and the following disclaimer;
 * (2) redistributions in binary form must reproduce the above copyright
 * notice, this list of conditions and the following disclaimer in the
 * documentation and/or other materials provided with the distribution;
 * (3) neither the name of the author nor the names of contributors may be
 * used to endorse or promote products derived from this software without
 * specific prior written permission. THIS SOFTWARE IS PROVIDED BY THE
 * COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED
 * WARRANTIES ARE DISCLAIMED.
 */
