"""One benchmark suite per backend (`python -m hpc_kernels bench --backend <name>`): its backend against the reference libraries, interleaved."""
