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
#include <limits>
#include <ratio>
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

/// `d` in steady_clock ticks, saturating at that type's limits instead of
/// overflowing, whatever d's representation: 32-bit counts, floating point
/// (NaN counts as zero), periods finer than the tick (truncated toward zero).
/// A plain duration_cast is wrong for all of these: it overflows in d's own
/// type or in its intermediate product, or loses the sign.
template <class Rep, class Period>
steady_clock::duration saturating_duration(const std::chrono::duration<Rep, Period>& d) noexcept {
  using out = steady_clock::duration;
  using ratio = std::ratio_divide<Period, out::period>;  // one tick of d, in ticks of out
  const long double count = d.count();
  const long double num = ratio::num;
  const long double den = ratio::den;
  const long double ticks = count * num / den;
  if (!(ticks == ticks)) return out::zero();  // NaN
  // Below the limits by a margin: long double may be no wider than double,
  // whose rounding could otherwise carry a value just past them.
  const long double limit = static_cast<long double>(std::numeric_limits<out::rep>::max()) * 0.998L;
  if (ticks >= limit) return out::max();
  if (ticks <= -limit) return out::min();
  if constexpr (std::is_floating_point_v<Rep>) {
    return out(static_cast<out::rep>(ticks));
  } else {
    // duration_cast multiplies by num before dividing by den: that product
    // must fit too; past it the long double value is close enough.
    if (ratio::num != 1 && ratio::den != 1 && (ticks * den >= limit || ticks * den <= -limit)) {
      return out(static_cast<out::rep>(ticks));
    }
    return std::chrono::duration_cast<out>(d);
  }
}

/// a - b, saturating.
inline steady_clock::duration saturating_sub(steady_clock::duration a,
                                             steady_clock::duration b) noexcept {
  using out = steady_clock::duration;
  if (b > out::zero() && a < out::min() + b) return out::min();
  if (b < out::zero() && a > out::max() + b) return out::max();
  return a - b;
}

/// t + d as a deadline: never before the clock's epoch (a past deadline is
/// past either way), and time_point::max() (never) for anything more than
/// half the clock's range ahead, so no later arithmetic on a deadline
/// (deadline - now, deadline + period, rounding up to milliseconds) can
/// overflow. Assumes t is not before the epoch (steady time since boot).
inline steady_clock::time_point saturating_deadline(steady_clock::time_point t,
                                                    steady_clock::duration d) noexcept {
  using out = steady_clock::duration;
  const out since = t.time_since_epoch();
  if (d >= out::zero()) {
    return d > out::max() / 2 - since ? steady_clock::time_point::max() : t + d;
  }
  return d <= -since ? steady_clock::time_point() : t + d;
}

/// Converts any clock's time point to a deadline on goro's steady clock,
/// saturating as saturating_deadline does: time_point::min() of any clock is
/// simply past, time_point::max() is never.
template <class Clock, class Duration>
std::chrono::steady_clock::time_point to_steady(const std::chrono::time_point<Clock, Duration>& t) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    const steady_clock::duration since = saturating_duration(t.time_since_epoch());
    if (since >= steady_clock::duration::max() / 2) return steady_clock::time_point::max();
    return since < steady_clock::duration::zero() ? steady_clock::time_point()
                                                  : steady_clock::time_point(since);
  } else {
    const steady_clock::duration left =
        saturating_sub(saturating_duration(t.time_since_epoch()),
                       saturating_duration(Clock::now().time_since_epoch()));
    return saturating_deadline(steady_clock::now(), left);
  }
}

/// The deadline `d` after `now`, saturating (see saturating_deadline): a
/// negative d is already past, a huge one is never.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(
    steady_clock::time_point now, const std::chrono::duration<Rep, Period>& d) noexcept {
  return saturating_deadline(now, saturating_duration(d));
}

/// now + d, saturating instead of overflowing.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(
    const std::chrono::duration<Rep, Period>& d) noexcept {
  return deadline_after(steady_clock::now(), d);
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
