// net/net_fd.hpp: one socket shared by every handle (conn, listener) copied
// from it; its operations, deadlines and a close that is safe against them.
//
// Close safety (Go's fdMutex, in one word). Several goroutines may use one
// socket while another closes it. Closing means two things: wake everyone
// blocked on it (fd_evict), and ::close the number. The second must wait until
// no operation is still about to make a system call on that number: once
// closed, the kernel hands the number to the next socket() or open() in the
// process, and a late read() would take someone else's data. So:
//
//   state_ = closed bit (bit 0) | operations in flight (bits 1..)
//
// - An operation begins with a CAS that adds one_op unless the closed bit is
//   set (then it throws closed_error), and ends by taking one_op away.
// - close() sets the closed bit and adds its own one_op in one CAS, runs
//   fd_evict (every wait on the socket returns `closed` now and later), and
//   takes its one_op away.
// - Invariant: once the closed bit is set the count only falls, and whoever
//   takes it to zero is the only party left; it frees the number
//   (close_number: fd_closed, then ::close). If that is not close() itself,
//   it also wakes close(), which waits for it (as Go's Close does), so that
//   when close() returns the socket is really gone: the peer sees EOF, the
//   port is free. The wait is short: every operation still in flight is
//   either inside one non-blocking system call or woken by fd_evict.
// - Reads (and accepts) take read_lock_, writes take write_lock_, held for the
//   whole call, so two goroutines' writes never interleave (Go's guarantee)
//   and a read's bytes go to one caller. Those locks are taken with an
//   operation in flight, and the closed bit is checked again once held.
#ifndef GORO_NET_NET_FD_HPP
#define GORO_NET_NET_FD_HPP

#include "../config.hpp"
#include "../context.hpp"
#include "../io.hpp"
#include "../sync.hpp"
#include "address.hpp"
#include "error.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace goro::net::detail {

using goro::detail::io_mode;
using steady_time = std::chrono::steady_clock::time_point;

/// The most one system call moves (Go's maxRW): larger requests loop.
constexpr std::size_t max_io_chunk = std::size_t{1} << 30;
/// The listen backlog asked for; the kernel caps it at net.core.somaxconn.
constexpr int listen_backlog = 65535;

/// Owns a raw descriptor until a net_fd takes it over; closes it on the way
/// out of a failed setup (evicting it from the poller if it was opened there).
class raw_fd {
 public:
  explicit raw_fd(int fd) noexcept : fd_(fd) {}
  raw_fd(const raw_fd&) = delete;
  raw_fd& operator=(const raw_fd&) = delete;
  ~raw_fd() {
    if (fd_ < 0) return;
    if (opened_) {
      goro::detail::fd_evict(fd_);
      goro::detail::fd_closed(fd_);
    }
    ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  /// Starts the poller's record of the descriptor (fd_open), once. May
  /// throw (no memory for the record); the descriptor is closed then.
  void open() {
    if (!opened_) goro::detail::fd_open(fd_);
    opened_ = true;
  }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
  bool opened_ = false;
};

/// Converts a deadline on any clock to goro's clock. time_point::max() means
/// "no deadline"; a time already past stays in the past.
template <class Clock, class Duration>
steady_time to_deadline(const std::chrono::time_point<Clock, Duration>& t) {
  using std::chrono::steady_clock;
  if (t == std::chrono::time_point<Clock, Duration>::max()) return steady_time::max();
  const auto now = Clock::now();
  if (t <= now) return steady_clock::now() - std::chrono::nanoseconds(1);
  return goro::detail::deadline_after(t - now);
}

/// Whether errno value e says "try again later" (EAGAIN and EWOULDBLOCK are
/// one value on Linux, two on some systems).
inline bool would_block(int e) noexcept {
#if EAGAIN == EWOULDBLOCK
  return e == EAGAIN;
#else
  return e == EAGAIN || e == EWOULDBLOCK;
#endif
}

/// Whether a set deadline has passed.
inline bool passed(steady_time d) noexcept {
  return d != steady_time::max() && d <= std::chrono::steady_clock::now();
}

/// What may end the waits of one call: a context (context-aware calls) or
/// nothing. Lives on the caller's stack for the call. A context's end
/// reaches a goroutine's fd wait through a waiter on its done channel
/// (fd_wait_or_done); a plain thread's poll(2) needs a poke on the fd, which
/// an after_func registered on the first wait delivers, and which is stopped
/// when the call ends (one that already started only makes the fd's waiting
/// threads look again, which is harmless). The fd's own deadlines are never
/// touched.
class call_ctx {
 public:
  /// No context: nothing but the fd's deadline and close end a wait.
  call_ctx() noexcept = default;
  /// Throws context_error if ctx is already done: the call then does nothing.
  explicit call_ctx(const goro::context& ctx)
      : ctx_(&ctx), done_(goro::detail::done_core_or_throw(ctx)) {}
  call_ctx(const call_ctx&) = delete;
  call_ctx& operator=(const call_ctx&) = delete;
  ~call_ctx() {
    if (poking_) poke_.stop();
  }

