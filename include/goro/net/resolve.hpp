// net/resolve.hpp: from "host:port" to the socket addresses to try.
//
// Numeric hosts and ports are parsed on the spot (inet_pton). Names
// ("localhost", "example.org", service names such as "http") go to
// getaddrinfo, which may read files and wait on DNS for seconds: it runs
// through goro::blocking, so that it never holds a worker thread.
#ifndef GORO_NET_RESOLVE_HPP
#define GORO_NET_RESOLVE_HPP

#include "../blocking.hpp"
#include "../config.hpp"
#include "address.hpp"
#include "error.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace goro::net {

/// The error category of getaddrinfo's EAI_* codes: the code() of a failed
/// name lookup ("dial tcp: lookup nosuch.invalid: no such host").
inline const std::error_category& resolver_category() noexcept {
  class category final : public std::error_category {
   public:
    const char* name() const noexcept override { return "getaddrinfo"; }
    std::string message(int ev) const override { return ::gai_strerror(ev); }
  };
  static const category c;
  return c;
}

namespace detail {

/// What the resolver is asked for.
struct resolve_request {
  const char* op;  ///< "dial" or "listen", for errors
  std::string_view network;
  network_kind kind;
  bool passive;  ///< for listen: an empty host means every local address
};

/// The result of getaddrinfo: status and the addresses (ports as given).
struct lookup_result {
  int status = 0;     ///< 0 or an EAI_* code
  int sys_errno = 0;  ///< errno when status is EAI_SYSTEM
  std::vector<endpoint> addrs;
};

/// Calls getaddrinfo; blocks the calling thread (run it through goro::blocking).
inline lookup_result lookup(const std::string& host, const std::string& service, int family,
                            int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* list = nullptr;
  lookup_result r;
  r.status = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                           service.empty() ? nullptr : service.c_str(), &hints, &list);
  if (r.status == EAI_SYSTEM) r.sys_errno = last_errno();
  if (r.status != 0) return r;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > endpoint::capacity()) continue;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    endpoint e;
    std::memcpy(&e.storage, ai->ai_addr, ai->ai_addrlen);
    e.len = ai->ai_addrlen;
    r.addrs.push_back(e);
  }
  ::freeaddrinfo(list);
  return r;
}

/// Runs lookup() off the worker threads (goro::blocking; a plain thread calls it).
inline lookup_result lookup_off_worker(const std::string& host, const std::string& service,
                                       int family, int flags) {
  return goro::blocking(lookup, host, service, family, flags);
}

[[noreturn]] inline void throw_lookup_error(const resolve_request& rq, const std::string& what,
                                            const lookup_result& r, bool port) {
  std::error_code code(r.status, resolver_category());
  std::string why;
  if (r.status == EAI_SYSTEM) {
    code = std::error_code(r.sys_errno, std::system_category());
    why = errno_text(r.sys_errno);
  } else if (port) {
    why = "unknown port";
  } else if (r.status == EAI_NONAME
#if defined(EAI_NODATA)
             || r.status == EAI_NODATA
#endif
#if defined(EAI_ADDRFAMILY)
             || r.status == EAI_ADDRFAMILY
#endif
  ) {
    why = "no such host";  // Go's wording for a name that does not exist
  } else {
    why = ::gai_strerror(r.status);
    if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  }
  throw_error(error(rq.op, std::string(rq.network), "", "", code, "lookup " + what + ": " + why));
}

[[noreturn]] inline void throw_addr_error(const resolve_request& rq, std::string_view addr,
                                          std::string_view why) {
  throw_error(error(rq.op, std::string(rq.network), "", "",
                    std::error_code(EINVAL, std::system_category()), addr_error_text(addr, why)));
}

/// The port of `port` (a number, or a service name looked up off the worker).
inline std::uint16_t resolve_port(const resolve_request& rq, const std::string& port) {
  std::uint16_t p = 0;
  bool out_of_range = false;
  if (parse_port(port, p, out_of_range)) return p;
  if (out_of_range) throw_addr_error(rq, port, "invalid port");
  lookup_result r = lookup_off_worker("", port, AF_INET, AI_PASSIVE);
  if (r.status != 0 || r.addrs.empty()) throw_lookup_error(rq, "tcp/" + port, r, true);
  return ntohs(r.addrs.front().in4.sin_port);
}

/// The addresses to try for "host:port" on a TCP network, in order; never
/// empty (throws goro::net::error instead). A dual-stack wildcard comes first
/// for a "tcp" listen on an empty or unspecified host, as in Go.
inline std::vector<endpoint> resolve_tcp(const resolve_request& rq, std::string_view address) {
  std::string host, port, why;
  if (!split_host_port_into(address, host, port, why)) {
    throw_error(error(rq.op, std::string(rq.network), "", "",
                      std::error_code(EINVAL, std::system_category()), why));
  }
  const std::uint16_t p = resolve_port(rq, port);
  std::vector<endpoint> out;
  endpoint e;
  if (host.empty()) {
    if (rq.passive) {
      if (rq.kind != network_kind::tcp4) out.push_back(endpoint::ipv6(in6addr_any, p, 0));
      if (rq.kind != network_kind::tcp6)
        out.push_back(endpoint::ipv4(in_addr{htonl(INADDR_ANY)}, p));
    } else if (rq.kind == network_kind::tcp6) {
      out.push_back(endpoint::ipv6(in6addr_loopback, p, 0));
    } else {
      out.push_back(endpoint::ipv4(in_addr{htonl(INADDR_LOOPBACK)}, p));
    }
    return out;
  }
  if (parse_numeric_host(host, p, e)) {
    if (!family_fits(rq.kind, e.family())) throw_addr_error(rq, host, "no suitable address found");
    // Go listens dual-stack on "tcp" 0.0.0.0:p as it does on ":p".
    if (rq.passive && rq.kind == network_kind::tcp && e.family() == AF_INET &&
        e.in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
      out.push_back(endpoint::ipv6(in6addr_any, p, 0));
    }
    out.push_back(e);
    return out;
  }
  const int family = rq.kind == network_kind::tcp4   ? AF_INET
                     : rq.kind == network_kind::tcp6 ? AF_INET6
                                                     : AF_UNSPEC;
  lookup_result r = lookup_off_worker(host, "", family, 0);
  if (r.status != 0) throw_lookup_error(rq, host, r, false);
  for (endpoint& a : r.addrs) {
    if (!family_fits(rq.kind, a.family())) continue;
    if (a.family() == AF_INET) {
      a.in4.sin_port = htons(p);
    } else {
      a.in6.sin6_port = htons(p);
    }
    // getaddrinfo repeats an address once per protocol it knows; keep one.
    const bool seen = std::any_of(out.begin(), out.end(), [&](const endpoint& o) {
      return o.len == a.len && std::memcmp(&o.storage, &a.storage, a.len) == 0;
    });
    if (!seen) out.push_back(a);
  }
  if (out.empty()) throw_addr_error(rq, host, "no suitable address found");
  if (rq.passive) {  // Go listens on the first IPv4 address of a name, if any
    std::stable_partition(out.begin(), out.end(),
                          [](const endpoint& a) { return a.family() == AF_INET; });
  }
  return out;
}

}  // namespace detail
}  // namespace goro::net

#endif  // GORO_NET_RESOLVE_HPP
