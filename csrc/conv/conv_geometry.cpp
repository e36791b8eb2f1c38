// Validation of a convolution's geometry: values in range and every derived size free of overflow.
#include "conv_geometry.hpp"

#include <stdexcept>

#include "../checked.hpp"

namespace kernels {

namespace {

std::string tuple_str(std::initializer_list<dim_t> v) {
    std::string s = "(";
    for (const dim_t* p = v.begin(); p != v.end(); ++p) s += (p == v.begin() ? "" : ", ") + std::to_string(*p);
    return s + ")";
}

[[noreturn]] void bad(const char* fn, const std::string& msg) { throw std::invalid_argument(std::string(fn) + ": " + msg); }

}  // namespace

void check_bytes(const std::string& what, std::initializer_list<dim_t> dims, std::size_t elem) {
    dim_t bytes = static_cast<dim_t>(elem);
    bool over = false;
    for (const dim_t d : dims)
        if (d != 0) over = over || mul_overflows(bytes, d, &bytes);
    if (over)
        throw std::overflow_error(what + " = " + tuple_str(dims) + " is too large: with " + std::to_string(elem) +
                                  "-byte elements its size exceeds 2^63 bytes");
}

void check_geometry(const ConvGeom& g, std::size_t elem, const char* fn) {
    const std::string f = fn;
    if (g.n < 0 || g.c < 0 || g.h < 0 || g.w < 0)
        bad(fn, "x's dimensions (N, C, H, W) must be >= 0, got " + tuple_str({g.n, g.c, g.h, g.w}));
    if (g.k < 0) bad(fn, "the output channels K must be >= 0, got " + std::to_string(g.k));
    if (g.r < 1 || g.s < 1)
        bad(fn, "the kernel must be at least 1x1, got " + std::to_string(g.r) + "x" + std::to_string(g.s));
    if (g.sh < 1 || g.sw < 1) bad(fn, "stride must be >= 1, got " + tuple_str({g.sh, g.sw}));
    if (g.dh < 1 || g.dw < 1) bad(fn, "dilation must be >= 1, got " + tuple_str({g.dh, g.dw}));
    if (g.pt < 0 || g.pb < 0 || g.pl < 0 || g.pr < 0)
        bad(fn, "padding must be >= 0, got " + tuple_str({g.pt, g.pb, g.pl, g.pr}));
    if (g.groups < 1) bad(fn, "groups must be >= 1, got " + std::to_string(g.groups));
    if (g.c % g.groups || g.k % g.groups)
        bad(fn, "groups=" + std::to_string(g.groups) + " must divide the input channels (" + std::to_string(g.c) +
                    ") and the output channels (" + std::to_string(g.k) + ")");
    // Padded input and dilated kernel extents: ho() and wo() are computed from these.
    dim_t ph, pw, eh, ew;
    if (add_overflows(g.h, g.pt, &ph) || add_overflows(ph, g.pb, &ph) || add_overflows(g.w, g.pl, &pw) ||
        add_overflows(pw, g.pr, &pw))
        throw std::overflow_error(f + ": padding " + tuple_str({g.pt, g.pb, g.pl, g.pr}) +
                                  " is too large: the padded input's height or width exceeds 2^63 - 1");
    if (mul_overflows(g.dh, g.r - 1, &eh) || mul_overflows(g.dw, g.s - 1, &ew))
        throw std::overflow_error(f + ": dilation " + tuple_str({g.dh, g.dw}) + " is too large for a " +
                                  std::to_string(g.r) + "x" + std::to_string(g.s) +
                                  " kernel: the dilated kernel's extent exceeds 2^63 - 1");
    if (eh >= ph || ew >= pw)  // extents eh + 1 and ew + 1
        bad(fn, "the (dilated) kernel is larger than the padded input");
    check_bytes(f + ": x (N, C, H, W)", {g.n, g.c, g.h, g.w}, elem);
    check_bytes(f + ": w (K, C/groups, R, S)", {g.k, g.c / g.groups, g.r, g.s}, elem);
    check_bytes(f + ": the output (N, K, Ho, Wo)", {g.n, g.k, g.ho(), g.wo()}, elem);
}

}  // namespace kernels
