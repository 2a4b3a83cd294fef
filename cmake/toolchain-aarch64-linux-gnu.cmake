# Cross-compile for 64-bit ARM Linux with Debian's cross toolchain
# (g++-aarch64-linux-gnu, libc6-dev-arm64-cross) and run the results under
# qemu-user:
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
#
# GORO_AARCH64_EXTRA_ROOT (optional): a directory holding unpacked arm64 .deb
# packages (usr/include, usr/lib/aarch64-linux-gnu, ...), searched like a sysroot
# and put on the run-time library path. tools/dev unpacks Debian's arm64 Abseil
# there for the tests.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(GORO_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${GORO_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${GORO_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${GORO_CROSS_TRIPLE})

# try_compile() projects see the same settings.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES GORO_AARCH64_EXTRA_ROOT)

# The cross libc lives in /usr/aarch64-linux-gnu; arch-independent CMake
# packages (Catch2) are found in the host's /usr as well.
set(CMAKE_FIND_ROOT_PATH /usr/${GORO_CROSS_TRIPLE})
set(_goro_run_path /usr/${GORO_CROSS_TRIPLE}/lib)
if(GORO_AARCH64_EXTRA_ROOT)
  list(APPEND CMAKE_FIND_ROOT_PATH "${GORO_AARCH64_EXTRA_ROOT}")
  string(APPEND _goro_run_path ":${GORO_AARCH64_EXTRA_ROOT}/usr/lib/${GORO_CROSS_TRIPLE}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# ctest runs every test executable through qemu. -L makes the cross libc's
# loader the one the binaries see; LD_LIBRARY_PATH keeps it with its own libc
# even when arm64 multiarch libraries are installed on the host (the host's
# ld.so.cache would otherwise hand it /lib/aarch64-linux-gnu/libc.so.6).
find_program(GORO_QEMU_AARCH64 qemu-aarch64)
if(GORO_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR
    "${GORO_QEMU_AARCH64};-L;/usr/${GORO_CROSS_TRIPLE};-E;LD_LIBRARY_PATH=${_goro_run_path}")
endif()
