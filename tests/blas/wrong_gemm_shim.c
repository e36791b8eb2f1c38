/* Negative control of the BLAS tester job (.ci/blas.sh): preloaded in front of libkernels_blas.so,
 * it passes every GEMM through to the next library's (dlsym RTLD_NEXT) and then makes C(0,0) wrong by
 * one for the one shape m = 9, n = 5, k = 3, which the Fortran and the CBLAS testers both run. A
 * tester that still reports a pass with it loaded would prove nothing. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#define BAD(m, n, k) ((m) == 9 && (n) == 5 && (k) == 3)

typedef void (*fgemm_d)(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
                        const int*, const double*, const int*, const double*, double*, const int*, size_t, size_t);
typedef void (*fgemm_s)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                        const int*, const float*, const int*, const float*, float*, const int*, size_t, size_t);
typedef void (*cgemm_d)(int, int, int, int, int, int, double, const double*, int, const double*, int, double, double*, int);
typedef void (*cgemm_s)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);

void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc, size_t la, size_t lb) {
    ((fgemm_d)dlsym(RTLD_NEXT, "dgemm_"))(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, la, lb);
    if (BAD(*m, *n, *k)) c[0] += 1.0;
}

void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc, size_t la, size_t lb) {
    ((fgemm_s)dlsym(RTLD_NEXT, "sgemm_"))(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, la, lb);
    if (BAD(*m, *n, *k)) c[0] += 1.0f;
}

void cblas_dgemm(int layout, int ta, int tb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
    ((cgemm_d)dlsym(RTLD_NEXT, "cblas_dgemm"))(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (BAD(m, n, k)) c[0] += 1.0;
}

void cblas_sgemm(int layout, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
    ((cgemm_s)dlsym(RTLD_NEXT, "cblas_sgemm"))(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (BAD(m, n, k)) c[0] += 1.0f;
}
