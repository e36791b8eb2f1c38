/* Times dgemm_ of a BLAS library loaded at run time, for benchmarks/blas_abi/compare.py:
 *   dgemm_time <library.so> <n> <calls>   ->  prints the median seconds of one C := A B + 0 C call
 * (column-major n x n operands, warm-up call first; the library's own threads and settings). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*dgemm_fn)(const char*, const char*, const int*, const int*, const int*, const double*, const double*,
                         const int*, const double*, const int*, const double*, double*, const int*, size_t, size_t);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <library.so> <n> <calls>\n", argv[0]);
        return 2;
    }
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    dgemm_fn dgemm = (dgemm_fn)dlsym(h, "dgemm_");
    if (!dgemm) {
        fprintf(stderr, "%s has no dgemm_\n", argv[1]);
        return 2;
    }
    const int n = atoi(argv[2]), calls = atoi(argv[3]);
    double* a = malloc(sizeof(double) * n * n);
    double* b = malloc(sizeof(double) * n * n);
    double* c = malloc(sizeof(double) * n * n);
    double* t = malloc(sizeof(double) * calls);
    for (long i = 0; i < (long)n * n; ++i) a[i] = (double)(i % 7) - 3.0, b[i] = (double)(i % 5) - 2.0;
    const double one = 1.0, zero = 0.0;
    dgemm("N", "N", &n, &n, &n, &one, a, &n, b, &n, &zero, c, &n, 1, 1);  /* warm-up: threads, pages */
    for (int r = 0; r < calls; ++r) {
        const double t0 = now();
        dgemm("N", "N", &n, &n, &n, &one, a, &n, b, &n, &zero, c, &n, 1, 1);
        t[r] = now() - t0;
    }
    qsort(t, calls, sizeof(double), cmp);
    printf("%.9g\n", t[calls / 2]);
    return 0;
}
