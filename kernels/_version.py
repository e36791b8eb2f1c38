"""Package version, from the installed distribution's metadata."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hpc-kernels")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
