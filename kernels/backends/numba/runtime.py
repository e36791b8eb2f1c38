"""numba itself for the numba backend: its kernel cache and compile notice installed (cache.py,
compile_notice.py), the host's vector width, the compile options every kernel shares, and two intrinsics."""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..._cpu_features import isas
from . import cache, compile_notice

# The best vector ISA this CPU runs, from the one place that asks (kernels/_cpu_features.py: the
# C++ engine's table when it is built). Vector bytes the micro-kernel tile is sized for: 4 vectors
# per row of the tile, 6 rows, so 24 accumulators + 4 loads + 1 broadcast fit AVX-512's 32
# registers (AVX2: 2 vectors x 6 = 12 of 16).
ISA = isas()[0]
VECTOR_BYTES = {"avx512": 64, "avx2": 32}.get(ISA, 16)

# Compiled kernels are cached on disk so that the next process loads them instead of compiling
# (seconds -> tenths of a second), in CACHE_DIR for this package's kernels only (cache.py: numba's
# process-wide CACHE_DIR and the user's own cache=True functions are left alone). Installed here,
# before any kernel module's @njit(cache=True) runs: every kernel module imports this one first.
CACHE_DIR = cache.CACHE_DIR
cache.install()
compile_notice.install()

# Only FMA contraction: no reassociation, no NaN/Inf assumptions (fastmath=True would let LLVM
# drop NaN propagation and reorder sums). Contraction is what the C++ micro-kernels do too.
FASTMATH = {"contract"}


@intrinsic
def array_at(typingctx, address, like):
    """A pointer of `like`'s dtype at an integer address: inputs travel as (address, strides), so
    read-only arrays, views and both orders share one compiled kernel per dtype (no copies)."""
    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return types.CPointer(like.dtype)(address, like), codegen


@intrinsic
def element_ptr(typingctx, array, index):
    """&array[index] as a pointer: pointer indexing has no negative-index wraparound, which LLVM
    cannot drop for array indices it cannot prove non-negative (it then gathers each vector of
    the micro-kernel's B panel element by element)."""
    if not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.gep(ary.data, [args[1]])

    return types.CPointer(array.dtype)(array, index), codegen


@intrinsic
def stack_tile(typingctx, size, like):
    """A fixed-size scratch array on the stack: LLVM promotes it to registers (SROA) when every
    index is a constant, which is how the micro-kernel keeps its accumulators in vector registers.
    The enclosing function also gets prefer-vector-width=512: LLVM's tuning for these CPUs defaults
    to 256-bit vectors, which halves the tile and spills it."""
    if not isinstance(size, types.IntegerLiteral):
        return None

    def codegen(context, builder, sig, args):
        if VECTOR_BYTES == 64:
            set.add(builder.function.attributes, '"prefer-vector-width"="512"')  # no API for string attributes
        ty = context.get_value_type(like.dtype)
        return cgutils.alloca_once(builder, ty, size=ir.Constant(ir.IntType(64), size.literal_value))

    return types.CPointer(like.dtype)(size, like), codegen
