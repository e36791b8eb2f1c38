"""Backend registry: name -> "module:object". Order matters: for an array type, the first
available backend that accepts it is the default. A new backend is a new module plus one line."""

REGISTRY = {
    "cpu": "kernels.backends.cpu:backend",
    "numba": "kernels.backends.numba:backend",  # the default for NumPy arrays when cpu is not built
    "reference": "kernels.backends.reference:backend",
    "opencl": "kernels.backends.opencl:backend",
    "cuda": "kernels.backends.cuda:backend",
}
