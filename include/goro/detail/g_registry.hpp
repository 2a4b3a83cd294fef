// g_registry.hpp: a runtime's live goroutines, for dumps and deadlock checks.
//
// Every goroutine is registered from its spawn until its worker destroys it:
// it holds a slot in a table, and the slot holds its record's address. A
// dump or a deadlock census freezes the registry (no goroutine joins or
// leaves meanwhile, and none it sees can be freed) and walks the table.
//
// Spawns and exits are on the hot path (W1 spawns a million goroutines), so
// a worker registers and unregisters with no locked instruction at all:
//   * Free slots: each worker keeps a list of its own, touched only by its
//     thread. It takes a batch from the shared pool (or fresh slots) when it
//     runs out and gives a batch back when it holds too many, under
//     `slow_lock_`: one locked operation per batch. A goroutine that exits on
//     another worker than the one that started it gives its slot to the
//     worker it exits on: any worker may own any free slot.
//   * Against a freeze: the worker sets its `busy` flag, then reads
//     `frozen_`; the freezer sets `frozen_`, then waits for every `busy` to
//     clear. That store-then-load on both sides needs a full fence on both;
//     asymmetric_fence.hpp puts all of its cost on the freezer (membarrier)
//     where the kernel allows. A worker that finds `frozen_` set waits for
//     the thaw on `slow_lock_`, which the freeze holds throughout.
// Goroutines started from outside the workers (a plain thread, another
// runtime) or by a spare worker, and goroutines that exit on a spare worker,
// always take `slow_lock_` (rare, and a spare worker has no list of its own).
//
// Invariants: a published slot holds the address of a live goroutine, a free
// slot holds `(next << 1) | 1` (a link of the free list it is on; records
// are aligned, so the low bit tells the two apart), and a slot past
// `high_water_` was never handed out. A slot is written only by the thread
// that owns it: the worker whose list it is on, the holder of `slow_lock_`
// for the shared pool, the spawner between taking and publishing it, the
// exiting worker for a live goroutine's. Unpublishing happens before the
// record is destroyed and its stack given back, so a walker under a freeze
// never meets a freed goroutine. The table's chunks are only ever added
// (under `slow_lock_`), never moved or freed before the registry.
//
// Rejected: per-worker lists with a spin lock each (the previous design: two
// locked operations per goroutine, a tenth of W1's time with one worker); a
// lock-free linked list (removal from the middle needs hazard pointers or
// deferred frees for the walkers).
#ifndef GORO_DETAIL_G_REGISTRY_HPP
#define GORO_DETAIL_G_REGISTRY_HPP

#include "../config.hpp"
#include "asymmetric_fence.hpp"
#include "fault_injection.hpp"
#include "spin_lock.hpp"

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>

namespace goro::detail {

struct goroutine;

/// The live records of one runtime, `T` being goroutine (a template only so
/// that the tests can drive it with records of their own). See the file
/// comment.
template <class T>
class basic_registry {
  using slot_word = std::atomic<std::uintptr_t>;

 public:
  /// A slot: goroutine::all_slot keeps its own. Slots never move.
  using slot = slot_word;

  /// The table grows a chunk of chunk_slots at a time, up to max_chunks:
  /// 64M records at once (a goroutine needs at least a page of stack, so
  /// the address space runs out long before).
  static constexpr std::uint32_t chunk_slots = 8192;
  static constexpr std::uint32_t max_chunks = 8192;

  /// The worker index that means "not one of the workers".
  static constexpr std::size_t outside = ~std::size_t{0};

  /// A registry for `workers` workers; worker indexes at or past that
  /// (spare workers) and `outside` take the shared path.
  explicit basic_registry(std::size_t workers, bool expedited = asymmetric_fence::expedited())
      : workers_(workers),
        expedited_(expedited),
        shards_(new shard[workers]),
        chunks_(new slot*[max_chunks]()) {}

  ~basic_registry() {
    for (std::uint32_t c = 0; c < max_chunks && chunks_[c] != nullptr; ++c) delete[] chunks_[c];
  }

  basic_registry(const basic_registry&) = delete;
  basic_registry& operator=(const basic_registry&) = delete;

  /// Takes a free slot for a record about to start on worker `w` (or
  /// outside). Throws std::bad_alloc or std::length_error, taking nothing,
  /// when the table cannot grow. Follow with publish() or give_back().
  GORO_ALWAYS_INLINE slot* take(std::size_t w) {
    if (w >= workers_) return take_shared();
    shard& s = shards_[w];
    if (__builtin_expect(s.free_count == 0, 0)) refill(s);
    slot* p = s.free_head;
    s.free_head = next_of(p);
    --s.free_count;
    return p;
  }

