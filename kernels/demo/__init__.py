"""The demo workflow of `python -m hpc_kernels demo`: heat-diffusion simulation, PCA analytics and CNN
inference as tasks on an embedded Dask cluster, each stage checked against the reference backend."""
