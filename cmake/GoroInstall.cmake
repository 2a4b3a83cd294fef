# Install rules and the package files that let others find goro:
#   <prefix>/include/goro/...                  the modular headers
#   <prefix>/include/goro.hpp                  the amalgamated single header
#   <prefix>/share/cmake/goro/goroConfig*.cmake, goroTargets.cmake
#   <prefix>/share/pkgconfig/goro.pc
# goro is header-only, so everything lands in arch-independent directories.
include(CMakePackageConfigHelpers)

set(GORO_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/goro"
  CACHE STRING "Where goroConfig.cmake is installed, relative to the prefix")
set(GORO_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
  CACHE STRING "Where goro.pc is installed, relative to the prefix")
mark_as_advanced(GORO_INSTALL_CMAKEDIR GORO_INSTALL_PKGCONFIGDIR)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/goro"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.hpp")
# The committed single header (tests/ checks it is fresh); OPTIONAL so that a
# tree without it yet still installs.
install(FILES "${PROJECT_SOURCE_DIR}/single_include/goro.hpp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" OPTIONAL)
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE"
  DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/goro" OPTIONAL)

install(TARGETS goro goro_single EXPORT goroTargets)
install(EXPORT goroTargets
  NAMESPACE goro::
  DESTINATION "${GORO_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/goroConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/goroConfig.cmake"
  INSTALL_DESTINATION "${GORO_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/goroConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES
  "${PROJECT_BINARY_DIR}/goroConfig.cmake"
  "${PROJECT_BINARY_DIR}/goroConfigVersion.cmake"
  DESTINATION "${GORO_INSTALL_CMAKEDIR}")

# pkg-config: relocatable (prefix computed from the .pc file's own place)
# unless the include directory was given as an absolute path.
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(GORO_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(GORO_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${GORO_INSTALL_PKGCONFIGDIR}")
  set(GORO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _goro_pc_up "/${GORO_INSTALL_PKGCONFIGDIR}" "/")
  string(REGEX REPLACE "/$" "" _goro_pc_up "${_goro_pc_up}")
  set(GORO_PC_PREFIX "\${pcfiledir}/${_goro_pc_up}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/goro.pc.in" "${PROJECT_BINARY_DIR}/goro.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/goro.pc" DESTINATION "${GORO_INSTALL_PKGCONFIGDIR}")
