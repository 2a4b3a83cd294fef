// net/address.hpp: network names and addresses, parsed and printed the way
// Go's net package does it. Pure computation: no system call that can block.
//
//   "tcp"  host:port, IPv4 or IPv6      "tcp4" IPv4 only    "tcp6" IPv6 only
//   "unix" a filesystem path, or "@name" for Linux's abstract namespace
//
// Printed forms: "127.0.0.1:4000", "[::1]:4000", "[fe80::1%eth0]:4000" (an
// IPv4-mapped IPv6 address prints as IPv4, like Go), a unix socket's path, "@name"
// for an abstract one, "" for an unnamed one (a dialing client's own end).
#ifndef GORO_NET_ADDRESS_HPP
#define GORO_NET_ADDRESS_HPP

#include "../config.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace goro::net {

/// Splits "host:port", "[host]:port" or "[host%zone]:port" into host and port,
/// like Go's net.SplitHostPort (the brackets are removed; either part may be
/// empty). Throws std::invalid_argument with Go's wording ("address x: missing
/// port in address") otherwise.
std::pair<std::string, std::string> split_host_port(std::string_view hostport);

/// Joins host and port into "host:port", bracketing a host that contains a
/// colon ("[::1]:80"), like Go's net.JoinHostPort.
inline std::string join_host_port(std::string_view host, std::string_view port) {
  std::string s;
  if (host.find(':') != std::string_view::npos) {
    s.append("[").append(host).append("]");
  } else {
    s.append(host);
  }
  return s.append(":").append(port);
}

namespace detail {

/// The networks goro::net knows.
enum class network_kind { tcp, tcp4, tcp6, unix_stream };

/// Parses a network name; false for one goro::net does not know.
inline bool parse_network(std::string_view name, network_kind& out) noexcept {
  if (name == "tcp") {
    out = network_kind::tcp;
  } else if (name == "tcp4") {
    out = network_kind::tcp4;
  } else if (name == "tcp6") {
    out = network_kind::tcp6;
  } else if (name == "unix") {
    out = network_kind::unix_stream;
  } else {
    return false;
  }
  return true;
}

/// A socket address of any family, sized for the largest; what the socket
/// calls take and fill in. len == 0 means "none".
struct endpoint {
  union {
    sockaddr sa;
    sockaddr_in in4;
    sockaddr_in6 in6;
    sockaddr_un un;
    sockaddr_storage storage;
  };
  socklen_t len = 0;

  endpoint() noexcept { std::memset(&storage, 0, sizeof storage); }
  int family() const noexcept { return len == 0 ? AF_UNSPEC : sa.sa_family; }
  /// The capacity, for calls that fill the address in (accept, getsockname).
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

  static endpoint ipv4(const in_addr& a, std::uint16_t port) noexcept {
    endpoint e;
    e.in4.sin_family = AF_INET;
    e.in4.sin_port = htons(port);
    e.in4.sin_addr = a;
    e.len = sizeof(sockaddr_in);
    return e;
  }
  static endpoint ipv6(const in6_addr& a, std::uint16_t port, std::uint32_t scope) noexcept {
    endpoint e;
    e.in6.sin6_family = AF_INET6;
    e.in6.sin6_port = htons(port);
    e.in6.sin6_addr = a;
    e.in6.sin6_scope_id = scope;
    e.len = sizeof(sockaddr_in6);
    return e;
  }
};

/// The "address x: why" text of Go's net.AddrError.
inline std::string addr_error_text(std::string_view addr, std::string_view why) {
  std::string s("address ");
  return s.append(addr).append(": ").append(why);
}

/// split_host_port without exceptions: false and `why` set (Go's AddrError
/// text) when `hostport` is malformed.
inline bool split_host_port_into(std::string_view hp, std::string& host, std::string& port,
                                 std::string& why) {
  const std::size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos) {
    why = addr_error_text(hp, "missing port in address");
    return false;
  }
  std::string_view h;
  if (!hp.empty() && hp[0] == '[') {
    const std::size_t close = hp.find(']');
    if (close == std::string_view::npos) {
      why = addr_error_text(hp, "missing ']' in address");
      return false;
    }
    if (close + 1 == hp.size()) {
      why = addr_error_text(hp, "missing port in address");
      return false;
    }
    if (close + 1 != colon) {  // "[::1]x:80" or "[::1]:80:90"
      why = addr_error_text(
          hp, hp[close + 1] == ':' ? "too many colons in address" : "missing port in address");
      return false;
    }
    h = hp.substr(1, close - 1);
    if (hp.find('[', 1) != std::string_view::npos) {
      why = addr_error_text(hp, "unexpected '[' in address");
      return false;
    }
  } else {
    h = hp.substr(0, colon);
    if (h.find(':') != std::string_view::npos) {
      why = addr_error_text(hp, "too many colons in address");
      return false;
    }
    if (h.find_first_of("[]") != std::string_view::npos) {
      why = addr_error_text(hp, "unexpected '[' in address");
      return false;
    }
  }
  if (hp.find(']', colon) != std::string_view::npos) {
    why = addr_error_text(hp, "unexpected ']' in address");
    return false;
  }
  host.assign(h);
  port.assign(hp.substr(colon + 1));
  return true;
}

