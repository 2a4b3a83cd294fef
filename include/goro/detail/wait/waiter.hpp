// wait/waiter.hpp: a party waiting on a channel, a lock, a wait group or a timer.
//
// A waiter is either a parked goroutine or a blocked OS thread (such as
// `main`); every queue in goro holds waiters, never goroutines or threads
// directly, which is what makes every blocking call work from both. A waiter
// lives on the stack of the party that waits, and stays valid until that
// party resumes.
//
// Claiming: a waiter may sit in several queues at once (one per case of a
// select) and may also be woken by a timeout. All of those share one `claim`
// word; whoever moves it from 0 (compare-and-swap) owns the wake-up and is the
// only one who completes the operation and wakes the party. The others leave
// the waiter alone; the party removes it from their queues when it resumes.
#ifndef GORO_DETAIL_WAIT_WAITER_HPP
#define GORO_DETAIL_WAIT_WAITER_HPP

#include "../../config.hpp"
#include "../parker.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace goro::detail {

struct goroutine;

/// The outcome stored in a claim word by whoever wins it.
enum : std::uint32_t {
  claim_none = 0,        ///< not yet woken
  claim_timeout = 1,     ///< a timer won
  claim_case_base = 16,  ///< case i of a select (or the only operation, i == 0) won: base + i
};

struct waiter {
  goroutine* g = nullptr;    ///< the parked goroutine, or nullptr for a thread
  parker* thread = nullptr;  ///< the blocked thread's parker, when g is nullptr
  /// Shared by one wait's waiters; whoever wins it wakes the wait. nullptr
  /// for a solo wait: one waiter in one queue, no timer, no other case (a
  /// goroutine's untimed channel operation, chan_core.hpp). Only a holder
  /// of that queue's lock can take it, so unlinking it is claiming it, and
  /// the compare-and-swap, a locked instruction on every hand-off, is not
  /// needed.
  std::atomic<std::uint32_t>* claim = nullptr;
  std::uint32_t case_index = 0;  ///< which case of a select this waiter stands for
  bool ok = false;               ///< channels: a value moved (false: woken by close)
  bool parked_untimed = false;   ///< a thread counted in census::threads_parked (wait.hpp)
  void* value = nullptr;         ///< channels: the value to send, or where to put the one received
  waiter* prev = nullptr;        ///< links in the queue it waits in, guarded by that queue's lock
  waiter* next = nullptr;

  /// Claims this waiter's wait for its own case; false if something else won.
  bool try_claim() noexcept { return try_claim_as(claim_case_base + case_index); }
  /// Only a queue's claim_first and claim_all_into (under its lock) may
  /// call these on a solo wait; every other claimant waits with a claim word.
  bool try_claim_as(std::uint32_t outcome) noexcept {
    if (claim == nullptr) return true;
    std::uint32_t expected = claim_none;
    return claim->compare_exchange_strong(expected, outcome, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }
};

/// A FIFO of waiters, intrusive and doubly linked; guarded by its owner's lock.
class wait_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  waiter* front() const noexcept { return head_; }

  void push_back(waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_ != nullptr) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
  }

  /// Unlinks `w`, which must be in this queue.
  void remove(waiter* w) noexcept {
    if (w->prev != nullptr) {
      w->prev->next = w->next;
    } else {
      head_ = w->next;
    }
    if (w->next != nullptr) {
      w->next->prev = w->prev;
    } else {
      tail_ = w->prev;
    }
    w->prev = w->next = nullptr;
  }

  /// Removes and returns the first waiter whose claim this caller wins, or
  /// nullptr. Waiters already claimed elsewhere are skipped and left in
  /// place: their own party unlinks them.
  waiter* claim_first() noexcept {
    waiter* w = head_;
    if (w == nullptr) return nullptr;
    if (__builtin_expect(w->try_claim(), 1)) {  // nearly always the head: no prev to mend
      unlink_head();
      return w;
    }
    for (w = w->next; w != nullptr; w = w->next) {
      if (w->try_claim()) {
        remove(w);
        return w;
      }
    }
    return nullptr;
  }

  /// Claims every waiter it can, in one pass, moving each to the back of
  /// `out`; returns how many. Waiters claimed elsewhere stay, as above.
  std::size_t claim_all_into(wait_queue& out) noexcept {
    std::size_t n = 0;
    for (waiter* w = head_; w != nullptr;) {
      waiter* const next = w->next;
      if (w->try_claim()) {
        remove(w);
        out.push_back(w);
        ++n;
      }
      w = next;
    }
    return n;
  }

  /// Removes and returns the first waiter (claimed or not), or nullptr.
  waiter* pop_front() noexcept {
    waiter* w = head_;
    if (w != nullptr) unlink_head();
    return w;
  }

 private:
  /// remove(head_), knowing it has no prev: the queue not empty.
  void unlink_head() noexcept {
    waiter* w = head_;
    head_ = w->next;
    if (head_ != nullptr) {
      head_->prev = nullptr;
    } else {
      tail_ = nullptr;
    }
    w->next = nullptr;
  }

  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
};

// Waking needs the complete scheduler (a goroutine is woken by readying it
// on its scheduler), and the scheduler wakes waiters itself (wait_all's, the
// netpoller's), so these are declared here, before the scheduler, and
// defined in wait/wait.hpp, after it.

/// Wakes the party behind a waiter that the caller has claimed. Call with no
/// lock held that the woken party might need.
inline void wake(waiter& w);

/// Wakes every waiter of `q` (all claimed by the caller, who holds no lock).
inline void wake_all(wait_queue& q);

}  // namespace goro::detail

#endif
