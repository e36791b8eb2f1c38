// Banded runs of consecutive NHWC convolution layers (see conv_band.hpp): each thread takes a
// contiguous range of the last layer's output rows and walks it band by band; per band, every
// layer computes the rows the next one needs into that thread's band buffer.
#include "conv_band.hpp"

#include <algorithm>
#include <cstring>
#include <exception>

#include "../core/checked.hpp"
#include "../core/workspace.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {

struct Rows {
    dim_t lo, hi;  // [lo, hi)
    dim_t count() const { return hi - lo; }
};

// The input rows the window of output rows o spans, [*first, *end), before clipping to the image.
void window(const ConvGeom& g, Rows o, dim_t* first, dim_t* end) {
    *first = o.lo * g.sh - g.pt;
    *end = (o.hi - 1) * g.sh - g.pt + (g.r - 1) * g.dh + 1;
}

// The rows of the input (the previous layer's output) that layer g reads for its output rows o.
Rows input_rows(const ConvGeom& g, Rows o) {
    dim_t first, end;
    window(g, o, &first, &end);
    return {std::max<dim_t>(first, 0), std::min(end, g.h)};
}

// Layer g on one image's output rows o, reading the rows input_rows(g, o): its padding is the
// part of o's window outside the image, so its ho() is o.count() (band_step_ok keeps h >= 1).
ConvGeom band_geom(const ConvGeom& g, Rows o) {
    dim_t first, end;
    window(g, o, &first, &end);
    const Rows in = input_rows(g, o);
    ConvGeom b = g;
    b.n = 1;
    b.h = in.count();
    b.pt = in.lo - first;
    b.pb = end - in.hi;
    return b;
}

// A dense NHWC band of `rows` rows with ld elements per row and c channels per pixel.
Strides4 dense(dim_t rows, dim_t ld, dim_t c) { return Strides4{rows * ld, 1, ld, c}; }

constexpr dim_t kAlignElems = 64;  // band buffers start on cache lines (any T)

}  // namespace

bool band_step_ok(const ConvGeom& g, ConvAlgo algo) {
    const bool algo_ok = algo == ConvAlgo::gemm || algo == ConvAlgo::direct || algo == ConvAlgo::im2col ||
                         algo == ConvAlgo::convgemm;
    const dim_t reach = (g.r - 1) * g.dh;
    return g.nhwc && algo_ok && g.pt <= reach && g.pb <= reach && g.h >= 1 && g.ho() >= 1;
}

template <typename T>
std::size_t band_row_bytes(const std::vector<BandStep<T>>& steps) {
    // Layer i's rows per row of the last output: the product of the later layers' row strides.
    std::size_t bytes = 0, rows = 1;
    for (std::size_t i = steps.size() - 1; i-- > 0;) {
        rows *= static_cast<std::size_t>(steps[i + 1].g.sh);
        bytes += rows * static_cast<std::size_t>(steps[i].g.wo() * steps[i].g.k) * sizeof(T);
    }
    return bytes;
}

