// Convolution-helper cases of the native engine test: an ISA's row gather, weight packer and
// depthwise row kernel (arch/table.hpp) against the portable loops they replace, on the same
// inputs, at shapes around the ISA's vector length (tails, lengths of one and several vectors,
// padding on either side, stride 2, dilation): the copies bit for bit, depthwise bit for bit on
// small integers and within the K-scaled bound of each other and of the float64 reference otherwise.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "../arch/table.hpp"
#include "../conv/conv_pack.hpp"
#include "../conv/depthwise.hpp"
#include "../conv/gather_row.hpp"
#include "reference.hpp"
#include "suites.hpp"

namespace kernels_test {

namespace {

using kernels::Act;
using kernels::ConvGeom;
using kernels::Isa;
using kernels::Strides4;

// Lengths that meet the vector length L from both sides: tails shorter than a vector, one vector,
// one and a bit, several (L: the strip length of the helpers, the MR of the ISA's first kernel;
// 15..17 also cross a 16-lane x86 vector).
std::vector<dim_t> lengths(dim_t L) {
    std::vector<dim_t> v = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, L - 1, L, L + 1, 2 * L + 3};
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    v.erase(std::remove_if(v.begin(), v.end(), [](dim_t x) { return x < 1; }), v.end());
    return v;
}

template <typename T>
bool same_bits(const T* a, const T* b, std::size_t n) {
    return std::memcmp(a, b, n * sizeof(T)) == 0;
}

// row_gather: every step (1, 2), output length, input row length and first column, including
// rows that are all padding (row == nullptr) and segments wholly left or right of the row. Each
// case: one (step, len, size); the row is guarded by NaN, the output by a sentinel past len.
template <typename T>
void gather_cases(Group& grp, kernels::row_gather_fn<T> fast, dim_t L, Rng& rng) {
    constexpr dim_t guard = 8;
    const T sentinel = T(-999.25);
    const std::vector<dim_t> lens = lengths(L);
    std::vector<dim_t> sizes = {0, 1, 3, L - 1, L, L + 1, 2 * L + 5};
    for (const dim_t step : {dim_t(1), dim_t(2)})
        for (const dim_t len : lens)
            for (const dim_t size : sizes) {
                if (size < 0) continue;
                CaseCheck check(grp, "row_gather step " + std::to_string(step) + " len " + std::to_string(len) +
                                         " size " + std::to_string(size), true, 0.0);
                std::vector<T> buf(static_cast<std::size_t>(size + 2 * guard), std::numeric_limits<T>::quiet_NaN());
                for (dim_t i = 0; i < size; ++i) buf[static_cast<std::size_t>(guard + i)] = static_cast<T>(draw<T>(rng, false, 0));
                if (size > 0) buf[guard] = T(-0.0);  // the sign of a zero survives the copy
                const T* row = buf.data() + guard;
                const dim_t firsts[] = {-step * len - 2, -3, -1, 0, 1, size / 2, size - 1, size - step * len / 2, size, size + 1};
                for (const dim_t first : firsts)
                    for (const bool none : {false, true}) {
                        if (none && first != 0) continue;  // all padding: once per shape
                        std::vector<T> want(static_cast<std::size_t>(len + guard), sentinel), got(want);
                        kernels::gather_row(want.data(), none ? nullptr : row, first, step, 1, len, size);
                        fast(got.data(), none ? nullptr : row, first, step, len, size);
                        if (!same_bits(want.data(), got.data(), want.size())) {
                            check.fail("first " + std::to_string(first) + (none ? " (row nullptr)" : "") +
                                       ": differs from the portable gather_row (or wrote past len)");
                            break;
                        }
                    }
            }
}

// weight_pack: panels of each of the ISA's MRs, rows i0.. i0+mc with mc around MR (short last
// panel: zero rows), channel chunks [c0, c0+kc) of 1, 3 and 17 channels, 1, 2, 9 and 15 taps.
template <typename T>
void weight_pack_cases(Group& grp, kernels::weight_pack_fn<T> fast, const std::vector<dim_t>& mrs, Rng& rng) {
    constexpr dim_t guard = 16;
    const T sentinel = T(-999.25);
    struct Taps {
        dim_t r, s;
    };
    for (const dim_t mr : mrs)
        for (const Taps tp : {Taps{1, 1}, Taps{1, 2}, Taps{3, 3}, Taps{5, 3}})
            for (const dim_t cg : {dim_t(1), dim_t(3), dim_t(17)}) {
                const dim_t kg = 2 * mr + 5;  // rows for every (i0, mc) below
                ConvGeom g{};
                g.n = 1, g.c = cg, g.h = 8, g.w = 8, g.k = kg, g.r = tp.r, g.s = tp.s, g.groups = 1;
                g.sh = g.sw = g.dh = g.dw = 1;
                std::vector<T> w(static_cast<std::size_t>(kg * g.kd()));
                for (T& v : w) v = static_cast<T>(draw<T>(rng, false, 0));
                struct Chunk {
                    dim_t c0, kc;
                };
                std::vector<Chunk> chunks = {{0, cg}, {cg / 2, 1}};
                if (cg > 1) chunks.push_back({1, cg - 1});
                for (const dim_t i0 : {dim_t(0), dim_t(2)})
                    for (const dim_t mc : {dim_t(1), mr - 1, mr, mr + 1, 2 * mr + 3}) {
                        if (mc < 1 || i0 + mc > kg) continue;
                        CaseCheck check(grp, "weight_pack mr " + std::to_string(mr) + " " + std::to_string(tp.r) + "x" +
                                                 std::to_string(tp.s) + " Cg " + std::to_string(cg) + " i0 " +
                                                 std::to_string(i0) + " mc " + std::to_string(mc), true, 0.0);
                        for (const Chunk ch : chunks) {
                            const dim_t n = kernels::ceil_div(mc, mr) * mr * ch.kc * g.r * g.s;
                            std::vector<T> want(static_cast<std::size_t>(n + guard), sentinel), got(want);
                            kernels::pack_weight_chunk<T>(w.data(), g, Isa::generic, mr, i0, mc, ch.c0, ch.kc, want.data());
                            fast(w.data(), g, mr, i0, mc, ch.c0, ch.kc, got.data());
                            if (!same_bits(want.data(), got.data(), want.size())) {
                                check.fail("channels [" + std::to_string(ch.c0) + ", " + std::to_string(ch.c0 + ch.kc) +
                                           "): differs from the portable weight_chunk (or wrote past the panels)");
                                break;
                            }
                        }
                    }
            }
}

// depthwise_row: NHWC layers of C around the vector length, through depthwise_conv with the ISA
// (its row kernel) and with generic (the portable per-pixel loop), one thread; x and y as channel
// slices of wider tensors (y's padding must keep its sentinel), every epilogue, a residual of its
// own or y itself, and in random mode a NaN in x that must reach the same outputs.
struct DwLayer {
    const char* name;
    dim_t h, w, r, s, sh, sw, pt, pb, pl, pr, dh, dw;
};
const DwLayer kDwLayers[] = {
    {"3x3 s1 pad1", 5, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},              // Wo 9: two blocks of 4 and a tail
    {"3x3 s2 asym pad", 7, 10, 3, 3, 2, 2, 0, 1, 0, 1, 1, 1},         // Wo 5
    {"5x3 s(2,1) dil(1,2)", 6, 7, 5, 3, 2, 1, 2, 2, 1, 1, 1, 2},      // unequal strides, dilated columns
    {"1x1", 2, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},                      // one tap
    {"7x7 s2 pad3 (taps past the image)", 5, 6, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1},
    {"3x5 s(1,2) dil(2,1) pad(1,0,2,3)", 6, 9, 3, 5, 1, 2, 1, 0, 2, 3, 2, 1},
};

template <typename T>
void depthwise_cases(Group& grp, Isa isa, dim_t L, Rng& rng) {
    const T sentinel = T(-999.25), nan = std::numeric_limits<T>::quiet_NaN();
    std::vector<dim_t> cs = {1, 5, 17, L - 1, L + 1, 2 * L + 3};
    std::sort(cs.begin(), cs.end());
    cs.erase(std::unique(cs.begin(), cs.end()), cs.end());
    long counter = 0;
    for (const DwLayer& l : kDwLayers)
        for (const dim_t c : cs) {
            if (c < 1) continue;
            for (const bool exact : {true, false}) {
                const long n_case = counter++;
                ConvGeom g{2, c, l.h, l.w, c, l.r, l.s, c, l.sh, l.sw, l.pt, l.pb, l.pl, l.pr, l.dh, l.dw, true};
                const dim_t ho = g.ho(), wo = g.wo(), taps = g.r * g.s;
                // Logical (dense NCHW) data for the reference.
                std::vector<double> xd(static_cast<std::size_t>(g.n * c * g.h * g.w)), wd(static_cast<std::size_t>(c * taps));
                for (double& v : xd) v = draw<T>(rng, exact, 2);
                for (double& v : wd) v = draw<T>(rng, exact, 2);
                RefEpilogue ep;
                const int ep_kind = static_cast<int>(n_case % 4);
                const double picks[] = {0.5, -1.0, 2.0, 1.0};
                if (ep_kind == 1 || ep_kind == 2)
                    for (dim_t k = 0; k < c; ++k) ep.shift.push_back(draw<T>(rng, exact, 3));
                if (ep_kind >= 2)
                    for (dim_t k = 0; k < c; ++k) ep.scale.push_back(exact ? picks[rng.integer(0, 3)] : draw<T>(rng, false, 0));
                ep.act = ep_kind == 1 ? Act::relu : ep_kind == 2 ? Act::relu6 : Act::none;
                // The residual: none, its own tensor (a channel slice), or y itself, in turn.
                const int res_kind = static_cast<int>((n_case / 2) % 3);
                std::vector<double> resd(static_cast<std::size_t>(g.n * c * ho * wo));
                for (double& v : resd) v = draw<T>(rng, exact, 3);
                const bool has_nan = !exact && n_case % 3 == 0;
                if (has_nan) xd[xd.size() / 2] = std::numeric_limits<double>::quiet_NaN();
                std::vector<double> ref, mag;
                ref_conv(g, xd, wd, ep, ref, mag, res_kind ? &resd : nullptr);

                // x: channels padded by 3 (a C-slice); y and the residual by 2.
                const dim_t xc = c + 3, yc = c + 2;
                std::vector<T> x(static_cast<std::size_t>(g.n * g.h * g.w * xc), nan);
                for (dim_t i = 0; i < g.n; ++i)
                    for (dim_t ch = 0; ch < c; ++ch)
                        for (dim_t hh = 0; hh < g.h; ++hh)
                            for (dim_t ww = 0; ww < g.w; ++ww)
                                x[static_cast<std::size_t>(((i * g.h + hh) * g.w + ww) * xc + ch)] =
                                    static_cast<T>(xd[static_cast<std::size_t>(((i * c + ch) * g.h + hh) * g.w + ww)]);
                const Strides4 xs{g.h * g.w * xc, 1, g.w * xc, xc}, ys{ho * wo * yc, 1, wo * yc, yc};
                std::vector<T> w(wd.begin(), wd.end()), w_rsc(w.size());
                kernels::transpose_depthwise_taps(g, w.data(), w_rsc.data());
                const std::vector<T> scale(ep.scale.begin(), ep.scale.end()), shift(ep.shift.begin(), ep.shift.end());
                std::vector<T> res(static_cast<std::size_t>(g.n * ho * wo * yc), nan);
                std::vector<T> y0(res.size(), sentinel);
                for (dim_t i = 0; i < g.n; ++i)
                    for (dim_t ch = 0; ch < c; ++ch)
                        for (dim_t q = 0; q < ho * wo; ++q) {
                            const std::size_t o = static_cast<std::size_t>((i * ho * wo + q) * yc + ch);
                            const T rv = static_cast<T>(resd[static_cast<std::size_t>((i * c + ch) * ho * wo + q)]);
                            res[o] = rv;
                            y0[o] = res_kind == 2 ? rv : nan;
                        }
                std::vector<T> y_port(y0), y_isa(y0);
                auto run = [&](Isa which, std::vector<T>& y) {
                    kernels::ConvIO<T> io{};
                    io.x = x.data(), io.xs = xs, io.w = w.data(), io.y = y.data(), io.ys = ys;
                    io.ep.scale = scale.empty() ? nullptr : scale.data();
                    io.ep.shift = shift.empty() ? nullptr : shift.data();
                    io.ep.act = ep.act;
                    if (res_kind == 1) io.r = res.data(), io.rs = ys;
                    if (res_kind == 2) io.r = io.y, io.rs = ys;
                    kernels::depthwise_conv<T>(g, io, w_rsc.data(), which, 1);
                };
                static const char* ep_names[] = {"no epilogue", "bias+relu", "scale+shift+relu6", "scale"};
                static const char* res_names[] = {"", ", residual", ", residual = y"};
                const std::string desc = std::string("depthwise_row ") + l.name + " C " + std::to_string(c) + ", " +
                                         ep_names[ep_kind] + res_names[res_kind] + (has_nan ? ", NaN in x" : "") +
                                         (exact ? ", exact" : ", random");
                const double tol = 2.0 * static_cast<double>(taps + 4) * std::numeric_limits<T>::epsilon();
                CaseCheck check(grp, desc, exact, tol);
                try {
                    run(Isa::generic, y_port);
                    run(isa, y_isa);
                } catch (const std::exception& e) {
                    check.fail(std::string("threw: ") + e.what());
                    continue;
                }
                std::vector<bool> inside(y0.size(), false);
                for (dim_t i = 0; i < g.n; ++i)
                    for (dim_t ch = 0; ch < c; ++ch)
                        for (dim_t q = 0; q < ho * wo; ++q) {
                            const std::size_t o = static_cast<std::size_t>((i * ho * wo + q) * yc + ch);
                            const std::size_t lq = static_cast<std::size_t>((i * c + ch) * ho * wo + q);
                            inside[o] = true;
                            const double got = y_isa[o], port = y_port[o];
                            if (std::isnan(ref[lq])) {  // the NaN's outputs: NaN in both forms
                                if (!std::isnan(got) || !std::isnan(port))
                                    check.fail("at (" + std::to_string(i * c + ch) + ", " + std::to_string(q) +
                                               "): a NaN input did not give NaN (isa " + std::to_string(got) +
                                               ", portable " + std::to_string(port) + ")");
                                continue;
                            }
                            check.value(got, ref[lq], mag[lq], static_cast<long>(i * c + ch), static_cast<long>(q));
                            // Against the portable result: the same bits on exact data, else the bound.
                            check.value(got, port, mag[lq], static_cast<long>(i * c + ch), static_cast<long>(q));
                        }
                for (std::size_t o = 0; o < inside.size(); ++o)
                    if (!inside[o]) check.untouched(y_isa[o] == sentinel, static_cast<long>(o));
            }
        }
}

}  // namespace

template <typename T>
void helper_cases(Group& grp, Isa isa, std::uint64_t seed) {
    const kernels::IsaKernels<T>& h = kernels::isa_kernels<T>(isa);
    std::vector<dim_t> mrs;
    for (const kernels::Ukernel<T>* u : h.ukernels)
        if (u) mrs.push_back(u->mr);
    if (mrs.empty()) return;
    const dim_t L = mrs.front();
    Rng rng(seed);
    if (h.row_gather) gather_cases<T>(grp, h.row_gather, L, rng);
    if (h.weight_pack) weight_pack_cases<T>(grp, h.weight_pack, mrs, rng);
    if (h.depthwise_row) depthwise_cases<T>(grp, isa, L, rng);
}

template void helper_cases<float>(Group&, Isa, std::uint64_t);
template void helper_cases<double>(Group&, Isa, std::uint64_t);

}  // namespace kernels_test
