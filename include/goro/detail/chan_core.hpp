// chan_core.hpp: the channel algorithm, written once for every element type.
//
// A channel is a lock, a ring buffer (capacity > 0), a queue of waiting
// receivers and a queue of waiting senders (after Go's runtime/chan.go). The
// code here moves values only through `void*` and a small table of typed
// operations (chan_ops), so send, receive, close and select share one
// implementation; chan.hpp puts types on top.
//
// Invariants, with the lock held:
// - count <= cap; the buffered values are slots head, head+1, ... (mod cap).
// - A waiting receiver means the buffer is empty; a waiting sender means it
//   is full (or the channel is unbuffered). Waiters already claimed by
//   another case of their select may linger in a queue until their party
//   removes them; every scan skips them (wait_queue::claim_first).
// - At most one of sendq and recvq has claimable waiters, except when one
//   select waits to both send and receive on the same unbuffered channel.
//   That select cannot match itself: matching only happens between a party
//   acting now and waiters already queued, and a party is never both.
// - After close: no claimable waiter remains; receivers drain the buffer and
//   then see "closed"; senders throw.
//
// Lock contracts: send_now_locked and recv_now_locked require the channel's
// lock and never release it; they return the waiter to wake, which the caller
// wakes after unlocking (waking under the lock would let the woken party spin
// on it). wait_on_locked requires the lock and releases it.
//
// Peeking: the buffered count, "closed" and whether each queue holds a
// waiter are atomics written only under the lock, so that select's fast
// path (select_core.hpp) can tell without the lock whether a case looks
// ready (looks_ready_to_send/recv). What a peek sees is a hint, never a
// fact: the fast path takes the lock and asks again before it acts, so
// relaxed loads and stores are enough. A write under the lock is a plain
// store, never a read-modify-write: the lock already orders writers. (One
// packed word for all four was tried: one load per peek instead of three,
// but the masking on every send and receive cost W2 more than W4 gained.)
#ifndef GORO_DETAIL_CHAN_CORE_HPP
#define GORO_DETAIL_CHAN_CORE_HPP

#include "../config.hpp"
#include "../errors.hpp"
#include "spin_lock.hpp"
#include "wait/wait.hpp"
#include "wait/waiter.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace goro {

/// Why a non-blocking or bounded channel operation did not happen.
enum class op_status {
  ok,       ///< it happened
  full,     ///< try_send: no receiver waiting and no room in the buffer
  empty,    ///< try_recv: no sender waiting and nothing buffered
  closed,   ///< the channel is closed (and, for receives, drained)
  timeout,  ///< send_for/recv_for: the deadline passed first
};

namespace detail {

/// The typed operations a channel of T needs; one static table per T. None
/// may throw: they run under the channel's lock (chan_state requires T's move
/// constructor to be noexcept).
struct chan_ops {
  /// Constructs the std::optional<T> at dst from std::move(*(T*)src).
  void (*move_into)(void* dst_optional, void* src) noexcept;
  /// Move-constructs buffer slot i from std::move(*(T*)src).
  void (*store)(void* buffer, std::size_t i, void* src) noexcept;
  /// Moves buffer slot i into the std::optional<T> at dst and destroys the slot.
  void (*load)(void* buffer, std::size_t i, void* dst_optional) noexcept;
};

/// A channel's queue of waiters: a wait_queue guarded by the channel's lock,
/// plus a flag, readable without the lock, that is true whenever a waiter is
/// linked (a hint for select's fast path; see the file comment). Waiters
/// claimed elsewhere but not yet unlinked count as linked: the flag may say
/// "maybe" when nobody can be claimed, never "nobody" while one is linked.
class chan_wait_queue {
 public:
  bool empty() const noexcept { return q_.empty(); }
  /// Without the lock: whether a waiter was linked when the flag was read.
  bool maybe_waiting() const noexcept { return linked_.load(std::memory_order_relaxed); }

  void push_back(waiter* w) noexcept {
    q_.push_back(w);
    linked_.store(true, std::memory_order_relaxed);
  }
  /// Unlinks `w`, which must be in this queue.
  void remove(waiter* w) noexcept {
    q_.remove(w);
    if (q_.empty()) linked_.store(false, std::memory_order_relaxed);
  }
  /// wait_queue::claim_first: the first waiter this caller wins, unlinked.
  waiter* claim_first() noexcept {
    if (q_.empty()) return nullptr;  // the common case of a buffered channel: no store
    waiter* w = q_.claim_first();
    if (q_.empty()) linked_.store(false, std::memory_order_relaxed);
    return w;
  }
  /// wait_queue::claim_all_into: every waiter this caller wins, moved to `out`.
  std::size_t claim_all_into(wait_queue& out) noexcept {
    const std::size_t n = q_.claim_all_into(out);
    if (q_.empty()) linked_.store(false, std::memory_order_relaxed);
    return n;
  }

