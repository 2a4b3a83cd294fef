// echo_server: a TCP echo server with one goroutine per connection, and its client.
//
// The Go program it mirrors (the first server everyone writes with package net):
//
//   ln, err := net.Listen("tcp", "127.0.0.1:7000")
//   for {
//       conn, err := ln.Accept()
//       if err != nil { return }           // the listener was closed
//       go func(c net.Conn) {               // one goroutine per connection
//           defer c.Close()
//           io.Copy(c, c)                   // echo until the client closes its side
//       }(conn)
//   }
//
// Each connection's goroutine blocks in read() and write() as if it had a
// thread to itself; underneath, a goroutine waiting for a socket is parked
// and its worker runs the other connections. Ten thousand idle clients cost
// ten thousand small goroutine stacks, not ten thousand threads.
//
// Usage:
//   echo_server PORT|ADDR        serve on 127.0.0.1:PORT (or ADDR, e.g. [::1]:7000) until killed
//   echo_server client ADDR      send each line of stdin, print what comes back
//   echo_server --self-test N [ROUNDS]
//                                the server on 127.0.0.1:0 and N client goroutines in this
//                                process, each doing ROUNDS (default 100) round trips;
//                                prints a summary the ctest checks
#include "goro.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

// func handle(c net.Conn) { defer c.Close(); io.Copy(c, c) }
// Returns the number of bytes echoed. A peer that resets the connection ends
// the copy like EOF does; either way the connection is closed.
std::size_t echo(goro::net::conn c) {
  std::size_t total = 0;
  char buf[4096];
  try {
    for (;;) {
      const std::size_t n = c.read(buf, sizeof buf);
      if (n == 0) break;  // io.EOF: the client closed its side
      c.write_all(buf, n);
      total += n;
    }
  } catch (const goro::net::error& e) {
    std::fprintf(stderr, "echo %s: %s\n", c.remote_addr().c_str(), e.what());
  }
  c.close();
  return total;
}

