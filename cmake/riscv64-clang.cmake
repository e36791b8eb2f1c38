# CMake toolchain file: cross-builds the engine for riscv64 Linux with clang (>= 16, which has the
# RVV 1.0 intrinsics), taking libstdc++ and the sysroot from Debian's
# g++-riscv64-linux-gnu (GCC 12 there has no RVV intrinsics), linking static binaries with lld so
# that qemu-riscv64-static runs them without a riscv64 sysroot. Used by .ci/riscv.sh:
#   cmake -S . -B build/rv -DCMAKE_TOOLCHAIN_FILE=cmake/riscv64-clang.cmake -DKERNELS_BUILD_PYTHON=OFF ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(KERNELS_RV_CLANG "clang++-16" CACHE STRING "clang++ (>= 16) used for the riscv64 cross build")
set(CMAKE_CXX_COMPILER ${KERNELS_RV_CLANG})
set(CMAKE_CXX_COMPILER_TARGET riscv64-linux-gnu)
# The base ISA of the whole build is rv64gc: only csrc/arch/rvv/ gets -march=rv64gcv (CMakeLists),
# so the same binary runs, on the generic kernels, on a core without V.
set(CMAKE_CXX_FLAGS_INIT "-march=rv64gc")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fuse-ld=lld -static")
set(CMAKE_FIND_ROOT_PATH /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# No OpenMP: clang's -fopenmp emits calls into LLVM's libomp (__kmpc_*), which Debian does not
# ship for riscv64, and -fopenmp=libgomp only links libgomp without compiling the pragmas. FindOpenMP
# then fails its link test and the engine is built single-threaded (as with KERNELS_NO_OPENMP=ON).
# The threaded engine with the rvv kernels: riscv64-gcc-clang-rvv.cmake (GCC + libgomp, clang for rvv).
# CTest runs the test binary through qemu (vector length etc. from KERNELS_RV_QEMU_CPU).
set(KERNELS_RV_QEMU_CPU "rv64,v=true,vlen=256,elen=64,vext_spec=v1.0" CACHE STRING "qemu -cpu for CTest")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64-static -cpu ${KERNELS_RV_QEMU_CPU})
