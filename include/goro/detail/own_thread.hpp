// own_thread.hpp: what happens when one of goro's own threads (a worker, a
// spare worker, the monitor) raises an exception outside any goroutine.
//
// A goroutine's exceptions stop at goroutine::entry, on its own stack. What
// is left on a goro thread's own context is goro's bookkeeping, and the only
// thing there that can throw is an allocation (a stack-pool vector growing,
// the netpoller's table, a dump's list). Escaping the thread function would
// be std::terminate with no word about goro; the scheduler cannot go on
// without that thread either, so it is a goro fatal error that says where
// and what (issue 13, defect 8: "fail with a clear goro fatal error").
#ifndef GORO_DETAIL_OWN_THREAD_HPP
#define GORO_DETAIL_OWN_THREAD_HPP

#include "../config.hpp"

#include <cstdio>
#include <exception>
#include <new>

namespace goro::detail {

#if defined(GORO_EXCEPTIONS)
/// The fatal error for an exception caught on goro thread `which`; call it
/// only from a catch handler (it rethrows to learn the exception's type).
[[noreturn]] inline void own_thread_failed(const char* which) noexcept {
  char msg[384];
  try {
    throw;
  } catch (const std::bad_alloc&) {
    std::snprintf(msg, sizeof msg,
                  "out of memory on a goro %s thread, outside any goroutine: the runtime "
                  "cannot go on",
                  which);
  } catch (const std::exception& e) {
    std::snprintf(msg, sizeof msg,
                  "a goro %s thread raised an exception outside any goroutine (%s): the runtime "
                  "cannot go on",
                  which, e.what());
  } catch (...) {
    std::snprintf(msg, sizeof msg,
                  "a goro %s thread raised an exception of unknown type outside any goroutine: "
                  "the runtime cannot go on",
                  which);
  }
  fatal(msg);
}
#endif

/// Runs `body`, the whole life of goro thread `which` ("worker", "spare
/// worker", "monitor"); an exception escaping it is own_thread_failed's fatal
/// error. Without exceptions an allocation failure ends the process already.
template <class F>
void run_own_thread(const char* which, F&& body) noexcept {
#if defined(GORO_EXCEPTIONS)
  try {
    body();
  } catch (...) {
    own_thread_failed(which);
  }
#else
  (void)which;
  body();
#endif
}

}  // namespace goro::detail

#endif
