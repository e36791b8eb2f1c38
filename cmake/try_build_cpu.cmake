# KERNELS_CPU_FALLBACK=ON (build time, cmake -P): configure and build hpc_kernels._cpu in WORK_DIR/build; a failure records why and exits 0.
#
# Inputs (-D): SOURCE_DIR, WORK_DIR (holds init-cache.cmake, written by cmake/cpu_fallback.cmake),
# GENERATOR, GENERATOR_PLATFORM, GENERATOR_TOOLSET, CONFIG. Outputs in WORK_DIR: `built` (a stamp:
# the sub-build succeeded) or `_cpu_not_built.txt` (first line: why; then the first error lines),
# and build.log (the whole output of the last attempt).
cmake_minimum_required(VERSION 3.18...3.31)  # 3.18: execute_process(ECHO_OUTPUT_VARIABLE)

set(_bin "${WORK_DIR}/build")
set(_log "${WORK_DIR}/build.log")
set(_reason_file "${WORK_DIR}/_cpu_not_built.txt")
# A stale outcome must never be installed: the stamp and the reason are rewritten by this attempt.
file(REMOVE "${WORK_DIR}/built" "${_reason_file}")

# Runs one step with its output shown and captured; on failure writes the reason file and stops (exit 0).
macro(_kernels_step step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out
                  ECHO_OUTPUT_VARIABLE ECHO_ERROR_VARIABLE)
  file(APPEND "${_log}" "$ ${ARGN}\n${_out}\n")
  if(NOT _rc EQUAL 0)
    _kernels_record_failure("${step}" "${_out}" "${_rc}")
    return()
  endif()
endmacro()

function(_kernels_record_failure step output rc)
  # The first error: a CMake Error block (its first line and the indented lines under it), a
  # compiler's or the linker's "error:", an undefined reference or a library the linker cannot
  # find (both come before collect2's "error: ld returned 1"); else the output's last line.
  string(REGEX MATCH "CMake Error[^\n]*(\n( [^\n]*)?)*" _first "${output}")
  if(NOT _first)
    string(REGEX MATCH "[^\n]*(error:|undefined reference|ld: cannot find)[^\n]*" _first "${output}")
  endif()
  if(NOT _first)
    string(STRIP "${output}" _tail)
    string(REGEX MATCH "[^\n]*$" _first "${_tail}")
  endif()
  if(NOT _first)
    set(_first "exit status ${rc}, no output")
  endif()
  string(REGEX REPLACE "[ \t\r\n]+" " " _summary "${_first}")
  string(STRIP "${_summary}" _summary)
  # Context: the output from the first error on (from Ninja's "FAILED: <object>" line before it,
  # which names the translation unit), 4000 characters at most.
  string(FIND "${output}" "${_first}" _at)
  if(_at LESS 0)
    set(_at 0)
  endif()
  string(REGEX MATCH "FAILED: [^\n]*" _failed "${output}")
  if(_failed)
    string(STRIP "${_failed}" _failed)
    string(FIND "${output}" "${_failed}" _failed_at)
    if(_failed_at LESS _at)
      set(_at ${_failed_at})
      string(APPEND _summary " (${_failed})")
    endif()
  endif()
  string(SUBSTRING "${output}" ${_at} 4000 _context)
  string(LENGTH "${_summary}" _n)
  if(_n GREATER 500)
    string(SUBSTRING "${_summary}" 0 500 _summary)
    string(APPEND _summary " ...")
  endif()
  file(WRITE "${_reason_file}"
    "the C++ build failed at install time (${step} step) and KERNELS_CPU_FALLBACK=ON installed the package without it: ${_summary}\n"
    "\nFirst error lines of the ${step} step (the whole log was ${_log}):\n${_context}\n")
  message(WARNING "kernels: building the C++ extension hpc_kernels._cpu failed (${step} step); KERNELS_CPU_FALLBACK=ON: "
                  "the package installs without it and the cpu backend will be unavailable.\n  ${_summary}\n"
                  "Full log: ${_log}")
endfunction()

file(WRITE "${_log}" "")
# Configure when nothing was configured successfully yet or the forwarded settings changed since;
# a failed or outdated configure starts from an empty cache (a changed compiler cannot be reused).
set(_init "${WORK_DIR}/init-cache.cmake")
set(_configured_with "${WORK_DIR}/configured-with.cmake")
file(READ "${_init}" _want)
set(_have "")
if(EXISTS "${_configured_with}" AND EXISTS "${_bin}/CMakeCache.txt")
  file(READ "${_configured_with}" _have)
endif()
if(NOT _have STREQUAL _want)
  file(REMOVE "${_configured_with}")
  file(REMOVE_RECURSE "${_bin}")
  set(_gen -G "${GENERATOR}")
  if(GENERATOR_PLATFORM)
    list(APPEND _gen -A "${GENERATOR_PLATFORM}")
  endif()
  if(GENERATOR_TOOLSET)
    list(APPEND _gen -T "${GENERATOR_TOOLSET}")
  endif()
  _kernels_step(configure "${CMAKE_COMMAND}" -C "${_init}" -S "${SOURCE_DIR}" -B "${_bin}" ${_gen})
  file(WRITE "${_configured_with}" "${_want}")
endif()

set(_config_args)
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()
_kernels_step(build "${CMAKE_COMMAND}" --build "${_bin}" ${_config_args})
file(WRITE "${WORK_DIR}/built" "")
