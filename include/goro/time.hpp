// time.hpp: channels that deliver the time, like Go's package time.
//
//   select(case_recv(c), case_recv(goro::after(100ms)));  // time.After
//   goro::timer t(1s);  t.chan().recv();  t.reset(2s);     // time.NewTimer
//   goro::ticker tick(100ms);  for (auto now : tick.chan()) ...  // time.NewTicker
//
// All of them run on the runtime's timer heap (the calling goroutine's
// runtime, or the default one from a plain thread); nothing spawns a thread.
// A timer or ticker made on an explicit goro::runtime must not outlive it.
// Each channel has a buffer of one: a tick that finds it full is dropped, as
// in Go. stop() and reset() also discard a value already delivered but not
// yet received, so no stale time arrives after they return (Go 1.23's rule).
#ifndef GORO_TIME_HPP
#define GORO_TIME_HPP

#include "chan.hpp"
#include "config.hpp"
#include "detail/scheduler.hpp"
#include "detail/timer_heap.hpp"
#include "runtime.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace goro {

namespace detail {

/// A timer's state, shared by its owner (timer, ticker, or nobody for after())
/// and, while armed, by the heap through `armed_self`.
///
/// Locks: the heap lock guards armed_self and the heap position; deliver_lock
/// makes "is it stopped? then send" in fire() one step with respect to
/// stop()/reset(), so no tick arrives after they return. Order: deliver_lock,
/// then the heap lock or the channel's lock; never the reverse.
struct time_source : std::enable_shared_from_this<time_source> {
  /// A source on the caller's runtime (scheduler_for_go), with a new channel.
  explicit time_source(clock::duration every)
      : time_source(&scheduler_for_go(), every, make_chan<clock::time_point>(1)) {}

  /// A source on `on`, delivering to `to` (a ticker's reset keeps both).
  time_source(scheduler* on, clock::duration every, chan<clock::time_point> to)
      : sched(on), period(every), out(std::move(to)) {
    node.fire = &time_source::fire;
    node.abandon = &time_source::abandon;
    node.arg = this;
  }

  scheduler* const sched;
  const clock::duration period;  ///< zero for one-shot timers
  chan<clock::time_point> out;
  timer_node node;
  std::shared_ptr<time_source> armed_self;  ///< guarded by the heap lock: set while armed
  std::atomic<bool> stopped{false};
  spin_lock deliver_lock;

  /// Arms for `when`. Returns whether it was armed before (and is re-armed).
  bool arm(clock::time_point when) {
    bool was_armed = false;
    bool earliest = false;
    {
      std::lock_guard<spin_lock> guard(sched->timers().lock());
      was_armed = sched->timers().remove_locked(&node);
      stopped.store(false, std::memory_order_relaxed);
      node.when = when;
      armed_self = shared_from_this();
      earliest = sched->timers().add_locked(&node);
    }
    sched->timer_added(earliest);
    return was_armed;
  }

  /// Disarms and drops a delivered, unreceived time; after it returns no time
  /// arrives until the next arm(). Returns whether it was armed.
  bool stop_and_drain() {
    std::shared_ptr<time_source> keep;  // the heap's reference, released outside the locks
    bool was_armed = false;
    {
      no_preempt_scope hold;  // the drain below is a preemption point; fire() needs deliver_lock
      std::lock_guard<spin_lock> deliver(deliver_lock);
      {
        std::lock_guard<spin_lock> guard(sched->timers().lock());
        stopped.store(true, std::memory_order_relaxed);
        was_armed = sched->timers().remove_locked(&node);
        if (was_armed) keep = std::move(armed_self);
      }
      (void)out.try_recv();
    }
    return was_armed;
  }

  // The runtime is going away with this source armed: drop the heap's
  // reference (for after(), the last one). Nothing else runs any more.
  static void abandon(timer_node* n) {
    std::shared_ptr<time_source> gone = std::move(static_cast<time_source*>(n->arg)->armed_self);
  }

