# vcpkg overlay port for goro, built from the goro checkout that contains it:
#   vcpkg install goro --overlay-ports=<goro checkout>/ports
# To publish it in a registry, replace SOURCE_PATH with a vcpkg_from_github()
# call on a release tag.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

# Header-only: one (release) configuration is enough.
set(VCPKG_BUILD_TYPE release)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DGORO_BUILD_TESTS=OFF
        -DGORO_BUILD_EXAMPLES=OFF
        -DGORO_BUILD_BENCHMARKS=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME goro CONFIG_PATH share/cmake/goro)
vcpkg_fixup_pkgconfig()

# Nothing architecture-specific is installed.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/lib")
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/share/doc")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
