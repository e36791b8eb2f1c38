// The register block of the NDRange kernels: MWI x (VW*NVEC) accumulators and one k step of it (macros, inlined everywhere).
//
// Shared by gemm_ndrange.cl and conv_ndrange.cl. Per k step: NVEC vector loads of the B row,
// MWI broadcasts of A, MWI*NVEC FMAs (the BLIS micro-kernel as one work item). Macros rather
// than functions because the B row may live in __global, __local or __private memory, and
// OpenCL 1.2 has no generic address space.
#define NWI (VW * NVEC)

#define BLOCK_ZERO(acc)                                                          \
    REALV acc[MWI][NVEC];                                                        \
    _Pragma("unroll") for (int i_ = 0; i_ < MWI; ++i_)                           \
        _Pragma("unroll") for (int v_ = 0; v_ < NVEC; ++v_) acc[i_][v_] = (REALV)(ZERO)

// acc += a[0:MWI] (outer) brow[0:NWI]
#define BLOCK_STEP(acc, a, brow)                                                 \
    {                                                                            \
        REALV bv_[NVEC];                                                         \
        _Pragma("unroll") for (int v_ = 0; v_ < NVEC; ++v_) bv_[v_] = VLOAD((brow) + v_ * VW); \
        _Pragma("unroll") for (int i_ = 0; i_ < MWI; ++i_) {                     \
            const REALV av_ = (REALV)((a)[i_]);                                  \
            _Pragma("unroll") for (int v_ = 0; v_ < NVEC; ++v_) acc[i_][v_] = av_ * bv_[v_] + acc[i_][v_]; \
        }                                                                        \
    }

// Runs the statements given last for every element of the block that lies inside the m x n result: i (row), j
// (column) and val (its value) in scope; the write-back of every NDRange kernel.
#define BLOCK_EACH(acc, i0, j0, m, n, ...)                                       \
    _Pragma("unroll") for (int i = 0; i < MWI; ++i)                              \
        _Pragma("unroll") for (int v_ = 0; v_ < NVEC; ++v_) {                    \
            union { REALV v; REAL s[VW]; } u_;                                   \
            u_.v = acc[i][v_];                                                   \
            _Pragma("unroll") for (int l_ = 0; l_ < VW; ++l_) {                  \
                const int j = v_ * VW + l_;                                      \
                const REAL val = u_.s[l_];                                       \
                if ((i0) + i < (m) && (j0) + j < (n)) { __VA_ARGS__ }            \
            }                                                                    \
        }
