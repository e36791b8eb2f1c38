// GEMM cases of the native engine test: kernels::gemm against the float64 reference, exactly on
// small-integer data and within the netlib bound on random data, with every write checked.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "../core/engine.hpp"
#include "../gemm/gemm.hpp"
#include "reference.hpp"
#include "suites.hpp"

namespace kernels_test {

namespace {

using kernels::inc_t;

enum Order { kCol = 0, kRow = 1 };
const char* order_name(Order o) { return o == kCol ? "col" : "row"; }

struct Shape {
    dim_t m, n, k;
};
struct Scalars {
    double alpha, beta;
};

// alpha/beta pairs, exact in T with integer data; beta = 0 runs over a NaN-filled C, alpha = 0
// over NaN-filled A and B (BLAS: neither is read then).
constexpr Scalars kExactScalars[] = {{1, 0}, {-2, 0}, {0.5, 1}, {1, -1}, {2, 0.5}, {0, 0}, {0, 2}};
constexpr Scalars kRandomScalars[] = {{1, 0}, {-1.25, 0}, {0.7, 1}, {1, -0.6}, {1.5, 0.25}, {0, 0}, {0, -1.5}};
constexpr int kScalarCount = 7;  // coprime with the 4 thread counts: every pairing occurs

constexpr double kSentinel = -1234.5;  // C's padding: must survive the call

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
}

// A rows x cols matrix stored by column or by row, its leading dimension 3 past the extent and
// one spare line after it: writes outside the matrix, and reads that leak into a result, show.
template <typename T>
struct Strided {
    dim_t rows, cols;
    std::vector<T> buf;
    inc_t rs, cs;
    Strided(dim_t r, dim_t c, Order o, T pad) : rows(r), cols(c) {
        const dim_t ld = (o == kCol ? r : c) + 3, lines = (o == kCol ? c : r) + 1;
        buf.assign(static_cast<std::size_t>(ld * lines), pad);
        rs = o == kCol ? 1 : ld;
        cs = o == kCol ? ld : 1;
    }
    std::size_t offset(dim_t i, dim_t j) const { return static_cast<std::size_t>(i * rs + j * cs); }
    // From a dense column-major rows x cols array.
    void fill(const std::vector<double>& v) {
        for (dim_t j = 0; j < cols; ++j)
            for (dim_t i = 0; i < rows; ++i) buf[offset(i, j)] = static_cast<T>(v[i + j * rows]);
    }
};

template <typename T>
std::vector<double> draw_matrix(Rng& rng, dim_t count, bool exact, int range, bool nan) {
    std::vector<double> v(static_cast<std::size_t>(count));
    for (double& x : v) x = nan ? std::numeric_limits<double>::quiet_NaN() : draw<T>(rng, exact, range);
    return v;
}

template <typename T>
void gemm_case(Group& grp, Shape s, Order oa, Order ob, Order oc, Scalars sc, int nt, bool exact, Rng& rng) {
    const dim_t m = s.m, n = s.n, k = s.k;
    sc = {static_cast<double>(static_cast<T>(sc.alpha)), static_cast<double>(static_cast<T>(sc.beta))};  // as T sees them
    const bool nan_ab = sc.alpha == 0.0, nan_c = sc.beta == 0.0;
    // Exact mode: |entries| <= 3, so |C| <= 9k|alpha| + 4|beta| < 2^24 and every step is exact.
    const std::vector<double> a = draw_matrix<T>(rng, m * k, exact, 3, nan_ab);
    const std::vector<double> b = draw_matrix<T>(rng, k * n, exact, 3, nan_ab);
    const std::vector<double> c0 = draw_matrix<T>(rng, m * n, exact, 4, nan_c);
    std::vector<double> ref, mag;
    ref_gemm(m, n, k, sc.alpha, a, b, sc.beta, c0, ref, mag);

    const T nan = std::numeric_limits<T>::quiet_NaN();
    Strided<T> A(m, k, oa, nan), B(k, n, ob, nan), C(m, n, oc, static_cast<T>(kSentinel));
    A.fill(a), B.fill(b), C.fill(c0);

    const std::string desc = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " A=" +
                             order_name(oa) + " B=" + order_name(ob) + " C=" + order_name(oc) +
                             " alpha=" + num(sc.alpha) + " beta=" + num(sc.beta) +
                             " threads=" + std::to_string(nt) + (exact ? " exact" : " random");
    // Netlib-style bound: each of the engine's and the float64 reference's sums errs by at most
    // (k + 2) eps_T |terms| (+ the alpha and beta roundings); for float the reference's is nil.
    const double tol = 2.0 * static_cast<double>(k + 4) * std::numeric_limits<T>::epsilon();
    CaseCheck check(grp, desc, exact, tol);
    const kernels::GemmArgs<T> args{m,    n,    k,    static_cast<T>(sc.alpha), A.buf.data(), A.rs, A.cs,
                                    B.buf.data(), B.rs, B.cs, static_cast<T>(sc.beta), C.buf.data(), C.rs, C.cs};
    try {
        kernels::gemm<T>(args, kernels::engine<T>(), nt);
    } catch (const std::exception& e) {
        check.fail(std::string("threw: ") + e.what());
        return;
    }
    std::vector<bool> inside(C.buf.size(), false);
    for (dim_t j = 0; j < n; ++j)
        for (dim_t i = 0; i < m; ++i) {
            inside[C.offset(i, j)] = true;
            check.value(static_cast<double>(C.buf[C.offset(i, j)]), ref[i + j * m], mag[i + j * m], i, j);
        }
    for (std::size_t o = 0; o < inside.size(); ++o)
        if (!inside[o]) check.untouched(C.buf[o] == static_cast<T>(kSentinel), static_cast<long>(o));
}

// Layout number l: bit 0 A's order, bit 1 B's, bit 2 C's.
template <typename T>
void layout_case(Group& grp, Shape s, int l, bool exact, long& counter, Rng& rng) {
    const Scalars sc = (exact ? kExactScalars : kRandomScalars)[counter % kScalarCount];
    const int nt = kThreads[counter % 4];
    ++counter;
    gemm_case<T>(grp, s, Order(l & 1), Order((l >> 1) & 1), Order((l >> 2) & 1), sc, nt, exact, rng);
}

}  // namespace

