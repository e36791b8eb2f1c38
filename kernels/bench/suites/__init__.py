"""One benchmark suite per backend (`python -m kernels bench --backend <name>`): its backend against the reference libraries, interleaved."""
