# Checks one source of tests/compile_fail/: it must fail to compile, with an
# error matching the regular expression on its "// expect-error: " line (so
# that it fails because of its misuse, not a typo); ok_control.cpp instead
# must compile.
#
#   cmake -DCXX=<compiler> -DSRC=<file.cpp> -DINCLUDE=<include dir> [-DFLAGS=<;-list>] -P check.cmake
foreach(_var CXX SRC INCLUDE)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "check.cmake: -D${_var}=... is required")
  endif()
endforeach()

execute_process(
  COMMAND "${CXX}" -std=c++17 -fsyntax-only ${FLAGS} "-I${INCLUDE}" "${SRC}"
  RESULT_VARIABLE _rc
  OUTPUT_VARIABLE _out
  ERROR_VARIABLE _out)
get_filename_component(_name "${SRC}" NAME)

if(_name STREQUAL "ok_control.cpp")
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${_name} must compile, but:\n${_out}")
  endif()
  return()
endif()

file(STRINGS "${SRC}" _expect REGEX "^// expect-error: " LIMIT_COUNT 1)
if(NOT _expect)
  message(FATAL_ERROR "${_name}: no '// expect-error: <regex>' line")
endif()
string(REGEX REPLACE "^// expect-error: " "" _regex "${_expect}")
if(_rc EQUAL 0)
  message(FATAL_ERROR "${_name} compiled, but it must not (expected an error matching '${_regex}')")
endif()
if(NOT _out MATCHES "${_regex}")
  message(FATAL_ERROR "${_name} failed to compile, but not with an error matching '${_regex}':\n${_out}")
endif()
