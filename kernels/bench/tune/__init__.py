"""Tuners behind `python -m hpc_kernels tune`, one module per backend."""
