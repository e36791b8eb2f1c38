"""The op kernels, one module per family; importing this package registers them all: the ai.onnx
ops, and the HPC_DOMAIN ops the compile passes create (fused.py: FusedConv; nhwc.py: the layout
pass's ToNHWC/ToNCHW, pools in either layout, ChannelAffine; qlinear.py, qadd_pool.py: QConv, QGemm, QAdd,
QGlobalAveragePool of the QDQ pass)."""
from . import (activation, conv, elementwise, fused, gemm, nhwc, norm, pad, pool, qadd_pool, qlinear,  # noqa: F401
               quantize, reduce, resize, shape)
