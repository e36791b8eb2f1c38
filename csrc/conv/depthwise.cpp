// Direct depthwise convolution, vectorised along each channel's output row (NCHW) or across
// channels (NHWC). See depthwise.hpp.
//
// NCHW: each channel's plane is first copied into zero-padded scratch planes, split by stride
// phase: with equal strides st, phase (a, b) holds the padded input's rows st*i + a and columns
// st*j + b (st*st planes of Hq x Wq, Hq = ceil(Hp/st), Wq = ceil(Wp/st); one plane when st = 1).
// Output (ho, wo) under tap (r, s) reads padded (st*ho + r*dh, st*wo + s*dw), which is phase
// ((r*dh) % st, (s*dw) % st) at (ho + r*dh/st, wo + s*dw/st): with i = ho*Wq + wo every tap is a
// unit-stride read at a fixed offset, so the whole plane is one 1-D correlation over the
// flattened index: long branch-free loops with 4 vector accumulators and contiguous loads, no
// per-row edge handling; the columns wo >= Wo are computed and dropped (Wq - Wo per row, about
// the padding width over st). Strided layers used to read the unsplit plane at stride st: st
// times the outputs computed and dropped, and strided loads: MobileNetV2's stride-2 depthwise
// layers took 0.905 / 0.359 / 0.155 / 0.163 ms (112, 56, 28, 14 planes), 0.434 / 0.194 / 0.089 /
// 0.082 ms with the phase planes (Zen 5, 1 thread); NHWC runs them in 0.12-0.02 ms.
// NHWC: channels are contiguous, so 4 vectors of channels accumulate the R*S taps in registers.
#include "depthwise.hpp"

#include <algorithm>
#include <vector>

#include "../arch/clones.hpp"
#include "../arch/table.hpp"
#include "../core/checked.hpp"
#include "../core/cpu_info.hpp"
#include "../core/workspace.hpp"
#include "../gemm/driver.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {

template <typename T>
constexpr dim_t kBlock = 4 * 64 / static_cast<dim_t>(sizeof(T));  // four 512-bit vectors

struct PlaneShape {
    dim_t st;         // the (equal) stride: st * st phase planes
    dim_t hq, wq;     // rows and columns of one phase plane
    dim_t len;        // flattened outputs computed: (Ho - 1) * Wq + Wo, rounded up to the block
    dim_t elems;      // elements of one phase plane (its rows + slack read by the last block)
    dim_t all;        // elements of every phase plane together
};

// Checked: the padded planes of a small output with large strides and padding can be far larger
// than x and y (check_geometry bounds those, and the padded extents), and would wrap.
PlaneShape plane_shape(const ConvGeom& g, std::size_t elem) {
    constexpr const char* what = "conv2d: the depthwise kernel's zero-padded plane";
    const dim_t block = elem == sizeof(float) ? kBlock<float> : kBlock<double>;
    PlaneShape p;
    p.st = g.sh;
    const dim_t hp = checked_add(g.h, checked_add(g.pt, g.pb, what), what);
    const dim_t wp = checked_add(g.w, checked_add(g.pl, g.pr, what), what);
    p.hq = ceil_div(hp, p.st), p.wq = ceil_div(wp, p.st);
    p.len = checked_round_up(checked_add(checked_mul(g.ho() - 1, p.wq, what), g.wo(), what), block, what);
    // The farthest read: the last tap's offset inside its phase plane, plus the computed outputs.
    dim_t reach = checked_mul(checked_mul(g.r - 1, g.dh, what) / p.st, p.wq, what);
    reach = checked_add(reach, (g.s - 1) * g.dw / p.st, what);
    reach = checked_add(reach, p.len, what);
    p.elems = checked_round_up(std::max(reach, checked_mul(p.hq, p.wq, what)), 16, what);
    p.all = checked_mul(checked_mul(p.st, p.st, what), p.elems, what);
    // The scratch of one thread in bytes (planes + outputs, rounded as depthwise_conv allocates it).
    checked_mul(checked_round_up(checked_add(p.all, p.len, what), 16, what), static_cast<dim_t>(elem), what);
    return p;
}

// Per tap (r, s): where its reads start in the phase planes (phase plane (a, b) at (a*st + b) * elems).
std::vector<dim_t> tap_offsets(const ConvGeom& g, const PlaneShape& ps) {
    std::vector<dim_t> off(static_cast<std::size_t>(g.r * g.s));
    for (dim_t r = 0; r < g.r; ++r)
        for (dim_t s = 0; s < g.s; ++s) {
            const dim_t dr = r * g.dh, dc = s * g.dw;
            off[r * g.s + s] = ((dr % ps.st) * ps.st + dc % ps.st) * ps.elems + (dr / ps.st) * ps.wq + dc / ps.st;
        }
    return off;
}

