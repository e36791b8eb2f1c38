// int8 convolution: per image and group, the lowered u8 matrix (im2col, padding = the
// activations' zero point, so padded taps contribute (zp - zp) * w = 0 after compensation) or,
// for pointwise layers, the image read in place; then one int8 GEMM (gemm/qgemm.cpp) in kernel
// orientation: channels x pixels, the output written through its (n, c, pixel) strides.
#include "qconv.hpp"

#include <algorithm>
#include <cstring>

#include "../arch/clones.hpp"
#include "../arch/qtile_store.hpp"
#include "../arch/table.hpp"
#include "../core/cpu_info.hpp"
#include "../core/schedule.hpp"
#include "../core/workspace.hpp"
#include "../gemm/driver.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {

// Lowered matrix of group grp of image img, one row of kd bytes per pixel j. rsc (x with unit
// channel stride: NHWC): L[j*kd + (r*S + s)*cg + c], each tap one copy of cg contiguous bytes;
// else L[j*kd + (c*R + r)*S + s], the weights' own order, each tap's channels read along x's
// channel stride and written RS apart (the row is L1-resident). One bounds check per tap.
//
// n bytes copied inline, in 64- and 16-byte moves of constant size (vector loads and stores in
// each clone: zmm in the AVX-512 one) and a last move that overlaps the one before, never a call:
// the short copies of few-channel layers cost more as calls than the GEMM after them (an RGB stem's
// 3-byte taps: 1.45 of its 1.83 ms), and so did the 192-byte kernel rows of a 64-channel 3x3 layer
// (three calls a pixel, 0.041 of the 0.291 ms of ResNet-50's 56x56 3x3 layer on Zen 5, the GEMM
// alone 0.250). Below 16 bytes, two overlapping moves of 8, 4 or 2: a byte loop for the tail,
// as before, GCC turned into a memcpy call of the variable length (the stem's 21-byte kernel rows:
// 87808 calls for 5 bytes each, with the row's zero padding a third of the layer's time).
// (The empty asm makes the loop counter opaque to the optimizer: GCC's loop distribution turns a
// loop of constant-size moves back into one memcpy call of the variable length otherwise.)
#define KERNELS_OPAQUE(x) __asm__("" : "+r"(x))

// Fill = false: copy n bytes from s; true: n bytes of the value s points to (taps outside the
// image, the rows' zero padding), from a 64-byte block of it, so both take the same moves.
template <bool Fill>
KERNELS_INLINE void put_bytes(std::uint8_t* KERNELS_RESTRICT d, const std::uint8_t* KERNELS_RESTRICT s, dim_t n) {
    std::uint8_t block[Fill ? 64 : 1];
    if constexpr (Fill) {
        std::memset(block, *s, 64);  // (constant size: a vector register)
        s = block;
    }
    auto src = [&](dim_t i) { return Fill ? s : s + i; };
    if (n >= 16) {
        dim_t i = 0;
        for (; i + 64 <= n; i += 64) {
            std::memcpy(d + i, src(i), 64);
            KERNELS_OPAQUE(i);
        }
        for (; i + 16 <= n; i += 16) {
            std::memcpy(d + i, src(i), 16);
            KERNELS_OPAQUE(i);
        }
        if (i < n) std::memcpy(d + n - 16, src(n - 16), 16);
    } else if (n >= 8) {
        std::memcpy(d, src(0), 8), std::memcpy(d + n - 8, src(n - 8), 8);
    } else if (n >= 4) {
        std::memcpy(d, src(0), 4), std::memcpy(d + n - 4, src(n - 4), 4);
    } else if (n >= 2) {
        std::memcpy(d, src(0), 2), std::memcpy(d + n - 2, src(n - 2), 2);
    } else if (n == 1) {
        d[0] = *s;
    }
}

KERNELS_INLINE void copy_bytes(std::uint8_t* KERNELS_RESTRICT d, const std::uint8_t* KERNELS_RESTRICT s, dim_t n) {
    put_bytes<false>(d, s, n);
}
KERNELS_INLINE void fill_bytes(std::uint8_t* d, std::uint8_t v, dim_t n) { put_bytes<true>(d, &v, n); }

struct LowerArgs {
    const QConvArgs* a;
    const std::uint8_t* xi;  // the image's group: channel 0 of pixel (0, 0)
    std::uint8_t pad;
    bool rsc;
    dim_t ld;
    std::uint8_t* L;
    dim_t j0;  // the chunk's first pixel: row j - j0 of L
};

