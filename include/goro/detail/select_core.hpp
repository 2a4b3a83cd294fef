// select_core.hpp: Go's select algorithm over untyped channel cases, with a
// fast path that locks one channel when a case is ready.
//
// 1. Fast path: peek at every case without any lock (a relaxed look at the
//    channel's count, closed flag and waiter flags,
//    chan_core::looks_ready_to_send/recv) and list the cases that look
//    ready. Pick one of them uniformly at random and try it under its
//    channel's lock alone: if it really is ready it completes; if a
//    competitor took it since the peek, strike it off and pick again among
//    the rest. This is Go's poll order restricted to the cases that looked
//    ready: the first ready case of a uniformly random permutation is a
//    uniformly random one of the ready cases, and drawing it directly costs
//    one random number instead of one per case.
// 2. The poll order, for the slow path: a uniformly random permutation of
//    all cases (inside-out Fisher-Yates).
// 3. Slow path, when no case completed in step 1 (nothing looked ready, or
//    every case that did was taken by a competitor before we locked it):
//    Go's algorithm. Sort the distinct channels by address (the lock order,
//    so that two selects over the same channels can never deadlock; a
//    channel named by several cases is locked once), lock them all and take
//    the first ready case in the same poll order.
// 4. If none is ready: with a default case, take it; else queue one waiter
//    per case (in poll order), all sharing one claim word, and park. Whoever
//    claims the word (a sender, a receiver, close) completes exactly that
//    case and wakes us; every other waiter of ours is now unclaimable, so no
//    second case can complete and no value is taken from a case that was
//    not chosen.
// 5. Woken: lock everything again and unlink our other waiters.
//
// Why the fast path keeps Go's guarantees (docs/design.md, "select"):
// - Linearizable: a case completes only under its channel's lock, after
//   the same check the slow path makes, so it happens at a moment when it
//   was ready, and a select may complete any case that is ready. "Nothing
//   is ready" (a default taken, or a park) is decided only by the slow
//   path, with every lock held: peeks made at different moments could miss
//   a moment at which some case was ready.
// - Uniform: the case chosen is a uniformly random one of those seen ready;
//   with no concurrent change that is the set the slow path would see, so
//   each ready case wins with equal probability, as in Go.
// - Never matches itself: the fast path holds one lock and has queued no
//   waiter, so the only waiters it can claim belong to other parties.
#ifndef GORO_DETAIL_SELECT_CORE_HPP
#define GORO_DETAIL_SELECT_CORE_HPP

#include "../config.hpp"
#include "chan_core.hpp"
#include "wait/wait.hpp"
#include "wait/waiter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace goro::detail {

/// One case, untyped. For a receive, `value` is the std::optional<T> to fill;
/// for a send, the T to move from (only if this case is chosen). An
/// aggregate without initializers: a select fills every one it uses, and
/// zeroing arrays of them on every select showed in profiles.
struct select_case {
  chan_core* chan;  ///< nullptr: a nil channel, never ready
  bool is_send;
  void* value;
};

/// Per-thread pseudo-random numbers for the poll order (xorshift). Noinline
/// so a goroutine that migrated uses its new thread's state.
GORO_TLS_ACCESSOR inline std::uint32_t fast_random() noexcept {
  GORO_TLS_BARRIER();
  static thread_local std::uint64_t state =
      0x9E3779B97F4A7C15ull ^ reinterpret_cast<std::uintptr_t>(&state);
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<std::uint32_t>(state >> 32);
}

/// Room for one waiter, left unconstructed until a select parks (most never
/// do: the waiter's fields would be written for nothing).
union waiter_slot {
  waiter_slot() noexcept {}
  waiter w;
};
static_assert(std::is_trivially_destructible_v<waiter>, "waiter_slot never destroys its waiter");

/// Scratch space for a select of n cases, provided by the caller (on its
/// stack for a fixed number of cases).
struct select_scratch {
  std::uint32_t* poll_order;  ///< n entries
  chan_core** lock_order;     ///< n entries
  waiter_slot* waiters;       ///< n entries
};

/// The channels to lock, in lock order, and how many.
struct select_locks {
  chan_core** chans;
  std::size_t n;
  void lock() noexcept {
    for (std::size_t i = 0; i < n; ++i) chans[i]->lock.lock();
  }
  void unlock() noexcept {
    for (std::size_t i = n; i-- > 0;) chans[i]->lock.unlock();
  }
  static void unlock_fn(void* self) noexcept { static_cast<select_locks*>(self)->unlock(); }
};

/// What trying one case under its channel's lock did.
enum class case_attempt { blocked, done, send_on_closed };

/// The case's channel lock held (and not released). Completes the case if it
/// can; `to_wake` is then the waiter to wake once every lock is released.
inline case_attempt try_case_locked(const select_case& sc, waiter*& to_wake) noexcept {
  chan_core& c = *sc.chan;
  if (sc.is_send) {
    if (c.is_closed()) return case_attempt::send_on_closed;
    return send_now_locked(c, sc.value, to_wake) ? case_attempt::done : case_attempt::blocked;
  }
  return recv_now_locked(c, sc.value, to_wake) == recv_attempt::would_block ? case_attempt::blocked
                                                                            : case_attempt::done;
}

