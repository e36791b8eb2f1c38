"""The op kernels, one module per family; importing this package registers them all: the ai.onnx
ops, and the HPC_DOMAIN ops the compile passes create (fused.py: FusedConv; chain.py: FusedConvChain; nhwc.py:
the layout pass's ToNHWC/ToNCHW, pools in either layout, ChannelAffine; qlinear.py, qadd_pool.py: QConv,
QGemm, QAdd, QGlobalAveragePool of the QDQ pass)."""
from . import (activation, chain, conv, elementwise, fused, gemm, nhwc, norm, pad, pool, qadd_pool,  # noqa: F401
               qlinear, quantize, reduce, resize, shape)
