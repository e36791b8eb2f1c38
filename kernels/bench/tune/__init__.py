"""Tuners behind `python -m kernels tune`, one module per backend."""
