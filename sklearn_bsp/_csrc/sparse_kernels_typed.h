/*
 * The kernels for one floating type, included once per type by
 * sparse_kernels.c (not a standalone header). Before each inclusion the
 * includer defines
 *
 *   BSP_T          the element type (float or double),
 *   BSP_SFX        the suffix of the names for it (f32 or f64),
 *   BSP_PACK_FAST  BSP_PACK_FAST(X, s0, m, bs, row, buf): a faster
 *                  transposition of the first features when they are
 *                  contiguous; returns how many it did (0 for none),
 *   BSP_BITS       the unsigned integer type of T's size,
 *   BSP_EXPONENT   the mask of T's exponent bits,
 *   BSP_EXP_MIN, BSP_EXP_MAX   the range of bsp_exp_* for T.
 *
 * The macros T, V, W and FN below are shorthands within this file only.
 */

#define T BSP_T                 /* element type */
#define FN(name) BSP_NAME(name) /* name##_f32 or name##_f64 */
#define W FN(BSP_W)             /* values per SIMD vector */

enum { W = BSP_VBYTES / sizeof(T) };

#if BSP_VEC

#define V FN(bsp_v) /* SIMD vector of T (GCC/Clang vector extension) */

/* Lane sum in the pairwise order of the horizontal adds of bsp_add4, so that
   a synapse's gradient does not depend on whether it was reduced alone or in
   a group of four (that is, on the chunks). */
BSP_INLINE T FN(bsp_sum)(V a)
{
    T t[W];
    memcpy(t, &a, sizeof t);
    for (int h = 1; h < W; h *= 2)
        for (int i = 0; i < W; i += 2 * h)
            t[i] += t[i + h];
    return t[0];
}

#if !defined(__AVX__)
/* g[0:4] += the lane sums of a0..a3 (sparse_kernels.c has the AVX version). */
BSP_INLINE void FN(bsp_add4)(T *g, V a0, V a1, V a2, V a3)
{
    g[0] += FN(bsp_sum)(a0);
    g[1] += FN(bsp_sum)(a1);
    g[2] += FN(bsp_sum)(a2);
    g[3] += FN(bsp_sum)(a3);
}
#endif

/* Unaligned vector load and store (memcpy compiles to one instruction). */
BSP_INLINE V FN(bsp_ld)(const T *p)
{
    V v;
    memcpy(&v, p, sizeof v);
    return v;
}

BSP_INLINE void FN(bsp_st)(T *p, V v)
{
    memcpy(p, &v, sizeof v);
}

/* out[dst[j] * ldo + s] = sum over the synapses of column j of
   val[k] * buf[idx[k] * ldb + s], for s < bs; acc holds the partial sums
   between chunks. Each sample's lane adds the synapses in storage order. */
BSP_INLINE void FN(bsp_spmm_nv)(const int nv, const T *buf, ptrdiff_t ldb,
                                const int *cptr, ptrdiff_t nc, const int *idx,
                                const T *val, ptrdiff_t n_cols, T *acc, T *out,
                                ptrdiff_t ldo, const int *dst, ptrdiff_t bs)
{
    const ptrdiff_t row = nv * W;
    for (ptrdiff_t c = 0; c < nc; c++) {
        for (ptrdiff_t j = 0; j < n_cols; j++) {
            const int *cp = cptr + j * (nc + 1) + c;
            T *o = acc + j * row;
            V a[BSP_MAXV];
            for (int v = 0; v < nv; v++)
                a[v] = c ? FN(bsp_ld)(o + v * W) : (V){0};
            for (ptrdiff_t k = cp[0]; k < cp[1]; k++) {
                const T *x = buf + (ptrdiff_t)idx[k] * ldb;
                const T w = val[k];
                for (int v = 0; v < nv; v++)
                    a[v] += w * FN(bsp_ld)(x + v * W);
            }
            if (c + 1 < nc) {
                for (int v = 0; v < nv; v++)
                    FN(bsp_st)(o + v * W, a[v]);
                continue;
            }
            /* last chunk: straight into the output row */
            T *y = out + (ptrdiff_t)dst[j] * ldo;
            for (int v = 0; v < nv; v++) {
                ptrdiff_t left = bs - v * W;
                if (left >= W)
                    FN(bsp_st)(y + v * W, a[v]);
                else if (left > 0)
                    memcpy(y + v * W, &a[v], left * sizeof(T));
            }
        }
    }
}

