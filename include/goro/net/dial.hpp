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
#include <string>
#include <string_view>
#include <vector>

namespace goro::net {
namespace detail {

/// One connect attempt: the connection, or why not.
struct dial_attempt {
  std::shared_ptr<net_fd> fd;
  int err = 0;                ///< errno of the failure (0: success or timed out)
  const char* syscall = "";   ///< the call that failed
  bool timed_out = false;
};

inline dial_attempt try_connect(const std::string& network, const endpoint& to,
                                steady_time deadline) {
  dial_attempt r;
  raw_fd s(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) {
    r.err = last_errno();
    r.syscall = "socket";
    return r;
  }
  s.open();
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
      case io_status::closed:  // nobody else knows this socket; only for completeness
        r.err = EBADF;
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

/// dial with an absolute deadline (steady_time::max(): none).
inline conn dial_until(std::string_view network, std::string_view address, steady_time deadline) {
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
        try_connect(net, candidates[i], attempt_deadline(deadline, candidates.size() - i));
    if (a.fd) return conn(std::move(a.fd));
    if (first_addr.empty()) {
      first = a;
      first_addr = kind == network_kind::unix_stream ? std::string(address)
                                                     : format_endpoint(candidates[i]);
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

}  // namespace goro::net

#endif  // GORO_NET_DIAL_HPP
