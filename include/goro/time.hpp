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
#include <optional>
#include <stdexcept>
#include <utility>

namespace goro {

namespace detail {

/// A timer's state, shared by its owner (timer, ticker, or nobody for after())
/// and, while armed or firing, by the heap.
///
/// Locks: the heap lock guards everything below marked so; deliver_lock
/// makes "may this firing deliver? then send" one step with respect to
/// stop()/reset(), so no time arrives after they return. Order: deliver_lock,
/// then the heap lock or the channel's lock; never the reverse.
///
/// Lifetime: every arming holds one reference (`refs`, backed by `self_ref`)
/// until it is removed from the heap or its firing has run. A firing that was
/// taken out of the heap but has not run yet keeps its reference through a
/// reset (which re-arms and so adds one), so it can never run on freed state.
///
/// Delivery: `pending` says the current arming has not delivered and was not
/// stopped; a firing delivers only by clearing it. So each arming delivers at
/// most once, a firing made stale by a reset delivers nothing (or, if the new
/// arming is also due, delivers for it, with the time read then), and stop()
/// returns true exactly when it took a delivery that would have happened.
struct time_source : std::enable_shared_from_this<time_source> {
  /// A source on the caller's runtime (scheduler_for_go), with a new channel.
  explicit time_source(clock::duration every)
      : time_source(&scheduler_for_go(), every, make_chan<clock::time_point>(1)) {}

  /// A source on `on`, delivering to `to` (a ticker's reset keeps both).
  time_source(scheduler* on, clock::duration every, chan<clock::time_point> to)
      : sched(on), period(every), out(std::move(to)) {
    // Its heap slot: arming, and a ticker's re-arming on a worker, then
    // never allocate (timer_heap.hpp). Throws std::bad_alloc here instead.
    sched->timers().reserve_slot();
    node.fire = &time_source::fire;
    node.abandon = &time_source::abandon;
    node.arg = this;
  }

  time_source(const time_source&) = delete;
  time_source& operator=(const time_source&) = delete;
  ~time_source() {
    if (!orphaned) sched->timers().release_slot();  // orphaned: the heap is gone
  }

  scheduler* const sched;
  const clock::duration period;  ///< zero for one-shot timers
  chan<clock::time_point> out;
  timer_node node;
  std::shared_ptr<time_source> self_ref;  ///< heap lock: set while refs > 0
  std::size_t refs = 0;                   ///< heap lock: armings not yet removed or fired
  bool pending = false;                   ///< heap lock: the current arming may deliver
  bool stopped = false;                   ///< heap lock: stop() ran since the last arm()
  bool orphaned = false;                  ///< set by abandon(): the runtime is gone
  spin_lock deliver_lock;

  /// An owner that touches the source after its runtime was destroyed would
  /// use the freed scheduler: a fatal error instead (only detectable when
  /// the source was armed as the runtime ended: always for a ticker).
  void check_runtime_alive() const noexcept {
    if (orphaned) fatal("a goro::timer or goro::ticker outlived the runtime it was made on");
  }

  /// Arms for `when` (re-arms if armed).
  void arm(clock::time_point when) {
    check_runtime_alive();
    bool earliest = false;
    {
      std::lock_guard<spin_lock> guard(sched->timers().lock());
      if (!sched->timers().remove_locked(&node) && refs++ == 0) self_ref = shared_from_this();
      stopped = false;
      pending = true;
      node.when = when;
      earliest = sched->timers().add_locked(&node);
    }
    sched->timer_added(earliest);
  }

  /// Disarms and drops a delivered, unreceived time; after it returns no time
  /// arrives until the next arm(). Returns whether it prevented a delivery
  /// (the timer was armed and had not delivered, even if already due).
  bool stop_and_drain() {
    check_runtime_alive();
    std::shared_ptr<time_source> keep;  // the heap's reference, released outside the locks
    bool was_pending = false;
    {
      no_preempt_scope hold;  // the drain below is a preemption point; fire() needs deliver_lock
      std::lock_guard<spin_lock> deliver(deliver_lock);
      {
        std::lock_guard<spin_lock> guard(sched->timers().lock());
        stopped = true;
        was_pending = pending;
        pending = false;
        if (sched->timers().remove_locked(&node) && --refs == 0) keep = std::move(self_ref);
      }
      (void)out.try_recv();
    }
    return was_pending;
  }

  // The runtime is going away with this source armed: drop the heap's
  // reference (for after(), the last one). Nothing else runs any more.
  static void abandon(timer_node* n) {
    auto* self = static_cast<time_source*>(n->arg);
    self->orphaned = true;  // an owner still holding it must not reach the scheduler
    std::shared_ptr<time_source> gone;
    if (--self->refs == 0) gone = std::move(self->self_ref);
  }