/* g[k] += dot(xb[idx[k]], db[dst[j]]) for the columns j0 <= j < j1 */
BSP_INLINE void FN(bsp_sddmm_nv)(const int nv, const T *xb, const T *db,
                                 const int *cptr, ptrdiff_t nc, const int *idx,
                                 const int *dst, ptrdiff_t j0, ptrdiff_t j1,
                                 T *g)
{
    const ptrdiff_t row = nv * W;
    for (ptrdiff_t c = 0; c < nc; c++) {
        for (ptrdiff_t j = j0; j < j1; j++) {
            const int *cp = cptr + j * (nc + 1) + c;
            const T *d = db + (ptrdiff_t)dst[j] * row;
            V dv[BSP_MAXV];
            for (int v = 0; v < nv; v++)
                dv[v] = FN(bsp_ld)(d + v * W);
            ptrdiff_t k = cp[0];
            /* four synapses at a time: one horizontal reduction for four
               dot products instead of one each */
            for (; k + 4 <= cp[1]; k += 4) {
                const T *x0 = xb + (ptrdiff_t)idx[k] * row;
                const T *x1 = xb + (ptrdiff_t)idx[k + 1] * row;
                const T *x2 = xb + (ptrdiff_t)idx[k + 2] * row;
                const T *x3 = xb + (ptrdiff_t)idx[k + 3] * row;
                V a0 = FN(bsp_ld)(x0) * dv[0];
                V a1 = FN(bsp_ld)(x1) * dv[0];
                V a2 = FN(bsp_ld)(x2) * dv[0];
                V a3 = FN(bsp_ld)(x3) * dv[0];
                for (int v = 1; v < nv; v++) {
                    const ptrdiff_t o = v * W;
                    a0 += FN(bsp_ld)(x0 + o) * dv[v];
                    a1 += FN(bsp_ld)(x1 + o) * dv[v];
                    a2 += FN(bsp_ld)(x2 + o) * dv[v];
                    a3 += FN(bsp_ld)(x3 + o) * dv[v];
                }
                FN(bsp_add4)(g + k, a0, a1, a2, a3);
            }
            for (; k < cp[1]; k++) {
                const T *x = xb + (ptrdiff_t)idx[k] * row;
                V a = FN(bsp_ld)(x) * dv[0];
                for (int v = 1; v < nv; v++)
                    a += FN(bsp_ld)(x + v * W) * dv[v];
                g[k] += FN(bsp_sum)(a);
            }
        }
    }
}

#define VI FN(bsp_vi) /* integer vector of T's size per lane */

/* act(y), one vector: BSP_IDENTITY, BSP_RELU (as np.maximum(y, 0): a NaN
   stays NaN and -0 becomes +0) or BSP_LOGISTIC (1 / (1 + exp(-y)), within
   one machine epsilon of scipy's expit). */
BSP_INLINE V FN(bsp_act)(V y, int act)
{
    if (act == BSP_RELU) {
        VI keep = (y > 0) | (y != y);
        return (V)((VI)y & keep);
    }
    if (act == BSP_LOGISTIC) {
        /* exp's range: beyond it the result is 0 or 1 within float
           precision anyway; a NaN fails both tests and stays NaN */
        V x = FN(bsp_clamp)(-y, BSP_EXP_MIN, BSP_EXP_MAX);
        return (T)1 / ((T)1 + FN(bsp_exp)(x));
    }
    return y;
}

/* x[i * ld + j] = act(x[i * ld + j] + b), b = bias[i] (per_row) or bias[j]
   (else), or no bias when bias is NULL. A partial last vector of a row goes
   through the same vector code, so every value gets the same operations. */
