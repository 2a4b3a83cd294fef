# The warning sets goro's headers must compile cleanly under, with -Werror.
# Included by tests/strict/CMakeLists.txt and by check_strict.cmake; the lists
# are documented in docs/getting-started.md ("Compiler flags and modes").

# GCC: what users who want strict builds typically turn on.
set(GORO_STRICT_GCC_FLAGS
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wold-style-cast -Wundef -Wnull-dereference -Wuseless-cast
  -Wduplicated-cond -Wlogical-op -Wcast-align -Wnon-virtual-dtor
  -Woverloaded-virtual)

# Clang: everything, minus warnings about style or about code that is not
# goro's. Each one here has its reason; nothing else may be added without one.
set(GORO_STRICT_CLANG_FLAGS
  -Weverything
  # C++98 compatibility: goro needs C++17.
  -Wno-c++98-compat -Wno-c++98-compat-pedantic
  # Reports every padding byte; goro lays out hot structures by cache line
  # on purpose (a padded struct is not a bug).
  -Wno-padded
  # A class with only inline virtual functions has its vtable in every
  # translation unit: unavoidable in a header-only library (the exception
  # types in errors.hpp, select_set's type-erased cases).
  -Wno-weak-vtables
  # glibc defines sa_handler, sa_sigaction and si_addr as macros expanding to
  # themselves; any code using those POSIX fields triggers it.
  -Wno-disabled-macro-expansion
  # Any static or thread_local with a destructor: goro's per-thread
  # alternate signal stack must be freed when its thread exits.
  -Wno-exit-time-destructors)