// The accept loop: `for { conn, err := ln.Accept(); ...; go handle(conn) }`.
// It returns when the listener is closed (closed_error, Go's net.ErrClosed).
// `handlers` counts the connection goroutines still running.
void serve(goro::net::listener ln, std::shared_ptr<goro::wait_group> handlers,
           std::shared_ptr<std::atomic<std::size_t>> bytes) {
  for (;;) {
    goro::net::conn c;
    try {
      c = ln.accept();
    } catch (const goro::net::closed_error&) {
      return;
    } catch (const goro::net::error& e) {
      // Out of file descriptors and the like: the pending connection stays
      // queued; wait a little and try again, as Go's http.Server does.
      std::fprintf(stderr, "accept: %s\n", e.what());
      goro::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    handlers->add(1);
    goro::go([c, handlers, bytes] {
      bytes->fetch_add(echo(c));
      handlers->done();
    });
  }
}

// "127.0.0.1:7000" from "7000"; an address with a colon is used as given.
std::string address_of(const std::string& arg) {
  return arg.find(':') == std::string::npos ? "127.0.0.1:" + arg : arg;
}

int run_server(const std::string& addr) {
  goro::net::listener ln = goro::net::listen("tcp", addr);
  std::printf("echo server listening on %s\n", ln.addr().c_str());
  std::fflush(stdout);
  auto handlers = std::make_shared<goro::wait_group>();
  serve(ln, handlers, std::make_shared<std::atomic<std::size_t>>(0));  // until killed
  return 0;
}

// The client: each line of stdin goes out, the echo comes back and is printed.
int run_client(const std::string& addr) {
  goro::net::conn c = goro::net::dial("tcp", addr, std::chrono::seconds(5));
  std::string line;
  while (std::getline(std::cin, line)) {
    line += '\n';
    c.write_all(line.data(), line.size());
    std::string back(line.size(), '\0');
    c.read_full(&back[0], back.size());  // the echo is exactly as long as what was sent
    std::fwrite(back.data(), 1, back.size(), stdout);
    std::fflush(stdout);
  }
  c.close();
  return 0;
}

// One test client: `rounds` messages of varying length (1 to 64 bytes, so
// that some need more than one read on a busy machine), each checked byte
// for byte when it comes back; then close_write, and the server's EOF.
// Returns the number of round trips that came back intact.
int test_client(const std::string& addr, int id, int rounds) {
  goro::net::conn c = goro::net::dial("tcp", addr, std::chrono::seconds(10));
  int good = 0;
  std::string msg, back;
  for (int r = 0; r < rounds; ++r) {
    msg = "client " + std::to_string(id) + " round " + std::to_string(r) + " ";
    msg.resize(static_cast<std::size_t>(1 + (id * 7 + r * 13) % 64), '.');
    c.write_all(msg.data(), msg.size());
    back.assign(msg.size(), '\0');
    c.read_full(&back[0], back.size());
    if (back == msg) ++good;
  }
  c.close_write();  // the server reads EOF, stops echoing and closes
  char extra;
  if (c.read(&extra, 1) != 0) good = -1;  // the server echoed something never sent
  c.close();
  return good;
}

int run_self_test(int clients, int rounds) {
  goro::net::listener ln = goro::net::listen("tcp", "127.0.0.1:0");
  auto handlers = std::make_shared<goro::wait_group>();
  auto bytes = std::make_shared<std::atomic<std::size_t>>(0);
  goro::wait_group server_done;
  server_done.add(1);
  goro::go([&] {
    serve(ln, handlers, bytes);
    server_done.done();
  });

  const std::string addr = ln.addr();
  std::vector<int> good(static_cast<std::size_t>(clients), 0);
  goro::wait_group wg;
  wg.add(clients);
  for (int i = 0; i < clients; ++i) {
    goro::go([&, i] {
      try {
        good[static_cast<std::size_t>(i)] = test_client(addr, i, rounds);
      } catch (const goro::net::error& e) {
        std::fprintf(stderr, "client %d: %s\n", i, e.what());
        good[static_cast<std::size_t>(i)] = -1;
      }
      wg.done();
    });
  }
  wg.wait();
  handlers->wait();  // every connection goroutine has seen EOF and closed
  ln.close();        // wakes the accept loop, which returns
  server_done.wait();

  std::size_t expected_bytes = 0;
  int intact = 0;
  bool all_ok = true;
  for (int i = 0; i < clients; ++i) {
    for (int r = 0; r < rounds; ++r)
      expected_bytes += static_cast<std::size_t>(1 + (i * 7 + r * 13) % 64);
    if (good[static_cast<std::size_t>(i)] != rounds) all_ok = false;
    intact += good[static_cast<std::size_t>(i)] > 0 ? good[static_cast<std::size_t>(i)] : 0;
  }
  all_ok = all_ok && bytes->load() == expected_bytes;
  std::printf("echo: %d clients x %d round trips: %d intact\n", clients, rounds, intact);
  std::printf("server: echoed %zu bytes (expected %zu)\n", bytes->load(), expected_bytes);
  std::printf("listener closed, accept loop returned\n");
  std::printf("%s\n", all_ok ? "ok" : "FAILED");
  return all_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::strcmp(argv[1], "--self-test") == 0) {
      const int clients = std::atoi(argv[2]);
      const int rounds = argc > 3 ? std::atoi(argv[3]) : 100;
      if (clients <= 0 || rounds <= 0) {
        std::fprintf(stderr, "usage: %s --self-test CLIENTS [ROUNDS]\n", argv[0]);
        return 2;
      }
      return run_self_test(clients, rounds);
    }
    if (argc == 3 && std::strcmp(argv[1], "client") == 0) return run_client(address_of(argv[2]));
    if (argc == 2 && argv[1][0] != '-') return run_server(address_of(argv[1]));
  } catch (const goro::net::error& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: %s PORT|ADDR            serve\n"
               "       %s client ADDR          echo stdin through a server\n"
               "       %s --self-test N [ROUNDS]\n",
               argv[0], argv[0], argv[0]);
  return 2;
}
