// fd_wait.hpp: waiting for an fd to be ready, as a goroutine or as a thread.
//
// A goroutine queues a waiter on the fd's poll descriptor (poll_desc.hpp) and
// parks; its runtime's netpoller claims it when an edge arrives. A plain
// thread cannot park on a poller it does not run, so it blocks in poll(2) on
// the fd and on its own eventfd, which is how close and deadline changes
// reach it. Both follow the same rules, checked in this order on every look:
// closing -> closed; deadline passed -> timed_out; an edge remembered ->
// ready; else wait.
//
// The net layer drives a descriptor through its life:
//   fd_open    a new file behind the number (after socket/accept)
//   fd_wait    any number of times, from any number of parties
//   fd_evict   close begins: every wait ends with closed, the poller forgets
//              the fd; the caller then closes it once no call uses the number
//   fd_closed  the number is free; its descriptor is fresh again
//
// A wait may also be given a done channel (a context's; see done_watch.hpp):
// it then ends with `done` when the channel closes first. A goroutine's wait
// queues one more waiter on the channel, sharing its claim word, so the
// close claims and wakes it like any select case would. A plain thread in
// poll(2) cannot be woken through a waiter (its parker is not in the poll
// set), so its caller arranges for fd_poke(fd, m) to run once the channel
// closes (net_fd.hpp does it with after_func); the thread then looks again
// and sees the channel closed. Either way the fd's own deadline is
// untouched.
#ifndef GORO_DETAIL_FD_WAIT_HPP
#define GORO_DETAIL_FD_WAIT_HPP

#include "../config.hpp"
#include "chan_core.hpp"
#include "done_watch.hpp"
#include "netpoller.hpp"
#include "poll_desc.hpp"
#include "scheduler.hpp"
#include "wait/wait.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <system_error>

namespace goro {

/// How a readiness wait (wait_readable, wait_writable) ended.
enum class io_status {
  ready,      ///< the fd may be ready: retry the I/O (and wait again on EAGAIN)
  timed_out,  ///< the deadline passed first
  closed,     ///< the fd was closed through goro (close_fd, forget_fd, a net close)
};

}  // namespace goro

namespace goro::detail {

/// The calling thread's eventfd for ending its poll(2) early, made on first
/// use and closed when the thread exits. Only plain threads use it (they do
/// not migrate, so no accessor barrier is needed).
inline int thread_wake_fd() {
  struct holder {
    int fd = -1;
    ~holder() {
      if (fd >= 0) ::close(fd);
    }
  };
  static thread_local holder h;
  if (h.fd < 0) {
    h.fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h.fd < 0) throw_error(std::system_error(errno, std::system_category(), "goro: eventfd"));
  }
  return h.fd;
}

/// The earlier of two deadlines.
inline steady_clock::time_point earlier(steady_clock::time_point a,
                                        steady_clock::time_point b) noexcept {
  return a < b ? a : b;
}

/// Whether a deadline has passed (no clock read for "no deadline").
inline bool passed(steady_clock::time_point deadline) noexcept {
  return deadline != steady_clock::time_point::max() && deadline <= steady_clock::now();
}

/// Starts a new generation for fd: a new file is behind the number. Waits
/// still queued for the old file end with closed; its watch and remembered
/// edges are forgotten; no deadlines.
inline void fd_open(int fd) {
  poll_desc& pd = poll_desc_table::instance().get(fd);
  wait_queue woken;
  {
    std::lock_guard<spin_lock> guard(pd.lock);
    ++pd.generation;
    pd.closing = false;
    for (io_mode m : {io_mode::read, io_mode::write}) {
      netpoller::claim_locked(pd, m, claim_io_closed, woken, true);
      pd.of(m).ready = false;
      pd.of(m).deadline = steady_clock::time_point::max();
    }
    // The old watch, if any, belonged to the closed file; the kernel dropped it.
    if (pd.poller != nullptr) pd.poller->unbind_locked(pd, /*unwatch=*/false);
  }
  wake_all(woken);
}

/// Close begins: every current and future wait on fd returns closed until
/// fd_closed or fd_open, and the poller stops watching it. Does not close fd.
inline void fd_evict(int fd) noexcept {
  poll_desc* pd = poll_desc_table::instance().find(fd);
  if (pd == nullptr) return;
  wait_queue woken;
  {
    std::lock_guard<spin_lock> guard(pd->lock);
    if (pd->closing) return;
    pd->closing = true;
    ++pd->generation;  // events already on their way are for the old file
    for (io_mode m : {io_mode::read, io_mode::write}) {
      netpoller::claim_locked(*pd, m, claim_io_closed, woken, true);
      pd->of(m).ready = false;
      pd->of(m).deadline = steady_clock::time_point::max();
    }
    if (pd->poller != nullptr) pd->poller->unbind_locked(*pd, /*unwatch=*/true);
  }
  wake_all(woken);
}