  /// Returns a slot from take() that was never published (the spawn
  /// failed). Same `w` as take().
  void give_back(slot* p, std::size_t w) noexcept {
    if (w >= workers_) return remove_shared(p);
    shard& s = shards_[w];
    p->store(link(s.free_head), std::memory_order_relaxed);
    s.free_head = p;
    ++s.free_count;
  }

  /// Registers `rec` in slot `p` from take(w); w is the taker's worker.
  GORO_ALWAYS_INLINE void publish(T* rec, slot* p, std::size_t w) noexcept {
    const auto value = reinterpret_cast<std::uintptr_t>(rec);
    GORO_ASSERT((value & 1) == 0);
    if (w >= workers_) return publish_shared(value, p);
    as_owner(shards_[w], [&] { p->store(value, std::memory_order_release); });
  }

  /// Unregisters the record in slot `p`, on worker `w` (the one it exits
  /// on, or outside), which then owns the slot. Before the record is freed.
  GORO_ALWAYS_INLINE void remove(slot* p, std::size_t w) noexcept {
    if (w >= workers_) return remove_shared(p);
    shard& s = shards_[w];
    slot* const head = s.free_head;
    as_owner(s, [&] { p->store(link(head), std::memory_order_release); });
    s.free_head = p;
    if (__builtin_expect(++s.free_count > keep_most, 0)) spill(s);
  }

  /// Holds the registry still for its lifetime: meanwhile no record is
  /// published or removed, and none of those seen can be freed. The holder
  /// must not start, finish or wake goroutines of this runtime, and a
  /// worker that starts or finishes one meanwhile waits for the thaw.
  class freeze {
   public:
    explicit freeze(basic_registry& r) noexcept : r_(r) {
      r_.slow_lock_.lock();
      r_.frozen_.store(1, std::memory_order_seq_cst);
      asymmetric_fence::heavy(r_.expedited_);
      // Every worker now either saw frozen_ (and will wait for slow_lock_)
      // or has its busy flag visible here: wait those out. A busy section
      // is a few stores; past a short spin its thread is not running.
      for (std::size_t w = 0; w < r_.workers_; ++w) {
        for (int spins = 0; r_.shards_[w].busy.load(std::memory_order_acquire) != 0; ++spins) {
          if (spins < 64) {
            cpu_relax();
          } else {
            sched_yield();
          }
        }
      }
    }
    ~freeze() {
      r_.frozen_.store(0, std::memory_order_release);
      r_.slow_lock_.unlock();
    }
    freeze(const freeze&) = delete;
    freeze& operator=(const freeze&) = delete;

   private:
    basic_registry& r_;
  };

  /// Calls visit(rec) for every registered record, in slot order, until
  /// visit returns false; returns false then, else true. The caller holds
  /// a freeze.
  template <class Visit>
  bool each(Visit visit) const {
    for (std::uint32_t i = 0; i < high_water_; ++i) {
      const std::uintptr_t v = chunks_[i / chunk_slots][i % chunk_slots].load(
          std::memory_order_acquire);
      if (v == 0 || (v & 1) != 0) continue;
      if (!visit(reinterpret_cast<T*>(v))) return false;
    }
    return true;
  }

  /// Slots handed out so far (the table's extent). The caller holds a
  /// freeze; for tests.
  std::uint32_t high_water() const noexcept { return high_water_; }

 private:
  /// Slots a worker takes from the pool at once, and gives back at once
  /// when it holds more than keep_most.
  static constexpr std::uint32_t batch = 64;
  static constexpr std::uint32_t keep_most = 4 * batch;

  /// A worker's free slots and its side of the freeze handshake, on a cache
  /// line of its own (the freezer reads `busy`; nothing else is shared).
  struct alignas(64) shard {
    std::atomic<std::uint32_t> busy{0};  ///< 1 while the owner writes a slot
    std::uint32_t free_count = 0;        ///< owner only
    slot* free_head = nullptr;           ///< owner only; valid when free_count > 0
  };

  /// A free slot's value: the next slot of its free list, tagged.
  static std::uintptr_t link(slot* next) noexcept {
    return reinterpret_cast<std::uintptr_t>(next) | 1;
  }

  /// The next slot on the free list through free slot p; only its owner
  /// reads it.
  static slot* next_of(slot* p) noexcept {
    return reinterpret_cast<slot*>(p->load(std::memory_order_relaxed) & ~std::uintptr_t{1});
  }

