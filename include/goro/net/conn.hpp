// net/conn.hpp: goro::net::conn, a stream connection (Go's net.Conn).
#ifndef GORO_NET_CONN_HPP
#define GORO_NET_CONN_HPP

#include "../config.hpp"
#include "../context.hpp"
#include "error.hpp"
#include "net_fd.hpp"

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace goro::net {

class listener;

/// A stream connection (TCP or unix), like Go's net.Conn. A cheap copyable
/// handle: copies share one connection, like copies of a Go interface value,
/// and any of them may be used from any goroutine or thread at once (reads are
/// serialized with reads, writes with writes). The socket is closed by close(),
/// or when the last handle goes away. Operations are const, as goro::chan's
/// are: they act on the shared socket, not on the handle, so a lambda that
/// captured a conn by value needs no `mutable`.
///
/// Blocking calls park a goroutine (its worker runs others) and block a plain
/// thread. read, read_full, write and write_all also come with a context
/// first, which ends their wait (goro::context_error) when it is done.
/// Errors are goro::net::error exceptions worded like Go's; see error.hpp.
class conn {
 public:
  /// Not connected: every operation throws closed_error.
  conn() noexcept = default;

  /// Reads up to len bytes into buf; returns how many (> 0), or 0 at end of
  /// stream (the peer closed or shut down its writing side). A len of 0
  /// returns 0 at once. Throws timeout_error past the read deadline,
  /// closed_error after close(), error for anything else (e.g. "read: connection
  /// reset by peer").
  std::size_t read(void* buf, std::size_t len) const {
    detail::call_ctx cc;
    return fd("read").read(buf, len, cc);
  }

  /// read, unless ctx is done first (or already is): then throws
  /// goro::context_error and has read nothing. The connection stays usable
  /// (a later read gets the data that arrives); its read deadline, if set,
  /// still applies and is not changed.
  std::size_t read(const goro::context& ctx, void* buf, std::size_t len) const {
    detail::call_ctx cc(ctx);
    return fd("read").read(buf, len, cc);
  }

  /// Reads exactly len bytes (Go's io.ReadFull). At end of stream throws
  /// eof_error: "EOF" if nothing had been read, "unexpected EOF" part-way.
  void read_full(void* buf, std::size_t len) const { read_full_with(nullptr, buf, len); }

  /// read_full, unless ctx is done first: then throws goro::context_error.
  /// Bytes it had already read are in buf but consumed from the connection,
  /// and how many is not reported: a framed protocol has lost its place.
  void read_full(const goro::context& ctx, void* buf, std::size_t len) const {
    read_full_with(&ctx, buf, len);
  }

  /// Writes all len bytes, waiting for room as needed, or throws (like Go's
  /// Write, which returns an error whenever it wrote less). Writing to a peer
  /// that has gone throws error ("write: broken pipe", "write: connection reset
  /// by peer"); SIGPIPE is never raised.
  std::size_t write(const void* buf, std::size_t len) const {
    detail::call_ctx cc;
    fd("write").write(buf, len, cc);
    return len;
  }
  /// write(s.data(), s.size()).
  std::size_t write(std::string_view s) const { return write(s.data(), s.size()); }
  /// The same as write: every write writes all its bytes.
  void write_all(const void* buf, std::size_t len) const { write(buf, len); }
  /// write(s).
  void write_all(std::string_view s) const { write(s.data(), s.size()); }

  /// write, unless ctx is done first (or already is: then nothing is
  /// written): then throws goro::context_error. Bytes already written stay
  /// written, and how many is not reported (the peer may have a partial
  /// message); the connection stays usable, and its write deadline is not
  /// changed.
  std::size_t write(const goro::context& ctx, const void* buf, std::size_t len) const {
    detail::call_ctx cc(ctx);
    fd("write").write(buf, len, cc);
    return len;
  }
  /// write(ctx, s.data(), s.size()).
  std::size_t write(const goro::context& ctx, std::string_view s) const {
    return write(ctx, s.data(), s.size());
  }
  /// The same as write(ctx, buf, len).
  void write_all(const goro::context& ctx, const void* buf, std::size_t len) const {
    write(ctx, buf, len);
  }
  /// write(ctx, s).
  void write_all(const goro::context& ctx, std::string_view s) const {
    write(ctx, s.data(), s.size());
  }

  /// Closes the connection: goroutines and threads blocked in read or write on
  /// it wake with closed_error; returns once the socket is closed. A second
  /// close throws closed_error, as Go's Close returns ErrClosed.
  void close() const { fd("close").close(); }
  /// Shuts down the writing side (Go's CloseWrite): the peer reads EOF, and
  /// this side can still read.
  void close_write() const { fd("close").shutdown(SHUT_WR); }
  /// Shuts down the reading side (Go's CloseRead).
  void close_read() const { fd("close").shutdown(SHUT_RD); }

  /// Sets the read and the write deadline (Go's SetDeadline): an operation
  /// waiting past it, or started after it, throws timeout_error. Applies to
  /// calls already blocked, so it may be moved mid-wait; t may be on any clock;
  /// time_point::max() (or clear_deadline()) removes it.
  template <class Clock, class Duration>
  void set_deadline(const std::chrono::time_point<Clock, Duration>& t) const {
    fd("set").set_deadline(nullptr, detail::to_deadline(t));
  }
  /// The deadline of reads only (Go's SetReadDeadline).
  template <class Clock, class Duration>
  void set_read_deadline(const std::chrono::time_point<Clock, Duration>& t) const {
    const detail::io_mode m = detail::io_mode::read;
    fd("set").set_deadline(&m, detail::to_deadline(t));
  }
  /// The deadline of writes only (Go's SetWriteDeadline).
  template <class Clock, class Duration>
  void set_write_deadline(const std::chrono::time_point<Clock, Duration>& t) const {
    const detail::io_mode m = detail::io_mode::write;
    fd("set").set_deadline(&m, detail::to_deadline(t));
  }
  /// Removes both deadlines (Go's SetDeadline(time.Time{})).
  void clear_deadline() const { fd("set").set_deadline(nullptr, detail::steady_time::max()); }

  /// This end's address: "127.0.0.1:4000", "[::1]:4000", a unix socket's path
  /// ("" for a dialing unix client, whose end has no name).
  std::string local_addr() const { return fd_ ? fd_->local() : std::string(); }
  /// The other end's address, in the same forms.
  std::string remote_addr() const { return fd_ ? fd_->remote() : std::string(); }
  /// The network: "tcp", "tcp4", "tcp6" or "unix" ("" when not connected).
  std::string network() const { return fd_ ? fd_->network() : std::string(); }
  /// The socket's descriptor, for setsockopt and the like; -1 when not
  /// connected or once closed. Do not close it or make it blocking.
  int native_handle() const noexcept { return fd_ ? fd_->native_handle() : -1; }
  /// Whether this handle refers to a connection (open or closed since).
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }
  /// Handles to the same connection compare equal.
  friend bool operator==(const conn& a, const conn& b) noexcept { return a.fd_ == b.fd_; }
  friend bool operator!=(const conn& a, const conn& b) noexcept { return a.fd_ != b.fd_; }

  /// For goro::net itself: wraps a connected socket.
  explicit conn(std::shared_ptr<detail::net_fd> s) noexcept : fd_(std::move(s)) {}

 private:
  detail::net_fd& fd(const char* op) const {
    if (!fd_) detail::throw_error(closed_error(op, "", "", ""));
    return *fd_;
  }

  void read_full_with(const goro::context* ctx, void* buf, std::size_t len) const {
    char* p = static_cast<char*>(buf);
    std::size_t got = 0;
    while (got < len) {
      const std::size_t n =
          ctx != nullptr ? read(*ctx, p + got, len - got) : read(p + got, len - got);
      if (n == 0) {
        detail::throw_error(eof_error(fd_->network(), fd_->local(), fd_->remote(), got != 0));
      }
      got += n;
    }
  }

  std::shared_ptr<detail::net_fd> fd_;
};

}  // namespace goro::net

#endif  // GORO_NET_CONN_HPP