// Pixels [jb, je) of the chunk: one call per thread, compiled per clone target (the copies above
// inline into its loops).
KERNELS_CLONES void lower_pixels(const LowerArgs& l, dim_t jb, dim_t je) {
    const QConvArgs& a = *l.a;
    const ConvGeom& g = a.g;
    const dim_t wo = g.wo(), kd = g.kd(), cg = g.cg(), RS = g.r * g.s, ld = l.ld;
    const bool rsc = l.rsc;
    const dim_t tap_step = rsc ? cg : 1, chan_step = rsc ? 1 : RS;
    // Dense NHWC pixels (their cg channels back to back, one group, no column dilation): the S taps
    // of a kernel row inside the image are one run of S*cg bytes, copied at once.
    const bool row_runs = rsc && a.xs.w == cg && g.dw == 1;
    const std::uint8_t* xi = l.xi;
    for (dim_t j = jb; j < je; ++j) {
        const dim_t oh = j / wo, ow = j % wo;
        std::uint8_t* row = l.L + (j - l.j0) * ld;
        fill_bytes(row + kd, 0, ld - kd);  // (zeros: qgemm's b_zero_to)
        for (dim_t r = 0; r < g.r; ++r) {
            const dim_t ih = oh * g.sh - g.pt + r * g.dh;
            const dim_t iw0 = ow * g.sw - g.pl;
            if (row_runs && ih >= 0 && ih < g.h && iw0 >= 0 && iw0 + g.s <= g.w) {
                copy_bytes(row + r * g.s * cg, xi + ih * a.xs.h + iw0 * a.xs.w, g.s * cg);
                continue;
            }
            for (dim_t s = 0; s < g.s; ++s) {
                const dim_t iw = ow * g.sw - g.pl + s * g.dw;
                std::uint8_t* d = row + (r * g.s + s) * tap_step;
                const bool in = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
                const std::uint8_t* px = in ? xi + ih * a.xs.h + iw * a.xs.w : nullptr;
                if (rsc) {
                    if (in) copy_bytes(d, px, cg);
                    else fill_bytes(d, l.pad, cg);
                } else if (in && chan_step == 1 && a.xs.c == 1) {
                    // One tap (strided 1x1 layers: the (c, r, s) order is the channels' own) of an
                    // NHWC pixel: one copy, not a strided byte loop (0.1 of the 0.4 ms of ResNet-50's
                    // 256->512 stride-2 downsample).
                    copy_bytes(d, px, cg);
                } else if (in) {
                    for (dim_t c = 0; c < cg; ++c) d[c * chan_step] = px[c * a.xs.c];
                } else {
                    for (dim_t c = 0; c < cg; ++c) d[c * chan_step] = l.pad;
                }
            }
        }
    }
}

// Pixels [j0, j1) of the image, row j - j0 of L; the call's threads take equal ranges of pixels.
void lower(const QConvArgs& a, dim_t img, dim_t grp, std::uint8_t pad, bool rsc, dim_t ld, std::uint8_t* L, dim_t j0,
           dim_t j1, int nthreads) {
    const LowerArgs l{&a, a.x + img * a.xs.n + grp * a.g.cg() * a.xs.c, pad, rsc, ld, L, j0};
#ifdef _OPENMP
    if ((j1 - j0) * ld > (1 << 16) && nthreads > 1) {
#pragma omp parallel num_threads(nthreads)
        {
            dim_t b, e;
            split(j1 - j0, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
            lower_pixels(l, j0 + b, j0 + e);
        }
        return;
    }
#endif
    (void)nthreads;
    lower_pixels(l, j0, j1);
}

// The weights of k channels in (r, s, c) reduction order: out[i*kd + t*cg + c] = w[i*kd + c*RS + t].
void weights_rsc(const std::int8_t* w, dim_t k, dim_t cg, dim_t rs, std::int8_t* out) {
    for (dim_t i = 0; i < k; ++i)
        for (dim_t c = 0; c < cg; ++c)
            for (dim_t t = 0; t < rs; ++t) out[i * cg * rs + t * cg + c] = w[i * cg * rs + c * rs + t];
}

}  // namespace

