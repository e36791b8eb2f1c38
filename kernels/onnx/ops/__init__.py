"""The op kernels, one module per family; importing this package registers them all: the ai.onnx
ops, and the HPC_DOMAIN ops the compile passes create (fused.py: FusedConv; nhwc.py: the layout
pass's ToNHWC/ToNCHW, pools in either layout, ChannelAffine; qlinear.py, qadd.py: QConv, QGemm, QAdd of the QDQ pass)."""
from . import (activation, conv, elementwise, fused, gemm, nhwc, norm, pad, pool, qadd, qlinear, quantize, reduce,  # noqa: F401
               resize, shape)