/// The fd evicted earlier has been closed: its number may now name a new
/// file, and waits on it no longer return closed. Leaves a descriptor that
/// fd_open already renewed alone.
inline void fd_closed(int fd) noexcept {
  poll_desc* pd = poll_desc_table::instance().find(fd);
  if (pd == nullptr) return;
  std::lock_guard<spin_lock> guard(pd->lock);
  pd->closing = false;
}

/// Sets fd's deadline for direction m (time_point::max() clears it). Waits
/// blocked in m look again, so a deadline moved earlier or later takes effect
/// at once, and one already passed ends them.
inline void fd_set_deadline(int fd, io_mode m, steady_clock::time_point t) {
  poll_desc& pd = poll_desc_table::instance().get(fd);
  wait_queue woken;
  {
    std::lock_guard<spin_lock> guard(pd.lock);
    pd.of(m).deadline = t;
    netpoller::claim_locked(pd, m, claim_io_retry, woken, true);
  }
  wake_all(woken);
}

/// Makes the plain threads waiting on fd in direction m look again (what
/// fd_set_deadline does, without changing the deadline): how a thread's
/// wait learns that its done channel closed. Goroutines are not disturbed.
inline void fd_poke(int fd, io_mode m) noexcept {
  poll_desc* pd = poll_desc_table::instance().find(fd);
  if (pd == nullptr) return;
  std::lock_guard<spin_lock> guard(pd->lock);
  pd->wake_threads_locked(m, claim_io_retry);
}

/// Whether `done` (nullptr: none) is closed. Takes its lock, so it may be
/// called with a descriptor's lock held (done_watch.hpp's lock order).
inline bool done_closed(chan_core* done) noexcept {
  if (done == nullptr) return false;
  std::lock_guard<spin_lock> guard(done->lock);
  return done->is_closed();
}

/// How fd_wait_or_done ended: io_status's three ways, or the done channel.
enum class fd_wait_end { ready, timed_out, closed, done };

/// fd's deadline for direction m; time_point::max() when none is set.
inline steady_clock::time_point fd_deadline(int fd, io_mode m) noexcept {
  poll_desc* pd = poll_desc_table::instance().find(fd);
  if (pd == nullptr) return steady_clock::time_point::max();
  std::lock_guard<spin_lock> guard(pd->lock);
  return pd->of(m).deadline;
}

/// A plain thread's wait: poll(2) on the fd and on the thread's eventfd.
/// See fd_wait_or_done for `done`: the caller must fd_poke when it closes.
inline fd_wait_end thread_fd_wait(poll_desc& pd, io_mode m, steady_clock::time_point deadline,
                                  chan_core* done) {
  const int wake_fd = thread_wake_fd();
  for (;;) {
    thread_io_wait self{wake_fd};
    steady_clock::time_point effective;
    {
      std::lock_guard<spin_lock> guard(pd.lock);
      if (pd.closing) return fd_wait_end::closed;
      effective = earlier(deadline, pd.of(m).deadline);
      if (passed(effective)) return fd_wait_end::timed_out;
      // Checked under pd.lock, which fd_poke takes: a close after this look
      // is followed by a poke that finds us linked.
      if (done_closed(done)) return fd_wait_end::done;
      self.next = pd.of(m).threads;
      pd.of(m).threads = &self;
    }
    pollfd fds[2];
    fds[0].fd = pd.fd;
    fds[0].events = m == io_mode::read ? POLLIN : POLLOUT;
    fds[0].revents = 0;
    fds[1].fd = wake_fd;
    fds[1].events = POLLIN;
    fds[1].revents = 0;
    const int n = ::poll(fds, 2, poll_timeout_ms(effective));
    const int err = errno;
    std::uint32_t outcome;
    {
      std::lock_guard<spin_lock> guard(pd.lock);
      thread_io_wait** p = &pd.of(m).threads;
      while (*p != &self) p = &(*p)->next;
      *p = self.next;
      outcome = self.outcome;
    }
    if (fds[1].revents != 0 || outcome != claim_none) {
      std::uint64_t value;
      while (::read(wake_fd, &value, sizeof value) > 0) {
      }
    }
    // Closed through goro: say so even if the number is already free again.
    if (outcome == claim_io_closed) return fd_wait_end::closed;
    if (n < 0) {
      if (err == EINTR) continue;
      throw_error(std::system_error(err, std::system_category(), "goro: poll"));
    }
    if ((fds[0].revents & POLLNVAL) != 0) {
      throw_error(std::system_error(EBADF, std::system_category(), "goro: wait on a closed fd"));
    }
    if (fds[0].revents != 0) return fd_wait_end::ready;
    // A time-out, or a close or deadline change: look again.
  }
}

