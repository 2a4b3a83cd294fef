# cmake -DMODE=<install|pkgconfig|add_subdirectory|fetchcontent> -DGORO_SOURCE_DIR=...
#       -DCONSUMER_DIR=... -DPREFIX=... -DWORK_DIR=... -DGENERATOR=... -DCXX=...
#       -P run_packaging_test.cmake
# Builds and runs tests/consumer against goro in one of the ways users consume it.
cmake_minimum_required(VERSION 3.14)

foreach(_var MODE GORO_SOURCE_DIR CONSUMER_DIR PREFIX WORK_DIR GENERATOR CXX)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_packaging_test: -D${_var}=... is required")
  endif()
endforeach()

# run(<what> COMMAND...): runs a command, echoes it, fails loudly with its output.
function(run what)
  string(REPLACE ";" " " _shown "${ARGN}")
  message(STATUS "[${MODE}] ${what}: ${_shown}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out TIMEOUT 500)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "[${MODE}] ${what} failed (${_rc}):\n${_out}")
  endif()
  set(LAST_OUTPUT "${_out}" PARENT_SCOPE)
endfunction()

function(expect_output exe)
  run("run ${exe}" "${exe}")
  if(NOT LAST_OUTPUT MATCHES "consumer ok")
    message(FATAL_ERROR "[${MODE}] ${exe} did not print 'consumer ok':\n${LAST_OUTPUT}")
  endif()
  message(STATUS "[${MODE}] ${exe}: ${LAST_OUTPUT}")
endfunction()

set(_consumer_build "${WORK_DIR}/consumer-build")
set(_consumer_args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}" -DCMAKE_BUILD_TYPE=Release)
set(_single OFF)
if(EXISTS "${GORO_SOURCE_DIR}/single_include/goro.hpp")
  set(_single ON)
endif()

if(MODE STREQUAL "install")
  # The flags ports/goro/portfile.cmake and conanfile.py pass.
  file(REMOVE_RECURSE "${WORK_DIR}" "${PREFIX}")
  run("configure goro" "${CMAKE_COMMAND}" -S "${GORO_SOURCE_DIR}" -B "${WORK_DIR}/goro-build"
    -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}" -DCMAKE_BUILD_TYPE=Release
    -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_BENCHMARKS=OFF
    "-DCMAKE_INSTALL_PREFIX=${PREFIX}")
  run("build goro" "${CMAKE_COMMAND}" --build "${WORK_DIR}/goro-build")
  run("install goro" "${CMAKE_COMMAND}" --install "${WORK_DIR}/goro-build")
  foreach(_f include/goro/goro.hpp include/goro/config.hpp
             share/cmake/goro/goroConfig.cmake share/cmake/goro/goroConfigVersion.cmake
             share/cmake/goro/goroTargets.cmake share/pkgconfig/goro.pc)
    if(NOT EXISTS "${PREFIX}/${_f}")
      message(FATAL_ERROR "[install] ${_f} was not installed into the prefix")
    endif()
  endforeach()
  if(_single AND NOT EXISTS "${PREFIX}/include/goro.hpp")
    message(FATAL_ERROR "[install] single_include/goro.hpp was not installed as include/goro.hpp")
  endif()
  run("configure consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${_consumer_build}"
    ${_consumer_args} "-DCMAKE_PREFIX_PATH=${PREFIX}" -DGORO_CONSUMER_MODE=find_package
    "-DGORO_CONSUMER_SINGLE=${_single}")
elseif(MODE STREQUAL "pkgconfig")
  find_program(_pkg_config pkg-config)
  if(NOT _pkg_config)
    message(FATAL_ERROR "[pkgconfig] pkg-config is not installed (apt-get install pkg-config)")
  endif()
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/share/pkgconfig")
  run("pkg-config" "${_pkg_config}" --cflags --libs goro)
  string(STRIP "${LAST_OUTPUT}" _flags)
  separate_arguments(_flags UNIX_COMMAND "${_flags}")
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  run("compile" "${CXX}" -std=c++17 -O2 ${_flags} "${CONSUMER_DIR}/main.cpp" -o "${WORK_DIR}/app")
  expect_output("${WORK_DIR}/app")
  return()
elseif(MODE STREQUAL "add_subdirectory" OR MODE STREQUAL "fetchcontent")
  file(REMOVE_RECURSE "${WORK_DIR}")
  run("configure consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${_consumer_build}"
    ${_consumer_args} "-DGORO_CONSUMER_MODE=${MODE}" "-DGORO_SOURCE_DIR=${GORO_SOURCE_DIR}"
    "-DGORO_CONSUMER_SINGLE=${_single}")
else()
  message(FATAL_ERROR "run_packaging_test: unknown MODE '${MODE}'")
endif()

run("build consumer" "${CMAKE_COMMAND}" --build "${_consumer_build}")
expect_output("${_consumer_build}/app")
if(_single)
  expect_output("${_consumer_build}/app_single")
endif()