template <typename T>
void conv_band_chain(const std::vector<BandStep<T>>& steps, const T* x, Strides4 xs, T* y, Strides4 ys,
                     const Engine<T>& e, int nthreads, std::size_t band_bytes) {
    const std::size_t m = steps.size() - 1;  // the last layer; layers 0..m-1 write band buffers
    const ConvGeom& last = steps[m].g;
    const dim_t ho = last.ho(), total = last.n * ho;
    if (total == 0) return;
    const std::size_t row_bytes = std::max<std::size_t>(band_row_bytes(steps), 1);
    const dim_t band = std::max<dim_t>(1, static_cast<dim_t>(band_bytes / row_bytes));

    // Capacity of each buffer: the rows a band of `band` output rows can need, before clipping.
    std::vector<dim_t> cap(m + 1), ld(m + 1), offset(m + 1);
    cap[m] = band;
    for (std::size_t i = m; i > 0; --i) cap[i - 1] = (cap[i] - 1) * steps[i].g.sh + (steps[i].g.r - 1) * steps[i].g.dh + 1;
    dim_t elems = 0;
    for (std::size_t i = 0; i < m; ++i) {
        ld[i] = steps[i].g.wo() * steps[i].g.k;
        offset[i] = elems;
        elems = checked_round_up(checked_add(elems, checked_mul(cap[i], ld[i], "conv band"), "conv band"), kAlignElems,
                                 "conv band");
    }
    const int nt = static_cast<int>(std::min<dim_t>(std::max(nthreads, 1), total));
    std::exception_ptr error;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int t = omp_get_thread_num(), team = omp_get_num_threads();
#else
        const int t = 0, team = 1;
#endif
        try {
            T* base = static_cast<T*>(workspace(static_cast<std::size_t>(elems) * sizeof(T), Slot::band));
            std::vector<Rows> have(m + 1), need(m + 1);
            // This thread's rows of the last output, counted over all images.
            const dim_t u0 = total * t / team, u1 = total * (t + 1) / team;
            for (dim_t img = u0 / ho; img < last.n && img * ho < u1; ++img) {
                const dim_t lo = std::max(u0, img * ho) - img * ho, hi = std::min(u1, (img + 1) * ho) - img * ho;
                std::fill(have.begin(), have.end(), Rows{0, 0});
                for (dim_t a = lo; a < hi; a += band) {
                    need[m] = Rows{a, std::min(a + band, hi)};
                    for (std::size_t i = m; i > 0; --i) need[i - 1] = input_rows(steps[i].g, need[i]);
                    for (std::size_t i = 0; i <= m; ++i) {
                        const BandStep<T>& st = steps[i];
                        Rows todo = need[i];
                        ConvIO<T> io{};
                        if (i < m) {
                            T* buf = base + offset[i];
                            // Rows the previous band computed and this one reads again: kept.
                            if (have[i].lo <= todo.lo && todo.lo < have[i].hi) {
                                if (todo.lo > have[i].lo)
                                    std::memmove(buf, buf + (todo.lo - have[i].lo) * ld[i],
                                                 static_cast<std::size_t>((have[i].hi - todo.lo) * ld[i]) * sizeof(T));
                                todo.lo = have[i].hi;
                            }
                            have[i] = need[i];
                            io.y = buf + (todo.lo - need[i].lo) * ld[i];
                            io.ys = dense(cap[i], ld[i], st.g.k);
                        } else {
                            io.y = y + img * ys.n + todo.lo * ys.h;
                            io.ys = ys;
                        }
                        if (todo.count() <= 0) continue;
                        const Rows in = input_rows(st.g, todo);
                        if (i == 0) {
                            io.x = x + img * xs.n + in.lo * xs.h;
                            io.xs = xs;
                        } else {
                            io.x = base + offset[i - 1] + (in.lo - have[i - 1].lo) * ld[i - 1];
                            io.xs = dense(cap[i - 1], ld[i - 1], steps[i - 1].g.k);
                        }
                        io.w = st.w;
                        io.ep = st.ep;
                        if (st.r) io.r = st.r + img * st.rs.n + todo.lo * st.rs.h, io.rs = st.rs;
                        conv2d<T>(band_geom(st.g, todo), io, st.algo, st.pw, e, 1);
                    }
                }
            }
        } catch (...) {
#pragma omp critical(kernels_conv_band_error)
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
}

template std::size_t band_row_bytes<float>(const std::vector<BandStep<float>>&);
template std::size_t band_row_bytes<double>(const std::vector<BandStep<double>>&);
template void conv_band_chain<float>(const std::vector<BandStep<float>>&, const float*, Strides4, float*, Strides4,
                                     const Engine<float>&, int, std::size_t);
template void conv_band_chain<double>(const std::vector<BandStep<double>>&, const double*, Strides4, double*,
                                      Strides4, const Engine<double>&, int, std::size_t);

}  // namespace kernels
