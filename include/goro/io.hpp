// io.hpp: waiting for a file descriptor without holding a thread.
//
//   while ((n = ::read(fd, buf, len)) < 0 && errno == EAGAIN)
//     if (goro::wait_readable(fd, 5s) != goro::io_status::ready) ...;
//
// For a non-blocking fd the caller owns: a socket of a C library (libpq,
// libcurl's multi interface, ...), a pipe, an eventfd. A goroutine parks and
// its worker runs other goroutines; the runtime's netpoller (epoll) wakes it.
// A plain thread blocks in poll(2). goro::net is built on the same waits.
//
// Readiness is edge-triggered underneath: "ready" means "try again", not
// "the next call cannot return EAGAIN". Always do the I/O first and wait only
// after it said EAGAIN/EWOULDBLOCK. See docs/net.md.
#ifndef GORO_IO_HPP
#define GORO_IO_HPP

#include "config.hpp"
#include "detail/fd_wait.hpp"
#include "detail/parker.hpp"

#include <unistd.h>

#include <chrono>

namespace goro {

/// Waits until fd is readable (or at end of file, or in error), the deadline
/// passes (io_status::timed_out; a deadline already past returns at once) or
/// fd is closed through goro (io_status::closed). Throws std::system_error
/// for a bad fd.
inline io_status wait_readable(int fd) {
  return detail::fd_wait(fd, detail::io_mode::read, detail::steady_clock::time_point::max(), true);
}

/// wait_readable with a deadline on any clock.
template <class Clock, class Duration>
io_status wait_readable(int fd, const std::chrono::time_point<Clock, Duration>& deadline) {
  return detail::fd_wait(fd, detail::io_mode::read, detail::to_steady(deadline), true);
}

/// wait_readable giving up after `timeout`.
template <class Rep, class Period>
io_status wait_readable(int fd, const std::chrono::duration<Rep, Period>& timeout) {
  return detail::fd_wait(fd, detail::io_mode::read, detail::deadline_after(timeout), true);
}

/// Waits until fd is writable (or in error, or hung up), the deadline passes
/// or fd is closed through goro; as wait_readable.
inline io_status wait_writable(int fd) {
  return detail::fd_wait(fd, detail::io_mode::write, detail::steady_clock::time_point::max(), true);
}

/// wait_writable with a deadline on any clock.
template <class Clock, class Duration>
io_status wait_writable(int fd, const std::chrono::time_point<Clock, Duration>& deadline) {
  return detail::fd_wait(fd, detail::io_mode::write, detail::to_steady(deadline), true);
}

/// wait_writable giving up after `timeout`.
template <class Rep, class Period>
io_status wait_writable(int fd, const std::chrono::duration<Rep, Period>& timeout) {
  return detail::fd_wait(fd, detail::io_mode::write, detail::deadline_after(timeout), true);
}

/// Closes fd after ending every wait on it (those return io_status::closed)
/// and making the netpoller forget it. Returns ::close's result: 0, or -1
/// with errno set. Use it instead of ::close for an fd goroutines may be
/// waiting on: a plain close would leave them waiting until their deadline.
/// Waits that start while close_fd runs race with it, as any use of an fd
/// being closed does; once it returns, the number may name a new file, and
/// waits on that one work as usual.
inline int close_fd(int fd) noexcept {
  detail::fd_evict(fd);
  // Renewed before the number is freed: another thread may open a file that
  // gets it the moment ::close returns, and wait on it.
  detail::fd_closed(fd);
  return ::close(fd);
}

/// Ends every wait on fd (they return io_status::closed) and makes the
/// netpoller forget it, without closing it: for an fd that a C library is
/// about to close itself (libcurl's close-socket callback, say).
inline void forget_fd(int fd) noexcept {
  detail::fd_evict(fd);
  detail::fd_closed(fd);
}

}  // namespace goro

#endif
