// goro — Go's concurrency model for C++.
// config.hpp: version, platform detection and the GORO_* switches.
// Every other goro header includes this one first.
#ifndef GORO_CONFIG_HPP
#define GORO_CONFIG_HPP

#include <cstddef>
#include <cstdio>
#include <cstdlib>

/// The library version; kept equal to the CMake project version (a test checks it).
#define GORO_VERSION_MAJOR 0
#define GORO_VERSION_MINOR 1
#define GORO_VERSION_PATCH 0
/// The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH.
#define GORO_VERSION (GORO_VERSION_MAJOR * 10000 + GORO_VERSION_MINOR * 100 + GORO_VERSION_PATCH)

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "goro needs C++17 or later"
#endif

#if !defined(__unix__) && !defined(__APPLE__)
#error "goro needs a POSIX system"
#endif

// ---- which context switch: hand-written assembly where we have it, else ucontext.
// Define GORO_USE_UCONTEXT to force the portable fallback. The assembly is
// ELF-only for now (Linux, the BSDs); Mach-O builds use ucontext.
#if !defined(GORO_USE_UCONTEXT)
#if defined(__x86_64__) && defined(__ELF__)
#define GORO_CONTEXT_X86_64 1
#elif defined(__aarch64__) && defined(__ELF__)
#define GORO_CONTEXT_AARCH64 1
#else
#define GORO_USE_UCONTEXT 1
#endif
#endif

// ---- sanitizers, seen the same way by GCC (__SANITIZE_*__) and Clang (__has_feature).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GORO_ASAN)
#define GORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(GORO_TSAN)
#define GORO_TSAN 1
#endif

// ---- GORO_TSAN_NO_FRAME: a function ThreadSanitizer leaves entirely alone,
// without even the entry and exit records of its shadow stack (GCC's
// no_sanitize_thread does that; Clang's no_sanitize("thread") keeps the
// records, its disable_sanitizer_instrumentation does not). The functions a
// goroutine never returns from carry it, so that a finished goroutine leaves
// its TSan fiber's shadow stack empty and the fiber can serve the next one
// (GORO_TSAN_FIBER_REUSE, sanitizer.hpp). A compiler that cannot promise that
// gets a fresh fiber for every goroutine, as before.
#if defined(GORO_TSAN) && defined(__clang__) && defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define GORO_TSAN_NO_FRAME __attribute__((disable_sanitizer_instrumentation))
#define GORO_TSAN_FIBER_REUSE 1
#endif
#elif defined(GORO_TSAN) && defined(__GNUC__) && !defined(__clang__)
#define GORO_TSAN_NO_FRAME __attribute__((no_sanitize_thread))
#define GORO_TSAN_FIBER_REUSE 1
#endif
#if !defined(GORO_TSAN_NO_FRAME)
#define GORO_TSAN_NO_FRAME
#endif

// ---- valgrind: stacks are registered with it when its header is available.
#if !defined(GORO_NO_VALGRIND) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#define GORO_VALGRIND 1
#endif
#endif

// GORO_TLS_ACCESSOR marks a function that returns (the address of) a
// thread-local and must be called afresh after every switch, because the
// caller may have moved to another thread. `noinline` alone is not enough:
// GCC's inter-procedural analysis still finds such a function `const` and
// reuses an earlier call's result. So: noinline, no IPA on GCC, and the
// function's body starts with GORO_TLS_BARRIER(), an empty asm that may touch
// memory, which makes it neither pure nor const for GCC and Clang alike.
#if defined(__clang__)
#define GORO_TLS_ACCESSOR __attribute__((noinline))
#else
#define GORO_TLS_ACCESSOR __attribute__((noinline, noipa))
#endif
#define GORO_TLS_BARRIER() __asm__ volatile("" ::: "memory")
#define GORO_ALWAYS_INLINE inline __attribute__((always_inline))

// ---- exceptions: goro throws and catches only when the compiler has them on
// (__cpp_exceptions; GCC and Clang clear it under -fno-exceptions) and the user
// did not define GORO_NO_EXCEPTIONS. Without them every error goro would throw
// is a fatal error with the same message (see throw_error), and an exception
// escaping a goroutine is not caught by goro (std::terminate, if anything can
// throw at all). Defined to 1, or not at all.
#if defined(__cpp_exceptions) && !defined(GORO_NO_EXCEPTIONS)
#define GORO_EXCEPTIONS 1
#endif

// GORO_TRY { ... } GORO_CATCH_ALL { ... GORO_RETHROW; }: goro's own catch-all
// sites, written once for both modes. Without exceptions the try block always
// runs and the handler is dead code that still compiles (it must not name the
// caught exception other than through std::current_exception()).
#if defined(GORO_EXCEPTIONS)
#define GORO_TRY try
#define GORO_CATCH_ALL catch (...)
#define GORO_RETHROW throw
#else
#define GORO_TRY if (true)
#define GORO_CATCH_ALL else
#define GORO_RETHROW ((void)0)
#endif

namespace goro::detail {
/// Prints "goro: fatal error: <what>" and aborts. For broken invariants and for
/// misuse that Go turns into a fatal error; never returns.
[[noreturn]] inline void fatal(const char* what) noexcept {
  std::fprintf(stderr, "goro: fatal error: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

/// static_cast for a conversion between types that are the same on some
/// targets and not on others (time_t and long, std::uint64_t and std::size_t):
/// there GCC's -Wuseless-cast flags a plain static_cast, and leaving the cast
/// out would be a narrowing conversion elsewhere. The caller knows the value fits.
template <class To, class From>
constexpr To platform_cast(From from) noexcept {
  return static_cast<To>(from);
}

/// Reports an error the way the build allows: throws `e` when exceptions are
/// enabled (GORO_EXCEPTIONS), else prints its what() as a goro fatal error and
/// aborts (Go's panic); a leading "goro: " of the message is not repeated.
/// Every error goro raises goes through here, so that a build with
/// -fno-exceptions compiles and still says what went wrong.
template <class E>
[[noreturn]] inline void throw_error(E&& e) {
#if defined(GORO_EXCEPTIONS)
  throw static_cast<E&&>(e);
#else
  const char* what = e.what();
  const char prefix[] = "goro: ";
  std::size_t n = 0;
  while (prefix[n] != '\0' && what[n] == prefix[n]) ++n;
  fatal(prefix[n] == '\0' ? what + n : what);
#endif
}
}  // namespace goro::detail

/// GORO_ASSERT(cond) checks an internal invariant in debug builds (when NDEBUG is
/// not defined, or when GORO_DEBUG is); release builds pay nothing for it.
#if !defined(NDEBUG) || defined(GORO_DEBUG)
#define GORO_ASSERT(cond)                                                    \
  ((cond) ? (void)0                                                          \
          : ::goro::detail::fatal("assertion failed: " #cond " at " __FILE__ \
                                  ":" GORO_STRINGIFY(__LINE__)))
#else
#define GORO_ASSERT(cond) ((void)0)
#endif
#define GORO_STRINGIFY_(x) #x
#define GORO_STRINGIFY(x) GORO_STRINGIFY_(x)

// GORO_FAULT(site): the test-only fault injection hook; false unless a test
// defines GORO_FAULT_INJECTION.
#include "detail/fault_injection.hpp"

#endif  // GORO_CONFIG_HPP
