# KERNELS_CPU_FALLBACK=ON (install time): install the sub-build's hpc_kernels._cpu if it was built, else the file saying why not.
#
# Included from cmake_install.cmake with KERNELS_CPU_WORK_DIR set (cmake/cpu_fallback.cmake). The
# module is installed by the sub-build's own install rules, with this install's prefix, --strip and
# configuration, so it lands exactly where the strict build puts it (hpc_kernels/). DESTDIR is
# inherited through the environment.
if(EXISTS "${KERNELS_CPU_WORK_DIR}/built")
  set(_args --install "${KERNELS_CPU_WORK_DIR}/build" --prefix "${CMAKE_INSTALL_PREFIX}")
  if(CMAKE_INSTALL_CONFIG_NAME)
    list(APPEND _args --config "${CMAKE_INSTALL_CONFIG_NAME}")
  endif()
  if(CMAKE_INSTALL_DO_STRIP)
    list(APPEND _args --strip)
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" ${_args} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "kernels: installing the built hpc_kernels._cpu failed (${_rc})")
  endif()
elseif(EXISTS "${KERNELS_CPU_WORK_DIR}/_cpu_not_built.txt")
  file(INSTALL "${KERNELS_CPU_WORK_DIR}/_cpu_not_built.txt" DESTINATION "${CMAKE_INSTALL_PREFIX}/hpc_kernels")
else()
  message(FATAL_ERROR "kernels: KERNELS_CPU_FALLBACK=ON but the kernels_cpu_fallback target has not run: build before installing")
endif()
