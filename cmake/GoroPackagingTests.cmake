# Packaging tests (label 'packaging'), registered by tests/CMakeLists.txt in the
# primary build only. Each builds tests/consumer/ in its own directory under
# <build>/tests/packaging/ with this build's compiler and generator:
#   packaging.install           configure goro with the flags the vcpkg port and the
#                               Conan recipe use, install it into a prefix, build the
#                               consumer with find_package(goro) and run it
#   packaging.pkgconfig         compile the consumer with `pkg-config --cflags goro`
#                               against that prefix
#   packaging.add_subdirectory  the consumer pulls goro in with add_subdirectory()
#   packaging.fetchcontent      ... with FetchContent_Declare(goro SOURCE_DIR <checkout>)
#   packaging.recipes           conanfile.py files parse, vcpkg.json files are JSON,
#                               and every recipe names the project's version
set(_pkg_work "${PROJECT_BINARY_DIR}/tests/packaging")
set(_pkg_prefix "${_pkg_work}/prefix")
set(_pkg_common
  "-DGORO_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  "-DCONSUMER_DIR=${PROJECT_SOURCE_DIR}/tests/consumer"
  "-DPREFIX=${_pkg_prefix}"
  "-DGENERATOR=${CMAKE_GENERATOR}"
  "-DCXX=${CMAKE_CXX_COMPILER}")

foreach(_mode install pkgconfig add_subdirectory fetchcontent)
  add_test(NAME "${GORO_TEST_PREFIX}packaging.${_mode}"
    COMMAND "${CMAKE_COMMAND}" ${_pkg_common}
      "-DMODE=${_mode}" "-DWORK_DIR=${_pkg_work}/${_mode}"
      -P "${PROJECT_SOURCE_DIR}/cmake/run_packaging_test.cmake")
  goro_test_properties("${GORO_TEST_PREFIX}packaging.${_mode}" LABELS packaging TIMEOUT 600)
endforeach()
set_tests_properties("${GORO_TEST_PREFIX}packaging.install" PROPERTIES
  FIXTURES_SETUP goro_installed_prefix)
set_tests_properties("${GORO_TEST_PREFIX}packaging.pkgconfig" PROPERTIES
  FIXTURES_REQUIRED goro_installed_prefix)

if(Python3_Interpreter_FOUND)
  add_test(NAME "${GORO_TEST_PREFIX}packaging.recipes"
    COMMAND "${Python3_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/cmake/check_recipes.py"
      "${PROJECT_SOURCE_DIR}" "${PROJECT_VERSION}")
  goro_test_properties("${GORO_TEST_PREFIX}packaging.recipes" LABELS packaging TIMEOUT 60)
endif()
