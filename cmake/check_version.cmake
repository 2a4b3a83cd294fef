# cmake -DCONFIG_HPP=<include/goro/config.hpp> -DEXPECTED=<x.y.z> -P check_version.cmake
# Fails unless GORO_VERSION_MAJOR/MINOR/PATCH in config.hpp spell EXPECTED
# (the version given to project() in the top-level CMakeLists.txt).
if(NOT EXISTS "${CONFIG_HPP}")
  message(FATAL_ERROR "version check: ${CONFIG_HPP} does not exist")
endif()
file(READ "${CONFIG_HPP}" _text)
set(_found "")
foreach(_part MAJOR MINOR PATCH)
  if(_text MATCHES "#[ \t]*define[ \t]+GORO_VERSION_${_part}[ \t]+([0-9]+)")
    list(APPEND _found "${CMAKE_MATCH_1}")
  else()
    message(FATAL_ERROR "version check: no '#define GORO_VERSION_${_part} <n>' in ${CONFIG_HPP}")
  endif()
endforeach()
string(REPLACE ";" "." _found "${_found}")
if(NOT _found STREQUAL EXPECTED)
  message(FATAL_ERROR "version check: config.hpp says ${_found}, CMakeLists.txt project() says "
    "${EXPECTED}; bump both together (and CHANGELOG.md, vcpkg.json, ports/goro/vcpkg.json, conanfile.py)")
endif()
message(STATUS "version check: config.hpp and project() agree on ${_found}")
