// poll_desc.hpp: what goro knows about one fd number (Go's pollDesc).
//
// There is one poll_desc per fd number, process-wide, in a table that is
// never freed: an event the kernel reports for an fd that has just been
// closed can still find its descriptor, see that the generation moved on, and
// drop the event, with no use after free (Go's pollcache does the same).
//
// A descriptor goes through generations. fd_open() starts one for a new file
// behind the number; fd_evict() (close through goro) ends it: "closing" is
// set, every waiter is woken with "closed", and the poller forgets the fd.
// The watch a poller holds is tagged with the generation it was made in.
//
// Per direction (read, write) a descriptor holds:
//   ready     an edge arrived while nobody waited; the next wait takes it and
//             returns at once (the caller then retries its I/O)
//   waiters   goroutines parked for the next edge; an edge wakes them all
//   threads   plain threads blocked in poll(2) on the fd, each with a wake fd
//             that close and deadline changes write to
//   deadline  Go's SetReadDeadline/SetWriteDeadline
// All of it is guarded by the descriptor's lock.
#ifndef GORO_DETAIL_POLL_DESC_HPP
#define GORO_DETAIL_POLL_DESC_HPP

#include "../config.hpp"
#include "parker.hpp"
#include "spin_lock.hpp"
#include "wait/waiter.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <system_error>

namespace goro::detail {

class netpoller;

/// The two directions of readiness.
enum class io_mode : int { read = 0, write = 1 };

// How a wait woke, as stored in its claim word. Plain constants rather than
// another enum: C++20 deprecates arithmetic between two enumerations, and
// these are claim_case_base plus a case index.
/// An edge arrived.
inline constexpr std::uint32_t claim_io_ready = claim_case_base;
/// The fd was closed through goro.
inline constexpr std::uint32_t claim_io_closed = claim_case_base + 1;
/// Look again: a deadline moved, or the poller went away.
inline constexpr std::uint32_t claim_io_retry = claim_case_base + 2;
/// The wait's done channel (a context's) closed.
inline constexpr std::uint32_t claim_io_done = claim_case_base + 3;

/// A plain thread blocked in poll(2) on the fd; lives on that thread's stack
/// while it is linked (guarded by the descriptor's lock).
struct thread_io_wait {
  int wake_fd;                         ///< the thread's eventfd, in its poll set
  std::uint32_t outcome = claim_none;  ///< why it was woken (closed, retry), set under the lock
  thread_io_wait* next = nullptr;      ///< the next thread waiting in the same direction
};

struct poll_direction {
  bool ready = false;
  wait_queue waiters;
  thread_io_wait* threads = nullptr;
  steady_clock::time_point deadline = steady_clock::time_point::max();
  std::size_t n_waiters = 0;  ///< goroutines in `waiters`
};

struct poll_desc {
  spin_lock lock;
  int fd = -1;                   ///< the number; fixed once the slot is made
  std::uint32_t generation = 0;  ///< bumped by fd_open and fd_evict
  bool closing = false;          ///< evicted: waits return closed until fd_open
  netpoller* poller = nullptr;   ///< who watches the fd, at `generation`; null: nobody
  poll_direction dir[2];
  poll_desc* bound_prev = nullptr;  ///< links in poller's list; guarded by its list lock
  poll_desc* bound_next = nullptr;

  poll_direction& of(io_mode m) noexcept { return dir[static_cast<int>(m)]; }

  /// The tag the poller's watch carries: the generation and the fd number.
  std::uint64_t tag() const noexcept {
    return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
  }
  static int fd_of(std::uint64_t tag) noexcept { return static_cast<int>(tag & 0x7fffffffu); }
  static std::uint32_t generation_of(std::uint64_t tag) noexcept {
    return static_cast<std::uint32_t>(tag >> 32);
  }

  /// Claims every goroutine waiting in direction m with `outcome` and moves
  /// them to `out`; returns how many. With `threads_too`, also wakes the
  /// plain threads waiting in m. Holds the lock. (Callers keep the poller's
  /// count: netpoller::claim_locked.)
  std::size_t claim_waiters_locked(io_mode m, std::uint32_t outcome, wait_queue& out,
                                   bool threads_too) noexcept {
    poll_direction& d = of(m);
    std::size_t claimed = 0;
    for (waiter* w = d.waiters.front(); w != nullptr;) {
      waiter* const next = w->next;
      if (w->try_claim_as(outcome)) {
        d.waiters.remove(w);
        --d.n_waiters;
        out.push_back(w);
        ++claimed;
      }
      w = next;
    }
    if (threads_too) wake_threads_locked(m, outcome);
    return claimed;
  }

  /// Wakes the plain threads waiting in direction m (through their eventfds)
  /// with `outcome`. Holds the lock.
  void wake_threads_locked(io_mode m, std::uint32_t outcome) noexcept {
    for (thread_io_wait* t = of(m).threads; t != nullptr; t = t->next) {
      // The first reason sticks: a close is not undone by a later retry.
      if (t->outcome == claim_none) t->outcome = outcome;
      const std::uint64_t one = 1;
      // The thread unlinks itself under this lock before it returns, so its
      // eventfd is open while we write.
      while (::write(t->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
      }
    }
  }
};

/// Every poll_desc, indexed by fd number; slots are made on first use and
/// never freed. Lookups are lock-free (one acquire load per level).
class poll_desc_table {
 public:
  static constexpr std::size_t chunk_size = 1024;
  static constexpr std::size_t max_chunks = 4096;  ///< fds up to 4,194,303
  static constexpr std::size_t max_fd = chunk_size * max_chunks - 1;

  /// The descriptor of fd, made if needed. Throws std::system_error (EBADF)
  /// for a negative fd or one past max_fd.
  poll_desc& get(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) > max_fd) {
      throw_error(std::system_error(EBADF, std::system_category(),
                                    "goro: fd out of the range goro can wait on"));
    }
    const auto i = static_cast<std::size_t>(fd);
    chunk* c = chunks_[i / chunk_size].load(std::memory_order_acquire);
    if (c == nullptr) c = make_chunk(i / chunk_size);
    return c->slots[i % chunk_size];
  }

  /// The descriptor of fd if its slot was ever made, else nullptr.
  poll_desc* find(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) > max_fd) return nullptr;
    const auto i = static_cast<std::size_t>(fd);
    chunk* c = chunks_[i / chunk_size].load(std::memory_order_acquire);
    return c != nullptr ? &c->slots[i % chunk_size] : nullptr;
  }

  /// The process's table (deliberately never destroyed: events may still
  /// name a descriptor while static destructors run).
  static poll_desc_table& instance() {
    static poll_desc_table* table = new poll_desc_table();
    return *table;
  }

 private:
  struct chunk {
    poll_desc slots[chunk_size];
  };

  chunk* make_chunk(std::size_t index) {
    std::lock_guard<std::mutex> guard(grow_lock_);
    chunk* c = chunks_[index].load(std::memory_order_relaxed);
    if (c != nullptr) return c;
    c = new chunk();
    for (std::size_t j = 0; j < chunk_size; ++j) {
      c->slots[j].fd = static_cast<int>(index * chunk_size + j);
    }
    chunks_[index].store(c, std::memory_order_release);
    return c;
  }

  std::mutex grow_lock_;
  std::array<std::atomic<chunk*>, max_chunks> chunks_{};
};

}  // namespace goro::detail

#endif
