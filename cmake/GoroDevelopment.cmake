# Helpers for goro's own tests, examples and benchmarks (never for consumers).
#
#   goro_target_warnings(<target>)  -Wall -Wextra -Wpedantic, and -Werror unless
#                                   GORO_WERROR is OFF
#   goro_link_single(<target>)      link the single header the way our tests use
#                                   it: regenerated in the build tree from
#                                   include/goro/ by tools/amalgamate.py, so it
#                                   is always current (the committed copy in
#                                   single_include/ is checked separately by the
#                                   amalgamation_fresh test)
include_guard(GLOBAL)

option(GORO_WERROR "Treat warnings as errors in goro's own code" ON)

function(goro_target_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${GORO_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
      $<$<BOOL:${GORO_WERROR}>:-Werror>)
  endif()
endfunction()

find_package(Python3 COMPONENTS Interpreter)

set(GORO_AMALGAMATE_SCRIPT "${PROJECT_SOURCE_DIR}/tools/amalgamate.py")
set(GORO_GENERATED_SINGLE_DIR "${PROJECT_BINARY_DIR}/single_include")

add_library(goro_single_dev INTERFACE)
target_compile_features(goro_single_dev INTERFACE cxx_std_17)
target_link_libraries(goro_single_dev INTERFACE Threads::Threads ${CMAKE_DL_LIBS})

file(GLOB_RECURSE _goro_headers CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/include/goro/*.hpp")
if(Python3_Interpreter_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/include/goro/goro.hpp")
  add_custom_command(
    OUTPUT "${GORO_GENERATED_SINGLE_DIR}/goro.hpp"
    COMMAND "${Python3_EXECUTABLE}" "${GORO_AMALGAMATE_SCRIPT}"
            --root "${PROJECT_SOURCE_DIR}"
            --output "${GORO_GENERATED_SINGLE_DIR}/goro.hpp"
    DEPENDS ${_goro_headers} "${GORO_AMALGAMATE_SCRIPT}"
    COMMENT "Amalgamating include/goro/ into the build tree's single_include/goro.hpp"
    VERBATIM)
  add_custom_target(goro_amalgamate ALL DEPENDS "${GORO_GENERATED_SINGLE_DIR}/goro.hpp")
  target_include_directories(goro_single_dev INTERFACE "${GORO_GENERATED_SINGLE_DIR}")
  set(GORO_SINGLE_HEADER_FOR_TESTS "${GORO_GENERATED_SINGLE_DIR}/goro.hpp")
else()
  # No python3 (or no goro.hpp yet): fall back to the committed single header.
  add_custom_target(goro_amalgamate)
  target_include_directories(goro_single_dev INTERFACE "${PROJECT_SOURCE_DIR}/single_include")
  set(GORO_SINGLE_HEADER_FOR_TESTS "${PROJECT_SOURCE_DIR}/single_include/goro.hpp")
endif()
get_filename_component(GORO_SINGLE_INCLUDE_FOR_TESTS "${GORO_SINGLE_HEADER_FOR_TESTS}" DIRECTORY)

function(goro_link_single target)
  target_link_libraries(${target} PRIVATE goro_single_dev)
  add_dependencies(${target} goro_amalgamate)
endfunction()

# ---- what every ctest of this build shares (tests/ and examples/ use these)
set(GORO_TEST_PREFIX "" CACHE STRING
  "Prefix of every ctest name of this build, e.g. 'gcc.' or 'clang-asan.', so that several build directories can be run as one ctest")
set(GORO_TEST_CONFIG_TAGS "" CACHE STRING
  "What is special about this build, as a list (',' or ';'): asan, ubsan, tsan, valgrind, qemu, ucontext, aarch64. Tests whose header says '// goro-test: skip-under=<tag>' are not registered under it")
set(GORO_TEST_ENVIRONMENT "" CACHE STRING
  "Extra environment for every test of this build, as a ;-list of VAR=value")
set(GORO_TEST_TIMEOUT 300 CACHE STRING "Default ctest TIMEOUT of a test, in seconds")
# The standards matrix without extra builds: each configuration compiles its
# modular tests as C++17 and may pick another standard for its single-header
# tests and its examples (tools/dev: gcc 20 and 23, clang 23 and 20).
set(GORO_TEST_SINGLE_CXX_STANDARD "" CACHE STRING
  "C++ standard of the single-header unit tests (17, 20, 23); empty: the default (17)")
set(GORO_EXAMPLES_CXX_STANDARD "" CACHE STRING
  "C++ standard of the examples (17, 20, 23); empty: the default (17)")
option(GORO_EXAMPLES_NO_EXCEPTIONS
  "Build the examples that do not use exceptions with -fno-exceptions -fno-rtti" OFF)
option(GORO_EXAMPLES_BUNDLE
  "Compile the examples as one program per set of flags, each reached through a link example_<name> (a faster build for tests; examples/CMakeLists.txt)" OFF)
option(GORO_BENCH_BUNDLE
  "Compile goro's own benchmark programs as one, only to check that they build (tools/bench builds them one by one; bench/CMakeLists.txt)" OFF)

# goro_cxx_standard(<target> <standard or empty>)
function(goro_cxx_standard target std)
  if(std)
    set_target_properties(${target} PROPERTIES CXX_STANDARD ${std} CXX_STANDARD_REQUIRED ON)
  endif()
endfunction()
string(REPLACE "," ";" GORO_TEST_TAGS "${GORO_TEST_CONFIG_TAGS}")
string(REPLACE " " "" GORO_TEST_TAGS "${GORO_TEST_TAGS}")

set(GORO_TEST_ENV ${GORO_TEST_ENVIRONMENT})
if("tsan" IN_LIST GORO_TEST_TAGS)
  list(APPEND GORO_TEST_ENV "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")
endif()
if("asan" IN_LIST GORO_TEST_TAGS)
  list(APPEND GORO_TEST_ENV "ASAN_OPTIONS=check_initialization_order=1:strict_init_order=1")
endif()
if("ubsan" IN_LIST GORO_TEST_TAGS)
  list(APPEND GORO_TEST_ENV "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()

# Where the built programs go; tests learn these through compile definitions.
set(GORO_TEST_PROGRAM_OUTPUT_DIR "${PROJECT_BINARY_DIR}/tests/programs")
set(GORO_EXAMPLES_OUTPUT_DIR "${PROJECT_BINARY_DIR}/examples")

# goro_test_properties(<test> [LABELS ...] [TIMEOUT s]): the shared properties.
function(goro_test_properties test)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT ${GORO_TEST_TIMEOUT})
  endif()
  set_tests_properties(${test} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    set_tests_properties(${test} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
  if(GORO_TEST_ENV)
    set_tests_properties(${test} PROPERTIES ENVIRONMENT "${GORO_TEST_ENV}")
  endif()
endfunction()
