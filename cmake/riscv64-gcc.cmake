# CMake toolchain file: cross-builds the engine for riscv64 Linux with Debian's
# g++-riscv64-linux-gnu (GCC 12: OpenMP through libgomp, but no RVV intrinsics, so only the
# portable generic kernels are built), static, for qemu-riscv64-static. riscv64-gcc-clang-rvv.cmake
# includes it and adds clang for the rvv kernels (the threaded build .ci/riscv.sh runs).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_CXX_COMPILER riscv64-linux-gnu-g++)
set(CMAKE_CXX_FLAGS_INIT "-march=rv64gc")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_FIND_ROOT_PATH /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64-static -cpu rv64)
# A static link takes archives only: FindOpenMP would name libgomp.so and libatomic.so (found from
# the compiler's implicit link line, not by find_library), so the archives are given here.
foreach(_lib gomp atomic)
  file(GLOB _rv_a /usr/lib/gcc-cross/riscv64-linux-gnu/*/lib${_lib}.a)
  if(_rv_a)
    list(GET _rv_a 0 _rv_a)
    set(OpenMP_${_lib}_LIBRARY "${_rv_a}" CACHE FILEPATH "lib${_lib} for the static riscv64 link")
  endif()
endforeach()