// The zero-padded copy of one input plane, split into its st x st phase planes.
template <typename T>
KERNELS_CLONES void fill_planes(const ConvGeom& g, const PlaneShape& ps, const T* x, inc_t xs_h, inc_t xs_w,
                                T* KERNELS_RESTRICT planes) {
    const dim_t st = ps.st;
    std::fill(planes, planes + ps.all, T(0));
    for (dim_t ih = 0; ih < g.h; ++ih) {
        const dim_t pr = g.pt + ih;  // padded row
        T* row = planes + (pr % st) * st * ps.elems + (pr / st) * ps.wq;
        const T* src = x + ih * xs_h;
        if (st == 1 && xs_w == 1) {
            std::copy(src, src + g.w, row + g.pl);
            continue;
        }
        // Phase b holds padded columns st*j + b, i.e. input columns iw = st*j + b - pl: one strided
        // read per phase, contiguous writes (no division per element: that made the split cost
        // more than the strided reads it removes).
        for (dim_t b = 0; b < st; ++b) {
            T* dst = row + b * ps.elems;
            const dim_t j0 = g.pl > b ? ceil_div(g.pl - b, st) : 0;
            dim_t j = j0;
            for (dim_t iw = st * j0 + b - g.pl; iw < g.w; iw += st, ++j) dst[j] = src[iw * xs_w];
        }
    }
}

// out[i] = sum over taps q of taps[q] * planes[off[q] + i], i in [0, len), len a multiple of the block.
template <typename T>
KERNELS_CLONES void correlate_flat(const ConvGeom& g, const PlaneShape& ps, const T* planes, const T* taps,
                                   const dim_t* off, T* KERNELS_RESTRICT out) {
    constexpr dim_t B = kBlock<T>;
    const dim_t ntaps = g.r * g.s;
    for (dim_t i0 = 0; i0 < ps.len; i0 += B) {
        T acc[B] = {};
        for (dim_t q = 0; q < ntaps; ++q) {
            const T wv = taps[q];
            const T* src = planes + off[q] + i0;
#pragma GCC unroll 64
            for (dim_t t = 0; t < B; ++t) acc[t] += wv * src[t];
        }
#pragma GCC unroll 64
        for (dim_t t = 0; t < B; ++t) out[i0 + t] = acc[t];
    }
}

// y row := act(scale * v + shift [+ residual]) for one channel; res (nullptr: none) at stride rs_w,
// read before y is written (it may be y).
template <typename T>
KERNELS_CLONES void store_row(const T* v, dim_t n, T sc, T sf, Act act, T* y, inc_t ys_w, const T* res, inc_t rs_w) {
    if (res) {
        for (dim_t j = 0; j < n; ++j) y[j * ys_w] = activate(v[j] * sc + sf + res[j * rs_w], act);
        return;
    }
    for (dim_t j = 0; j < n; ++j) {
        T t = v[j] * sc + sf;
        if (act != Act::none) t = t < T(0) ? T(0) : t;
        if (act == Act::relu6) t = t > T(6) ? T(6) : t;
        y[j * ys_w] = t;
    }
}

template <typename T>
void nchw_plane(const ConvGeom& g, const ConvIO<T>& io, const PlaneShape& ps, const dim_t* off, dim_t img, dim_t c,
                T* scratch) {
    const T* x = io.x + img * io.xs.n + c * io.xs.c;
    T* y = io.y + img * io.ys.n + c * io.ys.c;
    const T* res = io.r ? io.r + img * io.rs.n + c * io.rs.c : nullptr;
    const T* taps = io.w + c * g.r * g.s;
    const Epilogue<T>& ep = io.ep;
    const T sc = ep.scale ? ep.scale[c] : T(1), sf = ep.shift ? ep.shift[c] : T(0);
    T* planes = scratch;
    T* out = scratch + ps.all;
    fill_planes(g, ps, x, io.xs.h, io.xs.w, planes);
    correlate_flat(g, ps, planes, taps, off, out);
    for (dim_t ho = 0; ho < g.ho(); ++ho)
        store_row(out + ho * ps.wq, g.wo(), sc, sf, ep.act, y + ho * io.ys.h, io.ys.w,
                  res ? res + ho * io.rs.h : nullptr, io.rs.w);
}

