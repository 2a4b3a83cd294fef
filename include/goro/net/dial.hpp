// net/dial.hpp: goro::net::dial (Go's net.Dial and net.DialTimeout).
//
// A dial is a non-blocking connect, a wait for the socket to become writable
// (parking a goroutine, with the timeout), then SO_ERROR for the outcome. A
// name with several addresses is tried address by address, each attempt
// given its share of the time left (at least 2 s when there is that much),
// as Go does; the first failure is the one reported.
#ifndef GORO_NET_DIAL_HPP
#define GORO_NET_DIAL_HPP

#include "../config.hpp"
#include "../context.hpp"
#include "../detail/spin_lock.hpp"
#include "../io.hpp"
#include "address.hpp"
#include "conn.hpp"
#include "error.hpp"
#include "net_fd.hpp"
#include "resolve.hpp"

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace goro::net {
namespace detail {

/// One connect attempt: the connection, or why not.
struct dial_attempt {
  std::shared_ptr<net_fd> fd;
  int err = 0;               ///< errno of the failure (0: success or timed out)
  const char* syscall = "";  ///< the call that failed
  bool timed_out = false;
  bool canceled = false;  ///< the dial's context was cancelled
};

/// Lets a context's cancellation end the connect wait of a dial, through
/// fd_evict on the socket being connected. The after_func callback and the
/// dialer meet under `lock`: the callback evicts `fd` only while the dialer
/// has it registered, so it never touches a number the dialer has freed or
/// handed on; `fired` tells the dialer that the callback ran.
struct dial_cancel {
  goro::detail::spin_lock lock;
  int fd = -1;                         ///< the socket being connected, or -1
  bool fired = false;                  ///< the context ended
  const goro::context* ctx = nullptr;  ///< the dial's context (lives through the dial)
  void fire() noexcept {
    std::lock_guard<goro::detail::spin_lock> guard(lock);
    fired = true;
    if (fd >= 0) goro::detail::fd_evict(fd);
  }
  /// Registers fd (-1: none); returns whether the context ended already.
  bool watch(int new_fd) noexcept {
    std::lock_guard<goro::detail::spin_lock> guard(lock);
    fd = new_fd;
    return fired;
  }
};

/// Unregisters the socket from a dial_cancel on every way out of an attempt.
class cancel_scope {
 public:
  cancel_scope(dial_cancel* c, int fd) noexcept : c_(c) {
    if (c_ != nullptr) canceled_ = c_->watch(fd);
  }
  cancel_scope(const cancel_scope&) = delete;
  cancel_scope& operator=(const cancel_scope&) = delete;
  ~cancel_scope() { end(); }
  /// Unregisters; true if the context ended before that.
  bool end() noexcept {
    if (c_ != nullptr) {
      canceled_ = c_->watch(-1) || canceled_;
      c_ = nullptr;
    }
    return canceled_;
  }
  bool canceled() const noexcept { return canceled_; }

 private:
  dial_cancel* c_;
  bool canceled_ = false;
};

inline dial_attempt try_connect(const std::string& network, const endpoint& to,
                                steady_time deadline, dial_cancel* cancel = nullptr) {
  dial_attempt r;
  raw_fd s(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) {
    r.err = last_errno();
    r.syscall = "socket";
    return r;
  }
  s.open();
  // Declared after s: unregistered before s closes the socket.
  cancel_scope scope(cancel, s.get());
  if (scope.canceled()) {
    r.canceled = true;
    return r;
  }
  r.syscall = "connect";
  int e = 0;
  do {
    e = ::connect(s.get(), &to.sa, to.len) == 0 ? 0 : last_errno();
  } while (e == EINTR);
  if (e != 0 && e != EINPROGRESS && e != EALREADY && e != EISCONN) {
    r.err = e;
    return r;
  }
  // In progress: writable means the handshake ended one way or the other;
  // SO_ERROR says which. A wake-up with no answer yet waits again.
  while (e == EINPROGRESS || e == EALREADY) {
    switch (goro::detail::fd_wait(s.get(), io_mode::write, deadline)) {
      case io_status::ready:
        break;
      case io_status::timed_out:
        r.timed_out = true;
        return r;
      case io_status::closed:  // evicted by dial_cancel: the context ended
        r.canceled = true;
        return r;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
      r.err = last_errno();
      r.syscall = "getsockopt";
      return r;
    }
    if (so_error == 0) {
      endpoint peer;
      socklen_t plen = endpoint::capacity();
      if (::getpeername(s.get(), &peer.sa, &plen) != 0) continue;  // not connected yet
      e = 0;
    } else if (so_error != EINPROGRESS && so_error != EALREADY && so_error != EINTR) {
      r.err = so_error;
      return r;
    }
  }
  if (scope.end()) {  // cancelled just as it connected: the socket is evicted, useless
    r.canceled = true;
    return r;
  }
  r.fd = net_fd::adopt_connected(s, network, &to);
  return r;
}

/// The deadline for one of `left` remaining attempts (Go's partialDeadline).
inline steady_time attempt_deadline(steady_time deadline, std::size_t left) {
  using namespace std::chrono;
  if (deadline == steady_time::max()) return deadline;
  const auto now = steady_clock::now();
  const auto remaining = deadline - now;
  if (remaining <= steady_clock::duration::zero()) return deadline;
  const steady_clock::duration sane_minimum = seconds(2);
  auto share = remaining / static_cast<steady_clock::duration::rep>(left);
  if (share < sane_minimum) share = remaining < sane_minimum ? remaining : sane_minimum;
  return now + share;
}

/// dial with an absolute deadline (steady_time::max(): none) and, if
/// `cancel` is given, a context's cancellation.
inline conn dial_until(std::string_view network, std::string_view address, steady_time deadline,
                       dial_cancel* cancel = nullptr) {
  const std::string net(network);
  network_kind kind;
  if (!parse_network(network, kind)) {
    throw_error(error("dial", net, "", "", std::error_code(EINVAL, std::system_category()),
                      "unknown network " + net));
  }
  std::vector<endpoint> candidates;
  if (kind == network_kind::unix_stream) {
    endpoint at;
    if (!unix_endpoint(address, at)) {
      throw_error(os_error("dial", net, "", std::string(address), "connect", EINVAL));
    }
    candidates.push_back(at);
  } else {
    candidates = resolve_tcp({"dial", network, kind, false}, address);
  }
  dial_attempt first;
  std::string first_addr;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (passed(deadline)) {
      if (first_addr.empty()) first.timed_out = true;
      break;
    }
    dial_attempt a =
        try_connect(net, candidates[i], attempt_deadline(deadline, candidates.size() - i), cancel);
    if (a.fd) return conn(std::move(a.fd));
    if (a.canceled) {
      // Go maps the context's end to errTimeout for a deadline, errCanceled otherwise.
      if (cancel->ctx != nullptr && cancel->ctx->err() == goro::context_errc::deadline_exceeded) {
        throw_error(timeout_error("dial", net, "",
                                  kind == network_kind::unix_stream
                                      ? std::string(address)
                                      : format_endpoint(candidates[i])));
      }
      throw_error(error(
          "dial", net, "",
          kind == network_kind::unix_stream ? std::string(address) : format_endpoint(candidates[i]),
          std::error_code(ECANCELED, std::system_category()), "operation was canceled"));
    }
    if (first_addr.empty()) {
      first = a;
      first_addr =
          kind == network_kind::unix_stream ? std::string(address) : format_endpoint(candidates[i]);
    }
  }
  if (first_addr.empty()) first_addr = std::string(address);
  if (first.timed_out) throw_error(timeout_error("dial", net, "", first_addr));
  throw_error(os_error("dial", net, "", first_addr, first.syscall, first.err));
}

}  // namespace detail