 private:
  wait_queue q_;
  std::atomic<bool> linked_{false};
};

/// The untyped state of a channel. Owned by chan_state<T> (chan.hpp).
struct chan_core {
  chan_core(std::size_t capacity, const chan_ops* table, void* storage) noexcept
      : ops(table), buffer(storage), cap(capacity) {}

  spin_lock lock;
  const chan_ops* const ops;
  void* const buffer;  ///< cap slots of T, or nullptr when unbuffered
  const std::size_t cap;
  std::size_t head = 0;               ///< guarded by lock
  std::atomic<std::size_t> count{0};  ///< written under lock; peeked without it
  std::atomic<bool> closed{false};    ///< written under lock; peeked without it
  chan_wait_queue recvq;              ///< guarded by lock; waiter::value is a std::optional<T>*
  chan_wait_queue sendq;              ///< guarded by lock; waiter::value is a T* to move from

  /// Buffered values; with the lock held, exact.
  std::size_t size() const noexcept { return count.load(std::memory_order_relaxed); }
  /// Lock held: sets the buffered count.
  void set_size(std::size_t n) noexcept { count.store(n, std::memory_order_relaxed); }
  /// Whether close() has run; with the lock held, exact.
  bool is_closed() const noexcept { return closed.load(std::memory_order_relaxed); }
  /// Lock held: marks the channel closed.
  void set_closed() noexcept { closed.store(true, std::memory_order_relaxed); }

  /// Slot `k` places after head, wrapped: no division under the lock.
  std::size_t slot(std::size_t k) const noexcept {
    const std::size_t i = head + k;
    return i >= cap ? i - cap : i;
  }

