// net.hpp: goro::net, shaped like Go's package net: listen, dial, listener,
// conn, for "tcp", "tcp4", "tcp6" and "unix" stream sockets. Every blocking
// call parks a goroutine (its worker runs others) and blocks a plain thread.
//
//   auto ln = goro::net::listen("tcp", "127.0.0.1:0");
//   goro::go([ln] {
//     for (;;) {
//       goro::net::conn c = ln.accept();
//       goro::go([c] {                      // one goroutine per connection
//         char buf[4096];
//         while (std::size_t n = c.read(buf, sizeof buf)) c.write(buf, n);
//       });
//     }
//   });
//   goro::net::conn c = goro::net::dial("tcp", ln.addr());
//
//   net/error.hpp     error, timeout_error, closed_error, eof_error
//   net/address.hpp   split_host_port, join_host_port; parsing and printing addresses
//   net/resolve.hpp   numeric addresses parsed, names resolved off the workers
//   net/net_fd.hpp    the shared socket: operations, deadlines, safe close
//   net/conn.hpp      conn
//   net/listener.hpp  listener, listen
//   net/dial.hpp      dial
#ifndef GORO_NET_HPP
#define GORO_NET_HPP

#include "net/address.hpp"
#include "net/conn.hpp"
#include "net/dial.hpp"
#include "net/error.hpp"
#include "net/listener.hpp"
#include "net/resolve.hpp"

#endif  // GORO_NET_HPP
