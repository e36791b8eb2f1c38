// int8 GEMM cases of the native engine test: one int8 micro-kernel through kernels::qgemm, checked
// exactly against an int64 reference (int32 output) and against the portable kernel (every
// output mode, which must agree bit for bit), on every edge tile: m mod MR, n mod NR, k mod 4,
// k = 0; s8 activations and u8 weights (the +-128 shifts), per-channel weight zero points, the
// int32 partial sums of several k blocks (tiny KC), strided C, 1 and several threads; symmetric
// weights (zero points 0) on u8 pixel rows, which kernels with kernel_rows read unpacked, the
// rows k bytes apart, padded to whole quads (b_quads_readable) or to whole lines with zeros
// (b_zero_to: the AMX kernel's k tail as one more tile step).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../arch/generic/generic.hpp"
#include "../gemm/qgemm.hpp"
#include "suites.hpp"

namespace kernels_test {

namespace {

using kernels::dim_t;

struct QCase {
    dim_t m, n, k;
    bool x_signed, w_unsigned;
    kernels::QMode mode;
    dim_t ldx;        // the pixel rows' stride (>= k)
    bool symmetric;   // weight zero points all 0
    bool zero_rows;   // the rows' bytes past k zeros (b_zero_to = ldx)
};

// The product through candidate `cand`; C column-major with leading dimension m + 3 (a gap the
// kernels must not touch), elements of the mode's size.
std::vector<std::uint8_t> run(const QCase& c, const std::vector<std::uint8_t>& x, const std::vector<std::int8_t>& w,
                              const std::vector<std::int32_t>& zw, const std::vector<std::int32_t>& bias,
                              const std::vector<float>& mult, const std::vector<float>& res, std::int32_t zx,
                              const kernels::QCandidate& cand, int threads) {
    const dim_t es = c.mode == kernels::QMode::i32 || c.mode == kernels::QMode::f32 ? 4 : 1, ld = c.m + 3;
    std::vector<std::uint8_t> out(static_cast<std::size_t>((ld * c.n + 1) * es), 0xA5);
    kernels::QGemmArgs g;
    g.m = c.m, g.n = c.n, g.k = c.k;
    g.a = w.data(), g.rs_a = c.k, g.cs_a = 1, g.a_unsigned = c.w_unsigned;  // W(i, p) row-major
    g.b = x.data(), g.rs_b = 1, g.cs_b = c.ldx, g.b_signed = c.x_signed;   // X(p, j): pixel rows
    g.b_quads_readable = c.ldx >= (c.k + 3) / 4 * 4;
    if (c.zero_rows) g.b_zero_to = c.ldx;
    g.x_zp = zx, g.w_zp = zw.data(), g.bias = bias.data();
    g.mode = c.mode, g.mult = mult.data(), g.inv_out_scale = 0.5f, g.hi = 40.0f, g.act = kernels::Act::relu6;
    g.out_zp = 3;
    if (c.mode != kernels::QMode::i32) g.res = res.data(), g.rs_r = 1, g.cs_r = c.m;
    g.c = out.data(), g.rs_c = 1, g.cs_c = ld;
    kernels::qgemm(g, cand, threads);
    return out;
}

}  // namespace

void qgemm_cases(Group& grp, const kernels::QUkernel& u, std::uint64_t seed) {
    Rng rng(seed);
    const dim_t MR = u.mr, NR = u.nr;
    const kernels::QCandidate base = kernels::qcandidate();
    const kernels::QCandidate oracle{&kernels::ukr_s8_generic_8x4, base.blk, base.grid_stream_weight};
    for (const dim_t tiny : {dim_t{0}, dim_t{16}, dim_t{64}}) {
        kernels::QCandidate cand{&u, base.blk, base.grid_stream_weight};
        kernels::QCandidate ref = oracle;
        if (tiny) {  // several MC, KC = tiny (partial sums; 64: whole AMX steps) and NC blocks, kept by the wide variant too
            cand.blk = ref.blk = {2 * MR, tiny, 2 * NR};
            cand.mc_derived = cand.kc_derived = false;
        }
        for (const dim_t m : {dim_t{1}, MR / 2, MR - 1, MR, MR + 1, 2 * MR + 3})
            for (const dim_t n : {dim_t{1}, NR - 1, NR, NR + 1, 3 * NR + 2})
                for (const dim_t k : {dim_t{0}, dim_t{1}, dim_t{3}, dim_t{4}, dim_t{5}, dim_t{38}, dim_t{67}, dim_t{130},
                                      dim_t{200}})
                    for (const int variant : {0, 1, 2, 3, 4, 5, 6}) {
                        if (m < 1 || n < 1) continue;
                        // 4, 5: u8 x s8, symmetric weights, rows k apart / padded to whole quads
                        // (any bytes); 6: padded to whole 64-byte lines with zeros (b_zero_to)
                        const bool sym = variant >= 4;
                        const QCase c{m, n, k, variant == 1 || variant == 3, variant == 2 || variant == 3,
                                      static_cast<kernels::QMode>((m + n + k + variant) % 4),
                                      variant == 5 ? (k + 3) / 4 * 4 : variant == 6 ? (k + 63) / 64 * 64 : k, sym,
                                      variant == 6};
                        const dim_t ldx = c.ldx;
                        std::vector<std::uint8_t> x(static_cast<std::size_t>(n * ldx));
                        std::vector<std::int8_t> w(static_cast<std::size_t>(m * k));
                        for (dim_t t = 0; t < static_cast<dim_t>(x.size()); ++t)
                            x[t] = c.zero_rows && t % ldx >= k ? 0 : static_cast<std::uint8_t>(rng.integer(0, 255));
                        for (auto& v : w) v = static_cast<std::int8_t>(rng.integer(-128, 127));
                        std::vector<std::int32_t> zw(m), bias(m);
                        std::vector<float> mult(m), res(static_cast<std::size_t>(m * n));
                        for (dim_t i = 0; i < m; ++i) {
                            zw[i] = c.symmetric ? 0 : c.w_unsigned ? rng.integer(120, 135) : rng.integer(-3, 3);
                            bias[i] = rng.integer(-5000, 5000);
                            mult[i] = static_cast<float>(rng.integer(1, 64)) / 4096.0f;
                        }
                        for (auto& v : res) v = static_cast<float>(rng.integer(-40, 40)) * 0.25f;
                        const std::int32_t zx = c.x_signed ? rng.integer(-128, 127) : rng.integer(0, 255);
                        const std::string desc = std::string(u.name) + (tiny ? " kc=" + std::to_string(tiny) : "") + " m=" + std::to_string(m) +
                                                 " n=" + std::to_string(n) + " k=" + std::to_string(k) + " variant " +
                                                 std::to_string(variant) + " mode " + std::to_string(static_cast<int>(c.mode));
                        const int threads = kThreads[(m + n + k) % 4];
                        const auto got = run(c, x, w, zw, bias, mult, res, zx, cand, threads);
                        const auto want = run(c, x, w, zw, bias, mult, res, zx, ref, 1);
                        CaseCheck chk(grp, desc, true, 0.0);
                        if (got != want) chk.fail("differs from the portable kernel");
                        if (c.mode == kernels::QMode::i32) {  // and both from the int64 definition
                            const dim_t ld = m + 3;
                            for (dim_t j = 0; j < n; ++j)
                                for (dim_t i = 0; i < m; ++i) {
                                    std::int64_t s = bias[i];
                                    for (dim_t p = 0; p < k; ++p) {
                                        const std::uint8_t xb = x[j * ldx + p];
                                        const std::int64_t xv = c.x_signed ? static_cast<std::int8_t>(xb) : xb;
                                        const std::int64_t wv = c.w_unsigned ? static_cast<std::uint8_t>(w[i * k + p]) : w[i * k + p];
                                        s += (xv - zx) * (wv - zw[i]);
                                    }
                                    std::int32_t g32;
                                    std::memcpy(&g32, got.data() + 4 * (i + j * ld), 4);
                                    chk.value(g32, static_cast<double>(s), 0.0, static_cast<long>(i), static_cast<long>(j));
                                }
                        }
                    }
    }
}

}  // namespace kernels_test
