# KERNELS_RVV_CXX: csrc/arch/rvv/ compiled by a second C++ compiler (clang++ >= 16), the rest of the build by
# the project's compiler (GCC < 14: OpenMP through libgomp, but no RVV intrinsics).
#
# CMake takes one C++ compiler per project, so the rvv sources are compiled here by custom commands
# into plain objects, archived as the static library kernels_rvv_objects, which every target that
# compiles the engine links (kernels_engine_settings in CMakeLists.txt). The interface between the
# two sides is the ISA table's (arch/ukernel.hpp: Ukernel structs of plain pointers and scalars,
# functions of pointers and scalars, no vector types), the same lp64d calling convention in both
# compilers; both take the same libstdc++ headers (clang finds GCC's installation), and the packing
# templates the rvv files instantiate have internal linkage (gemm/packing.hpp), so no rv64gcv copy
# of a shared inline function can replace the portable one at link time.
#   cmake ... -DCMAKE_CXX_COMPILER=g++ -DKERNELS_RVV_CXX=clang++-16        (on a riscv64 board)
#   cmake ... -DCMAKE_TOOLCHAIN_FILE=cmake/riscv64-gcc-clang-rvv.cmake     (cross, .ci/riscv.sh)
set(KERNELS_RVV_CXX "" CACHE STRING
    "A second C++ compiler (clang++ >= 16) for csrc/arch/rvv/ alone, where the main one lacks RVV intrinsics")
set(KERNELS_RVV_CXX_FLAGS "" CACHE STRING "Flags for KERNELS_RVV_CXX first (e.g. --target=riscv64-linux-gnu)")
separate_arguments(_kernels_rvv_cxx_flags UNIX_COMMAND "${KERNELS_RVV_CXX_FLAGS}")

# The check CMakeLists.txt runs with the main compiler (kernels_rvv_check), run with KERNELS_RVV_CXX:
# compile only (that compiler's link step may need a sysroot the project's compiler supplies).
function(kernels_rvv_cxx_check source result)
  set(_dir "${CMAKE_BINARY_DIR}/CMakeFiles/kernels_rvv_cxx_check")
  file(MAKE_DIRECTORY "${_dir}")
  file(WRITE "${_dir}/check.cpp" "${source}")
  execute_process(COMMAND ${KERNELS_RVV_CXX} ${_kernels_rvv_cxx_flags} -std=c++17 ${KERNELS_rvv_FLAGS}
                          -c "${_dir}/check.cpp" -o "${_dir}/check.o"
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(_rc EQUAL 0)
    set(${result} ON PARENT_SCOPE)
  else()
    set(${result} OFF PARENT_SCOPE)
    message(STATUS "kernels: ${KERNELS_RVV_CXX} does not compile the RVV check: ${_out}")
  endif()
endfunction()

# kernels_rvv_objects(<sources>): one object per source, compiled with the engine's flags
# (target_compile_options of kernels_engine_test and kernels_engine), the rvv flags, the ISA
# definitions, PIC and hidden visibility (harmless in the static test binary, needed in the module).
function(kernels_rvv_objects)
  # No depfile (Makefiles take one only from CMake 3.20): each object depends on every header.
  file(GLOB_RECURSE _headers CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/csrc/*.hpp")
  set(_defs "")
  foreach(_d IN LISTS KERNELS_ISA_DEFINITIONS)
    list(APPEND _defs "-D${_d}")
  endforeach()
  set(_objects "")
  foreach(_src IN LISTS ARGN)
    get_filename_component(_name "${_src}" NAME_WE)
    set(_obj "${CMAKE_BINARY_DIR}/kernels_rvv_objects/${_name}.o")
    add_custom_command(
      OUTPUT "${_obj}"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/kernels_rvv_objects"
      COMMAND ${KERNELS_RVV_CXX} ${_kernels_rvv_cxx_flags} -std=c++17 -O3 -DNDEBUG -fPIC -fvisibility=hidden
              -fvisibility-inlines-hidden -Wall -Wextra -fno-math-errno ${KERNELS_rvv_FLAGS} ${_defs}
              -c "${_src}" -o "${_obj}"
      DEPENDS "${_src}" ${_headers}
      COMMENT "Building ${_name}.o with ${KERNELS_RVV_CXX} (KERNELS_RVV_CXX)"
      VERBATIM)
    list(APPEND _objects "${_obj}")
  endforeach()
  add_library(kernels_rvv_objects STATIC ${_objects})
  set_target_properties(kernels_rvv_objects PROPERTIES LINKER_LANGUAGE CXX)
  message(STATUS "kernels: csrc/arch/rvv/ compiled by ${KERNELS_RVV_CXX} (KERNELS_RVV_CXX), "
                 "the rest by ${CMAKE_CXX_COMPILER}")
endfunction()
