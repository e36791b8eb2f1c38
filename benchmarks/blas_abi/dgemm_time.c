/* Times dgemm_ of a BLAS library loaded at run time, for benchmarks/blas_abi/compare.py:
 *   dgemm_time <library.so> <n> <calls> [symbol [ilp64]]
 * prints the median seconds of one C := A B + 0 C call (column-major n x n operands, warm-up call
 * first; the library's own threads and settings). `symbol` (default dgemm_) and `ilp64` (64-bit
 * integers) reach suffixed ILP64 builds such as NumPy's OpenBLAS (scipy_dgemm_64_). */
#include <stdint.h>
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Integers by pointer: an int* or an int64_t* of the same values, so one type serves both ABIs. */
typedef void (*dgemm_fn)(const char*, const char*, const void*, const void*, const void*, const double*, const double*,
                         const void*, const double*, const void*, const double*, double*, const void*, size_t, size_t);

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
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s <library.so> <n> <calls> [symbol [ilp64]]\n", argv[0]);
        return 2;
    }
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    const char* symbol = argc > 4 ? argv[4] : "dgemm_";
    dgemm_fn dgemm = (dgemm_fn)dlsym(h, symbol);
    if (!dgemm) {
        fprintf(stderr, "%s has no %s\n", argv[1], symbol);
        return 2;
    }
    const int n = atoi(argv[2]), calls = atoi(argv[3]);
    const int64_t n64 = n;
    const void* np = argc > 5 ? (const void*)&n64 : (const void*)&n;
    double* a = malloc(sizeof(double) * n * n);
    double* b = malloc(sizeof(double) * n * n);
    double* c = malloc(sizeof(double) * n * n);
    double* t = malloc(sizeof(double) * calls);
    for (long i = 0; i < (long)n * n; ++i) a[i] = (double)(i % 7) - 3.0, b[i] = (double)(i % 5) - 2.0;
    const double one = 1.0, zero = 0.0;
    dgemm("N", "N", np, np, np, &one, a, np, b, np, &zero, c, np, 1, 1);  /* warm-up: threads, pages */
    for (int r = 0; r < calls; ++r) {
        const double t0 = now();
        dgemm("N", "N", np, np, np, &one, a, np, b, np, &zero, c, np, 1, 1);
        t[r] = now() - t0;
    }
    qsort(t, calls, sizeof(double), cmp);
    printf("%.9g\n", t[calls / 2]);
    return 0;
}