/// Waits until fd is ready for m, the earlier of `deadline` and fd's own
/// deadline for m passes, fd is evicted, or `done` (a context's done
/// channel; nullptr: none) closes. From a goroutine it parks (the worker
/// runs others); from a plain thread it blocks in poll(2), and then whoever
/// passes `done` must call fd_poke(fd, m) once it closes (see the top of the
/// file). With `rewatch` (waits on fds goro did not open, whose file may
/// have changed behind the number), the poller's watch is renewed first.
/// Throws std::system_error for an fd the kernel says is bad, or when the
/// netpoller cannot be opened.
inline fd_wait_end fd_wait_or_done(int fd, io_mode m, steady_clock::time_point deadline,
                                   chan_core* done, bool rewatch = false) {
  poll_desc& pd = poll_desc_table::instance().get(fd);
  goroutine* g = current_goroutine();
  if (g == nullptr) return thread_fd_wait(pd, m, deadline, done);
  netpoller& mine = g->sched->poller();
  for (;;) {
    waiting_party party;
    waiter w;
    party.init(w);
    done_watch watch(done);
    pd.lock.lock();
    if (pd.closing) {
      pd.lock.unlock();
      return fd_wait_end::closed;
    }
    poll_direction& d = pd.of(m);
    const steady_clock::time_point effective = earlier(deadline, d.deadline);
    if (passed(effective)) {
      pd.lock.unlock();
      return fd_wait_end::timed_out;
    }
    if (d.ready) {
      d.ready = false;
      pd.lock.unlock();
      return fd_wait_end::ready;
    }
    // Make sure a poller watches the fd: ours, unless another runtime's
    // poller has goroutines waiting on it already (it serves them and us;
    // moving it would be correct too, but could bounce it between pollers).
    int err = 0;
    if (pd.poller != nullptr && pd.poller != &mine && pd.dir[0].n_waiters == 0 &&
        pd.dir[1].n_waiters == 0) {
      pd.poller->unbind_locked(pd, /*unwatch=*/true);
    }
    if (pd.poller == nullptr) {
      err = mine.bind_locked(pd);
    } else if (rewatch) {
      err = pd.poller->backend.rewatch(fd, pd.tag());
    }
    if (err != 0) {
      pd.lock.unlock();
      // epoll watches no regular files: they are always ready, as poll(2) says.
      if (err == EPERM) return fd_wait_end::ready;
      throw_error(std::system_error(err, std::system_category(), "goro: cannot watch fd"));
    }
    // The done channel's lock is taken inside pd.lock (done_watch's order)
    // and stays held until the park; the close claims the watch as
    // claim_io_done (case 3: 0..2 are the poller's own outcomes).
    if (done != nullptr && !watch.arm(party, claim_io_done - claim_case_base)) {
      pd.lock.unlock();
      return fd_wait_end::done;
    }
    d.waiters.push_back(&w);
    ++d.n_waiters;
    pd.poller->waiting.fetch_add(1, std::memory_order_seq_cst);
    if (pd.poller != &mine) pd.poller->sched.poller_needed();
    // Every party that can claim us but the timer holds pd.lock or the done
    // channel's lock to do it, and the timer's path below takes both before
    // leaving this frame: `locks` is read before either is released.
    two_locks locks{&pd.lock, done != nullptr ? &watch.lock() : nullptr};
    void (*unlock)(void*) = &spin_lock::unlock_fn;
    void* unlock_arg = &pd.lock;
    if (done != nullptr) {
      unlock = &two_locks::unlock_fn;
      unlock_arg = &locks;
    }
    std::uint32_t outcome;
    if (effective == steady_clock::time_point::max()) {
      block(w, unlock, unlock_arg, wait_reason::io_wait);
      outcome = party.outcome();
    } else {
      // pd.lock and the done channel's lock outlive us (descriptors are never
      // freed; the caller keeps the channel), as block_until needs.
      outcome = block_until(party, w, unlock, unlock_arg, effective, wait_reason::io_wait);
    }
    if (done != nullptr) watch.disarm(outcome);
    switch (outcome) {
      case claim_io_ready:
        return fd_wait_end::ready;
      case claim_io_closed:
        return fd_wait_end::closed;
      case claim_io_retry:
        continue;
      default: {
        GORO_ASSERT(outcome == claim_timeout || outcome == claim_io_done);
        // The timer or the close claimed us; we are still linked, and counted
        // against the poller the descriptor is bound to, if any (see
        // netpoller.hpp).
        std::lock_guard<spin_lock> guard(pd.lock);
        d.waiters.remove(&w);
        --d.n_waiters;
        if (pd.poller != nullptr) pd.poller->waiting.fetch_sub(1, std::memory_order_seq_cst);
        return outcome == claim_io_done ? fd_wait_end::done : fd_wait_end::timed_out;
      }
    }
  }
}

/// fd_wait_or_done without a done channel: waits until fd is ready for m,
/// the earlier of `deadline` and fd's own deadline for m passes, or fd is
/// evicted.
inline io_status fd_wait(int fd, io_mode m, steady_clock::time_point deadline,
                         bool rewatch = false) {
  switch (fd_wait_or_done(fd, m, deadline, nullptr, rewatch)) {
    case fd_wait_end::ready:
      break;
    case fd_wait_end::timed_out:
      return io_status::timed_out;
    case fd_wait_end::closed:
      return io_status::closed;
    case fd_wait_end::done:
      GORO_ASSERT(false);  // no done channel was given
      break;
  }
  return io_status::ready;
}

}  // namespace goro::detail

#endif