template <typename T>
void gemm_isa_cases(Group& grp, std::uint64_t seed) {
    // Besides the trivial ones: the unpacked path (small products; m <= 64 with A in L2, also
    // with threads; row blocks outermost where n <= 128: 517 x 100 x 130 and 2003 x 67 x 41, whose
    // last row blocks are partial; C's last rows as dot products: 17, 33, 67 and 49 x 300 x 520), the packed path (row-major A, or large), several MC blocks and
    // every thread count on 300x257x513 (its tiles, split 2, 3 or 7 ways, are the item-1 regression).
    const Shape shapes[] = {{1, 1, 1},      {2, 3, 4},     {5, 1, 7},      {1, 9, 3},      {17, 9, 33},
                            {33, 70, 20},   {67, 45, 130}, {64, 200, 96},  {200, 64, 300}, {100, 100, 0},
                            {0, 5, 7},      {6, 0, 7},     {0, 0, 0},      {300, 257, 513}, {517, 100, 130},
                            {2003, 67, 41},  {49, 300, 520}};
    Rng rng(seed);
    long counter = 0;
    for (const bool exact : {true, false})
        for (const Shape& s : shapes) {
            const bool big = s.m * s.n * s.k > 10'000'000;  // 4 layouts, so 4 cases cover the 4 thread counts
            for (int l = 0; l < 8; ++l)
                if (!big || l == 0 || l == 3 || l == 5 || l == 6) layout_case<T>(grp, s, l, exact, counter, rng);
        }
}

template <typename T>
void gemm_ukernel_cases(Group& grp, const kernels::Ukernel<T>& u, std::uint64_t seed) {
    const kernels::Engine<T>& e = kernels::engine<T>();
    if (e.cands.size() != 1 || e.cands.front().ukr != &u) {
        grp.note(std::string("configure(ukernel=") + u.name + ") did not select the kernel alone");
        ++grp.failed;
        return;
    }
    const dim_t MR = u.mr, NR = u.nr;
    std::vector<dim_t> ms = {1, MR / 2, MR / 2 + 1, MR - 1, MR, MR + 1, 2 * MR + 3};
    std::vector<dim_t> ns = {1, NR - 1, NR, NR + 1, 2 * NR + 1};
    for (auto* v : {&ms, &ns}) {
        std::sort(v->begin(), v->end());
        v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    Rng rng(seed);
    long counter = 0;
    for (const bool exact : {true, false})
        for (const dim_t m : ms)
            for (const dim_t n : ns)
                for (const dim_t k : {1, 9, 40})
                    for (int l = 0; l < 8; ++l) layout_case<T>(grp, {m, n, k}, l, exact, counter, rng);
}

// The packed path with tiny blocks (MC = 2 MR, KC = 13, NC = 2 NR): later k blocks accumulate on
// the first one's result, edge blocks in every loop. Layouts whose A in kernel orientation is not
// unit-stride: those never take the unpacked path (gemm.cpp direct_order).
template <typename T>
void gemm_small_block_cases(Group& grp, const kernels::Ukernel<T>& u, std::uint64_t seed) {
    const dim_t MR = u.mr, NR = u.nr;
    const Shape shapes[] = {{5 * MR + 3, 7 * NR + 2, 100}, {MR + 1, 3 * NR, 27}, {3 * MR, NR + 1, 64}, {2 * MR, 4 * NR + 1, 13}};
    const int layouts[] = {1, 3, 4, 5};  // A row & C col; B col & C row
    Rng rng(seed);
    long counter = 0;
    for (const bool exact : {true, false})
        for (const Shape& s : shapes)
            for (const int l : layouts) layout_case<T>(grp, s, l, exact, counter, rng);
}

template void gemm_isa_cases<float>(Group&, std::uint64_t);
template void gemm_isa_cases<double>(Group&, std::uint64_t);
template void gemm_ukernel_cases<float>(Group&, const kernels::Ukernel<float>&, std::uint64_t);
template void gemm_ukernel_cases<double>(Group&, const kernels::Ukernel<double>&, std::uint64_t);
template void gemm_small_block_cases<float>(Group&, const kernels::Ukernel<float>&, std::uint64_t);
template void gemm_small_block_cases<double>(Group&, const kernels::Ukernel<double>&, std::uint64_t);

}  // namespace kernels_test
