"""The cpu backend's int8 operations: the C++ int8 engine (csrc/gemm/qgemm.cpp) through
hpc_kernels._cpu. Arguments arrive checked (kernels/_api/quantized.py); here they are put in the
engine's form: operands broadcast to one batch shape (views), the per-column vectors and the
epilogue's float32 constants exactly as quant_args.finish computes them."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..._api.quant_args import QuantParams


def epilogue_args(q: QuantParams) -> Tuple[Optional[np.ndarray], float, float]:
    """(multiplier per column or None, float32(1/out_scale), relu6's bound in output units)."""
    if q.mode == "int32":
        return None, 1.0, 6.0
    mult = np.ascontiguousarray(q.multiplier(), np.float32)
    if q.mode == "float":
        return mult, 1.0, 6.0
    inv = np.float32(np.float32(1) / q.out_scale)
    hi = np.float32(np.float32(6) / q.out_scale)
    return mult, float(inv), float(hi)


def qgemm(cpu, a: np.ndarray, b: np.ndarray, q: QuantParams, residual: Optional[np.ndarray], out: np.ndarray):
    batch = out.shape[:-2]
    a3 = np.broadcast_to(a, batch + a.shape[-2:])
    b3 = np.broadcast_to(b, batch + b.shape[-2:])
    mult, inv, hi = epilogue_args(q)
    cpu.qgemm(a3, b3, out, q.a_zero_point, q.b_zero_point, q.bias, q.mode, mult, inv, hi, q.activation,
              q.out_zero_point, residual)
    return out