  /// Runs `write` (a store to a slot) unless a freeze is in progress, with
  /// the worker's busy flag up; during a freeze, after it ends.
  template <class Write>
  GORO_ALWAYS_INLINE void as_owner(shard& s, Write write) noexcept {
    s.busy.store(1, std::memory_order_relaxed);
    asymmetric_fence::light(expedited_);
    // Acquire: a thaw's release store orders the walker's reads of a
    // record before this worker's freeing of it (what TSan checks).
    if (__builtin_expect(frozen_.load(std::memory_order_acquire) == 0, 1)) {
      write();
      s.busy.store(0, std::memory_order_release);
      return;
    }
    s.busy.store(0, std::memory_order_release);
    std::lock_guard<spin_lock> guard(slow_lock_);  // held by the freeze until the thaw
    write();
  }

  /// take() from outside the workers.
  __attribute__((noinline)) slot* take_shared() {
    std::lock_guard<spin_lock> guard(slow_lock_);
    if (pool_count_ == 0) fresh_into_pool();
    slot* p = pool_head_;
    pool_head_ = next_of(p);
    --pool_count_;
    return p;
  }

  __attribute__((noinline)) void publish_shared(std::uintptr_t value, slot* p) noexcept {
    std::lock_guard<spin_lock> guard(slow_lock_);
    p->store(value, std::memory_order_release);
  }

  /// remove() and give_back() outside the workers: into the pool.
  __attribute__((noinline)) void remove_shared(slot* p) noexcept {
    std::lock_guard<spin_lock> guard(slow_lock_);
    push_pool(p);
  }

  /// Holds slow_lock_.
  void push_pool(slot* p) noexcept {
    p->store(link(pool_head_), std::memory_order_release);
    pool_head_ = p;
    ++pool_count_;
  }

  /// Gives a worker with an empty list up to `batch` slots from the pool,
  /// or fresh ones. Throws (taking nothing) when the table cannot grow.
  __attribute__((noinline)) void refill(shard& s) {
    std::lock_guard<spin_lock> guard(slow_lock_);
    if (pool_count_ == 0) fresh_into_pool();
    const std::uint32_t n = pool_count_ < batch ? pool_count_ : batch;
    // The first n slots of the pool's list become the worker's; their
    // links stay as they are (the count says where the list ends).
    slot* last = pool_head_;
    for (std::uint32_t k = 1; k < n; ++k) last = next_of(last);
    s.free_head = pool_head_;
    s.free_count = n;
    pool_head_ = next_of(last);
    pool_count_ -= n;
  }

  /// Moves `batch` slots from a worker's list, which holds more than
  /// keep_most, to the pool: a goroutine's slot is freed where it exits, so
  /// a worker that only finishes goroutines others started would hoard.
  __attribute__((noinline)) void spill(shard& s) noexcept {
    std::lock_guard<spin_lock> guard(slow_lock_);
    slot* last = s.free_head;
    for (std::uint32_t k = 1; k < batch; ++k) last = next_of(last);
    slot* const rest = next_of(last);
    last->store(link(pool_head_), std::memory_order_relaxed);
    pool_head_ = s.free_head;
    pool_count_ += batch;
    s.free_head = rest;
    s.free_count -= batch;
  }

  /// Holds slow_lock_. Hands out `batch` never-used slots into the pool,
  /// allocating the table's next chunk when needed (a chunk holds a whole
  /// number of batches).
  void fresh_into_pool() {
    static_assert(chunk_slots % batch == 0, "a batch never spans two chunks");
    if (std::uint64_t{high_water_} + batch > std::uint64_t{chunk_slots} * max_chunks) {
      throw_error(std::length_error("goro: more than 67108864 goroutines alive in one runtime"));
    }
    slot*& chunk = chunks_[high_water_ / chunk_slots];
    if (chunk == nullptr) {
      GORO_FAULT_ALLOCATION();
      chunk = new slot[chunk_slots]();
    }
    slot* const first = chunk + high_water_ % chunk_slots;
    for (std::uint32_t k = 0; k < batch; ++k) push_pool(first + k);
    high_water_ += batch;
  }

  const std::size_t workers_;
  const bool expedited_;  ///< asymmetric_fence::expedited(), read once
  const std::unique_ptr<shard[]> shards_;
  const std::unique_ptr<slot*[]> chunks_;  ///< entries added under slow_lock_, never removed

  /// 1 while a freeze is on. Read by every publish and remove.
  alignas(64) std::atomic<std::uint32_t> frozen_{0};
  /// Guards the pool, high_water_ and chunks_; held by a freeze throughout.
  alignas(64) spin_lock slow_lock_;
  slot* pool_head_ = nullptr;    ///< valid when pool_count_ > 0
  std::uint32_t pool_count_ = 0;  ///< free slots in the pool
  std::uint32_t high_water_ = 0;  ///< slots [0, high_water_) have been handed out
};

/// A runtime's registry of its goroutines.
using g_registry = basic_registry<goroutine>;

}  // namespace goro::detail

#endif
