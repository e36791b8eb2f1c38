// bf16 cases of the native engine test: each bf16 micro-kernel this CPU runs, through kernels::bgemm
// with default and tiny blocks, on every edge tile (m, n around MR x NR, k odd and even, k = 1),
// both C orientations and output types, alpha/beta (beta = 0 over NaN). Small-integer data must
// equal the portable kernel's result and the exact value rounded once; random data must stay
// within u_out*|ref| + (k+2)*2^-24*mag of the float64 product of the bf16 inputs.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../arch/table.hpp"
#include "../gemm/bgemm.hpp"
#include "suites.hpp"

namespace kernels_test {

namespace {

using kernels::dim_t;
using kernels::inc_t;

struct Out {
    std::vector<std::uint16_t> h;
    std::vector<float> f;
};

// C (m x n) at rs, cs from one candidate; C starts as `c0` (NaN when beta == 0).
Out run_one(const kernels::BCandidate& cand, dim_t m, dim_t n, dim_t k, const std::vector<std::uint16_t>& a, inc_t rsa,
            inc_t csa, const std::vector<std::uint16_t>& b, inc_t rsb, inc_t csb, float alpha, float beta, bool bf16_out,
            bool row_major_c, const std::vector<double>& c0, int nt) {
    Out o;
    const inc_t rs = row_major_c ? n : 1, cs = row_major_c ? 1 : m;
    if (bf16_out) o.h.resize(m * n);
    else o.f.resize(m * n);
    for (dim_t i = 0; i < m; ++i)
        for (dim_t j = 0; j < n; ++j) {
            const float v = beta == 0.0f ? NAN : static_cast<float>(c0[i * n + j]);
            if (bf16_out) o.h[i * rs + j * cs] = kernels::f32_to_bf16(v);
            else o.f[i * rs + j * cs] = v;
        }
    kernels::BGemmArgs g;
    g.m = m, g.n = n, g.k = k;
    g.a = a.data(), g.rs_a = rsa, g.cs_a = csa;
    g.b = b.data(), g.rs_b = rsb, g.cs_b = csb;
    g.alpha = alpha, g.beta = beta;
    g.c = bf16_out ? static_cast<void*>(o.h.data()) : static_cast<void*>(o.f.data());
    g.rs_c = rs, g.cs_c = cs, g.c_bf16 = bf16_out;
    kernels::bgemm(g, cand, nt);
    // Back to row-major for comparison.
    Out r;
    if (bf16_out) r.h.resize(m * n);
    else r.f.resize(m * n);
    for (dim_t i = 0; i < m; ++i)
        for (dim_t j = 0; j < n; ++j) {
            if (bf16_out) r.h[i * n + j] = o.h[i * rs + j * cs];
            else r.f[i * n + j] = o.f[i * rs + j * cs];
        }
    return r;
}

}  // namespace

void bf16_ukernel_cases(Group& grp, const kernels::BUkernel& u, bool tiny, std::uint64_t seed) {
    Rng rng(seed);
    const kernels::BUkernel& oracle = kernels::select_bukernel(kernels::Isa::generic);
    auto cand_of = [&](const kernels::BUkernel& v) {
        kernels::BCandidate c = kernels::bcandidate();
        c.ukr = &v;
        if (tiny) c.blk.mc = 2 * v.mr, c.blk.kc = 14, c.blk.nc = 2 * v.nr;
        return c;
    };
    const kernels::BCandidate cand = cand_of(u), ref_cand = cand_of(oracle);
    const dim_t ms[] = {1, u.mr - 1, u.mr, u.mr + 1, 2 * u.mr + 3};
    const dim_t ns[] = {1, u.nr - 1, u.nr, u.nr + 1, 2 * u.nr + 1};
    const dim_t ks[] = {1, 2, 3, 15, 40, 41, 97};  // 97: 4 AMX k steps, the last one padded
    for (const dim_t m : ms)
        for (const dim_t n : ns)
            for (const dim_t k : ks)
                for (int variant = 0; variant < 8; ++variant) {
                    const bool exact = variant & 1, bf16_out = variant & 2, row_major = variant & 4;
                    const float alpha = exact ? 1.0f : 0.75f, beta = (variant % 3 == 0) ? 0.0f : -1.5f;
                    const int nt = (m + n + k) % 2 ? 3 : 1;
                    std::vector<double> ad(m * k), bd(k * n), cd(m * n);
                    std::vector<std::uint16_t> a(m * k), b(k * n);
                    // A column-major or row-major with C's orientation: both packers' paths.
                    const inc_t rsa = row_major ? k : 1, csa = row_major ? 1 : m;
                    const inc_t rsb = row_major ? n : 1, csb = row_major ? 1 : k;
                    for (dim_t i = 0; i < m; ++i)
                        for (dim_t p = 0; p < k; ++p) {
                            const std::uint16_t h = kernels::f32_to_bf16(static_cast<float>(exact ? rng.integer(-3, 3) : rng.uniform()));
                            a[i * rsa + p * csa] = h, ad[i * k + p] = kernels::bf16_to_f32(h);
                        }
                    for (dim_t p = 0; p < k; ++p)
                        for (dim_t j = 0; j < n; ++j) {
                            const std::uint16_t h = kernels::f32_to_bf16(static_cast<float>(exact ? rng.integer(-3, 3) : rng.uniform()));
                            b[p * rsb + j * csb] = h, bd[p * n + j] = kernels::bf16_to_f32(h);
                        }
                    for (auto& v : cd) v = kernels::bf16_to_f32(kernels::f32_to_bf16(static_cast<float>(exact ? rng.integer(-3, 3) : rng.uniform())));
                    const Out got = run_one(cand, m, n, k, a, rsa, csa, b, rsb, csb, alpha, beta, bf16_out, row_major, cd, nt);
                    const Out want = run_one(ref_cand, m, n, k, a, rsa, csa, b, rsb, csb, alpha, beta, bf16_out, row_major, cd, 1);
                    CaseCheck chk(grp, std::string(u.name) + " m" + std::to_string(m) + " n" + std::to_string(n) + " k" +
                                           std::to_string(k) + " v" + std::to_string(variant), exact, 1.0);
                    const double uo = bf16_out ? 0x1.0p-8 : 0x1.0p-24;
                    for (dim_t i = 0; i < m; ++i)
                        for (dim_t j = 0; j < n; ++j) {
                            double ref = 0, mag = 0;
                            for (dim_t p = 0; p < k; ++p) ref += ad[i * k + p] * bd[p * n + j], mag += std::fabs(ad[i * k + p] * bd[p * n + j]);
                            ref *= alpha, mag *= std::fabs(alpha);
                            if (beta != 0.0f) ref += beta * cd[i * n + j], mag += std::fabs(beta * cd[i * n + j]);
                            const double g = bf16_out ? kernels::bf16_to_f32(got.h[i * n + j]) : got.f[i * n + j];
                            const double o = bf16_out ? kernels::bf16_to_f32(want.h[i * n + j]) : want.f[i * n + j];
                            if (exact) {  // exact sums: one rounding of the exact value, as the portable kernel
                                const double r1 = bf16_out ? kernels::bf16_to_f32(kernels::f32_to_bf16(static_cast<float>(ref)))
                                                           : static_cast<float>(ref);
                                chk.value(g, o, 0.0, i, j);
                                chk.value(g, r1, 0.0, i, j);
                            } else {
                                // tol 1: the bound itself goes in as the magnitude (it records err/bound)
                                chk.value(g, ref, uo * std::fabs(ref) + (1 + uo) * (k + 2) * 0x1.0p-24 * mag, i, j);
                            }
                        }
                }
}

}  // namespace kernels_test