BSP_API void FN(bsp_bias_act)(T *x, ptrdiff_t n_rows, ptrdiff_t n_cols,
                              ptrdiff_t ld, const T *bias, int per_row,
                              int act)
{
    for (ptrdiff_t i = 0; i < n_rows; i++) {
        T *xi = x + i * ld;
        ptrdiff_t j = 0;
        for (; j + W <= n_cols; j += W) {
            V y = FN(bsp_ld)(xi + j);
            if (bias)
                y = per_row ? y + bias[i] : y + FN(bsp_ld)(bias + j);
            FN(bsp_st)(xi + j, FN(bsp_act)(y, act));
        }
        if (j < n_cols) {
            ptrdiff_t n = n_cols - j;
            V y = {0}, b = {0};
            memcpy(&y, xi + j, n * sizeof(T));
            if (bias && per_row)
                y = y + bias[i];
            else if (bias) {
                memcpy(&b, bias + j, n * sizeof(T));
                y = y + b;
            }
            y = FN(bsp_act)(y, act);
            memcpy(xi + j, &y, n * sizeof(T));
        }
    }
}

#undef VI
#undef V

#else /* !BSP_VEC */

/* Portable scalar version for compilers without vector extensions:
   "vectors" of BSP_VBYTES bytes are plain runs of values. */
BSP_INLINE void FN(bsp_spmm_nv)(const int nv, const T *buf, ptrdiff_t ldb,
                                const int *cptr, ptrdiff_t nc, const int *idx,
                                const T *val, ptrdiff_t n_cols, T *acc, T *out,
                                ptrdiff_t ldo, const int *dst, ptrdiff_t bs)
{
    const ptrdiff_t row = nv * W;
    for (ptrdiff_t c = 0; c < nc; c++)
        for (ptrdiff_t j = 0; j < n_cols; j++) {
            const int *cp = cptr + j * (nc + 1) + c;
            T *o = acc + j * row;
            if (!c)
                for (ptrdiff_t s = 0; s < row; s++)
                    o[s] = 0;
            for (ptrdiff_t k = cp[0]; k < cp[1]; k++) {
                const T *x = buf + (ptrdiff_t)idx[k] * ldb;
                for (ptrdiff_t s = 0; s < row; s++)
                    o[s] += val[k] * x[s];
            }
            if (c + 1 == nc)
                memcpy(out + (ptrdiff_t)dst[j] * ldo, o, bs * sizeof(T));
        }
}

BSP_INLINE void FN(bsp_sddmm_nv)(const int nv, const T *xb, const T *db,
                                 const int *cptr, ptrdiff_t nc, const int *idx,
                                 const int *dst, ptrdiff_t j0, ptrdiff_t j1,
                                 T *g)
{
    const ptrdiff_t row = nv * W;
    for (ptrdiff_t c = 0; c < nc; c++)
        for (ptrdiff_t j = j0; j < j1; j++) {
            const int *cp = cptr + j * (nc + 1) + c;
            const T *d = db + (ptrdiff_t)dst[j] * row;
            for (ptrdiff_t k = cp[0]; k < cp[1]; k++) {
                const T *x = xb + (ptrdiff_t)idx[k] * row;
                T s = 0;
                for (ptrdiff_t l = 0; l < row; l++)
                    s += x[l] * d[l];
                g[k] += s;
            }
        }
}

/* Scalar versions of the above for compilers without vector extensions
   (other roundings than the vector exp, the same use). */
BSP_INLINE T FN(bsp_act)(T y, int act)
{
    if (act == BSP_RELU)
        return y > 0 || y != y ? y : 0;
    if (act == BSP_LOGISTIC)
        return (T)(1 / (1 + exp(-(double)y)));
    return y;
}

BSP_API void FN(bsp_bias_act)(T *x, ptrdiff_t n_rows, ptrdiff_t n_cols,
                              ptrdiff_t ld, const T *bias, int per_row,
                              int act)
{
    for (ptrdiff_t i = 0; i < n_rows; i++)
        for (ptrdiff_t j = 0; j < n_cols; j++) {
            T y = x[i * ld + j];
            if (bias)
                y += bias[per_row ? i : j];
            x[i * ld + j] = FN(bsp_act)(y, act);
        }
}

