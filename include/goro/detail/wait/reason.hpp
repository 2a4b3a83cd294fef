// wait/reason.hpp: why a goroutine is parked, in Go's words, and the
// process-wide counts that deadlock detection reads.
//
// The blocking call stores the reason (and the object it waits on) in the
// goroutine's record just before parking; goroutine dumps print it
// (`goroutine 7 [chan receive]:`). The stores are relaxed atomics because a
// dump reads them from another thread while the goroutine may run; nothing
// synchronises through them.
//
// The census counts what the monitor cannot see in any runtime: threads goro
// started, plain threads parked in goro with no deadline, and calls in
// flight that will end by themselves (goro::blocking). Deadlock detection
// (monitor.hpp) compares them with the threads of the process.
#ifndef GORO_DETAIL_WAIT_REASON_HPP
#define GORO_DETAIL_WAIT_REASON_HPP

#include "../../config.hpp"

#include <atomic>
#include <cstdint>

namespace goro::detail {

/// Why a goroutine waits. `none` while it runs or is runnable.
enum class wait_reason : std::uint8_t {
  none,
  chan_send,
  chan_receive,
  chan_send_nil,
  chan_receive_nil,
  select,
  select_no_cases,
  sleep,
  mutex_lock,
  wait_group_wait,
  semacquire,
  io_wait,
  runtime_wait,
  other,
};

/// The reason as Go's tracebacks spell it.
inline const char* wait_reason_name(wait_reason r) noexcept {
  switch (r) {
    case wait_reason::none:
      return "waiting";
    case wait_reason::chan_send:
      return "chan send";
    case wait_reason::chan_receive:
      return "chan receive";
    case wait_reason::chan_send_nil:
      return "chan send (nil chan)";
    case wait_reason::chan_receive_nil:
      return "chan receive (nil chan)";
    case wait_reason::select:
      return "select";
    case wait_reason::select_no_cases:
      return "select (no cases)";
    case wait_reason::sleep:
      return "sleep";
    case wait_reason::mutex_lock:
      return "sync.Mutex.Lock";
    case wait_reason::wait_group_wait:
      return "sync.WaitGroup.Wait";
    case wait_reason::semacquire:
      return "semacquire";
    case wait_reason::io_wait:
      return "IO wait";
    case wait_reason::runtime_wait:
      return "goro.runtime.Wait";
    case wait_reason::other:
      break;
  }
  return "waiting";
}

/// Process-wide counts for deadlock detection (see the file comment). Each
/// is a relaxed counter on a path that already blocks or starts a thread,
/// never on a goroutine switch.
struct census {
  /// Threads goro itself runs: workers and monitors of every runtime.
  std::atomic<std::int64_t> goro_threads{0};
  /// Plain (non-worker) threads parked in goro with no deadline: only a
  /// wake from someone else can end their wait. Incremented by the thread
  /// before it parks, decremented by whoever wakes it (so a thread woken
  /// but not yet running is never counted as blocked).
  std::atomic<std::int64_t> threads_parked{0};
  /// Calls in flight that hold a thread outside goro and will return by
  /// themselves: goro::blocking increments this before its call and
  /// decrements it after. While it is non-zero nothing is a deadlock.
  std::atomic<std::int64_t> blocking_calls{0};
};

/// The one census of the process. Never destroyed: monitor threads of the
/// leaked default runtime still read it while static destructors run.
inline census& process_census() noexcept {
  static census* c = new census();
  return *c;
}

}  // namespace goro::detail

#endif
