# The C kernels of sklearn_bsp._sparse_kernels (sklearn_bsp/_csrc/): Cython
# reads this file with _sparse_kernels.pyx. What each function computes is
# documented in sparse_kernels.h.

from libc.stddef cimport ptrdiff_t


cdef extern from "sparse_kernels.h" nogil:
    enum:
        BSP_MAXV
        BSP_CHUNK
        BSP_VBYTES
        BSP_OPENMP

    int bsp_max_threads() noexcept

    void bsp_spmm_f32(int nv, const float *buf, ptrdiff_t ldb,
                      const int *cptr, ptrdiff_t nc, const int *idx,
                      const float *val, ptrdiff_t n_cols, float *acc,
                      float *out, ptrdiff_t ldo, const int *dst,
                      ptrdiff_t bs) noexcept
    void bsp_spmm_f64(int nv, const double *buf, ptrdiff_t ldb,
                      const int *cptr, ptrdiff_t nc, const int *idx,
                      const double *val, ptrdiff_t n_cols, double *acc,
                      double *out, ptrdiff_t ldo, const int *dst,
                      ptrdiff_t bs) noexcept

    void bsp_sddmm_f32(int nv, const float *xb, const float *db,
                       const int *cptr, ptrdiff_t nc, const int *idx,
                       const int *dst, ptrdiff_t j0, ptrdiff_t j1,
                       float *g) noexcept
    void bsp_sddmm_f64(int nv, const double *xb, const double *db,
                       const int *cptr, ptrdiff_t nc, const int *idx,
                       const int *dst, ptrdiff_t j0, ptrdiff_t j1,
                       double *g) noexcept

    void bsp_pack_f32(const float *X, ptrdiff_t s0, ptrdiff_t s1,
                      ptrdiff_t m, ptrdiff_t bs, ptrdiff_t row,
                      float *buf) noexcept
    void bsp_pack_f64(const double *X, ptrdiff_t s0, ptrdiff_t s1,
                      ptrdiff_t m, ptrdiff_t bs, ptrdiff_t row,
                      double *buf) noexcept

    int bsp_any_nonfinite_f32(const float *x, ptrdiff_t n) noexcept
    int bsp_any_nonfinite_f64(const double *x, ptrdiff_t n) noexcept

    enum:
        BSP_IDENTITY
        BSP_RELU
        BSP_LOGISTIC

    void bsp_bias_act_f32(float *x, ptrdiff_t n_rows, ptrdiff_t n_cols,
                          ptrdiff_t ldx, const float *bias, int per_row,
                          int act) noexcept
    void bsp_bias_act_f64(double *x, ptrdiff_t n_rows, ptrdiff_t n_cols,
                          ptrdiff_t ldx, const double *bias, int per_row,
                          int act) noexcept