  static void fire(timer_node* n) {
    auto* self = static_cast<time_source*>(n->arg);
    scheduler* const sched = self->sched;
    std::shared_ptr<time_source> keep;  // released after the locks (it may free self)
    const clock::time_point now = clock::now();
    {
      std::lock_guard<spin_lock> deliver(self->deliver_lock);
      {
        std::lock_guard<spin_lock> guard(sched->timers().lock());
        // Re-armed (a reset) since the worker took it out of the heap: that
        // arming owns the heap's reference and will fire itself; this firing
        // is stale and must deliver nothing.
        if (self->node.index != timer_node::not_armed) return;
        keep = std::move(self->armed_self);  // taken out of the heap: ours now
      }
      if (self->stopped.load(std::memory_order_relaxed)) return;
      (void)self->out.try_send(now);  // full: the last tick is still unread; drop
    }
    if (self->period == clock::duration::zero()) return;
    bool earliest = false;
    {
      std::lock_guard<spin_lock> guard(sched->timers().lock());
      if (self->stopped.load(std::memory_order_relaxed) ||
          self->node.index != timer_node::not_armed) {
        return;
      }
      // Next tick one period after the one due; if we fell behind, skip ahead.
      clock::time_point next = self->node.when + self->period;
      if (next <= now) next = now + self->period;
      self->node.when = next;
      self->armed_self = std::move(keep);
      earliest = sched->timers().add_locked(&self->node);
    }
    // From here `self` may already be freed (a stop on another thread took
    // the heap's reference): only locals.
    sched->timer_added(earliest);
  }
};

}  // namespace detail

/// A channel that receives the time once, after d, like Go's time.After.
template <class Rep, class Period>
recv_chan<clock::time_point> after(const std::chrono::duration<Rep, Period>& d) {
  auto src = std::make_shared<detail::time_source>(clock::duration::zero());
  src->arm(detail::deadline_after(d));
  return src->out;
}

/// A one-shot timer, like Go's time.Timer: its channel receives the time once
/// the duration has passed, unless stopped first. Stops on destruction.
class timer {
 public:
  template <class Rep, class Period>
  explicit timer(const std::chrono::duration<Rep, Period>& d)
      : src_(std::make_shared<detail::time_source>(clock::duration::zero())) {
    src_->arm(detail::deadline_after(d));
  }
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  ~timer() { src_->stop_and_drain(); }

  /// Where the time arrives.
  recv_chan<clock::time_point> chan() const noexcept { return src_->out; }

  /// Prevents the timer from firing. Returns true if that stopped it, false
  /// if it had already fired or been stopped.
  bool stop() { return src_->stop_and_drain(); }

  /// Makes the timer fire d from now. Returns true if it was still pending.
  template <class Rep, class Period>
  bool reset(const std::chrono::duration<Rep, Period>& d) {
    const bool was_pending = src_->stop_and_drain();
    src_->arm(detail::deadline_after(d));
    return was_pending;
  }

 private:
  std::shared_ptr<detail::time_source> src_;
};

/// A ticker, like Go's time.Ticker: its channel receives the time every
/// period until stopped. Slow receivers miss ticks rather than queue them.
/// Stops on destruction.
class ticker {
 public:
  /// Throws std::invalid_argument for a period that is not positive (Go panics).
  template <class Rep, class Period>
  explicit ticker(const std::chrono::duration<Rep, Period>& period)
      : src_(std::make_shared<detail::time_source>(checked(period))) {
    src_->arm(clock::now() + src_->period);
  }
  ticker(const ticker&) = delete;
  ticker& operator=(const ticker&) = delete;
  ~ticker() { src_->stop_and_drain(); }

  /// Where the ticks arrive.
  recv_chan<clock::time_point> chan() const noexcept { return src_->out; }

  /// Stops the ticks; no tick arrives after stop() returns.
  void stop() { src_->stop_and_drain(); }

  /// Restarts the ticks with a new period, the first one period from now.
  /// The ticker stays on the runtime it was made on, whoever calls this.
  template <class Rep, class Period>
  void reset(const std::chrono::duration<Rep, Period>& period) {
    auto fresh = std::make_shared<detail::time_source>(src_->sched, checked(period), src_->out);
    stop();
    src_ = std::move(fresh);
    src_->arm(clock::now() + src_->period);
  }

 private:
  template <class Rep, class Period>
  static clock::duration checked(const std::chrono::duration<Rep, Period>& period) {
    if (period <= std::chrono::duration<Rep, Period>::zero()) {
      throw std::invalid_argument("goro::ticker: non-positive period");
    }
    return std::chrono::duration_cast<clock::duration>(period);
  }
  std::shared_ptr<detail::time_source> src_;
};

}  // namespace goro

#endif
