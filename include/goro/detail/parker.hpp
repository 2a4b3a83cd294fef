// parker.hpp: blocking an OS thread until another thread wakes it.
//
// A parker holds at most one wake-up token: unpark() leaves it, park() takes
// it, sleeping until it is there. A wake-up that comes before the park is
// therefore never lost, and several unparks before one park count once.
// On Linux it is a futex word; elsewhere a mutex and condition variable.
// Waking a parker whose owner has already returned is safe on Linux (a futex
// wake on a dead address only risks a spurious wake-up elsewhere, which every
// futex user tolerates), and on the fallback the waker holds the mutex
// throughout, so the owner cannot return before it is done.
#ifndef GORO_DETAIL_PARKER_HPP
#define GORO_DETAIL_PARKER_HPP

#include "../config.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#else
#include <condition_variable>
#include <mutex>
#endif

namespace goro::detail {

/// The clock every goro deadline is measured on.
using steady_clock = std::chrono::steady_clock;

/// Converts any clock's time point to goro's steady clock.
template <class Clock, class Duration>
std::chrono::steady_clock::time_point to_steady(const std::chrono::time_point<Clock, Duration>& t) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(t);
  } else {
    return std::chrono::steady_clock::now() +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(t - Clock::now());
  }
}

/// now + d, saturating instead of overflowing for huge d.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(const std::chrono::duration<Rep, Period>& d) {
  using namespace std::chrono;
  const auto now = steady_clock::now();
  if (d > duration_cast<duration<Rep, Period>>(steady_clock::time_point::max() - now)) {
    return steady_clock::time_point::max();
  }
  return now + duration_cast<steady_clock::duration>(d);
}

class parker {
 public:
  /// Sleeps until a token is there, and takes it.
  void park() noexcept { park_until(steady_clock::time_point::max()); }

  /// Sleeps until a token is there (takes it, returns true) or `deadline`
  /// passes (returns false).
  bool park_until(steady_clock::time_point deadline) noexcept {
#if defined(__linux__)
    // empty -> waiting (we sleep), notified -> empty (we take the token).
    if (state_.exchange(empty, std::memory_order_acquire) == notified) return true;
    std::uint32_t expected = empty;
    if (!state_.compare_exchange_strong(expected, waiting, std::memory_order_acquire)) {
      state_.store(empty, std::memory_order_relaxed);  // it was `notified`
      return true;
    }
    for (;;) {
      if (deadline == steady_clock::time_point::max()) {
        futex(FUTEX_WAIT_PRIVATE, waiting, nullptr);
      } else {
        auto now = steady_clock::now();
        if (now >= deadline) {
          // Timed out, unless a token arrived meanwhile.
          return state_.exchange(empty, std::memory_order_acquire) == notified;
        }
        auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
        timespec ts;
        ts.tv_sec = platform_cast<time_t>(left.count() / 1000000000);
        ts.tv_nsec = platform_cast<long>(left.count() % 1000000000);
        futex(FUTEX_WAIT_PRIVATE, waiting, &ts);
      }
      expected = notified;
      if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire)) return true;
    }
#else
    std::unique_lock<std::mutex> lock(mutex_);
    if (deadline == steady_clock::time_point::max()) {
      cv_.wait(lock, [&] { return token_; });
    } else if (!cv_.wait_until(lock, deadline, [&] { return token_; })) {
      return false;
    }
    token_ = false;
    return true;
#endif
  }

  /// Takes the token if it is there; never sleeps.
  bool try_take() noexcept { return park_until(steady_clock::time_point::min()); }

  /// Leaves the token and wakes the owner if it sleeps.
  void unpark() noexcept {
#if defined(__linux__)
    if (state_.exchange(notified, std::memory_order_release) == waiting) {
      futex(FUTEX_WAKE_PRIVATE, 1, nullptr);
    }
#else
    std::lock_guard<std::mutex> lock(mutex_);
    token_ = true;
    cv_.notify_one();
#endif
  }

 private:
#if defined(__linux__)
  static constexpr std::uint32_t empty = 0, waiting = 1, notified = 2;
  void futex(int op, std::uint32_t val, const timespec* timeout) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_), op, val, timeout, nullptr, 0);
  }
  std::atomic<std::uint32_t> state_{empty};
#else
  std::mutex mutex_;
  std::condition_variable cv_;
  bool token_ = false;
#endif
};

}  // namespace goro::detail

#endif