  static void fire(timer_node* n) {
    auto* self = static_cast<time_source*>(n->arg);
    scheduler* const sched = self->sched;
    std::shared_ptr<time_source> keep;  // keeps self alive to the end; released after the locks
    {
      std::lock_guard<spin_lock> deliver(self->deliver_lock);
      {
        std::lock_guard<spin_lock> guard(sched->timers().lock());
        keep = self->self_ref;
        if (--self->refs == 0) self->self_ref.reset();
        // Re-armed (a reset) since the worker took it out of the heap and not
        // due yet: this firing is stale; the new arming fires itself.
        if (self->node.index != timer_node::not_armed || !self->pending) return;
        self->pending = false;
      }
      (void)self->out.try_send(clock::now());  // full: the last tick is still unread; drop
    }
    if (self->period == clock::duration::zero()) return;
    bool earliest = false;
    {
      std::lock_guard<spin_lock> guard(sched->timers().lock());
      if (self->stopped || self->node.index != timer_node::not_armed) return;
      // Next tick one period after the one due; if we fell behind, skip ahead.
      const clock::time_point now = clock::now();
      clock::time_point next = saturating_deadline(self->node.when, self->period);
      if (next <= now) next = saturating_deadline(now, self->period);
      self->node.when = next;
      if (self->refs++ == 0) self->self_ref = keep;
      self->pending = true;
      earliest = sched->timers().add_locked(&self->node);
    }
    sched->timer_added(earliest);
  }
};

/// A ticker's period in clock ticks, or nothing if it is not positive (NaN
/// included): at least one tick (a period finer than that ticks as fast as
/// the clock allows; it does not stop) and saturated (a huge one never ticks;
/// it does not wrap around to a tiny one).
template <class Rep, class Period>
std::optional<clock::duration> ticker_period(
    const std::chrono::duration<Rep, Period>& period) noexcept {
  if (!(period > std::chrono::duration<Rep, Period>::zero())) return std::nullopt;
  const clock::duration ticks = saturating_duration(period);
  return ticks < clock::duration(1) ? clock::duration(1) : ticks;
}

/// ticker_period, or std::invalid_argument (Go panics).
template <class Rep, class Period>
clock::duration checked_ticker_period(const std::chrono::duration<Rep, Period>& period) {
  const std::optional<clock::duration> p = ticker_period(period);
  if (!p) throw_error(std::invalid_argument("goro::ticker: non-positive period"));
  return *p;
}

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

  /// Where the time arrives. Not on a temporary: `goro::timer(d).chan()`
  /// would stop the timer at the end of the statement, and the channel would
  /// never receive (use goro::after(d)).
  recv_chan<clock::time_point> chan() const& noexcept { return src_->out; }
  recv_chan<clock::time_point> chan() const&& = delete;

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
  /// Throws std::invalid_argument for a period that is not positive (Go
  /// panics; without exceptions: a fatal error with its message).
  template <class Rep, class Period>
  explicit ticker(const std::chrono::duration<Rep, Period>& period)
      : src_(std::make_shared<detail::time_source>(detail::checked_ticker_period(period))) {
    src_->arm(detail::deadline_after(src_->period));
  }
  ticker(const ticker&) = delete;
  ticker& operator=(const ticker&) = delete;
  ~ticker() { src_->stop_and_drain(); }

  /// Where the ticks arrive. Not on a temporary: `goro::ticker(d).chan()`
  /// would stop the ticker at the end of the statement, and the channel would
  /// never receive (keep the ticker, or use goro::tick(d)).
  recv_chan<clock::time_point> chan() const& noexcept { return src_->out; }
  recv_chan<clock::time_point> chan() const&& = delete;

  /// Stops the ticks; no tick arrives after stop() returns.
  void stop() { src_->stop_and_drain(); }

  /// Restarts the ticks with a new period, the first one period from now.
  /// The ticker stays on the runtime it was made on, whoever calls this.
  template <class Rep, class Period>
  void reset(const std::chrono::duration<Rep, Period>& period) {
    auto fresh = std::make_shared<detail::time_source>(
        src_->sched, detail::checked_ticker_period(period), src_->out);
    stop();
    src_ = std::move(fresh);
    src_->arm(detail::deadline_after(src_->period));
  }

 private:
  std::shared_ptr<detail::time_source> src_;
};

/// Go's time.Tick: a channel that receives the time every `period`, from a
/// ticker nobody can stop. Convenient where the ticks are wanted for the
/// whole life of the program; otherwise it leaks: the ticker keeps running
/// (one timer-heap entry, its channel, a wake-up per period) until its
/// runtime is destroyed, which for the default runtime is never. Use a
/// goro::ticker where it must stop. Returns a nil channel (receiving from it
/// blocks forever) if `period` is not positive, as Go's Tick returns nil.
template <class Rep, class Period>
recv_chan<clock::time_point> tick(const std::chrono::duration<Rep, Period>& period) {
  const std::optional<clock::duration> every = detail::ticker_period(period);
  if (!every) return {};
  auto src = std::make_shared<detail::time_source>(*every);
  src->arm(detail::deadline_after(src->period));
  return src->out;  // the heap's reference keeps the source ticking
}

}  // namespace goro

#endif