  /// Takes m (the mutex of a direction), unless the context ends first:
  /// then throws context_error.
  void lock(goro::mutex& m) const {
    if (ctx_ != nullptr) {
      m.lock(*ctx_);
    } else {
      m.lock();
    }
  }

  /// Waits for fd to be ready for `mode` (no deadline of its own: the fd's
  /// applies). Throws context_error if the context ends first.
  io_status wait(int fd, io_mode mode) {
    if (done_ != nullptr && !poking_ && goro::detail::current_goroutine() == nullptr) {
      poke_ = goro::after_func(*ctx_, [fd, mode] { goro::detail::fd_poke(fd, mode); });
      poking_ = true;
    }
    switch (goro::detail::fd_wait_or_done(fd, mode, steady_time::max(), done_)) {
      case goro::detail::fd_wait_end::ready:
        break;
      case goro::detail::fd_wait_end::timed_out:
        return io_status::timed_out;
      case goro::detail::fd_wait_end::closed:
        return io_status::closed;
      case goro::detail::fd_wait_end::done:
        goro::detail::throw_context_error(*ctx_);
    }
    return io_status::ready;
  }

 private:
  const goro::context* ctx_ = nullptr;
  goro::detail::chan_core* done_ = nullptr;  ///< ctx's done channel; null: nothing ends a wait
  goro::after_func_handle poke_;
  bool poking_ = false;  ///< poke_ is registered
};

/// A socket and what goro::net knows about it. Shared (shared_ptr) by every
/// conn or listener handle copied from one another; see the top of the file
/// for the close protocol.
class net_fd {
 public:
  /// Takes over `fd`, which fd_open has already seen. For a listener, `local`
  /// is its address and `remote` empty; `unlink_path` is a unix socket file
  /// to remove on close (a listener that created it).
  net_fd(int fd, std::string network, bool listener, std::string local, std::string remote,
         std::string unlink_path = {})
      : fd_(fd),
        listener_(listener),
        network_(std::move(network)),
        local_(std::move(local)),
        remote_(std::move(remote)),
        unlink_path_(std::move(unlink_path)) {}
  net_fd(const net_fd&) = delete;
  net_fd& operator=(const net_fd&) = delete;

  /// The last handle went away: close unless close() already did. No
  /// operation can be in flight (each runs through a handle).
  ~net_fd() {
    if ((state_.load(std::memory_order_acquire) & closed_bit) == 0) {
      goro::detail::fd_evict(fd_);
      remove_socket_file();
      close_number();
    }
  }

  const std::string& network() const noexcept { return network_; }
  const std::string& local() const noexcept { return local_; }
  const std::string& remote() const noexcept { return remote_; }
  /// The descriptor, or -1 once close() has begun (its number may be reused).
  int native_handle() const noexcept {
    return (state_.load(std::memory_order_acquire) & closed_bit) != 0 ? -1 : fd_;
  }