/// Parses a decimal port 0..65535. False if `s` is not all digits (it may be
/// a service name) or is out of range (`out_of_range` set).
inline bool parse_port(std::string_view s, std::uint16_t& port, bool& out_of_range) noexcept {
  out_of_range = false;
  if (s.empty()) {  // Go reads "" as port 0
    port = 0;
    return true;
  }
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
    if (v > 65535) {
      out_of_range = true;
      return false;
    }
  }
  port = static_cast<std::uint16_t>(v);
  return true;
}

/// A numeric host: an IPv4 literal, or an IPv6 literal with an optional
/// "%zone" (interface name or number). False if `host` is neither (a name).
/// Never blocks: if_nametoindex is an ioctl, not a lookup.
inline bool parse_numeric_host(const std::string& host, std::uint16_t port, endpoint& out) {
  in_addr a4{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    out = endpoint::ipv4(a4, port);
    return true;
  }
  const std::size_t pct = host.find('%');
  const std::string addr = host.substr(0, pct);
  in6_addr a6{};
  if (::inet_pton(AF_INET6, addr.c_str(), &a6) != 1) return false;
  std::uint32_t scope = 0;
  if (pct != std::string::npos) {
    const std::string zone = host.substr(pct + 1);
    scope = ::if_nametoindex(zone.c_str());
    if (scope == 0) {
      bool digits = !zone.empty() && zone.size() < 10;
      for (char c : zone) digits = digits && c >= '0' && c <= '9';
      if (!digits) return false;
      scope = static_cast<std::uint32_t>(std::stoul(zone));
    }
  }
  out = endpoint::ipv6(a6, port, scope);
  return true;
}

/// Whether an endpoint suits a network: tcp4 takes only IPv4, tcp6 only IPv6.
inline bool family_fits(network_kind k, int family) noexcept {
  switch (k) {
    case network_kind::tcp:
      return family == AF_INET || family == AF_INET6;
    case network_kind::tcp4:
      return family == AF_INET;
    case network_kind::tcp6:
      return family == AF_INET6;
    case network_kind::unix_stream:
      return family == AF_UNIX;
  }
  return false;
}

/// A unix socket address for `path`: "@name" is Linux's abstract namespace
/// (sun_path starts with a NUL). False if the path is empty or too long.
inline bool unix_endpoint(std::string_view path, endpoint& out) noexcept {
  endpoint e;
  e.un.sun_family = AF_UNIX;
  const std::size_t room = sizeof e.un.sun_path;
  const bool abstract = !path.empty() && path[0] == '@';
  if (path.empty() || path.size() + (abstract ? 0 : 1) > room) return false;
  std::memcpy(e.un.sun_path, path.data(), path.size());
  if (abstract) e.un.sun_path[0] = '\0';
  e.len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  out = e;
  return true;
}

/// The printed form of an address (see the top of this file).
inline std::string format_endpoint(const endpoint& e) {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
  switch (e.family()) {
    case AF_INET:
      ::inet_ntop(AF_INET, &e.in4.sin_addr, buf, sizeof buf);
      return std::string(buf) + ":" + std::to_string(ntohs(e.in4.sin_port));
    case AF_INET6: {
      const std::string port = std::to_string(ntohs(e.in6.sin6_port));
      if (IN6_IS_ADDR_V4MAPPED(&e.in6.sin6_addr)) {
        in_addr a4{};
        std::memcpy(&a4, &e.in6.sin6_addr.s6_addr[12], sizeof a4);
        ::inet_ntop(AF_INET, &a4, buf, sizeof buf);
        return std::string(buf) + ":" + port;
      }
      ::inet_ntop(AF_INET6, &e.in6.sin6_addr, buf, sizeof buf);
      std::string host(buf);
      if (e.in6.sin6_scope_id != 0) {
        char name[IF_NAMESIZE] = {};
        host += "%";
        host += ::if_indextoname(e.in6.sin6_scope_id, name) != nullptr
                    ? std::string(name)
                    : std::to_string(e.in6.sin6_scope_id);
      }
      return "[" + host + "]:" + port;
    }
    case AF_UNIX: {
      const std::size_t off = offsetof(sockaddr_un, sun_path);
      if (e.len <= off) return "";  // unnamed
      std::size_t n = e.len - off;
      if (e.un.sun_path[0] == '\0') {  // abstract: every byte counts
        return "@" + std::string(e.un.sun_path + 1, n - 1);
      }
      n = ::strnlen(e.un.sun_path, n);
      return std::string(e.un.sun_path, n);
    }
    default:
      return "";
  }
}

}  // namespace detail

inline std::pair<std::string, std::string> split_host_port(std::string_view hostport) {
  std::pair<std::string, std::string> r;
  std::string why;
  if (!detail::split_host_port_into(hostport, r.first, r.second, why)) {
    goro::detail::throw_error(std::invalid_argument(why));
  }
  return r;
}

}  // namespace goro::net

#endif  // GORO_NET_ADDRESS_HPP
