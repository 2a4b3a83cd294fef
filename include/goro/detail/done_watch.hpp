// done_watch.hpp: letting a context end a wait, with the wait machinery that
// is already there.
//
// A context's done() is a channel that is closed on cancellation, and closing
// a channel claims and wakes every waiter queued to receive from it. So a
// wait that a context may end is an ordinary wait plus one more waiter,
// queued on the done channel and sharing the wait's claim word: whichever
// comes first, the operation or the close, wins that word, exactly as the
// cases of a select do (channel operations with a context are in fact a
// select with one more case; see context.hpp). Nothing polls.
//
// Lock order: the lock of the object waited on, then the done channel's lock.
// Nothing takes them the other way round: closing a done channel holds only
// the channel's lock.
#ifndef GORO_DETAIL_DONE_WATCH_HPP
#define GORO_DETAIL_DONE_WATCH_HPP

#include "../config.hpp"
#include "chan_core.hpp"
#include "spin_lock.hpp"
#include "wait/wait.hpp"
#include "wait/waiter.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>

namespace goro::detail {

/// The unlock function of a wait that holds two locks when it parks: an
/// object's lock and a done channel's. Both pointers are read before either
/// lock is released: once one is, the party may resume and pop this struct.
struct two_locks {
  spin_lock* first;
  spin_lock* second;
  static void unlock_fn(void* self) noexcept {
    auto* t = static_cast<two_locks*>(self);
    spin_lock* const a = t->first;
    spin_lock* const b = t->second;
    b->unlock();
    a->unlock();
  }
};

/// The extra waiter of a wait that a context can end: queued on the done
/// channel as case `index` of the party's wait. Lives on the waiting party's
/// stack for one wait.
class done_watch {
 public:
  explicit done_watch(chan_core* done) noexcept : done_(done) {}
  done_watch(const done_watch&) = delete;
  done_watch& operator=(const done_watch&) = delete;

  /// Takes the done channel's lock and queues the watch as case `index` of
  /// `party`'s wait; the lock stays held for the park's unlock function
  /// (two_locks). Returns false, holding nothing more, if the channel is
  /// already closed: the context ended before the wait began.
  bool arm(waiting_party& party, std::uint32_t index) noexcept {
    done_->lock.lock();
    if (done_->is_closed()) {
      done_->lock.unlock();
      return false;
    }
    party.init(w_, index);
    w_.value = nullptr;  // never received into: done channels only close
    done_->recvq.push_back(&w_);
    return true;
  }

  /// The lock arm() left held.
  spin_lock& lock() noexcept { return done_->lock; }

  /// Whether the close of the done channel is what ended the wait.
  bool fired(std::uint32_t outcome) const noexcept {
    return outcome == claim_case_base + w_.case_index;
  }

  /// After the wait: unlinks the watch unless the close took it out.
  void disarm(std::uint32_t outcome) noexcept {
    if (fired(outcome)) return;
    std::lock_guard<spin_lock> guard(done_->lock);
    done_->recvq.remove(&w_);
  }

 private:
  chan_core* done_;
  waiter w_;
};

/// The end of a counted wait that a context can end (a semaphore's acquire,
/// a wait group's wait), written once for both. Precondition: `lock` is
/// held, and the caller has counted itself as a waiter in the low bits of
/// `state`. Arms `watch`, queues `w` in `queue` and parks; `lock` is
/// released in every case. Returns true when the object woke the party,
/// false when the context ended first (or had ended before the wait began):
/// then `w` is out of the queue and the count is taken back.
inline bool block_counted_or_done(done_watch& watch, waiting_party& party, waiter& w,
                                  spin_lock& lock, wait_queue& queue,
                                  std::atomic<std::uint64_t>& state) {
  if (!watch.arm(party, 1)) {
    state.fetch_sub(1, std::memory_order_relaxed);
    lock.unlock();
    return false;
  }
  queue.push_back(&w);
  two_locks locks{&lock, &watch.lock()};
  block(w, &two_locks::unlock_fn, &locks);
  const std::uint32_t outcome = party.outcome();
  watch.disarm(outcome);
  if (!watch.fired(outcome)) return true;
  std::lock_guard<spin_lock> guard(lock);
  queue.remove(&w);
  state.fetch_sub(1, std::memory_order_relaxed);  // unregistered
  return false;
}

}  // namespace goro::detail

#endif
