// g_registry.hpp: a runtime's live goroutines, for dumps and deadlock checks.
//
// Every goroutine is registered from its spawn until its worker destroys it.
// The registry is sharded: one shard per worker and one for goroutines
// started from outside the workers (a plain thread, another runtime) or by a
// spare worker (spare_workers.hpp; rare, so they need no shards of their own). A
// spawn registers in the spawning worker's shard and the goroutine remembers
// which; its exit unregisters it from that shard, on whichever worker it ran.
// So a spawn and an exit on the same worker take that worker's own lock,
// which nobody else wants unless a goroutine migrated or a dump is running:
// one uncontended lock per change, where a single runtime-wide lock had every
// worker's spawns and exits contend (issue 11, W1).
//
// Invariants: a goroutine is in exactly one shard, the one `g->all_shard`
// names, from registration to removal, and only under that shard's lock are
// its links or the shard's head changed. Removal happens before the record
// is destroyed and its stack given back, so a walker holding a shard's lock
// never meets a freed goroutine there. A `freeze` holds every shard's lock
// at once, so a walk under it sees one moment's set of live goroutines.
//
// Rejected: a lock-free list (removal from the middle needs either hazard
// pointers for walkers or deferred frees, both dearer than an uncontended
// spin lock); registering at first park (a runnable goroutine that never
// parked would be missing from dumps and from the deadlock census).
#ifndef GORO_DETAIL_G_REGISTRY_HPP
#define GORO_DETAIL_G_REGISTRY_HPP

#include "../config.hpp"
#include "goroutine.hpp"
#include "spin_lock.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace goro::detail {

/// The live goroutines of one runtime. See the file comment.
class g_registry {
 public:
  /// A registry with `shards` shards (workers + 1).
  explicit g_registry(std::size_t shards)
      : shards_(new shard[shards]), count_(static_cast<std::uint32_t>(shards)) {}

  g_registry(const g_registry&) = delete;
  g_registry& operator=(const g_registry&) = delete;

  /// Registers g in shard `index`. g's links are null (a new record).
  void add(goroutine* g, std::size_t index) noexcept {
    shard& s = shards_[index];
    g->all_shard = static_cast<std::uint32_t>(index);
    std::lock_guard<spin_lock> guard(s.lock);
    g->all_next = s.head;
    if (s.head != nullptr) s.head->all_prev = g;
    s.head = g;
  }

  /// Unregisters g from the shard it was added to. Any thread.
  void remove(goroutine* g) noexcept {
    shard& s = shards_[g->all_shard];
    std::lock_guard<spin_lock> guard(s.lock);
    if (g->all_prev != nullptr) {
      g->all_prev->all_next = g->all_next;
    } else {
      s.head = g->all_next;
    }
    if (g->all_next != nullptr) g->all_next->all_prev = g->all_prev;
  }

  /// Holds every shard's lock for its lifetime, taken in index order (the
  /// only place two are held): meanwhile no goroutine joins or leaves, and
  /// none of those seen can be freed. The holder must not start, finish or
  /// wake goroutines of this runtime.
  class freeze {
   public:
    explicit freeze(g_registry& r) noexcept : r_(r) {
      for (std::uint32_t i = 0; i < r_.count_; ++i) r_.shards_[i].lock.lock();
    }
    ~freeze() {
      for (std::uint32_t i = r_.count_; i-- > 0;) r_.shards_[i].lock.unlock();
    }
    freeze(const freeze&) = delete;
    freeze& operator=(const freeze&) = delete;

   private:
    g_registry& r_;
  };

  /// Calls visit(g) for every live goroutine until visit returns false;
  /// returns false then, else true. The caller holds a freeze.
  template <class Visit>
  bool each(Visit visit) const {
    for (std::uint32_t i = 0; i < count_; ++i) {
      for (goroutine* g = shards_[i].head; g != nullptr; g = g->all_next) {
        if (!visit(g)) return false;
      }
    }
    return true;
  }

 private:
  /// One shard, on a cache line of its own: its worker takes the lock on
  /// every spawn and exit and must not share the line with its neighbours.
  struct alignas(64) shard {
    spin_lock lock;
    goroutine* head = nullptr;  ///< newest first; guarded by lock
  };

  std::unique_ptr<shard[]> shards_;
  std::uint32_t count_;
};

}  // namespace goro::detail

#endif