/// A uniformly random number below `bound` (> 0), by multiply and shift
/// (no division; the bias, bound / 2^32, is far below what any test sees).
inline std::uint32_t random_below(std::size_t bound) noexcept {
  return static_cast<std::uint32_t>((std::uint64_t{fast_random()} * bound) >> 32);
}

[[noreturn]] inline void throw_send_on_closed_in_select() {
  throw_error(closed_channel("goro: send on closed channel (in select)"));
}

/// Step 1 of the file comment, with `candidates` (n entries) as scratch.
/// Returns the index of the case it completed, or n if none: the slow path
/// then decides. Throws for a send on a closed channel, if that is the case
/// it picked (as the slow path does when it meets one first in poll order).
inline std::size_t select_fast(const select_case* cases, std::size_t n, std::uint32_t* candidates) {
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const select_case& sc = cases[i];
    if (sc.chan == nullptr) continue;
    if (sc.is_send ? sc.chan->looks_ready_to_send() : sc.chan->looks_ready_to_recv()) {
      candidates[m++] = static_cast<std::uint32_t>(i);
    }
  }
  while (m > 0) {
    const std::size_t k = random_below(m);
    const std::uint32_t i = candidates[k];
    const select_case& sc = cases[i];
    waiter* to_wake = nullptr;
    sc.chan->lock.lock();
    const case_attempt a = try_case_locked(sc, to_wake);
    sc.chan->lock.unlock();
    if (a == case_attempt::blocked) {  // taken by a competitor since the peek
      candidates[k] = candidates[--m];
      continue;
    }
    if (a == case_attempt::send_on_closed) throw_send_on_closed_in_select();
    if (to_wake != nullptr) wake(*to_wake);
    return i;
  }
  return n;
}

/// The select itself. Returns the index of the case that completed, or n when
/// `has_default` and no case was ready. A chosen receive case's optional
/// holds the value, or stays empty if the channel was closed. Throws
/// closed_channel if the chosen case is a send on a closed channel (as Go
/// panics). With no cases that can ever be ready and no default, blocks forever.
inline std::size_t select_run(select_case* cases, std::size_t n, bool has_default,
                              const select_scratch& scratch) {
  preempt_check();  // a select, above all one with a default, is a preemption point
  // 1. the fast path
  if (const std::size_t got = select_fast(cases, n, scratch.poll_order); got < n) return got;

  // 2. poll order
  for (std::size_t i = 0; i < n; ++i) {
    // Inside-out Fisher-Yates; slot i is not yet written when j == i.
    const std::size_t j = random_below(i + 1);
    if (j != i) scratch.poll_order[i] = scratch.poll_order[j];
    scratch.poll_order[j] = static_cast<std::uint32_t>(i);
  }

  // 3. lock order, every lock, and the first ready case in poll order
  std::size_t nlocks = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].chan != nullptr) scratch.lock_order[nlocks++] = cases[i].chan;
  }
  std::sort(scratch.lock_order, scratch.lock_order + nlocks);
  nlocks = static_cast<std::size_t>(std::unique(scratch.lock_order, scratch.lock_order + nlocks) -
                                    scratch.lock_order);
  select_locks locks{scratch.lock_order, nlocks};

  if (nlocks == 0) {
    if (has_default) return n;
    wait_forever();
  }

  locks.lock();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = scratch.poll_order[k];
    const select_case& sc = cases[i];
    if (sc.chan == nullptr) continue;
    waiter* to_wake = nullptr;
    const case_attempt a = try_case_locked(sc, to_wake);
    if (a == case_attempt::blocked) continue;
    locks.unlock();
    if (a == case_attempt::send_on_closed) throw_send_on_closed_in_select();
    if (to_wake != nullptr) wake(*to_wake);
    return i;
  }

  // 4. nothing ready
  if (has_default) {
    locks.unlock();
    return n;
  }
  // Queued in poll order, not case order: when several cases wait on one
  // channel, the party that comes for them takes the first queued, and that
  // must be a random one of them (Go gets the same from its lock order).
  waiting_party party;
  waiter* any = nullptr;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = scratch.poll_order[k];
    select_case& sc = cases[i];
    if (sc.chan == nullptr) continue;
    waiter& w = *new (&scratch.waiters[i].w) waiter{};
    party.init(w, static_cast<std::uint32_t>(i));
    // A thread is counted as parked once (by block), and uncounted by
    // whoever wakes it, through whichever case wins.
    w.parked_untimed = w.g == nullptr;
    w.value = sc.value;
    (sc.is_send ? sc.chan->sendq : sc.chan->recvq).push_back(&w);
    any = &w;
  }
  // Step 3 ruled out a select with no channel; checked because a null `any`
  // would otherwise be dereferenced silently (and GCC sees that path).
  if (any == nullptr) fatal("select: no channel to wait on");
  block(*any, &select_locks::unlock_fn, &locks, wait_reason::select);

  // 5. unlink the waiters that lost
  const std::size_t chosen = party.outcome() - claim_case_base;
  locks.lock();
  for (std::size_t i = 0; i < n; ++i) {
    select_case& sc = cases[i];
    if (sc.chan == nullptr || i == chosen) continue;
    (sc.is_send ? sc.chan->sendq : sc.chan->recvq).remove(&scratch.waiters[i].w);
  }
  locks.unlock();
  if (cases[chosen].is_send && !scratch.waiters[chosen].w.ok) throw_send_on_closed_in_select();
  return chosen;
}

}  // namespace goro::detail

#endif
