"""The opencl backend's conv2d algorithms: what its kernels really run, and what "auto" picks.

The NDRange form has two: explicit im2col (im2col_panels lowers x straight into GEMM panels, then
conv_nd's GEMM loop) and the implicit gather (conv_nd with local-memory gather tiles on GPUs,
convgemm_panel on CPUs: no lowered matrix). The FPGA form (conv_fpga) always gathers implicitly.
"auto" is the implicit gather: no workspace, and the one kernel every form has; choices measured
on the cpu backend (its thresholds, its tuning cache) say nothing about an OpenCL device.
"""
from __future__ import annotations

from typing import Dict

IMPLEMENTED: Dict[str, str] = {
    "im2col": "im2col_panels (explicit lowering into GEMM panels) + conv_nd; the FPGA form gathers instead",
    "convgemm": "implicit gather: conv_nd with local gather tiles (GPUs) or convgemm_panel (CPUs); conv_fpga",
}
AUTO = "convgemm (the implicit gather)"


def auto() -> str:
    return "convgemm"
