// net/listener.hpp: goro::net::listen and the listener it returns (Go's
// net.Listen and net.Listener).
#ifndef GORO_NET_LISTENER_HPP
#define GORO_NET_LISTENER_HPP

#include "../config.hpp"
#include "../context.hpp"
#include "address.hpp"
#include "conn.hpp"
#include "error.hpp"
#include "net_fd.hpp"
#include "resolve.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace goro::net {

/// A listening socket, like Go's net.Listener; a cheap copyable handle with
/// const operations, as conn is. The socket is closed by close() or when the last handle goes away;
/// a unix listener then removes its socket file, as Go's does.
class listener {
 public:
  /// Not listening: every operation throws closed_error.
  listener() noexcept = default;

  /// Waits for the next connection and returns it. Throws closed_error once
  /// the listener is closed (a goroutine blocked here wakes with it), and
  /// error for anything else; running out of descriptors ("accept4: too many
  /// open files") leaves the connection queued, so a server can back off and
  /// accept it later.
  conn accept() const {
    detail::call_ctx cc;
    return conn(fd("accept").accept(cc));
  }

  /// accept, unless ctx is done first (or already is): then throws
  /// goro::context_error and has accepted nothing; the listener stays open
  /// and its deadline is not changed.
  conn accept(const goro::context& ctx) const {
    detail::call_ctx cc(ctx);
    return conn(fd("accept").accept(cc));
  }

  /// The address it listens on, with the real port when port 0 was asked
  /// ("127.0.0.1:41234", "[::]:8080", "/run/app.sock").
  std::string addr() const { return fd_ ? fd_->local() : std::string(); }
  /// The network: "tcp", "tcp4", "tcp6" or "unix".
  std::string network() const { return fd_ ? fd_->network() : std::string(); }

  /// Closes the listener: goroutines blocked in accept wake with
  /// closed_error; connections already accepted stay open. A second close
  /// throws closed_error.
  void close() const { fd("close").close(); }

  /// A deadline for accept (Go's TCPListener.SetDeadline); time_point::max()
  /// removes it.
  template <class Clock, class Duration>
  void set_deadline(const std::chrono::time_point<Clock, Duration>& t) const {
    fd("set").set_deadline(nullptr, detail::to_deadline(t));
  }

  /// The listening socket's descriptor; -1 when not listening or once closed.
  int native_handle() const noexcept { return fd_ ? fd_->native_handle() : -1; }
  /// Whether this handle refers to a listener (open or closed since).
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }

  /// For goro::net itself: wraps a listening socket.
  explicit listener(std::shared_ptr<detail::net_fd> s) noexcept : fd_(std::move(s)) {}

 private:
  detail::net_fd& fd(const char* op) const {
    if (!fd_) detail::throw_error(closed_error(op, "", "", ""));
    return *fd_;
  }

  std::shared_ptr<detail::net_fd> fd_;
};

namespace detail {

/// One attempt at a listening socket on `at`; returns it, or the errno and
/// the system call that failed.
struct listen_attempt {
  std::shared_ptr<net_fd> fd;
  int err = 0;
  const char* syscall = "";
};

inline listen_attempt try_listen(const std::string& network, network_kind kind, const endpoint& at,
                                 const std::string& unlink_path) {
  listen_attempt r;
  raw_fd s(::socket(at.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) {
    r.err = last_errno();
    r.syscall = "socket";
    return r;
  }
  const int one = 1;
  if (kind != network_kind::unix_stream) {
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (at.family() == AF_INET6) {
    // Dual-stack unless "tcp6" was asked, as in Go.
    const int v6only = kind == network_kind::tcp6 ? 1 : 0;
    ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(s.get(), &at.sa, at.len) != 0) {
    r.err = last_errno();
    r.syscall = "bind";
    return r;
  }
  if (::listen(s.get(), listen_backlog) != 0) {
    r.err = last_errno();
    r.syscall = "listen";
    return r;
  }
  endpoint bound;
  socklen_t len = endpoint::capacity();
  if (::getsockname(s.get(), &bound.sa, &len) == 0) bound.len = len;
  s.open();
  r.fd = std::make_shared<net_fd>(s.get(), network, true,
                                  bound.len != 0 ? format_endpoint(bound) : format_endpoint(at),
                                  std::string(), unlink_path);
  s.release();
  return r;
}

}  // namespace detail

/// Listens on `address` (Go's net.Listen). network "tcp", "tcp4", "tcp6":
/// "127.0.0.1:8080", "[::1]:0", ":8080" (every address; dual-stack on "tcp"),
/// "localhost:0" (names are resolved off the worker threads); port 0 picks a
/// free port (see listener::addr). network "unix": a path, or "@name" for
/// Linux's abstract namespace. Throws error ("listen tcp 127.0.0.1:80: bind:
/// permission denied").
inline listener listen(std::string_view network, std::string_view address) {
  const std::string net(network);
  detail::network_kind kind;
  if (!detail::parse_network(network, kind)) {
    detail::throw_error(error("listen", net, "", "",
                              std::error_code(EINVAL, std::system_category()),
                              "unknown network " + net));
  }
  if (kind == detail::network_kind::unix_stream) {
    const std::string path(address);
    detail::endpoint at;
    if (!detail::unix_endpoint(path, at)) {
      detail::throw_error(detail::os_error("listen", net, "", path, "bind", EINVAL));
    }
    detail::listen_attempt a =
        detail::try_listen(net, kind, at, path[0] == '@' ? std::string() : path);
    if (!a.fd) detail::throw_error(detail::os_error("listen", net, "", path, a.syscall, a.err));
    return listener(std::move(a.fd));
  }
  const std::vector<detail::endpoint> candidates =
      detail::resolve_tcp({"listen", network, kind, true}, address);
  detail::listen_attempt first;
  for (const detail::endpoint& at : candidates) {
    detail::listen_attempt a = detail::try_listen(net, kind, at, std::string());
    if (a.fd) return listener(std::move(a.fd));
    if (first.err == 0) first = a;
    // Only a family the host lacks (no IPv6 for the dual-stack wildcard) moves
    // on to the next candidate; any other failure is the answer.
    if (a.err != EAFNOSUPPORT && a.err != EPROTONOSUPPORT && a.err != EADDRNOTAVAIL) break;
  }
  detail::throw_error(
      detail::os_error("listen", net, "", std::string(address), first.syscall, first.err));
}

}  // namespace goro::net

#endif  // GORO_NET_LISTENER_HPP