#endif /* BSP_VEC */

/* The dispatchers: see BSP_DISPATCH. */
BSP_API void FN(bsp_spmm)(int nv, const T *buf, ptrdiff_t ldb, const int *cptr,
                          ptrdiff_t nc, const int *idx, const T *val,
                          ptrdiff_t n_cols, T *acc, T *out, ptrdiff_t ldo,
                          const int *dst, ptrdiff_t bs)
{
#define BSP_SPMM_NV(NV)                                                       \
    FN(bsp_spmm_nv)(NV, buf, ldb, cptr, nc, idx, val, n_cols, acc, out, ldo,  \
                    dst, bs)
    BSP_DISPATCH(BSP_SPMM_NV)
#undef BSP_SPMM_NV
}

BSP_API void FN(bsp_sddmm)(int nv, const T *xb, const T *db, const int *cptr,
                           ptrdiff_t nc, const int *idx, const int *dst,
                           ptrdiff_t j0, ptrdiff_t j1, T *g)
{
#define BSP_SDDMM_NV(NV)                                                      \
    FN(bsp_sddmm_nv)(NV, xb, db, cptr, nc, idx, dst, j0, j1, g)
    BSP_DISPATCH(BSP_SDDMM_NV)
#undef BSP_SDDMM_NV
}

/* buf[p * row + s] = X[s * s0 + p * s1] for p_begin <= p < m and
   s_begin <= s < bs. */
static void FN(bsp_pack_generic)(const T *X, ptrdiff_t s0, ptrdiff_t s1,
                                 ptrdiff_t p_begin, ptrdiff_t m,
                                 ptrdiff_t s_begin, ptrdiff_t bs,
                                 ptrdiff_t row, T *buf)
{
    /* tiles of 16 features: each sample row is read in short runs while
       16 buffer rows are written */
    for (ptrdiff_t p0 = p_begin; p0 < m; p0 += 16) {
        ptrdiff_t p1 = p0 + 16 < m ? p0 + 16 : m;
        for (ptrdiff_t s = s_begin; s < bs; s++) {
            const T *xs = X + s * s0;
            for (ptrdiff_t p = p0; p < p1; p++)
                buf[p * row + s] = xs[p * s1];
        }
    }
}

/* See sparse_kernels.h. Samples contiguous (s0 == 1): row copies; features
   contiguous (s1 == 1): BSP_PACK_FAST first, then element copies. */
BSP_API void FN(bsp_pack)(const T *X, ptrdiff_t s0, ptrdiff_t s1, ptrdiff_t m,
                          ptrdiff_t bs, ptrdiff_t row, T *buf)
{
    if (s0 == 1) {
        for (ptrdiff_t p = 0; p < m; p++)
            memcpy(buf + p * row, X + p * s1, bs * sizeof(T));
    } else {
        ptrdiff_t done = s1 == 1 ? BSP_PACK_FAST(X, s0, m, bs, row, buf) : 0;
        FN(bsp_pack_generic)(X, s0, s1, done, m, 0, bs, row, buf);
    }
    /* zero padding lets a partial last vector use the full kernels */
    if (bs < row)
        for (ptrdiff_t p = 0; p < m; p++)
            memset(buf + p * row + bs, 0, (row - bs) * sizeof(T));
}

/* See sparse_kernels.h. A value is a NaN or an infinity when its exponent
   bits are all ones. The test is on the bits, in integers, which the
   compiler vectorizes (a floating-point sum of x - x would be added in
   order, one value at a time). */
BSP_API int FN(bsp_any_nonfinite)(const T *x, ptrdiff_t n)
{
    BSP_BITS bad = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        BSP_BITS b;
        memcpy(&b, x + i, sizeof b);
        bad |= (b & BSP_EXPONENT) == BSP_EXPONENT;
    }
    return bad != 0;
}

#undef W
#undef FN
#undef T
