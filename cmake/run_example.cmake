# cmake -DEXE=<program> -DARGS=<args joined by \x1f> -DEMULATOR=<list> -DREGEX=<regex>
#       -P run_example.cmake
# Runs an example; passes only if it exits with 0 and its output matches REGEX.
cmake_minimum_required(VERSION 3.14)
string(ASCII 31 _sep)
string(REPLACE "${_sep}" ";" _args "${ARGS}")
execute_process(COMMAND ${EMULATOR} "${EXE}" ${_args}
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
message("${_out}")
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${_rc}")
endif()
if(NOT _out MATCHES "${REGEX}")
  message(FATAL_ERROR "${EXE}: output does not match '${REGEX}'")
endif()