  /// Closes: wakes every goroutine or thread blocked on the socket (they throw
  /// closed_error) and returns once the descriptor is closed. Throws
  /// closed_error if it was closed already (Go returns ErrClosed).
  void close() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    do {
      if ((s & closed_bit) != 0) throw_error(closed("close"));
    } while (!state_.compare_exchange_weak(s, (s | closed_bit) + one_op, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
    goro::detail::fd_evict(fd_);
    remove_socket_file();
    if (end_op_and_check_last()) {
      close_number();
    } else {
      closed_sem_.acquire();  // the last operation in flight closes, then wakes us
    }
  }

  /// Receives up to len bytes: > 0, or 0 at end of stream (and for len == 0).
  /// `cc` is what may end its waits besides the deadline and close.
  std::size_t read(void* buf, std::size_t len, call_ctx& cc) {
    op_scope op(*this, "read");
    cc.lock(read_lock_);
    std::lock_guard<goro::mutex> lock(read_lock_, std::adopt_lock);
    check_usable(io_mode::read, "read");
    if (len == 0) return 0;
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, std::min(len, max_io_chunk), 0);
      if (n >= 0) return static_cast<std::size_t>(n);
      const int e = last_errno();
      if (e == EINTR) continue;
      if (!would_block(e)) throw_error(os_fail("read", "read", e));
      await(io_mode::read, "read", cc);
    }
  }

  /// Sends all len bytes, or throws (bytes sent before stay sent). Never
  /// raises SIGPIPE (MSG_NOSIGNAL).
  void write(const void* buf, std::size_t len, call_ctx& cc) {
    op_scope op(*this, "write");
    cc.lock(write_lock_);
    std::lock_guard<goro::mutex> lock(write_lock_, std::adopt_lock);
    check_usable(io_mode::write, "write");
    const char* p = static_cast<const char*>(buf);
    while (len > 0) {
      const ssize_t n = ::send(fd_, p, std::min(len, max_io_chunk), MSG_NOSIGNAL);
      if (n >= 0) {
        p += n;
        len -= static_cast<std::size_t>(n);
        continue;
      }
      const int e = last_errno();
      if (e == EINTR) continue;
      if (!would_block(e)) throw_error(os_fail("write", "write", e));
      await(io_mode::write, "write", cc);
    }
  }

  /// shutdown(2) one direction: SHUT_WR (the peer reads EOF) or SHUT_RD.
  void shutdown(int how) {
    op_scope op(*this, "close");
    if (::shutdown(fd_, how) != 0) throw_error(os_fail("close", "shutdown", last_errno()));
  }

  /// Sets the deadline of one direction, or of both (mode == nullptr).
  void set_deadline(const io_mode* mode, steady_time t) {
    op_scope op(*this, "set");
    for (io_mode m : {io_mode::read, io_mode::write}) {
      if (mode != nullptr && *mode != m) continue;
      goro::detail::fd_set_deadline(fd_, m, t);
      has_deadline_[static_cast<int>(m)].store(t != steady_time::max(), std::memory_order_relaxed);
    }
  }

