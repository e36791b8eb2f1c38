/* kernels_blas.h: the BLAS and CBLAS GEMM entry points of libkernels_blas.so (hpc-kernels' C++ engine).
 *
 * Link with the flags `python -m hpc_kernels blas` prints, or run an existing binary on the engine
 * with LD_PRELOAD=<path>/libkernels_blas.so. Integers are 32-bit (LP64). Argument errors are
 * reported as the reference BLAS does: the Fortran entries call xerbla_ (this library's weak
 * definition prints the message and returns; a program's own XERBLA wins), the CBLAS entries call
 * cblas_xerbla when the program or another loaded library defines it, else print the message.
 * beta == 0 never reads C. Threads: KERNELS_NUM_THREADS, else OMP_NUM_THREADS, else all CPUs; a
 * call made inside an OpenMP parallel region runs on its calling thread.
 */
#ifndef KERNELS_BLAS_H
#define KERNELS_BLAS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fortran ABI (gfortran: character lengths passed as trailing hidden arguments). */
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc, size_t transa_len, size_t transb_len);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
            const double* beta, double* c, const int* ldc, size_t transa_len, size_t transb_len);

/* CBLAS (the values of the reference cblas.h, so either header may be used). */
#ifndef CBLAS_H
typedef enum CBLAS_LAYOUT { CblasRowMajor = 101, CblasColMajor = 102 } CBLAS_LAYOUT;
typedef enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 } CBLAS_TRANSPOSE;
#endif

void cblas_sgemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n, int k,
                 float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
void cblas_dgemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n, int k,
                 double alpha, const double* a, int lda, const double* b, int ldb, double beta, double* c, int ldc);

/* Strided batch (MKL/OpenBLAS naming): C_i = alpha op(A_i) op(B_i) + beta C_i, X_i = X + i * stridex,
 * i < batch_size. A and B strides may be 0 (one operand for every product); the C_i must not
 * overlap (stridec >= ldc * the other dimension, else argument 17 is reported). */
void cblas_sgemm_batch_strided(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n,
                               int k, float alpha, const float* a, int lda, int stridea, const float* b, int ldb,
                               int strideb, float beta, float* c, int ldc, int stridec, int batch_size);
void cblas_dgemm_batch_strided(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n,
                               int k, double alpha, const double* a, int lda, int stridea, const double* b, int ldb,
                               int strideb, double beta, double* c, int ldc, int stridec, int batch_size);

/* Grouped pointer batch (MKL naming): group g holds group_size[g] products with that group's
 * parameters; the pointer arrays hold every product, group after group. */
void cblas_sgemm_batch(CBLAS_LAYOUT layout, const CBLAS_TRANSPOSE* transa, const CBLAS_TRANSPOSE* transb,
                       const int* m, const int* n, const int* k, const float* alpha, const float** a,
                       const int* lda, const float** b, const int* ldb, const float* beta, float** c,
                       const int* ldc, int group_count, const int* group_size);
void cblas_dgemm_batch(CBLAS_LAYOUT layout, const CBLAS_TRANSPOSE* transa, const CBLAS_TRANSPOSE* transb,
                       const int* m, const int* n, const int* k, const double* alpha, const double** a,
                       const int* lda, const double** b, const int* ldb, const double* beta, double** c,
                       const int* ldc, int group_count, const int* group_size);

/* The library's threads for calls from outside an OpenMP region (1 .. a bound of 4 x the CPUs). */
void kernels_blas_set_num_threads(int n);
int kernels_blas_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* KERNELS_BLAS_H */
