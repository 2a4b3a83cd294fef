# cmake -DDIR=<build>/tests -P check_pch_prologue.cmake
# The unit tests' precompiled headers (tests/CMakeLists.txt, GORO_TEST_PCH) must
# not open with CMake's "#pragma GCC/clang system_header": that would make goro's
# headers system headers in every test and hide their warnings from -Werror.
# tests/CMakeLists.txt clears CMAKE_PCH_PROLOGUE; this fails if a CMake version
# stops honouring that (or if no PCH header was generated where it should be).
file(GLOB _headers "${DIR}/CMakeFiles/goro_test_pch_*.dir/cmake_pch.hxx")
if(NOT _headers)
  message(FATAL_ERROR "pch check: no ${DIR}/CMakeFiles/goro_test_pch_*.dir/cmake_pch.hxx")
endif()
foreach(_header IN LISTS _headers)
  file(READ "${_header}" _text)
  if(_text MATCHES "system_header")
    message(FATAL_ERROR "pch check: ${_header} marks goro's headers as system headers "
      "(their warnings would not fail the tests): CMAKE_PCH_PROLOGUE is no longer honoured")
  endif()
  message(STATUS "pch check: ${_header}: no system_header prologue")
endforeach()
