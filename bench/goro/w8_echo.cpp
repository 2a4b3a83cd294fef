// W8 for goro: TCP echo over loopback, as bench/go/w8_echo. A server (a
// goroutine per connection, echoing with a 4 KiB buffer) and 1,000 client
// goroutines in one runtime, each with its own connection. First all 1,000
// connections are made and left idle (every client parked on a channel,
// every server goroutine parked in read); the extra metric is the growth of
// the resident set from before the listener to then, divided by 1,000: the
// memory one idle connection costs, both ends counted. Then every client
// does 100 round trips of a 64-byte message; the time covers those 100,000
// round trips. argv[1]: workers.
#include <atomic>
#include <cstring>
#include <vector>

#include <sys/resource.h>

#include "goro_bench.hpp"

namespace {

// func echo(c net.Conn): until the client closes its side.
void echo(goro::net::conn c, goro::wait_group& serving) {
  char buf[bench::w8_buffer];
  serving.done();
  try {
    for (;;) {
      const std::size_t n = c.read(buf, sizeof buf);
      if (n == 0) break;
      c.write_all(buf, n);
    }
  } catch (const goro::net::error&) {
  }
  c.close();
}

// Two fds per connection in one process, plus a few: raise the soft limit to
// the hard one, as Go's runtime does at start-up.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int main(int argc, char** argv) {
  raise_fd_limit();
  static goro::wait_group serving, connected, finished;  // outlive the runtime
  static std::atomic<long> failures{0};
  return bench::run_goro_main(argc, argv, [](const std::string& peer) {
    const std::int64_t before = bench::resident_bytes();
    goro::net::listener ln = goro::net::listen("tcp", "127.0.0.1:0");
    serving.add(bench::w8_connections);
    goro::go([ln]() mutable {
      for (;;) {
        goro::net::conn c;
        try {
          c = ln.accept();
        } catch (const goro::net::error&) {
          return;  // closed
        }
        goro::go([c] { echo(c, serving); });
      }
    });

    auto gate = goro::make_chan<int>();
    connected.add(bench::w8_connections);
    finished.add(bench::w8_connections);
    const std::string addr = ln.addr();
    for (long i = 0; i < bench::w8_connections; ++i) {
      goro::go([gate, addr] {
        goro::net::conn c;
        try {
          c = goro::net::dial("tcp", addr);
        } catch (const goro::net::error& e) {
          std::fprintf(stderr, "W8: dial: %s\n", e.what());
          failures.fetch_add(1);
        }
        connected.done();
        if (c) {
          (void)gate.recv();
          char out[bench::w8_message] = {};
          char in[bench::w8_message];
          try {
            for (long r = 0; r < bench::w8_round_trips; ++r) {
              out[0] = static_cast<char>(r);
              c.write_all(out, sizeof out);
              c.read_full(in, sizeof in);
              if (in[0] != out[0]) failures.fetch_add(1);
            }
          } catch (const goro::net::error& e) {
            std::fprintf(stderr, "W8: client: %s\n", e.what());
            failures.fetch_add(1);
          }
          c.close();
        }
        finished.done();
      });
    }
    connected.wait();
    serving.wait();
    goro::sleep_for(std::chrono::milliseconds(10));  // let the last server goroutines reach read
    const std::int64_t after = bench::resident_bytes();

    const std::int64_t start = bench::now_ns();
    gate.close();
    finished.wait();
    const std::int64_t elapsed = bench::now_ns() - start;
    ln.close();
    if (failures.load() != 0) bench::fail("W8", "a connection failed or echoed wrong bytes");
    if (before < 0 || after < 0) bench::fail("W8", "cannot read /proc/self/statm");
    bench::print_result("W8", peer, elapsed,
                        static_cast<double>(after - before) / bench::w8_connections);
  });
}
