# CMake toolchain file: the riscv64 cross build with both the rvv kernels and OpenMP. GCC 12
# (Debian's g++-riscv64-linux-gnu: libgomp, no RVV intrinsics) compiles everything but
# csrc/arch/rvv/, which clang-16 compiles for the same target (KERNELS_RVV_CXX,
# cmake/rvv_second_compiler.cmake), with GCC's libstdc++ headers; GCC links one static binary.
# Used by .ci/riscv.sh:
#   cmake -S . -B build/rv-omp -DCMAKE_TOOLCHAIN_FILE=cmake/riscv64-gcc-clang-rvv.cmake -DKERNELS_BUILD_PYTHON=OFF ...
include("${CMAKE_CURRENT_LIST_DIR}/riscv64-gcc.cmake")
set(KERNELS_RVV_CXX "clang++-16" CACHE STRING "clang++ (>= 16) for csrc/arch/rvv/")
# -march=rv64gc as on the GCC side (the rvv flags add v for the rvv files alone); lp64d, the ABI
# both compilers default to for riscv64-linux-gnu, spelled out since the two sides must agree.
set(KERNELS_RVV_CXX_FLAGS "--target=riscv64-linux-gnu -march=rv64gc -mabi=lp64d" CACHE STRING "flags for KERNELS_RVV_CXX")
set(KERNELS_RV_QEMU_CPU "rv64,v=true,vlen=256,elen=64,vext_spec=v1.0" CACHE STRING "qemu -cpu for CTest")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64-static -cpu ${KERNELS_RV_QEMU_CPU})
