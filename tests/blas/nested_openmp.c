/* An OpenMP program calling dgemm_ from inside its own parallel region (.ci/blas.sh builds it with
 * -fopenmp against libkernels_blas.so): each call must run on its calling thread (the library
 * reports 1 thread there, so the program's threads are not multiplied by the library's), every
 * product must be right, and outside the region the library uses KERNELS_NUM_THREADS. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels_blas.h"

int main(void) {
    const int n = 150, outer = 4;
    int bad = 0, inside_threads = 0;
    const int outside = kernels_blas_get_num_threads();
#pragma omp parallel num_threads(outer) reduction(+ : bad) reduction(max : inside_threads)
    {
        const int t = omp_get_thread_num();
        double* a = malloc(sizeof(double) * n * n);
        double* b = malloc(sizeof(double) * n * n);
        double* c = malloc(sizeof(double) * n * n);
        for (int i = 0; i < n * n; ++i) a[i] = (i + t) % 5 - 2, b[i] = (i * 3 + t) % 7 - 3, c[i] = NAN;
        const double one = 1.0, zero = 0.0;
        dgemm_("N", "N", &n, &n, &n, &one, a, &n, b, &n, &zero, c, &n, 1, 1);
        for (int j = 0; j < n; ++j)
            for (int i = 0; i < n; ++i) {
                double s = 0;
                for (int p = 0; p < n; ++p) s += a[i + p * n] * b[p + j * n];
                if (c[i + j * n] != s) ++bad;
            }
        inside_threads = kernels_blas_get_num_threads();
        free(a), free(b), free(c);
    }
    printf("nested_openmp: %d outer threads, library threads inside %d, outside %d, wrong elements %d\n", outer,
           inside_threads, outside, bad);
    const char* want = getenv("KERNELS_NUM_THREADS");
    if (bad || inside_threads != 1 || (want && outside != atoi(want))) return 1;
    return 0;
}
