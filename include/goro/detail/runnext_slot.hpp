// runnext_slot.hpp: a worker's one-goroutine slot for what runs next.
//
// The goroutine a running goroutine readies goes here and runs as soon as
// the running one blocks (a ping-pong pair, a chain of hand-offs): scheduler.hpp,
// "runnext". Only the worker that owns the slot puts a goroutine in it and
// takes one out on its every pick, twice per hand-off; other workers take
// from it only to rescue a goroutine whose owner is stuck in another one
// (steal_runnext, after a sleep of several microseconds: rare).
//
// So the cost goes to the thief. An exchange on every put and take is a
// locked instruction each, about a tenth of a W2 round trip here. Instead
// the owner brackets its plain loads and stores with a `busy` flag and
// checks a `thief` flag: a Dekker handshake whose owner half has only a
// compiler barrier, and whose thief half calls membarrier
// (asymmetric_fence.hpp), which makes the owner's thread pass a full
// barrier. Either the owner sees the thief's flag (and waits for it to
// finish), or the thief sees the owner busy (and waits for it to leave);
// never both inside. Thieves take turns on a spin lock.
//
// Only a one-worker runtime uses the handshake. With more workers a put into
// an empty slot must be followed by a full fence anyway (the adder's half of
// the scheduler's sleep handshake), which a seq_cst exchange is; and the
// handshake's take measured slower there: W4 with two workers 74 -> 85 ms
// (9 interleaved runs), for reasons not found (docs/design.md). So a slot
// without the handshake uses exchanges for everything, as before it, and so
// does every slot where membarrier is missing (an old kernel, a seccomp
// filter, not Linux).
//
// Invariants: with the handshake, `slot_` is written by the owner with plain
// stores only between enter() and leave(), and by a thief only by an
// exchange, while it holds `thieves_`, has set `thief_` and has seen `busy_`
// clear after its membarrier; never by both at once. Without it, every
// write is an exchange.
#ifndef GORO_DETAIL_RUNNEXT_SLOT_HPP
#define GORO_DETAIL_RUNNEXT_SLOT_HPP

#include "../config.hpp"
#include "asymmetric_fence.hpp"
#include "spin_lock.hpp"

#include <atomic>
#include <mutex>

namespace goro::detail {

struct goroutine;

/// A worker's runnext (see the file comment). Owner: put, take. Anyone:
/// peek. Other workers: steal.
class runnext_slot {
 public:
  /// `handshake`: the owner's plain puts and takes (see the file comment);
  /// requires asymmetric_fence::expedited().
  explicit runnext_slot(bool handshake) noexcept : handshake_(handshake) {}

  runnext_slot(const runnext_slot&) = delete;
  runnext_slot& operator=(const runnext_slot&) = delete;

  /// The owner: puts g in the slot and returns what was there (nullptr if
  /// it was empty). Without the handshake a seq_cst exchange, which is a
  /// full fence; with it (one worker, which no other worker waits to wake)
  /// a plain store.
  GORO_ALWAYS_INLINE goroutine* put(goroutine* g) noexcept {
    if (!handshake_) return slot_.exchange(g, std::memory_order_seq_cst);
    enter();
    goroutine* old = slot_.load(std::memory_order_relaxed);
    slot_.store(g, std::memory_order_relaxed);
    leave();
    return old;
  }

  /// The owner: empties the slot; returns what was there, or nullptr.
  GORO_ALWAYS_INLINE goroutine* take() noexcept {
    if (slot_.load(std::memory_order_relaxed) == nullptr) return nullptr;
    if (!handshake_) return slot_.exchange(nullptr, std::memory_order_acq_rel);
    enter();
    goroutine* g = slot_.load(std::memory_order_relaxed);
    slot_.store(nullptr, std::memory_order_relaxed);
    leave();
    return g;
  }

  /// Another thread: empties the slot; returns what was there, or nullptr.
  /// Costs a membarrier system call when the slot is not empty.
  goroutine* steal() noexcept {
    if (slot_.load(std::memory_order_relaxed) == nullptr) return nullptr;
    if (!handshake_) return slot_.exchange(nullptr, std::memory_order_acq_rel);
    std::lock_guard<spin_lock> turn(thieves_);
    thief_.store(true, std::memory_order_relaxed);
    asymmetric_fence::heavy(true);
    asymmetric_fence::wait_until_clear(busy_);  // the owner is inside for a few stores
    goroutine* g = slot_.exchange(nullptr, std::memory_order_acq_rel);
    thief_.store(false, std::memory_order_release);
    return g;
  }

  /// Whether put() is a sequentially consistent read-modify-write (a full
  /// barrier); for the scheduler's assertion that a runtime with more than
  /// one worker has no plain puts.
  bool put_is_fence() const noexcept { return !handshake_; }

  /// Anyone: what the slot holds now (a snapshot). The scheduler's sleep
  /// handshake reads it seq_cst.
  goroutine* peek(std::memory_order order = std::memory_order_relaxed) const noexcept {
    return slot_.load(order);
  }

 private:
  // The owner's half of the handshake: busy, then (compiler barrier only;
  // the thief's membarrier is the fence) look for a thief.
  GORO_ALWAYS_INLINE void enter() noexcept {
    busy_.store(true, std::memory_order_relaxed);
    asymmetric_fence::light(true);
    if (__builtin_expect(thief_.load(std::memory_order_acquire), 0)) wait_for_thief();
  }
  GORO_ALWAYS_INLINE void leave() noexcept { busy_.store(false, std::memory_order_release); }

  /// A thief is at the slot: stand aside until it is done, then enter again.
  __attribute__((noinline)) void wait_for_thief() noexcept {
    do {
      busy_.store(false, std::memory_order_release);
      asymmetric_fence::wait_until_clear(thief_);
      busy_.store(true, std::memory_order_relaxed);
      asymmetric_fence::light(true);
    } while (thief_.load(std::memory_order_acquire));
  }

  std::atomic<goroutine*> slot_{nullptr};
  std::atomic<bool> busy_{false};   ///< the owner is between enter() and leave()
  std::atomic<bool> thief_{false};  ///< a thief holding thieves_ wants in
  const bool handshake_;            ///< see the constructor
  spin_lock thieves_;               ///< one thief at a time
};

}  // namespace goro::detail

#endif
