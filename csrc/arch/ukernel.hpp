// The one micro-kernel contract shared by every ISA, and the descriptor the ISA table keeps per kernel.
#pragma once

#include "../core/common.hpp"
#include "../core/epilogue.hpp"

namespace kernels {

// C[0:m, 0:n] := beta * C + alpha * Apanel * Bpanel  for m <= MR, n <= NR.
//   a: packed A micro-panel, k columns of MR contiguous elements (zero padded past m),
//   b: packed B micro-panel, k rows of NR contiguous elements (zero padded past n),
//   c: element (i, j) at c[i*rs_c + j*cs_c], any strides (negative included).
// beta == 0 means C is not read (NaN/Inf already in C must not leak into the result).
// ep: nullptr, or a per-channel epilogue applied to the result before it is stored (already
// offset to this tile, see Epilogue::at); only the last k block of a product passes one.
template <typename T>
using ukr_fn = void (*)(dim_t k, T alpha, const T* KERNELS_RESTRICT a, const T* KERNELS_RESTRICT b,
                        T beta, T* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n, const Epilogue<T>* ep);

// Optional unpacked variant for small problems: A(i, p) at a[i + p*lda] (unit stride along i),
// B(p, j) at b[p*rs_b + j*cs_b]; otherwise the same contract as ukr_fn.
template <typename T>
using direct_fn = void (*)(dim_t k, T alpha, const T* a, inc_t lda, const T* b, inc_t rs_b,
                           inc_t cs_b, T beta, T* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n,
                           const Epilogue<T>* ep);

// Batch-reduce variant for direct convolution: C[0:m, 0:n] := ep(beta*C + sum_t A_t * B_t), with
//   A_t: kc steps of MR elements at a + a_off[t] inside a packed A micro-panel (the weights of
//        tap t), and B_t(p, j) at b[t*NR + j][p * rs_b] (the channels of output pixel j's input
//        pixel under tap t; a pixel in the zero padding points at zeros).
// B is read in place, never packed: each element is broadcast, so any address works.
// pf: memory the kernel warms into L2 while it computes (the caller's next weights), `lines`
// cache lines from `at`, spread evenly over its k steps; lines == 0: none. Only a hint: kernels
// without a prefetch instruction ignore it.
struct L2Prefetch {
    const char* at = nullptr;
    dim_t lines = 0;
};
template <typename T>
using taps_fn = void (*)(dim_t ntaps, dim_t kc, const T* a, const dim_t* a_off, const T* const* b,
                         inc_t rs_b, T beta, T* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n,
                         const Epilogue<T>* ep, L2Prefetch pf);

// Packs op(A)[0:mc, 0:kc] (element (i, p) at a[i*rs + p*cs]) into ceil(mc/MR) micro-panels.
template <typename T>
using pack_a_fn = void (*)(dim_t mc, dim_t kc, const T* a, inc_t rs, inc_t cs, T* dst);
// Packs op(B)[0:kc, 0:nc] (element (p, j) at b[p*rs + j*cs]) into ceil(nc/NR) micro-panels.
template <typename T>
using pack_b_fn = void (*)(dim_t kc, dim_t nc, const T* b, inc_t rs, inc_t cs, T* dst);

// Instruction sets in increasing order of capability; a cap selects the best one <= cap. Each has
// one row in the ISA table (arch/table.cpp), which says whether it is built and runnable.
// Families never meet in one build (rvv is RISC-V, avx2/avx512 x86), so a rank only has to order
// an ISA within its family and keep the default cap "avx512" (Python) above every other family.
enum class Isa : int { generic = 0, rvv = 1, avx2 = 2, avx512 = 3 };

template <typename T>
struct Ukernel {
    const char* name;  // e.g. "ukr_f32_avx512_32x12"
    Isa isa;
    dim_t mr, nr;
    // Fraction of the FMA peak the kernel sustains on L1-resident panels (measured for AVX-512 on
    // a Sapphire Rapids core; nominal elsewhere). Only compared between kernels of one ISA, to
    // trade a faster tile against the padding it adds on a given m (see Engine::pick).
    double efficiency;
    ukr_fn<T> kernel;
    pack_a_fn<T> pack_a;  // compiled with the same ISA flags as the kernel
    pack_b_fn<T> pack_b;
    direct_fn<T> direct;  // nullptr when the ISA has no unpacked kernel
    // Half-height variants (MR/2 rows, same packed panels) for the last rows of a block;
    // nullptr when the kernel has none. Same contract with m <= MR/2.
    ukr_fn<T> kernel_half;
    direct_fn<T> direct_half;
    // Batch-reduce (direct convolution) kernel and its half-height variant (nullptr: none).
    taps_fn<T> taps;
    taps_fn<T> taps_half;

    // Narrow variant (the first narrow_nr columns of the same packed panels, full height) for the
    // last columns of a block; nullptr when the kernel has none. Same contract with n <= narrow_nr.
    // A 49-pixel layer on a 6-column tile: 8 full panels and one of 1 column, which the full kernel
    // computes at the cost of 6 (ResNet-50's and MobileNetV2's 7x7 layers: 10-13% of their time).
    ukr_fn<T> kernel_narrow;
    dim_t narrow_nr;
    taps_fn<T> taps_narrow;  // the batch-reduce kernel's narrow variant (B's table keeps NR per tap)

    // Unpacked variant one vector short of the full height (MR - MR/MV rows, where that is more
    // than half: the 4-vector tiles), for a last row block between MR/2 and short_rows rows:
    // gemm.cpp's 48 of 49 rows on the 64-row tile, where B's columns alias in L1 and the 12-column
    // kernel cannot take them. nullptr / 0: none.
    direct_fn<T> direct_short = nullptr;
    dim_t short_rows = 0;

    // Rows of C actually computed for m rows: full tiles, and a half tile for a short remainder.
    dim_t padded_rows(dim_t m) const {
        const dim_t rem = m % mr, half = mr / 2;
        return m - rem + (rem == 0 ? 0 : (kernel_half && rem <= half ? half : mr));
    }
    // The unpacked kernel for a row block of `rows` <= MR rows: half, short or full height.
    direct_fn<T> direct_for(dim_t rows) const {
        if (rows <= mr / 2 && direct_half) return direct_half;
        return rows <= short_rows ? direct_short : direct;
    }
    // The same for the unpacked kernels, which also have the short variant.
    dim_t direct_padded_rows(dim_t m) const {
        const dim_t rem = m % mr;
        if (rem == 0 || (direct_half && rem <= mr / 2)) return padded_rows(m);
        return m - rem + (direct_short && rem <= short_rows ? short_rows : mr);
    }
    // Columns of C computed for n columns: full tiles, and a narrow tile for a short remainder.
    dim_t padded_cols(dim_t n) const {
        const dim_t rem = n % nr;
        return n - rem + (rem == 0 ? 0 : (kernel_narrow && rem <= narrow_nr ? narrow_nr : nr));
    }
};

}  // namespace kernels
