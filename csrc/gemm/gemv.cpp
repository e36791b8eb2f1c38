// GEMV (n == 1 in kernel orientation): A streamed once, unpacked, in its own storage order.
//
// Why not the blocked driver: with one column of C every element of A is used once, so packing A
// (a full copy, a transpose for the dot form) costs as much as the product, and the micro-kernel's
// NR columns compute NR - 1 wasted ones. Measured on Zen 5 for x @ W, K = 1280, N = 1000
// (MobileNetV2's classifier), 1 thread: 0.12 ms with W (K, N) and 0.59 ms with W (N, K) through
// the driver, against NumPy's 0.05 ms. Memory bound: what matters is one pass over A with enough
// independent accumulators to hide the FMA latency, which both forms below have.
//
// The loops are compiled per KERNELS_CLONES target (AVX-512/AVX2/generic picked at load time, as
// the other data-movement loops): one source, vectorised along A's unit stride with CloneVec.
#include "gemv.hpp"

#include <algorithm>
#include <vector>

#include "../arch/clone_vec.hpp"
#include "../arch/clones.hpp"
#include "driver.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif


namespace kernels {
namespace {

// Axpy form, A(i, p) at a[i + p*lda]: y[0 : NV*lanes] = sum_p A(:, p) x[p]. NV independent
// accumulators (8: two FMA pipes x 4 cycles of latency) read NV vectors of one row of A per k.
template <typename T, int NV>
KERNELS_CLONES void axpy_block(dim_t k, const T* a, inc_t lda, const T* x, T* y) {
    using V = CloneVec<T>;
    typename V::type acc[NV];
    for (int v = 0; v < NV; ++v) acc[v] = V::splat(T(0));
    for (dim_t p = 0; p < k; ++p) {
        const T* ap = a + p * lda;
        const T xp = x[p];
        for (int v = 0; v < NV; ++v) acc[v] += V::load(ap + v * V::lanes) * xp;
    }
    for (int v = 0; v < NV; ++v) V::store(y + v * V::lanes, acc[v]);
}

constexpr int kStreamColumns = 8;  // columns of A per pass of axpy_stream (see there)

// One pass of axpy_stream: y[0:len] += sum over the N columns c of col[c][0:len] * x[c], added in
// column order. The last partial vector goes through zero-padded copies with the same vector
// expression, so that every row is computed by the same operations in the same order: a model
// whose outputs are all equal (the ONNX suite's light models, constant weights) gets equal
// outputs, which a Softmax of values near 1e19 needs to stay uniform.
template <typename T, int N>
KERNELS_INLINE typename CloneVec<T>::type add_columns(typename CloneVec<T>::type acc, const T* const (&col)[N],
                                                     dim_t i, const T (&x)[N]) {
    for (int c = 0; c < N; ++c) acc = acc + CloneVec<T>::load(col[c] + i) * x[c];
    return acc;
}

template <typename T, int N>
KERNELS_INLINE void column_pass(const T* const (&col)[N], const T (&x)[N], dim_t len, T* KERNELS_RESTRICT y) {
    using V = CloneVec<T>;
    constexpr dim_t L = V::lanes;
    const dim_t vec = len - len % L, tail = len - vec;
    for (dim_t i = 0; i < vec; i += L) V::store(y + i, add_columns<T, N>(V::load(y + i), col, i, x));
    if (tail == 0) return;
    alignas(64) T pad[N + 1][L] = {};
    const T* padded[N];
    for (int c = 0; c < N; ++c) {
        for (dim_t i = 0; i < tail; ++i) pad[c][i] = col[c][vec + i];
        padded[c] = pad[c];
    }
    for (dim_t i = 0; i < tail; ++i) pad[N][i] = y[vec + i];
    V::store(pad[N], add_columns<T, N>(V::load(pad[N]), padded, 0, x));
    for (dim_t i = 0; i < tail; ++i) y[vec + i] = pad[N][i];
}

// Axpy form over a long run of rows, A(i, p) at a[i + p*lda]: y[0:len] = sum_p A(:, p) x[p] with y
// in L1 (len <= kStreamRows) and A read column by column, kStreamColumns columns per pass over y.
// For x @ W with W stored (K, N) each column of A is a row of W, so W streams once from start to
// end, each row in one contiguous run. The register-blocked axpy_block reads 128 floats of a row
// and jumps 4 KB to the next one (N = 1000): per 4 KB page a short run, which the L2 streamer does
// not follow (ResNet-50's classifier, K = 2048, N = 1000, W from L3: 0.46 ms against NumPy's 0.25).
// Eight columns per pass, not four: W read from memory (after a network's other weights evicted
// it) arrives as fast as the number of rows streamed at once lets the prefetchers run ahead. Zen 4,
// 1 thread, W evicted, medians of 5 processes each (4 -> 8 columns): K = 1280, N = 1000 (MobileNetV2's
// classifier) 0.423 -> 0.312 ms, NumPy/OpenBLAS 0.32; K = 2048 (ResNet-50's) 0.668 -> 0.483, NumPy
// 0.50. Sixteen ran the same as eight and spill the column pointers.
template <typename T, int N>
KERNELS_INLINE void columns_pass(const T* a, inc_t lda, const T* x, dim_t len, T* KERNELS_RESTRICT y) {
    const T* col[N];
    T xs[N];
    for (int c = 0; c < N; ++c) col[c] = a + c * lda, xs[c] = x[c];
    column_pass<T, N>(col, xs, len, y);
}

template <typename T>
KERNELS_CLONES void axpy_stream(dim_t k, const T* a, inc_t lda, const T* x, dim_t len, T* KERNELS_RESTRICT y) {
    for (dim_t i = 0; i < len; ++i) y[i] = T(0);
    dim_t p = 0;
    for (; p + kStreamColumns <= k; p += kStreamColumns) columns_pass<T, kStreamColumns>(a + p * lda, lda, x + p, len, y);
    // The last k % 8 columns one at a time (the same sequence for every row again). Not as a
    // full pass with zero x: a zero times an infinite weight would be NaN.
    for (; p < k; ++p) columns_pass<T, 1>(a + p * lda, lda, x + p, len, y);
}

// Axpy form for the last rows (fewer than one vector): a scalar loop over k per row.
template <typename T>
void axpy_rows(dim_t rows, dim_t k, const T* a, inc_t lda, const T* x, T* y) {
    for (dim_t i = 0; i < rows; ++i) {
        T s = T(0);
        for (dim_t p = 0; p < k; ++p) s += a[i + p * lda] * x[p];
        y[i] = s;
    }
}

// Dot form, A(i, p) at a[i*lda + p]: y[0:R] = rows i of A dotted with x, R rows at a time sharing
// each load of x, two accumulators per row (2R chains) and the k tail in scalars.
template <typename T, int R>
KERNELS_CLONES void dot_rows(dim_t k, const T* a, inc_t lda, const T* x, T* y) {
    using V = CloneVec<T>;
    constexpr dim_t L = V::lanes;
    typename V::type acc0[R], acc1[R];
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = V::splat(T(0));
    dim_t p = 0;
    for (; p + 2 * L <= k; p += 2 * L) {
        const auto x0 = V::load(x + p), x1 = V::load(x + p + L);
        for (int r = 0; r < R; ++r) {
            acc0[r] += V::load(a + r * lda + p) * x0;
            acc1[r] += V::load(a + r * lda + p + L) * x1;
        }
    }
    for (int r = 0; r < R; ++r) {
        T s = V::sum(acc0[r] + acc1[r]);
        for (dim_t q = p; q < k; ++q) s += a[r * lda + q] * x[q];
        y[r] = s;
    }
}

constexpr int kAxpyVectors = 8;  // rows of one axpy block: 8 vectors (128 floats, 64 doubles)
constexpr int kDotRows = 4;      // rows of one dot block: 8 chains, x loaded once per 4 rows
// Rows of one streamed axpy pass: its y (8 KiB of floats) stays in L1 beside the 4 columns of A
// in flight. From this many rows on (per thread) a row of W is long enough to stream.
constexpr dim_t kStreamRows = 2048;
constexpr dim_t kStreamMinRows = 256;

// Raw products y[i] = (A x)[i] for rows [i0, i1) (i0 a multiple of the block, except the tails).
template <typename T>
void product_rows(const GemmArgs<T>& g, const T* x, dim_t i0, dim_t i1, T* y) {
    const dim_t L = CloneVec<T>::lanes;
    dim_t i = i0;
    if (g.rs_a == 1) {
        for (; i + kAxpyVectors * L <= i1; i += kAxpyVectors * L)
            axpy_block<T, kAxpyVectors>(g.k, g.a + i, g.cs_a, x, y + (i - i0));
        for (; i + L <= i1; i += L) axpy_block<T, 1>(g.k, g.a + i, g.cs_a, x, y + (i - i0));
        axpy_rows(i1 - i, g.k, g.a + i, g.cs_a, x, y + (i - i0));
    } else {
        for (; i + kDotRows <= i1; i += kDotRows) dot_rows<T, kDotRows>(g.k, g.a + i * g.rs_a, g.rs_a, x, y + (i - i0));
        for (; i < i1; ++i) dot_rows<T, 1>(g.k, g.a + i * g.rs_a, g.rs_a, x, y + (i - i0));
    }
}

// C rows [i0, i1) := ep(beta * C + alpha * y); beta == 0 never reads C (NaN there must not leak).
template <typename T>
void write_rows(const GemmArgs<T>& g, const T* y, dim_t i0, dim_t i1) {
    const bool epi = g.ep.active();
    for (dim_t i = i0; i < i1; ++i) {
        T& c = g.c[i * g.rs_c];
        const T v = g.alpha * y[i - i0] + (g.beta == T(0) ? T(0) : g.beta * c);
        c = epi ? g.ep.apply(v, i, 0) : v;  // (a residual that is C itself is read before c is written)
    }
}

}  // namespace

template <typename T>
bool gemv_suits(const GemmArgs<T>& g) {
    return g.n == 1 && (g.rs_a == 1 || g.cs_a == 1);
}

template <typename T>
void gemv(const GemmArgs<T>& g, int nt) {
    // x contiguous: the vector loads of the dot form and the scalar reads of the axpy form.
    std::vector<T> xbuf;
    const T* x = g.b;
    if (g.rs_b != 1) {
        xbuf.resize(static_cast<std::size_t>(g.k));
        for (dim_t p = 0; p < g.k; ++p) xbuf[static_cast<std::size_t>(p)] = g.b[p * g.rs_b];
        x = xbuf.data();
    }
    // Axpy form with long rows: one pass over A in storage order.
    const dim_t lanes = CloneVec<T>::lanes;
#ifdef _OPENMP
    if (g.rs_a == 1 && nt > 1 && g.m >= kStreamMinRows && g.m <= kStreamRows && g.k >= kStreamColumns * nt) {
        // Threads split k (whole rows of W, each thread one contiguous part of it), each into its
        // own y, summed at the end: split along the rows instead, each thread read half of every
        // row of W (2 KB runs 4 KB apart) and two threads were no faster than one.
        std::vector<T> parts(static_cast<std::size_t>(g.m * nt));
#pragma omp parallel num_threads(nt)
        {
            const int tid = omp_get_thread_num(), team = omp_get_num_threads();
            dim_t p0, p1;
            split(g.k / kStreamColumns, team, tid, &p0, &p1);
            p0 *= kStreamColumns, p1 = tid == team - 1 ? g.k : p1 * kStreamColumns;
            T* y = parts.data() + g.m * tid;
            axpy_stream(p1 - p0, g.a + p0 * g.cs_a, g.cs_a, x + p0, g.m, y);
#pragma omp barrier
#pragma omp single
            {
                for (int t = 1; t < team; ++t)
                    for (dim_t i = 0; i < g.m; ++i) parts[static_cast<std::size_t>(i)] += parts[static_cast<std::size_t>(g.m * t + i)];
                write_rows(g, parts.data(), 0, g.m);
            }
        }
        return;
    }
#endif
    if (g.rs_a == 1 && g.m >= kStreamMinRows * std::max(nt, 1)) {
        // The threads split the rows in whole vectors, each part streams its columns of A in
        // passes of up to kStreamRows rows.
        const dim_t vectors = ceil_div(g.m, lanes);
        run_parts(nt, [&](int tid, int parts) {
            dim_t v0, v1;
            split(vectors, parts, tid, &v0, &v1);
            const dim_t r0 = v0 * lanes, r1 = std::min(g.m, v1 * lanes);
            std::vector<T> y(static_cast<std::size_t>(std::min(kStreamRows, r1 - r0)));
            for (dim_t i0 = r0; i0 < r1; i0 += kStreamRows) {
                const dim_t i1 = std::min(r1, i0 + kStreamRows);
                axpy_stream(g.k, g.a + i0, g.cs_a, x, i1 - i0, y.data());
                write_rows(g, y.data(), i0, i1);
            }
        });
        return;
    }
    // Threads split the rows in whole blocks (one block of results per part fits a stack array).
    const dim_t block = g.rs_a == 1 ? kAxpyVectors * lanes : kDotRows;
    const dim_t blocks = ceil_div(g.m, block);
    auto body = [&](int tid, int parts) {
        dim_t b0, b1;
        split(blocks, parts, tid, &b0, &b1);
        alignas(64) T y[kAxpyVectors * CloneVec<T>::lanes];
        for (dim_t b = b0; b < b1; ++b) {
            const dim_t i0 = b * block, i1 = std::min(g.m, i0 + block);
            product_rows(g, x, i0, i1, y);
            write_rows(g, y, i0, i1);
        }
    };
    run_parts(static_cast<int>(std::min<dim_t>(nt, blocks)), body);
}

template <typename T>
void dot_products(dim_t rows, dim_t k, const T* a, inc_t lda, const T* x, T* y) {
    dim_t j = 0;
    for (; j + kDotRows <= rows; j += kDotRows) dot_rows<T, kDotRows>(k, a + j * lda, lda, x, y + j);
    for (; j < rows; ++j) dot_rows<T, 1>(k, a + j * lda, lda, x, y + j);
}

template bool gemv_suits<float>(const GemmArgs<float>&);
template bool gemv_suits<double>(const GemmArgs<double>&);
template void gemv<float>(const GemmArgs<float>&, int);
template void gemv<double>(const GemmArgs<double>&, int);
template void dot_products<float>(dim_t, dim_t, const float*, inc_t, const float*, float*);
template void dot_products<double>(dim_t, dim_t, const double*, inc_t, const double*, double*);

}  // namespace kernels
