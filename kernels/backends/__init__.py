"""The backends, one package each (cpu/, numba/, opencl/, cuda/, reference/), the interface they
implement (base.py), the host/device layer the device backends share (device.py) and the reader of
device kernel sources (_sources.py). kernels/_dispatch.py registers each backend by its string path
(REGISTRY) and imports it on first use; this package imports none of them."""