void qconv2d(const QConvArgs& a, const QCandidate& cand, int nthreads) {
    const ConvGeom& g = a.g;
    const dim_t P = g.pixels(), kd = g.kd(), kg = g.kg(), cg = g.cg();
    if (g.n == 0 || g.k == 0 || P == 0) return;
    if (g.depthwise()) return qconv2d_depthwise(a, nthreads);
    const bool direct = g.pointwise() && (P == 1 || a.xs.h == g.w * a.xs.w);  // the image is the GEMM's B
    // NHWC inputs are lowered in (r, s, c) order (whole-tap copies); the weights then in that
    // order too: packed so (QConvWeights for NHWC), else reordered here (K x kd bytes, small).
    const dim_t RS = g.r * g.s;
    const bool rsc = !direct && a.xs.c == 1 && RS > 1 && cg > 1;
    const bool use_packed = a.packed && static_cast<dim_t>(a.packed->size()) == g.groups && a.packed_rsc == rsc;
    // Reordered only without usable packed weights: qgemm reads the packed panels alone then (the
    // reorder of K x kd bytes per call, a strided byte loop, cost more than the layer-4 3x3's GEMM:
    // 2.4 MB for 512->512).
    const bool need_w = !(use_packed && a.packed_mr == cand.ukr->mr);
    std::vector<std::int8_t> w_rsc;  // (also what qgemm falls back to when the packed MR is another kernel's)
    if (rsc && need_w) {
        w_rsc.resize(static_cast<std::size_t>(g.k * kd));
        weights_rsc(a.w, g.k, cg, RS, w_rsc.data());
    }
    const std::int8_t* wbase = rsc ? w_rsc.data() : a.w;
    // Lowered rows padded to whole quads (the stem's 147 bytes to 148): the int8 kernel then reads
    // them in place, unpacked (gemm/qgemm.cpp), its last quad included. Where the AMX tiles run
    // (k >= 64), to whole cache lines (148 to 192): the tiles read rows in place only from aligned
    // rows, and copied the stem's 12544 rows of 148 bytes per block instead (a memcpy call per row,
    // a fifth of the layer's time); the zeros past kd make the AMX kernel's last tile step whole
    // (b_zero_to; the stem's 5-quad tail ran on vpdpbusd).
    const dim_t ld = round_up(kd, kd >= 64 && int8_amx() ? 64 : 4);
    const std::uint8_t pad = static_cast<std::uint8_t>(a.x_zp);  // the raw byte (s8 zero points wrap as the data do)
    const dim_t es = qelem_size(a.mode);
    // The GEMM of pixels [j0, j1) of group grp of image img: B the image itself (direct) or the
    // lowered rows at L (row j - j0).
    auto gemm_args = [&](dim_t img, dim_t grp, dim_t j0, dim_t j1, const std::uint8_t* L) {
        QGemmArgs q;
        q.m = kg, q.n = j1 - j0, q.k = kd;
        q.a = wbase + grp * kg * kd, q.rs_a = kd, q.cs_a = 1, q.a_unsigned = a.w_unsigned;
        if (use_packed) q.a_packed = (*a.packed)[grp].data(), q.a_packed_mr = a.packed_mr, q.a_packed_k = a.packed_k;
        if (direct) {
            q.b = a.x + img * a.xs.n + grp * cg * a.xs.c + j0 * a.xs.w, q.rs_b = a.xs.c, q.cs_b = a.xs.w;
        } else {
            q.b = L, q.rs_b = 1, q.cs_b = ld, q.b_quads_readable = true, q.b_zero_to = ld, q.b_readable = ld;
        }
        q.b_signed = a.x_signed;
        const dim_t k0 = grp * kg;
        q.x_zp = a.x_zp, q.w_zp = a.w_zp + k0, q.bias = a.bias ? a.bias + k0 : nullptr;
        q.colsum = a.colsum ? a.colsum + k0 : nullptr;
        q.mode = a.mode, q.mult = a.mult ? a.mult + k0 : nullptr;
        q.inv_out_scale = a.inv_out_scale, q.hi = a.hi, q.act = a.act, q.out_zp = a.out_zp;
        // Pixel j at j * (W stride): the entry requires the output's (and residual's) H and W
        // to form one stride, so a chunk starts j0 pixels in.
        if (a.res) q.res = a.res + img * a.rs.n + k0 * a.rs.c + j0 * a.rs.w, q.rs_r = a.rs.c, q.cs_r = a.rs.w;
        if (a.skip) q.skip = a.skip + img * a.ss.n + k0 * a.ss.c + j0 * a.ss.w, q.rs_s = a.ss.c, q.cs_s = a.ss.w;
        q.add_ra = a.add_ra, q.add_rb = a.add_rb, q.add_k = a.add_k;
        q.c = static_cast<char*>(a.y) + (img * a.ys.n + k0 * a.ys.c + j0 * a.ys.w) * es, q.rs_c = a.ys.c, q.cs_c = a.ys.w;
        return q;
    };
    const dim_t nr = cand.ukr->nr;
    const dim_t l2 = static_cast<dim_t>(cache_sizes().l2);
#ifdef _OPENMP
    // Several threads, a lowered layer whose weights take at most a quarter of the L2 and enough
    // pixels for four units per thread: units of pixels taken from a counter (core/schedule.hpp),
    // each lowered into the taking thread's own buffer and multiplied there by that thread alone.
    // One parallel region per layer and no barrier between lowering and GEMM; the rows a thread
    // lowered are read by its own core from its own L2; the weights stay in every L2. Split as
    // below (threads sharing each chunk's lowering, then its GEMM), 2 threads on Zen 4 lost to
    // onnxruntime's indirect convolution by 1.25-1.4x on ResNet-50's 56x56 and 28x28 3x3 layers
    // (0.37-0.40 against 0.29 ms), twice the fork and join per chunk and the rows crossing cores.
    // As units (2 threads, Zen 4, medians of 200 calls): 56x56 64->64 3x3 0.40-0.45 -> 0.30-0.34 ms,
    // 28x28 128 3x3 0.33-0.49 -> 0.32, the 7x7/2 RGB stem 0.73-0.79 -> 0.49-0.50.
    // (Pointwise layers read in place keep the chunk below: as units, 2 threads, their times were
    // equal or up to 10% longer, ResNet-50's 28x28 128->512 with its skip 0.174 -> 0.187 ms.)
    const dim_t unit = std::min(std::max(nr, l2 / 4 / ld / nr * nr), round_up(ceil_div(P, 4 * nthreads), nr));
    if (!direct && nthreads > 1 && kg * kd <= l2 / 4 && P >= 4 * nthreads * nr) {
        const dim_t per_image = ceil_div(P, unit), units = g.n * g.groups * per_image;
        WorkCounter counter;
#pragma omp parallel num_threads(nthreads)
        {
            auto* Lt = static_cast<std::uint8_t*>(workspace(static_cast<std::size_t>(unit * ld), Slot::scratch));
            for (dim_t u = counter.next(); u < units; u = counter.next()) {
                const dim_t img = u / (g.groups * per_image), grp = u / per_image % g.groups;
                const dim_t j0 = u % per_image * unit, j1 = std::min(P, j0 + unit);
                lower(a, img, grp, pad, rsc, ld, Lt, j0, j1, 1);
                qgemm(gemm_args(img, grp, j0, j1, Lt), cand, 1);
            }
        }
        return;
    }
#endif
    // Lowered in chunks of pixels whose rows fit half the L2 (a multiple of the kernel's NR): each
    // chunk is written and then read by its GEMM while it is still in L2. The whole image lowered
    // at once (1.8 MB for ResNet-50's 56x56 3x3 layer) went out to L3 and came back.
    const dim_t chunk = direct ? P : std::min(P, std::max(nr, l2 / 2 / ld / nr * nr));
    std::uint8_t* L = direct ? nullptr : static_cast<std::uint8_t*>(workspace(static_cast<std::size_t>(chunk * ld), Slot::scratch));
    for (dim_t img = 0; img < g.n; ++img)
        for (dim_t grp = 0; grp < g.groups; ++grp)
            for (dim_t j0 = 0; j0 < P; j0 += chunk) {
                const dim_t j1 = std::min(P, j0 + chunk);
                if (!direct) lower(a, img, grp, pad, rsc, ld, L, j0, j1, nthreads);
                qgemm(gemm_args(img, grp, j0, j1, L), cand, nthreads);
            }
}

QConvWeights pack_qconv_weights(const std::int8_t* w, dim_t k, dim_t kd, dim_t rs, dim_t groups, bool w_unsigned,
                                bool rsc) {
    QConvWeights out;
    const QCandidate cand = qcandidate();
    const dim_t kg = k / groups;
    out.mr = cand.ukr->mr;
    rsc = rsc && rs > 1 && kd / rs > 1;  // (one tap or one channel: both orders are one; qconv2d's rule)
    out.rsc = rsc;
    out.colsum.assign(static_cast<std::size_t>(k), 0);
    qweight_sums(k, kd, w, kd, 1, w_unsigned, out.colsum.data());  // (the same in either order)
    std::vector<std::int8_t> reordered;
    if (rsc) {
        reordered.resize(static_cast<std::size_t>(k * kd));
        weights_rsc(w, k, kd / rs, rs, reordered.data());
        w = reordered.data();
    }
    for (dim_t grp = 0; grp < groups; ++grp)
        out.packed.push_back(pack_qweights(*cand.ukr, kg, kd, w + grp * kg * kd, kd, 1, w_unsigned));
    out.k_len = packed_qweights_k(*cand.ukr, kd);
    return out;
}

}  // namespace kernels