// Unequal strides: the flattened trick does not apply; a plain loop over outputs.
template <typename T>
void nchw_plane_general(const ConvGeom& g, const ConvIO<T>& io, dim_t img, dim_t c) {
    const T* x = io.x + img * io.xs.n + c * io.xs.c;
    T* y = io.y + img * io.ys.n + c * io.ys.c;
    const T* taps = io.w + c * g.r * g.s;
    for (dim_t ho = 0; ho < g.ho(); ++ho)
        for (dim_t wo = 0; wo < g.wo(); ++wo) {
            T acc = T(0);
            for (dim_t r = 0; r < g.r; ++r) {
                const dim_t ih = ho * g.sh - g.pt + r * g.dh;
                if (ih < 0 || ih >= g.h) continue;
                for (dim_t s = 0; s < g.s; ++s) {
                    const dim_t iw = wo * g.sw - g.pl + s * g.dw;
                    if (iw >= 0 && iw < g.w) acc += taps[r * g.s + s] * x[ih * io.xs.h + iw * io.xs.w];
                }
            }
            const T* r = io.r ? io.r + img * io.rs.n + c * io.rs.c + ho * io.rs.h + wo * io.rs.w : nullptr;
            y[ho * io.ys.h + wo * io.ys.w] = io.ep.active() || r ? io.ep.apply_channel(acc, c, r) : acc;
        }
}

// One output pixel, all channels: acc[c] = sum over valid taps of w_rsc[tap][c] * x[tap pixel][c].
template <typename T, bool kUnitC>
KERNELS_CLONES void nhwc_pixel(const ConvGeom& g, const ConvIO<T>& io, const T* w_rsc, dim_t img, dim_t ho,
                               dim_t wo) {
    constexpr dim_t B = kBlock<T>;
    const T* x = io.x + img * io.xs.n;
    T* y = io.y + img * io.ys.n + ho * io.ys.h + wo * io.ys.w;
    const T* src[kMaxDepthwiseTaps];  // per tap: the input pixel, or nullptr for padding
    const dim_t taps = g.r * g.s;
    for (dim_t r = 0; r < g.r; ++r)
        for (dim_t s = 0; s < g.s; ++s) {
            const dim_t ih = ho * g.sh - g.pt + r * g.dh, iw = wo * g.sw - g.pl + s * g.dw;
            src[r * g.s + s] = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? x + ih * io.xs.h + iw * io.xs.w : nullptr;
        }
    const inc_t xc = kUnitC ? 1 : io.xs.c;
    for (dim_t c0 = 0; c0 < g.c; c0 += B) {
        const dim_t cn = std::min(B, g.c - c0);
        T acc[B] = {};
        for (dim_t q = 0; q < taps; ++q) {
            if (!src[q]) continue;
            const T* s = src[q] + c0 * xc;
            const T* wq = w_rsc + q * g.c + c0;
            if (cn == B) {
#pragma GCC unroll 64
                for (dim_t t = 0; t < B; ++t) acc[t] += wq[t] * s[t * xc];
            } else {
                for (dim_t t = 0; t < cn; ++t) acc[t] += wq[t] * s[t * xc];
            }
        }
        for (dim_t t = 0; t < cn; ++t) {
            const dim_t c = c0 + t;
            const T* r = io.r ? io.r + img * io.rs.n + c * io.rs.c + ho * io.rs.h + wo * io.rs.w : nullptr;
            y[c * io.ys.c] = io.ep.active() || r ? io.ep.apply_channel(acc[t], c, r) : acc[t];
        }
    }
}

// Channels per chunk of the NHWC row kernels' loop (a multiple of 16, equal chunks). Chunk by chunk,
// the R input rows a chunk's output row reads stay in L1 (half of it) for the next output rows,
// which read R - stride of them again; with all channels at once an output row of MobileNetV2's
// 960-channel 7x7 layers read 80 KB of input and every row came from L2 again. Only where the
// image's input and output planes fit in half the L2: a larger plane would be read from L3 once per
// chunk (96 channels at 112x112, stride 2: 0.22 -> 0.56 ms). MobileNetV2's 13 depthwise layers from
// 28x28 on, in the network: 446 -> 405 us at 1 thread, 357 -> 330 us at 2 (Emerald Rapids).
dim_t channel_chunk(const ConvGeom& g, std::size_t elem) {
    const std::size_t l2 = cache_sizes().l2 ? cache_sizes().l2 : (1u << 20);
    if (static_cast<std::size_t>(g.h * g.w + g.ho() * g.wo()) * static_cast<std::size_t>(g.c) * elem > l2 / 2) return g.c;
    const std::size_t l1 = cache_sizes().l1d ? cache_sizes().l1d : 32768;
    const std::size_t per_channel = std::max<std::size_t>(1, static_cast<std::size_t>(g.r * g.w) * elem);
    const dim_t fit = std::max<dim_t>(16, static_cast<dim_t>(l1 / 2 / per_channel) / 16 * 16);
    const dim_t chunks = ceil_div(g.c, fit);
    return round_up(ceil_div(g.c, chunks), 16);
}

}  // namespace

