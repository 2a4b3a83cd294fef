# cmake -DCXX=<compiler> -DMODE=<single|shared> -DFLAGS="<flags>" -DINCLUDE=<dir>
#       -DSRC_DIR=<tests/dropin> -DWORK_DIR=<dir> -DEXPECT=<regex> -P run_dropin.cmake
# single: CXX FLAGS -I INCLUDE main.cpp -o prog
# shared: CXX FLAGS -fPIC -shared shared_lib.cpp -o libgoro_dropin.so
#         CXX FLAGS -c shared_tu.cpp; CXX FLAGS -c shared_main.cpp
#         CXX FLAGS shared_tu.o shared_main.o -lgoro_dropin -o prog
# then runs prog and expects exit code 0 and output matching EXPECT.
cmake_minimum_required(VERSION 3.14)
separate_arguments(_flags UNIX_COMMAND "${FLAGS}")

function(run what)
  string(REPLACE ";" " " _shown "${ARGN}")
  message(STATUS "${what}: ${_shown}")
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK_DIR}"
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out TIMEOUT 300)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${_rc}):\n${_out}")
  endif()
  set(LAST_OUTPUT "${_out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_inc "-I${INCLUDE}")

if(MODE STREQUAL "single")
  run("compile" "${CXX}" ${_flags} ${_inc} "${SRC_DIR}/main.cpp" -o prog)
elseif(MODE STREQUAL "shared")
  run("shared library" "${CXX}" ${_flags} ${_inc} -fPIC -shared
    "${SRC_DIR}/shared_lib.cpp" -o libgoro_dropin.so)
  run("compile TU 1" "${CXX}" ${_flags} ${_inc} -c "${SRC_DIR}/shared_tu.cpp" -o shared_tu.o)
  run("compile TU 2" "${CXX}" ${_flags} ${_inc} -c "${SRC_DIR}/shared_main.cpp" -o shared_main.o)
  run("link" "${CXX}" ${_flags} shared_tu.o shared_main.o -L. -lgoro_dropin
    "-Wl,-rpath,${WORK_DIR}" -o prog)
else()
  message(FATAL_ERROR "run_dropin: unknown MODE '${MODE}'")
endif()

run("run" "${WORK_DIR}/prog")
if(NOT LAST_OUTPUT MATCHES "${EXPECT}")
  message(FATAL_ERROR "prog did not print '${EXPECT}':\n${LAST_OUTPUT}")
endif()
message(STATUS "prog: ${LAST_OUTPUT}")
