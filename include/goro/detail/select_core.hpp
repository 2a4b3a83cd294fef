// select_core.hpp: Go's select algorithm over untyped channel cases.
//
// 1. Shuffle the cases: the poll order, so that among several ready cases
//    each is chosen with equal probability.
// 2. Sort the distinct channels by address: the lock order, so that two
//    selects over the same channels can never deadlock. A channel named by
//    several cases is locked once.
// 3. With every lock held, take the first ready case in poll order.
// 4. If none is ready: with a default case, take it; else queue one waiter
//    per case (in poll order), all sharing one claim word, and park. Whoever claims the word
//    (a sender, a receiver, close) completes exactly that case and wakes us;
//    every other waiter of ours is now unclaimable, so no second case can
//    complete and no value is taken from a case that was not chosen.
// 5. Woken: lock everything again and unlink our other waiters.
#ifndef GORO_DETAIL_SELECT_CORE_HPP
#define GORO_DETAIL_SELECT_CORE_HPP

#include "../config.hpp"
#include "chan_core.hpp"
#include "wait/wait.hpp"
#include "wait/waiter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace goro::detail {

/// One case, untyped. For a receive, `value` is the std::optional<T> to fill;
/// for a send, the T to move from (only if this case is chosen).
struct select_case {
  chan_core* chan = nullptr;  ///< nullptr: a nil channel, never ready
  bool is_send = false;
  void* value = nullptr;
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

/// Scratch space for a select of n cases, provided by the caller (on its
/// stack for a fixed number of cases).
struct select_scratch {
  std::uint32_t* poll_order;  ///< n entries
  chan_core** lock_order;     ///< n entries
  waiter* waiters;            ///< n entries
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

/// The select itself. Returns the index of the case that completed, or n when
/// `has_default` and no case was ready. A chosen receive case's optional
/// holds the value, or stays empty if the channel was closed. Throws
/// closed_channel if the chosen case is a send on a closed channel (as Go
/// panics). With no cases that can ever be ready and no default, blocks forever.
inline std::size_t select_run(select_case* cases, std::size_t n, bool has_default,
                              const select_scratch& scratch) {
  preempt_check();  // a select, above all one with a default, is a preemption point
  // 1. poll order
  for (std::size_t i = 0; i < n; ++i) {
    // Inside-out Fisher-Yates; slot i is not yet written when j == i.
    const std::size_t j = fast_random() % (i + 1);
    if (j != i) scratch.poll_order[i] = scratch.poll_order[j];
    scratch.poll_order[j] = static_cast<std::uint32_t>(i);
  }
  // 2. lock order
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

  // 3. the first ready case in poll order
  locks.lock();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = scratch.poll_order[k];
    select_case& sc = cases[i];
    if (sc.chan == nullptr) continue;
    waiter* to_wake = nullptr;
    if (sc.is_send) {
      if (sc.chan->closed) {
        locks.unlock();
        throw_error(closed_channel("goro: send on closed channel (in select)"));
      }
      if (!send_now_locked(*sc.chan, sc.value, to_wake)) continue;
    } else if (recv_now_locked(*sc.chan, sc.value, to_wake) == recv_attempt::would_block) {
      continue;
    }
    locks.unlock();
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
    waiter& w = scratch.waiters[i];
    party.init(w, static_cast<std::uint32_t>(i));
    // A thread is counted as parked once (by block), and uncounted by
    // whoever wakes it, through whichever case wins.
    w.parked_untimed = w.g == nullptr;
    w.value = sc.value;
    (sc.is_send ? sc.chan->sendq : sc.chan->recvq).push_back(&w);
    any = &w;
  }
  // Step 2 ruled out a select with no channel; checked because a null `any`
  // would otherwise be dereferenced silently (and GCC sees that path).
  if (any == nullptr) fatal("select: no channel to wait on");
  block(*any, &select_locks::unlock_fn, &locks, wait_reason::select);

  // 5. unlink the waiters that lost
  const std::size_t chosen = party.outcome() - claim_case_base;
  locks.lock();
  for (std::size_t i = 0; i < n; ++i) {
    select_case& sc = cases[i];
    if (sc.chan == nullptr || i == chosen) continue;
    (sc.is_send ? sc.chan->sendq : sc.chan->recvq).remove(&scratch.waiters[i]);
  }
  locks.unlock();
  if (cases[chosen].is_send && !scratch.waiters[chosen].ok) {
    throw_error(closed_channel("goro: send on closed channel (in select)"));
  }
  return chosen;
}

}  // namespace goro::detail

#endif