std::size_t depthwise_workspace(const ConvGeom& g, std::size_t elem, int nthreads) {
    if (g.nhwc) return static_cast<std::size_t>(g.r * g.s * g.c) * elem;
    if (g.sh != g.sw) return 0;
    const PlaneShape ps = plane_shape(g, elem);
    const dim_t per_thread = round_up(ps.all + ps.len, 16) * static_cast<dim_t>(elem);  // checked there
    return static_cast<std::size_t>(checked_mul(per_thread, nthreads, "conv2d: the depthwise kernel's scratch"));
}

template <typename T>
void transpose_depthwise_taps(const ConvGeom& g, const T* w, T* w_rsc) {
    const dim_t taps = g.r * g.s;
    for (dim_t c = 0; c < g.c; ++c)
        for (dim_t q = 0; q < taps; ++q) w_rsc[q * g.c + c] = w[c * taps + q];
}

template <typename T>
void depthwise_conv(const ConvGeom& g, const ConvIO<T>& io, const T* w_rsc, Isa isa, int nt) {
    const dim_t ho_n = g.ho(), wo_n = g.wo();
    if (g.nhwc) {
        if (w_rsc == nullptr) {
            T* t = static_cast<T*>(workspace(static_cast<std::size_t>(g.r * g.s * g.c) * sizeof(T), Slot::scratch));
            transpose_depthwise_taps(g, io.w, t);
            w_rsc = t;
        }
        const dim_t rows = g.n * ho_n;
        const bool unit_c = io.xs.c == 1;
        depthwise_row_fn<T> fast = nullptr;
        if (const depthwise_pick_fn<T> pick = isa_kernels<T>(isa).depthwise_row; pick && unit_c && io.ys.c == 1 &&
                                                    (io.r == nullptr || io.rs.c == 1))
            fast = pick(g);
        if (fast) {
            // The items (row, channel chunk) are split among the threads in row-major order, so a
            // thread gets the rows it had when rows were the unit (the previous layer left them in
            // its L2) and a 7-row plane still splits evenly over 2 threads (rows alone went 4/3);
            // each thread then runs its items chunk by chunk (channel_chunk).
            const dim_t chunk = channel_chunk(g, sizeof(T)), chunks = ceil_div(g.c, chunk), items = chunks * rows;
            run_parts(nt, [&](dim_t t, dim_t team) {
                const dim_t i0 = items * t / team, i1 = items * (t + 1) / team;
                for (dim_t ch = 0; ch < chunks; ++ch) {
                    const dim_t cb = ch * chunk, ce = std::min(g.c, cb + chunk);
                    for (dim_t row = i0 > ch ? ceil_div(i0 - ch, chunks) : 0; row * chunks + ch < i1; ++row)
                        fast(g, io, w_rsc, row / ho_n, row % ho_n, cb, ce);
                }
            });
            return;
        }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (dim_t row = 0; row < rows; ++row)
            for (dim_t wo = 0; wo < wo_n; ++wo) {
                if (unit_c) nhwc_pixel<T, true>(g, io, w_rsc, row / ho_n, row % ho_n, wo);
                else nhwc_pixel<T, false>(g, io, w_rsc, row / ho_n, row % ho_n, wo);
            }
        return;
    }
    const dim_t planes = g.n * g.c;
    if (g.sh != g.sw) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (dim_t p = 0; p < planes; ++p) nchw_plane_general(g, io, p / g.c, p % g.c);
        return;
    }
    const PlaneShape ps = plane_shape(g, sizeof(T));
    const std::vector<dim_t> off = tap_offsets(g, ps);
    const std::size_t per_thread = round_up(static_cast<std::size_t>(ps.all + ps.len), 16);
    // Allocated here, on the calling thread: an allocation failure must throw before any worker runs.
    const dim_t bytes = checked_mul(static_cast<dim_t>(per_thread * sizeof(T)), nt, "conv2d: the depthwise kernel's scratch");
    T* scratch = static_cast<T*>(workspace(static_cast<std::size_t>(bytes), Slot::scratch));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        T* mine = scratch + per_thread * static_cast<std::size_t>(omp_get_thread_num());
#else
        T* mine = scratch;
#endif
#pragma omp for schedule(static)
        for (dim_t p = 0; p < planes; ++p) nchw_plane(g, io, ps, off.data(), p / g.c, p % g.c, mine);
    }
}

template void depthwise_conv<float>(const ConvGeom&, const ConvIO<float>&, const float*, Isa, int);
template void depthwise_conv<double>(const ConvGeom&, const ConvIO<double>&, const double*, Isa, int);
template void transpose_depthwise_taps<float>(const ConvGeom&, const float*, float*);
template void transpose_depthwise_taps<double>(const ConvGeom&, const double*, double*);

}  // namespace kernels
