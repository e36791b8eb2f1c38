"""Benchmark code behind `python -m kernels bench` (kept in the package so an installed wheel can run it)."""
