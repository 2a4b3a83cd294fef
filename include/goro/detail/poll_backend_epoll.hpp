// poll_backend_epoll.hpp: the operating system's readiness notification,
// Linux epoll flavour.
//
// The netpoller (netpoller.hpp) talks to its backend through five calls:
// watch, unwatch, rewatch, wait and interrupt. Another backend (kqueue,
// io_uring's poll) slots in by providing the same class; nothing above this
// file knows about epoll.
//
// Every fd is watched once, edge-triggered, for both directions: an edge is
// reported once per change of readiness, so a waiter must retry its I/O until
// EAGAIN before it waits again (the fd_wait contract says so). Each watch
// carries a 64-bit tag, which the netpoller makes from the fd number and the
// generation of its poll descriptor: an event for a closed fd whose number was
// reused arrives with an old generation and is dropped.
//
// Interrupts (new work, an earlier timer, shutdown) go through one eventfd
// watched level-triggered; an atomic flag makes sure it is written at most
// once per wait, however many threads want the poller awake.
#ifndef GORO_DETAIL_POLL_BACKEND_EPOLL_HPP
#define GORO_DETAIL_POLL_BACKEND_EPOLL_HPP

#include "../config.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace goro::detail {

/// One readiness event, backend-neutral.
struct poll_event {
  std::uint64_t tag;  ///< what watch() was given
  bool readable;      ///< input, a hang-up or an error: a reader should retry
  bool writable;      ///< output room, a hang-up or an error: a writer should retry
};

class poll_backend {
 public:
  /// Opens the epoll instance and its eventfd; throws std::system_error when
  /// the process is out of fds.
  poll_backend() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0)
      throw_error(std::system_error(errno, std::system_category(), "goro: epoll_create1"));
    wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakefd_ < 0) {
      const int err = errno;
      ::close(epfd_);
      throw_error(std::system_error(err, std::system_category(), "goro: eventfd"));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = wake_tag;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
      const int err = errno;
      ::close(wakefd_);
      ::close(epfd_);
      throw_error(std::system_error(err, std::system_category(), "goro: epoll_ctl(eventfd)"));
    }
  }

  poll_backend(const poll_backend&) = delete;
  poll_backend& operator=(const poll_backend&) = delete;

  ~poll_backend() {
    ::close(wakefd_);
    ::close(epfd_);
  }

  /// A tag no watched fd can have (fd numbers are below 2^31).
  static constexpr std::uint64_t wake_tag = ~std::uint64_t{0};

  /// Starts watching fd, edge-triggered, both directions. Returns 0 or an
  /// errno: EPERM for a file epoll cannot watch (a regular file, always
  /// ready), EBADF for a closed fd. An fd already watched (its old file is
  /// still open elsewhere under this number) is re-tagged instead.
  int watch(int fd, std::uint64_t tag) noexcept {
    epoll_event ev = event_for(tag);
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
    if (errno != EEXIST) return errno;
    return ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : errno;
  }

  /// Re-arms a watch (which also reports the fd's current readiness as a new
  /// edge), or adds it when the kernel dropped it because the file behind
  /// the number was closed. Returns 0 or an errno, as watch().
  int rewatch(int fd, std::uint64_t tag) noexcept {
    epoll_event ev = event_for(tag);
    if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
    if (errno != ENOENT) return errno;
    return watch(fd, tag);
  }

  /// Stops watching fd. Errors are ignored: a closed fd is unwatched already.
  void unwatch(int fd) noexcept {
    epoll_event ev{};  // ignored, but kernels before 2.6.9 wanted one
    (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
  }

  /// Waits up to timeout_ms (-1: no limit, 0: just look) and stores up to
  /// `max` events in `out`; returns how many. An interrupt ends the wait and
  /// is consumed here; it produces no event.
  std::size_t wait(int timeout_ms, poll_event* out, std::size_t max) noexcept {
    constexpr int batch = 128;
    epoll_event evs[batch];
    const int cap = max < static_cast<std::size_t>(batch) ? static_cast<int>(max) : batch;
    const int n = ::epoll_wait(epfd_, evs, cap, timeout_ms);
    if (n <= 0) return 0;  // a timeout, or EINTR: the caller looks again
    std::size_t count = 0;
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = evs[i];
      if (ev.data.u64 == wake_tag) {
        std::uint64_t value;
        while (::read(wakefd_, &value, sizeof value) > 0) {
        }
        // Cleared after the read: an interrupt that comes now writes again
        // and ends the next wait, so none is lost.
        wake_pending_.store(false, std::memory_order_seq_cst);
        continue;
      }
      const bool failed = (ev.events & (EPOLLERR | EPOLLHUP)) != 0;
      out[count].tag = ev.data.u64;
      out[count].readable = failed || (ev.events & (EPOLLIN | EPOLLRDHUP)) != 0;
      out[count].writable = failed || (ev.events & EPOLLOUT) != 0;
      ++count;
    }
    return count;
  }

  /// Ends a wait in progress, or the next one. Any thread. Writes the eventfd
  /// only if no interrupt is pending yet.
  void interrupt() noexcept {
    if (wake_pending_.load(std::memory_order_relaxed)) return;
    if (wake_pending_.exchange(true, std::memory_order_seq_cst)) return;
    const std::uint64_t one = 1;
    // EAGAIN means the counter is saturated: the poller is awake anyway.
    while (::write(wakefd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

 private:
  static epoll_event event_for(std::uint64_t tag) noexcept {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = tag;
    return ev;
  }

  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> wake_pending_{false};
};

}  // namespace goro::detail

#endif
