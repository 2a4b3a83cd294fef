// runtime_options.hpp: how a goro::runtime is set up.
#ifndef GORO_RUNTIME_OPTIONS_HPP
#define GORO_RUNTIME_OPTIONS_HPP

#include "config.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>

namespace goro {

/// Settings of a runtime. Every field has a default; in C++20 write
/// `goro::runtime rt({.workers = 4, .stack_size = 256 * 1024});`.
struct runtime_options {
  /// Worker threads (Go's GOMAXPROCS). 0: the GORO_WORKERS environment
  /// variable if set, else one per hardware thread.
  std::size_t workers = 0;

  /// Usable bytes of each goroutine's stack. Stacks do not grow: this is the
  /// most a goroutine may use, but only the pages it touches cost memory.
  /// Rounded up to whole pages and to at least 16 KiB.
  std::size_t stack_size = 256 * 1024;

  /// Called (on the goroutine, as its last act) with an exception that escaped
  /// a goroutine's function, and the goroutine's id. Empty (the default): the
  /// program ends with a message naming the goroutine and the exception, as
  /// Go does for an unrecovered panic. Never called in a build without
  /// exceptions (see GORO_EXCEPTIONS in config.hpp): goro catches nothing
  /// there, and its own errors are fatal errors where they happen.
  std::function<void(std::uint64_t goroutine_id, std::exception_ptr)> on_unhandled_exception;
};

}  // namespace goro

#endif