/// Connects to `address` (Go's net.Dial): "tcp"/"tcp4"/"tcp6" with
/// "127.0.0.1:8080", "[::1]:8080", "localhost:8080" (a name is resolved off the
/// worker threads, and its addresses tried in turn), ":8080" (this host);
/// "unix" with a socket path or "@name". Parks a goroutine until connected.
/// Throws error ("dial tcp 127.0.0.1:1: connect: connection refused").
inline conn dial(std::string_view network, std::string_view address) {
  return detail::dial_until(network, address, detail::steady_time::max());
}

/// dial, giving up after `timeout` (Go's net.DialTimeout) with timeout_error
/// ("dial tcp 10.0.0.1:80: i/o timeout"). A zero timeout means none, as in Go.
template <class Rep, class Period>
conn dial(std::string_view network, std::string_view address,
          const std::chrono::duration<Rep, Period>& timeout) {
  const detail::steady_time deadline = timeout == timeout.zero()
                                           ? detail::steady_time::max()
                                           : goro::detail::deadline_after(timeout);
  return detail::dial_until(network, address, deadline);
}

/// dial that gives up when `ctx` is done (Go's Dialer.DialContext): past
/// ctx's deadline with timeout_error ("i/o timeout"), on its cancellation
/// with error "dial tcp 127.0.0.1:80: operation was canceled" (code
/// ECANCELED). A context done before the dial starts fails it at once. Name
/// resolution, if any, runs to its end first (getaddrinfo cannot be
/// interrupted).
inline conn dial(const goro::context& ctx, std::string_view network, std::string_view address) {
  const std::optional<clock::time_point> d = ctx.deadline();
  const detail::steady_time deadline = d ? *d : detail::steady_time::max();
  if (ctx.err() == goro::context_errc::deadline_exceeded) {
    return detail::dial_until(network, address,
                              std::chrono::steady_clock::now() - std::chrono::nanoseconds(1));
  }
  auto cancel = std::make_shared<detail::dial_cancel>();
  cancel->ctx = &ctx;
  if (ctx.err()) cancel->fired = true;  // cancelled already: fail at once, not when f runs
  goro::after_func_handle h = goro::after_func(ctx, [cancel] { cancel->fire(); });
  struct stop_on_exit {
    goro::after_func_handle& h;
    ~stop_on_exit() { h.stop(); }
  } stop{h};
  return detail::dial_until(network, address, deadline, cancel.get());
}

}  // namespace goro::net

#endif  // GORO_NET_DIAL_HPP
