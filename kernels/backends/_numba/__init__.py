"""numba kernels of the numba backend: packed GEMM, implicit/explicit im2col, depthwise (imports numba)."""