  /// Without the lock: whether a send might complete now (a waiting
  /// receiver, room in the buffer) or throw (closed). A hint (see the file
  /// comment): false only if the send would have blocked at the moments the
  /// fields were read.
  bool looks_ready_to_send() const noexcept {
    return recvq.maybe_waiting() || size() < cap || is_closed();
  }
  /// Without the lock: whether a receive might complete now (a value, a
  /// waiting sender, or closed). A hint, as above.
  bool looks_ready_to_recv() const noexcept {
    return size() > 0 || sendq.maybe_waiting() || is_closed();
  }
};

/// How the channel code moves values when it knows no T: through the
/// channel's chan_ops table (select, and the untyped callers). A typed
/// caller passes chan_state<T>::moves instead (chan.hpp), the same three
/// operations called directly: no indirect call, and a trivially copyable T
/// moves with one load and store (W3: about 10 instructions fewer per int).
struct untyped_moves {
  static void move_into(const chan_core& c, void* dst_optional, void* src) noexcept {
    c.ops->move_into(dst_optional, src);
  }
  static void store(const chan_core& c, std::size_t i, void* src) noexcept {
    c.ops->store(c.buffer, i, src);
  }
  static void load(const chan_core& c, std::size_t i, void* dst_optional) noexcept {
    c.ops->load(c.buffer, i, dst_optional);
  }
};

/// Lock held. Does the send now if it can — to a waiting receiver directly,
/// else into the buffer — moving from *value; returns false if it would block.
/// The caller has checked `closed`. Moves: untyped_moves or the channel's
/// own chan_state<T>::moves.
template <class Moves = untyped_moves>
inline bool send_now_locked(chan_core& c, void* value, waiter*& to_wake) noexcept {
  to_wake = nullptr;
  if (waiter* r = c.recvq.claim_first()) {
    Moves::move_into(c, r->value, value);
    r->ok = true;
    to_wake = r;
    return true;
  }
  const std::size_t n = c.size();
  if (n < c.cap) {
    Moves::store(c, c.slot(n), value);
    c.set_size(n + 1);
    return true;
  }
  return false;
}

/// What an attempt to receive at once found.
enum class recv_attempt { would_block, received, closed };

/// Lock held. Does the receive now if it can, into the std::optional<T> at
/// `out`; on a closed, drained channel returns `closed` and leaves out empty.
template <class Moves = untyped_moves>
inline recv_attempt recv_now_locked(chan_core& c, void* out, waiter*& to_wake) noexcept {
  to_wake = nullptr;
  if (const std::size_t n = c.size(); n > 0) {
    Moves::load(c, c.head, out);
    c.head = c.slot(1);
    // A sender blocked on the full buffer moves its value into the slot just
    // freed, at the tail: values keep the order in which sends began.
    if (waiter* s = c.sendq.claim_first()) {
      Moves::store(c, c.slot(n - 1), s->value);
      s->ok = true;
      to_wake = s;
    } else {
      c.set_size(n - 1);
    }
    return recv_attempt::received;
  }
  if (waiter* s = c.sendq.claim_first()) {  // unbuffered: straight from the sender
    Moves::move_into(c, out, s->value);
    s->ok = true;
    to_wake = s;
    return recv_attempt::received;
  }
  return c.is_closed() ? recv_attempt::closed : recv_attempt::would_block;
}

/// How long a channel operation may wait.
enum class wait_mode { poll, until, forever };

/// Waits on nothing: a nil channel's operation, which never completes.
inline op_status wait_forever_or_until(wait_mode mode, steady_clock::time_point deadline,
                                       op_status if_poll, wait_reason reason) {
  if (mode == wait_mode::poll) return if_poll;
  if (mode == wait_mode::forever) wait_forever(reason);
  wait_until(deadline, reason);
  return op_status::timeout;
}

/// wait_on_locked for a thread, or with a deadline: the general waiting_party.
__attribute__((noinline)) inline op_status wait_on_locked_slow(chan_core& c, chan_wait_queue& q,
                                                               void* value, wait_reason reason,
                                                               wait_mode mode,
                                                               steady_clock::time_point deadline) {
  waiting_party party;
  waiter w;
  party.init(w);
  w.value = value;
  q.push_back(&w);
  if (mode == wait_mode::forever) {
    block(w, &spin_lock::unlock_fn, &c.lock, reason, &c, c.cap);
    return w.ok ? op_status::ok : op_status::closed;
  }
  if (block_until(party, w, &spin_lock::unlock_fn, &c.lock, deadline, reason, &c, c.cap) ==
      claim_timeout) {
    // Claimed by the timer: nobody else can take it, so it is still queued.
    std::lock_guard<spin_lock> guard(c.lock);
    q.remove(&w);
    return op_status::timeout;
  }
  return w.ok ? op_status::ok : op_status::closed;
}

/// Parks the caller on queue `q` of channel `c`, whose lock it holds and which
/// this releases, until it is claimed or (mode until) the deadline passes.
/// Returns ok (the operation happened), closed (close woke it) or timeout.
/// Noinline, so that the operations that complete at once keep the small
/// frames of chan_send and chan_recv (callgrind: W2 about 9 instructions
/// fewer per round trip; W3 and W4 unchanged). A goroutine waiting without
/// a deadline (W2 and W5 park so twice per hand-off pair) takes a path of
/// its own: one thread-local lookup for the waiter and the switch, no
/// thread parker to construct, and no claim word (a solo wait, waiter.hpp).
__attribute__((noinline)) inline op_status wait_on_locked(chan_core& c, chan_wait_queue& q,
                                                          void* value, wait_reason reason,
                                                          wait_mode mode,
                                                          steady_clock::time_point deadline) {
  worker* const wk = current_worker_tls;  // noinline, and read before the switch only
  goroutine* const g = wk != nullptr ? wk->current.load(std::memory_order_relaxed) : nullptr;
  if (g == nullptr || mode != wait_mode::forever) {
    return wait_on_locked_slow(c, q, value, reason, mode, deadline);
  }
  waiter w;  // a solo wait (waiter::claim stays nullptr): only this queue can wake it
  w.g = g;
  w.value = value;
  q.push_back(&w);
  note_wait(g, reason, &c, c.cap);
  park(*wk, g, &spin_lock::unlock_fn, &c.lock);
  return w.ok ? op_status::ok : op_status::closed;
}

/// Sends *value on c (nullptr: a nil channel), moving from it only if the
/// send happens. A closed channel: poll mode returns op_status::closed, the
/// waiting modes throw closed_channel (Go panics). Every channel operation
/// starts with a preemption point (scheduler.hpp), so that a goroutine
/// polling with try_send/try_recv gives its worker up when its slice is over.
/// Moves: as for send_now_locked.
template <class Moves = untyped_moves>
inline op_status chan_send(chan_core* c, void* value, wait_mode mode,
                           steady_clock::time_point deadline = {}) {
  preempt_check();
  if (c == nullptr) {
    return wait_forever_or_until(mode, deadline, op_status::full, wait_reason::chan_send_nil);
  }
  c->lock.lock();
  if (c->is_closed()) {
    c->lock.unlock();
    if (mode == wait_mode::poll) return op_status::closed;
    throw_error(closed_channel("goro: send on closed channel"));
  }
  waiter* to_wake = nullptr;
  if (send_now_locked<Moves>(*c, value, to_wake)) {
    c->lock.unlock();
    if (to_wake != nullptr) wake(*to_wake);
    return op_status::ok;
  }
  if (mode == wait_mode::poll) {
    c->lock.unlock();
    return op_status::full;
  }
  op_status s = wait_on_locked(*c, c->sendq, value, wait_reason::chan_send, mode, deadline);
  if (s == op_status::closed) throw_error(closed_channel("goro: send on closed channel"));
  return s;
}

/// chan_recv once c's lock is held: the rest of the operation (the lock is
/// released).
template <class Moves>
GORO_ALWAYS_INLINE op_status chan_recv_locked(chan_core& c, void* out, wait_mode mode,
                                              steady_clock::time_point deadline) {
  waiter* to_wake = nullptr;
  const recv_attempt r = recv_now_locked<Moves>(c, out, to_wake);
  if (r != recv_attempt::would_block) {
    c.lock.unlock();
    if (to_wake != nullptr) wake(*to_wake);
    return r == recv_attempt::received ? op_status::ok : op_status::closed;
  }
  if (mode == wait_mode::poll) {
    c.lock.unlock();
    return op_status::empty;
  }
  return wait_on_locked(c, c.recvq, out, wait_reason::chan_receive, mode, deadline);
}

/// chan_recv when its fast entry failed: a preemption request pending
/// somewhere, a nil channel, or the lock taken.
template <class Moves>
__attribute__((noinline)) op_status chan_recv_slow(chan_core* c, void* out, wait_mode mode,
                                                   steady_clock::time_point deadline) {
  preempt_check();
  if (c == nullptr) {
    return wait_forever_or_until(mode, deadline, op_status::empty, wait_reason::chan_receive_nil);
  }
  c->lock.lock();
  return chan_recv_locked<Moves>(*c, out, mode, deadline);
}

/// Receives from c (nullptr: a nil channel) into the std::optional<T> at
/// `out`. Returns ok (out holds a value), closed (out stays empty), or, for
/// poll/until modes, empty/timeout. Moves: as for send_now_locked.
///
/// The entry tests in one branch what usually holds (no preemption request,
/// a channel, the lock free at the first exchange) and leaves the rest to
/// chan_recv_slow: the calls left on the fast path (the wake-up, the wait)
/// end it, so an out-of-line receive (GCC keeps it so in W2 and W3) saves
/// no registers.
template <class Moves = untyped_moves>
inline op_status chan_recv(chan_core* c, void* out, wait_mode mode,
                           steady_clock::time_point deadline = {}) {
  if (__builtin_expect(preempt_requests().load(std::memory_order_relaxed) != 0 || c == nullptr ||
                           !c->lock.try_lock_once(),
                       0)) {
    return chan_recv_slow<Moves>(c, out, mode, deadline);
  }
  return chan_recv_locked<Moves>(*c, out, mode, deadline);
}

/// Closes c: every waiter is woken (receivers see "closed", senders throw).
inline void chan_close(chan_core* c) {
  if (c == nullptr) throw_error(nil_channel("goro: close of nil channel"));
  wait_queue to_wake;
  {
    std::lock_guard<spin_lock> guard(c->lock);
    if (c->is_closed()) throw_error(closed_channel("goro: close of closed channel"));
    c->set_closed();
    c->recvq.claim_all_into(to_wake);
    c->sendq.claim_all_into(to_wake);
  }
  // Claimed, so still ours until woken: ok = false tells them "closed".
  for (waiter* w = to_wake.pop_front(); w != nullptr; w = to_wake.pop_front()) {
    w->ok = false;
    wake(*w);
  }
}

/// Buffered values now (a snapshot).
inline std::size_t chan_size(chan_core* c) noexcept {
  if (c == nullptr) return 0;
  std::lock_guard<spin_lock> guard(c->lock);
  return c->size();
}

}  // namespace detail
}  // namespace goro

#endif
