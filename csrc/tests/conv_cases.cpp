// Convolution cases of the native engine test: kernels::conv2d, called as the Python entry
// (csrc/bindings/conv_entry.cpp) calls it, against the float64 direct loop, every write checked;
// with and without a residual (its own tensor of other strides, or y itself in place).
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../conv/conv.hpp"
#include "../conv/winograd.hpp"
#include "reference.hpp"
#include "suites.hpp"

namespace kernels_test {

namespace {

using kernels::Act;
using kernels::ConvAlgo;
using kernels::ConvGeom;
using kernels::inc_t;
using kernels::Strides4;

struct Layer {
    const char* name;
    dim_t n, c, h, w, k, r, s, groups, sh, sw, pt, pb, pl, pr, dh, dw;
};

// Each line reaches a different path: the plain GEMM (pointwise), convGemm's gathers and the
// batch-reduce kernel (taps, strides, asymmetric padding, dilation, groups), the stem's row runs
// (7x7, 3 channels), several K panels with a team of threads (40 -> 70 channels), the depthwise
// kernels (equal strides: padded planes; unequal: the general loop; NHWC: an ISA's row kernel, C
// off the vector length), a channel multiplier (groups
// = C, K = 2C: not depthwise), an empty reduction (C = 0: y = epilogue(0)), a 1x1 output, and two
// layers for the residual (below).
const Layer kLayers[] = {
    {"pointwise", 2, 8, 5, 7, 12, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {"pointwise-g4", 2, 8, 6, 5, 12, 1, 1, 4, 1, 1, 0, 0, 0, 0, 1, 1},
    {"1x1-stride2", 2, 5, 7, 9, 6, 1, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1},
    {"3x3-pad1", 2, 6, 9, 8, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3-g3-s2-asym-dil", 1, 6, 11, 10, 9, 3, 3, 3, 2, 2, 1, 0, 2, 1, 2, 1},
    {"stem-7x7-s2", 1, 3, 20, 19, 16, 7, 7, 1, 2, 2, 3, 3, 3, 3, 1, 1},
    {"3x3-40to70", 2, 40, 12, 12, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"depthwise-3x3", 2, 16, 9, 9, 16, 3, 3, 16, 1, 1, 1, 1, 1, 1, 1, 1},
    {"depthwise-5x3-s21-dil", 1, 12, 11, 13, 12, 5, 3, 12, 2, 1, 2, 2, 1, 1, 1, 2},
    {"depthwise-s2", 1, 20, 14, 14, 20, 3, 3, 20, 2, 2, 0, 1, 0, 1, 1, 1},
    // Channels off every vector length (37: tails of 5 at 8 and 32 lanes, a lone tail at 64), a
    // 5x5 dilated stride-2 window, Wo = 5 (a block of four pixels and one more).
    {"depthwise-c37-5x5-s2-dil", 1, 37, 9, 13, 37, 5, 5, 37, 2, 2, 2, 1, 3, 2, 1, 2},
    {"multiplier-2", 1, 8, 7, 7, 16, 3, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1},
    {"empty-reduction", 1, 0, 4, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"1x1-output", 3, 7, 3, 3, 5, 3, 3, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    // A reduction (720) longer than any k block: y receives partial sums before the residual's
    // pass (residual = y must then be read from a copy); an NCHW plane above 64 x 64 (direct runs
    // it through NHWC copies, the residual joining in the copy back).
    {"3x3-80to24-long-k", 1, 80, 6, 7, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"plane-66x66", 1, 4, 66, 66, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3-winograd-70to40-asym", 2, 70, 11, 9, 40, 3, 3, 1, 1, 1, 0, 2, 1, 0, 1, 1},
};

ConvGeom geometry(const Layer& l, bool nhwc) {
    return ConvGeom{l.n, l.c, l.h, l.w, l.k, l.r, l.s, l.groups, l.sh, l.sw, l.pt, l.pb, l.pl, l.pr, l.dh, l.dw, nhwc};
}

// A 4-D tensor in NCHW or NHWC memory order with extents padded by npad images, cpad channels
// and wpad columns: views such as a slice of a wider tensor. Padding holds `pad`.
template <typename T>
struct Tensor4 {
    dim_t n, c, h, w;
    std::vector<T> buf;
    Strides4 st;
    Tensor4(dim_t n_, dim_t c_, dim_t h_, dim_t w_, bool nhwc, dim_t npad, dim_t cpad, dim_t wpad, T pad)
        : n(n_), c(c_), h(h_), w(w_) {
        const dim_t cc = c + cpad, ww = w + wpad;
        if (nhwc) st = {h * ww * cc, 1, ww * cc, cc};
        else st = {cc * h * ww, h * ww, ww, 1};
        buf.assign(static_cast<std::size_t>((n + npad) * cc * h * ww), pad);
    }
    std::size_t offset(dim_t i, dim_t ch, dim_t y, dim_t x) const {
        return static_cast<std::size_t>(i * st.n + ch * st.c + y * st.h + x * st.w);
    }
};

// Memory views of one case: x and y dense, or padded as a caller's slice would be.
struct View {
    const char* name;
    dim_t x_cpad, x_wpad, y_npad, y_cpad, y_wpad;
};
// The last one (y's rows not one stride) only the depthwise kernel accepts (conv_entry.cpp
// check_out); for the other algorithms it stands in for the second.
constexpr View kViews[] = {{"dense", 0, 0, 0, 0, 0},
                           {"x C-slice, y N+C-slice", 2, 0, 1, 3, 0},
                           {"x W-slice", 0, 2, 0, 0, 0},
                           {"y W-slice", 0, 0, 0, 0, 1}};

// One layer's data in logical order, its epilogue and the reference result, without and with a
// residual (res, N x K x Ho x Wo dense: ref_res, mag_res).
struct LayerData {
    std::vector<double> x, w, ref, mag, res, ref_res, mag_res;
    RefEpilogue ep;
    const char* ep_name;
};

// How a case passes the residual: none, its own tensor in the other memory order than y (strides
// other than y's: the scalar write-back), its own tensor in y's order with a channel slice, or y
// itself holding the residual (in place: y = act(conv + y)).
enum class Res { none, other_order, sliced, in_place };
const char* res_name(Res r) {
    switch (r) {
        case Res::none: return "";
        case Res::other_order: return ", residual (other order)";
        case Res::sliced: return ", residual (C-slice)";
        default: return ", residual = y";
    }
}

template <typename T>
LayerData make_data(const ConvGeom& g, bool exact, int ep_kind, Rng& rng) {
    LayerData d;
    d.x.resize(static_cast<std::size_t>(g.n * g.c * g.h * g.w));
    d.w.resize(static_cast<std::size_t>(g.k * g.kd()));
    // Exact mode: |entries| <= 2 and C/groups*R*S <= 360, so sums stay far below 2^24.
    for (double& v : d.x) v = draw<T>(rng, exact, 2);
    for (double& v : d.w) v = draw<T>(rng, exact, 2);
    const auto channel = [&](bool scale) {
        std::vector<double> v(static_cast<std::size_t>(g.k));
        const double picks[] = {0.5, -1.0, 2.0, 1.0};  // exact scalings
        for (double& s : v) s = scale ? (exact ? picks[rng.integer(0, 3)] : draw<T>(rng, false, 0)) : draw<T>(rng, exact, 3);
        return v;
    };
    static const char* names[] = {"no epilogue", "bias+relu", "scale+shift+relu6", "scale"};
    d.ep_name = names[ep_kind];
    if (ep_kind == 1) d.ep.shift = channel(false), d.ep.act = Act::relu;
    if (ep_kind == 2) d.ep.scale = channel(true), d.ep.shift = channel(false), d.ep.act = Act::relu6;
    if (ep_kind == 3) d.ep.scale = channel(true);
    ref_conv(g, d.x, d.w, d.ep, d.ref, d.mag);
    d.res.resize(d.ref.size());
    for (double& v : d.res) v = draw<T>(rng, exact, 3);
    ref_conv(g, d.x, d.w, d.ep, d.ref_res, d.mag_res, &d.res);
    return d;
}

const char* algo_name(ConvAlgo a) {
    switch (a) {
        case ConvAlgo::im2col: return "im2col";
        case ConvAlgo::convgemm: return "convgemm";
        case ConvAlgo::gemm: return "gemm";
        case ConvAlgo::winograd: return "winograd";
        default: return "direct";
    }
}

constexpr double kSentinel = -999.25;  // y's padding: must survive the call

template <typename T>
void conv_case(Group& grp, const char* layer, const ConvGeom& g, const LayerData& d, ConvAlgo algo, const View& v,
               const kernels::PackedWeights<T>* pw, const char* pw_name, int nt, bool exact, Res res) {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    const dim_t ho = g.ho(), wo = g.wo();
    // x's padding is NaN: a read outside the tensor would reach the result.
    Tensor4<T> x(g.n, g.c, g.h, g.w, g.nhwc, 0, v.x_cpad, v.x_wpad, nan);
    Tensor4<T> y(g.n, g.k, ho, wo, g.nhwc, v.y_npad, v.y_cpad, v.y_wpad, static_cast<T>(kSentinel));
    for (dim_t i = 0; i < g.n; ++i)
        for (dim_t c = 0; c < g.c; ++c)
            for (dim_t h = 0; h < g.h; ++h)
                for (dim_t w = 0; w < g.w; ++w)
                    x.buf[x.offset(i, c, h, w)] = static_cast<T>(d.x[static_cast<std::size_t>(((i * g.c + c) * g.h + h) * g.w + w)]);
    // y is written, never read: NaN where results go (or the residual, in place). The residual's
    // own tensor is padded with NaN: a read outside it would reach the result.
    const bool own_res = res == Res::other_order || res == Res::sliced;
    Tensor4<T> r(g.n, g.k, ho, wo, res == Res::other_order ? !g.nhwc : g.nhwc, 0, res == Res::sliced ? 2 : 0, 0, nan);
    for (dim_t i = 0; i < g.n; ++i)
        for (dim_t k = 0; k < g.k; ++k)
            for (dim_t h = 0; h < ho; ++h)
                for (dim_t w = 0; w < wo; ++w) {
                    const T rv = static_cast<T>(d.res[static_cast<std::size_t>(((i * g.k + k) * ho + h) * wo + w)]);
                    y.buf[y.offset(i, k, h, w)] = res == Res::in_place ? rv : nan;
                    if (own_res) r.buf[r.offset(i, k, h, w)] = rv;
                }
    const std::vector<T> wt(d.w.begin(), d.w.end());
    const std::vector<T> scale(d.ep.scale.begin(), d.ep.scale.end()), shift(d.ep.shift.begin(), d.ep.shift.end());

    kernels::ConvIO<T> io{};
    io.x = x.buf.data(), io.xs = x.st, io.w = wt.data(), io.y = y.buf.data(), io.ys = y.st;
    io.ep.scale = scale.empty() ? nullptr : scale.data();
    io.ep.shift = shift.empty() ? nullptr : shift.data();
    io.ep.act = d.ep.act;
    if (own_res) io.r = r.buf.data(), io.rs = r.st;
    if (res == Res::in_place) io.r = io.y, io.rs = io.ys;
    // What conv_entry.cpp does before conv2d: 'gemm' reads the image as one matrix, so an x whose
    // rows are not one stride runs the implicit path instead (effective_algo).
    if (algo == ConvAlgo::gemm && g.h > 1 && io.xs.h != g.w * io.xs.w) algo = ConvAlgo::convgemm;

    const std::string desc = std::string(layer) + " " + algo_name(algo) + (g.nhwc ? " NHWC " : " NCHW ") + v.name + ", " +
                             d.ep_name + res_name(res) + ", " + pw_name + ", threads=" + std::to_string(nt) +
                             (exact ? ", exact" : ", random");
    const double tol = 2.0 * static_cast<double>(g.kd() + 4) * std::numeric_limits<T>::epsilon();
    CaseCheck check(grp, desc, exact, tol);
    try {
        kernels::conv2d<T>(g, io, algo, pw, kernels::engine<T>(), nt);
    } catch (const std::exception& e) {
        check.fail(std::string("threw: ") + e.what());
        return;
    }
    const std::vector<double>& ref = res == Res::none ? d.ref : d.ref_res;
    const std::vector<double>& mag = res == Res::none ? d.mag : d.mag_res;
    std::vector<bool> inside(y.buf.size(), false);
    for (dim_t i = 0; i < g.n; ++i)
        for (dim_t k = 0; k < g.k; ++k)
            for (dim_t h = 0; h < ho; ++h)
                for (dim_t w = 0; w < wo; ++w) {
                    const std::size_t o = y.offset(i, k, h, w), q = static_cast<std::size_t>(((i * g.k + k) * ho + h) * wo + w);
                    inside[o] = true;
                    check.value(static_cast<double>(y.buf[o]), ref[q], mag[q], static_cast<long>(i * g.k + k),
                                static_cast<long>(h * wo + w));
                }
    for (std::size_t o = 0; o < inside.size(); ++o)
        if (!inside[o]) check.untouched(y.buf[o] == static_cast<T>(kSentinel), static_cast<long>(o));
}

// The plan's weights as conv_entry.cpp's pack_into packs them: only K, C, R, S, groups and the
// layout matter.
template <typename T>
std::shared_ptr<const kernels::PackedWeights<T>> pack(const ConvGeom& g, const std::vector<T>& w,
                                                      const kernels::Engine<T>& e) {
    ConvGeom p{};
    p.n = 1, p.c = g.c, p.k = g.k, p.r = g.r, p.s = g.s, p.groups = g.groups, p.nhwc = g.nhwc;
    return kernels::pack_weights<T>(p, w.data(), e);
}

}  // namespace

template <typename T>
void conv_cases(Group& grp, const kernels::Engine<T>* other, std::uint64_t seed) {
    const kernels::Engine<T>& e = kernels::engine<T>();
    Rng rng(seed);
    long counter = 0;
    int layer_no = 0;
    for (const Layer& l : kLayers) {
        ++layer_no;
        for (const bool exact : {true, false}) {
            const ConvGeom g0 = geometry(l, false);
            try {
                kernels::check_geometry(g0, sizeof(T), "engine_test");  // the caller's duty
            } catch (const std::exception& ex) {
                grp.note(std::string(l.name) + ": bad test geometry: " + ex.what());
                ++grp.failed;
                continue;
            }
            // The epilogue (none, bias+relu, scale+shift+relu6, scale) rotates over layers, data
            // modes and groups; views and thread counts rotate with the case number below, in
            // cycles that meet each other and every algorithm.
            const int ep_kind = static_cast<int>((static_cast<std::uint64_t>(layer_no) + (exact ? 0 : 2) + seed % 4) % 4);
            const LayerData d = make_data<T>(g0, exact, ep_kind, rng);
            const std::vector<T> wt(d.w.begin(), d.w.end());
            for (const bool nhwc : {false, true}) {
                const ConvGeom g = geometry(l, nhwc);
                const auto own = pack<T>(g, wt, e);
                const auto foreign = other && other != &e ? pack<T>(g, wt, *other) : nullptr;
                for (const ConvAlgo algo :
                     {ConvAlgo::im2col, ConvAlgo::convgemm, ConvAlgo::gemm, ConvAlgo::direct, ConvAlgo::winograd}) {
                    if (algo == ConvAlgo::gemm && !g.pointwise()) continue;  // conv_entry refuses it
                    if (algo == ConvAlgo::winograd && !kernels::winograd_applies(g)) continue;  // likewise
                    const bool rows_free = algo == ConvAlgo::direct && kernels::direct_is_depthwise(g);
                    for (int p = 0; p < (foreign ? 3 : 2); ++p) {
                        const kernels::PackedWeights<T>* pw = p == 0 ? nullptr : p == 1 ? own.get() : foreign.get();
                        const char* pw_name = p == 0 ? "weights per call" : p == 1 ? "packed weights" : "packed for another engine";
                        int vi = static_cast<int>(counter % 4);
                        if (vi == 3 && !rows_free && g.ho() > 1) vi = 1;
                        const int nt = kThreads[(counter / 4 + counter) % 4];
                        // The residual rotates in a cycle of 5 (prime to the others): none twice.
                        static constexpr Res kRes[] = {Res::none, Res::other_order, Res::in_place, Res::none, Res::sliced};
                        const Res res = kRes[(counter / 2 + counter) % 5];
                        ++counter;
                        conv_case<T>(grp, l.name, g, d, algo, kViews[vi], pw, pw_name, nt, exact, res);
                    }
                }
            }
        }
    }
}

template void conv_cases<float>(Group&, const kernels::Engine<float>*, std::uint64_t);
template void conv_cases<double>(Group&, const kernels::Engine<double>*, std::uint64_t);

}  // namespace kernels_test
