// g_registry.hpp: a runtime's live goroutines, for dumps and deadlock checks.
//
// Every goroutine is registered from its spawn until its worker destroys it:
// a slot of a table holds its record's address. A dump or a deadlock census
// freezes the registry (no goroutine leaves meanwhile, so none it sees can
// be freed) and walks the table.
//
// A slot belongs to a stack, not to a goroutine: the runtime's stack pool
// takes one for each stack it maps and gives it back when it unmaps the
// stack (stack_pool.hpp), a batch at a time under `slow_lock_`. A goroutine
// runs on one stack, so starting one stores its address in its stack's
// slot and finishing it stores 0 there: no slot is taken or freed on the
// hot path (W1 starts a million goroutines), whichever worker a goroutine
// starts or ends on.
//
// A freeze must not miss a goroutine's end: the record is freed after it.
// So the second store must not happen during a freeze, and a worker makes it
// with no locked instruction: it sets its `busy` flag, then reads
// `frozen_`; the freezer sets `frozen_`, then waits for every `busy` to
// clear. That store-then-load on both sides needs a full fence on both;
// asymmetric_fence.hpp puts all of its cost on the freezer (membarrier)
// where the kernel allows. A worker that finds `frozen_` set waits for the
// thaw on `slow_lock_`, which the freeze holds throughout. Goroutines that
// end outside the workers (on a spare worker) always take `slow_lock_`. A
// start needs no handshake (see publish()).
//
// Invariants: a slot holds a live goroutine's address (published), 0 (its
// stack holds no goroutine), or `next | 1` while it is in the free pool (a
// link of that list; records are aligned, so the low bit tells them apart).
// Slots past `high_water_` were never handed out. A published slot is
// cleared before its record is destroyed and its stack given back, so a
// walker under a freeze never meets a freed goroutine. The table's chunks
// are only ever added (under `slow_lock_`), never moved or freed before the
// registry.
//
// Rejected: a slot per goroutine from per-worker free lists (no locked
// instruction either, but taking and freeing slots was 3 ns of W1's 90);
// per-worker linked lists with a spin lock each (two locked operations per
// goroutine, a tenth of W1 with one worker); a lock-free linked list
// (removal from the middle needs hazard pointers or deferred frees).
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
 public:
  /// A slot of the table. Slots never move.
  using slot = std::atomic<std::uintptr_t>;

  /// The table grows a chunk of chunk_slots at a time, up to max_chunks:
  /// 64M stacks at once (each takes at least a page and a guard, so the
  /// address space runs out long before).
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
        chunks_(new slot*[max_chunks]()) {
    // The first chunk now, with the runtime: a runtime's first go() then
    // allocates nothing here.
    chunks_[0] = new slot[chunk_slots]();
  }

  ~basic_registry() {
    for (std::uint32_t c = 0; c < max_chunks && chunks_[c] != nullptr; ++c) delete[] chunks_[c];
  }

  basic_registry(const basic_registry&) = delete;
  basic_registry& operator=(const basic_registry&) = delete;

  /// Takes `n` free slots into out[0..n) (for new stacks). Throws
  /// std::bad_alloc or std::length_error, taking none, when the table
  /// cannot grow.
  void take(slot** out, std::size_t n) {
    std::lock_guard<spin_lock> guard(slow_lock_);
    while (pool_count_ < n) fresh_into_pool();
    for (std::size_t i = 0; i < n; ++i) {
      slot* p = pool_head_;
      pool_head_ = next_free(p);
      p->store(0, std::memory_order_relaxed);
      out[i] = p;
    }
    pool_count_ -= n;
  }

  /// Gives back slots from take() that hold no record (their stacks are
  /// gone). Null entries are skipped.
  void give_back(slot* const* in, std::size_t n) noexcept {
    std::lock_guard<spin_lock> guard(slow_lock_);
    for (std::size_t i = 0; i < n; ++i) {
      if (in[i] == nullptr) continue;
      GORO_ASSERT(in[i]->load(std::memory_order_relaxed) == 0);
      push_free(in[i]);
    }
  }

  /// Registers `rec`, fully constructed, in slot `p` (its stack's), from
  /// any thread. No handshake: a freeze in progress may or may not list a
  /// goroutine that starts meanwhile (either is a true moment's picture),
  /// and what it reads of the record was written before this release store.
  GORO_ALWAYS_INLINE static void publish(T* rec, slot* p) noexcept {
    const auto value = reinterpret_cast<std::uintptr_t>(rec);
    GORO_ASSERT(p != nullptr && (value & 1) == 0);
    p->store(value, std::memory_order_release);
  }

  /// Unregisters the record in slot `p`, on worker `w` (the one it ends
  /// on) or outside. Before the record is freed.
  GORO_ALWAYS_INLINE void remove(slot* p, std::size_t w) noexcept {
    if (w >= workers_) return store_shared(p, 0);
    as_owner(shards_[w], p, 0);
  }

  /// Holds the registry still for its lifetime: meanwhile no record is
  /// removed, so none of those seen can be freed (one may be published).
  /// The holder must not finish or wake goroutines of this runtime, and a
  /// worker that finishes one meanwhile waits for the thaw.
  class freeze {
   public:
    explicit freeze(basic_registry& r) noexcept : r_(r) {
      r_.slow_lock_.lock();
      r_.frozen_.store(1, std::memory_order_seq_cst);
      asymmetric_fence::heavy(r_.expedited_);
      // Every worker now either saw frozen_ (and will wait for slow_lock_)
      // or has its busy flag visible here: wait those out. A busy section
      // is one store; past a short spin its thread is not running.
      for (std::size_t w = 0; w < r_.workers_; ++w) {
        asymmetric_fence::wait_until_clear(r_.shards_[w].busy);
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
      const std::uintptr_t v =
          chunks_[i / chunk_slots][i % chunk_slots].load(std::memory_order_acquire);
      if (v == 0 || (v & 1) != 0) continue;
      if (!visit(reinterpret_cast<T*>(v))) return false;
    }
    return true;
  }

  /// Slots handed out so far (the table's extent). The caller holds a
  /// freeze; for tests.
  std::uint32_t high_water() const noexcept { return high_water_; }

 private:
  /// Fresh slots added to the pool at once.
  static constexpr std::uint32_t batch = 64;

  /// A worker's side of the freeze handshake, on a cache line of its own.
  struct alignas(64) shard {
    std::atomic<std::uint32_t> busy{0};  ///< 1 while the owner writes a slot
  };

  /// Stores `value` in slot p unless a freeze is in progress, with the
  /// worker's busy flag up; during a freeze, after it ends.
  GORO_ALWAYS_INLINE void as_owner(shard& s, slot* p, std::uintptr_t value) noexcept {
    s.busy.store(1, std::memory_order_relaxed);
    asymmetric_fence::light(expedited_);
    // Acquire: a thaw's release store orders the walker's reads of a
    // record before this worker's freeing of it (what TSan checks).
    if (__builtin_expect(frozen_.load(std::memory_order_acquire) == 0, 1)) {
      p->store(value, std::memory_order_release);
      s.busy.store(0, std::memory_order_release);
      return;
    }
    s.busy.store(0, std::memory_order_release);
    store_shared(p, value);  // slow_lock_ is the freeze's until the thaw
  }

  /// Holds slow_lock_. Puts slot p on the free pool: its value becomes the
  /// pool's previous head, tagged (see the file comment).
  void push_free(slot* p) noexcept {
    p->store(reinterpret_cast<std::uintptr_t>(pool_head_) | 1, std::memory_order_relaxed);
    pool_head_ = p;
    ++pool_count_;
  }

  /// Holds slow_lock_. The slot after free slot p on the pool.
  static slot* next_free(const slot* p) noexcept {
    return reinterpret_cast<slot*>(p->load(std::memory_order_relaxed) & ~std::uintptr_t{1});
  }

  __attribute__((noinline)) void store_shared(slot* p, std::uintptr_t value) noexcept {
    std::lock_guard<spin_lock> guard(slow_lock_);
    p->store(value, std::memory_order_release);
  }

  /// Holds slow_lock_. Adds `batch` never-used slots to the pool,
  /// allocating the table's next chunk when needed (a chunk holds a whole
  /// number of batches).
  void fresh_into_pool() {
    static_assert(chunk_slots % batch == 0, "a batch never spans two chunks");
    if (std::uint64_t{high_water_} + batch > std::uint64_t{chunk_slots} * max_chunks) {
      throw_error(std::length_error("goro: more than 67108864 goroutine stacks in one runtime"));
    }
    slot*& chunk = chunks_[high_water_ / chunk_slots];
    if (chunk == nullptr) {
      GORO_FAULT_ALLOCATION();
      chunk = new slot[chunk_slots]();
    }
    slot* const first = chunk + high_water_ % chunk_slots;
    for (std::uint32_t k = 0; k < batch; ++k) push_free(first + k);
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
  slot* pool_head_ = nullptr;     ///< valid when pool_count_ > 0
  std::size_t pool_count_ = 0;    ///< free slots in the pool
  std::uint32_t high_water_ = 0;  ///< slots [0, high_water_) have been handed out
};

/// A runtime's registry of its goroutines.
using g_registry = basic_registry<goroutine>;

}  // namespace goro::detail

#endif