  /// Accepts a connection (a listener's read). Running out of descriptors
  /// (EMFILE, ENFILE) throws and leaves the connection queued for a later accept.
  std::shared_ptr<net_fd> accept(call_ctx& cc) {
    op_scope op(*this, "accept");
    cc.lock(read_lock_);
    std::lock_guard<goro::mutex> lock(read_lock_, std::adopt_lock);
    check_usable(io_mode::read, "accept");
    for (;;) {
      endpoint peer;
      socklen_t len = endpoint::capacity();
      const int nfd = ::accept4(fd_, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (nfd >= 0) {
        raw_fd owner(nfd);
        peer.len = len;
        return adopt_connected(owner, network_, &peer);
      }
      const int e = last_errno();
      if (e == EINTR || e == ECONNABORTED) continue;  // Go retries a connection reset before accept
      if (!would_block(e)) throw_error(os_fail("accept", "accept4", e));
      await(io_mode::read, "accept", cc);
    }
  }

  /// Wraps a connected, non-blocking socket (from accept4 or a finished
  /// connect); `peer` may be null (then asked).
  static std::shared_ptr<net_fd> adopt_connected(raw_fd& owner, const std::string& network,
                                                 const endpoint* peer) {
    const int fd = owner.get();
    owner.open();
    endpoint local, remote;
    socklen_t len = endpoint::capacity();
    if (::getsockname(fd, &local.sa, &len) == 0) local.len = len;
    if (peer != nullptr) {
      remote = *peer;
    } else {
      len = endpoint::capacity();
      if (::getpeername(fd, &remote.sa, &len) == 0) remote.len = len;
    }
    if (local.family() == AF_INET || local.family() == AF_INET6) {
      const int one = 1;  // Go's default: no Nagle delay on TCP connections
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    auto s = std::make_shared<net_fd>(fd, network, false, format_endpoint(local),
                                      format_endpoint(remote));
    owner.release();
    return s;
  }

  /// A closed_error for `op` on this socket.
  closed_error closed(const char* op) const {
    return closed_error(op, network_, error_source(), error_address());
  }

 private:
  static constexpr std::uint32_t closed_bit = 1;
  static constexpr std::uint32_t one_op = 2;

  /// One operation in flight, for the scope of a call (see the file's top).
  class op_scope {
   public:
    op_scope(net_fd& f, const char* op) : f_(f) {
      std::uint32_t s = f_.state_.load(std::memory_order_relaxed);
      do {
        if ((s & closed_bit) != 0) throw_error(f_.closed(op));
      } while (!f_.state_.compare_exchange_weak(s, s + one_op, std::memory_order_acquire,
                                                std::memory_order_relaxed));
    }
    op_scope(const op_scope&) = delete;
    op_scope& operator=(const op_scope&) = delete;
    ~op_scope() {
      if (f_.end_op_and_check_last()) {  // close() is waiting for us
        f_.close_number();
        f_.closed_sem_.release();
      }
    }

   private:
    net_fd& f_;
  };

  /// Takes one operation away; true when it was the last one after close
  /// began, i.e. the caller must close the descriptor.
  bool end_op_and_check_last() noexcept {
    return state_.fetch_sub(one_op, std::memory_order_acq_rel) == (closed_bit | one_op);
  }

  /// Frees the number, evicted earlier, once nothing uses it: the poller's
  /// record is renewed first (fd_closed), since another thread may get the
  /// number from its next socket() the moment ::close returns.
  void close_number() noexcept {
    goro::detail::fd_closed(fd_);
    ::close(fd_);
  }

  /// With the direction's lock held: not closed meanwhile, deadline not passed
  /// (checked before any system call, as Go does: a passed deadline fails
  /// even when data is waiting).
  void check_usable(io_mode mode, const char* op) const {
    if ((state_.load(std::memory_order_acquire) & closed_bit) != 0) throw_error(closed(op));
    // The flag spares the common case (no deadline) the poll descriptor's lock.
    if (has_deadline_[static_cast<int>(mode)].load(std::memory_order_relaxed) &&
        passed(goro::detail::fd_deadline(fd_, mode))) {
      throw_error(timeout_error(op, network_, error_source(), error_address()));
    }
  }

  /// Waits for readiness after EAGAIN; throws for a deadline, a close, or
  /// (context_error) the end of cc's context.
  void await(io_mode mode, const char* op, call_ctx& cc) {
    switch (cc.wait(fd_, mode)) {
      case io_status::ready:
        return;
      case io_status::timed_out:
        throw_error(timeout_error(op, network_, error_source(), error_address()));
      case io_status::closed:
        throw_error(closed(op));
    }
  }

  error os_fail(const char* op, const char* syscall, int e) const {
    return os_error(op, network_, error_source(), error_address(), syscall, e);
  }
  // Go names a connection "local->remote" and a listener by its own address.
  const std::string& error_source() const noexcept { return listener_ ? remote_ : local_; }
  const std::string& error_address() const noexcept { return listener_ ? local_ : remote_; }

  void remove_socket_file() noexcept {
    if (!unlink_path_.empty()) ::unlink(unlink_path_.c_str());
  }

  std::atomic<std::uint32_t> state_{0};  ///< closed_bit | operations in flight * one_op
  const int fd_;
  const bool listener_;
  std::atomic<bool> has_deadline_[2] = {{false}, {false}};  ///< per io_mode: one is set
  goro::mutex read_lock_;                          ///< held by a read or accept for its whole call
  goro::mutex write_lock_;                         ///< held by a write for its whole call
  goro::detail::handoff_semaphore closed_sem_{0};  ///< the last operation wakes close()
  const std::string network_;
  const std::string local_;
  const std::string remote_;  ///< empty for a listener
  const std::string unlink_path_;
};

}  // namespace goro::net::detail

#endif  // GORO_NET_NET_FD_HPP
