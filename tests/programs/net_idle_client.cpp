// The client half of "10,000 idle connections" (tests/unit/test_net.cpp):
//   net_idle_client ADDRESS N
// dials N TCP connections to ADDRESS and holds them all open; then on each
// sends one byte, waits for it to come back and for the server to close.
// The server side holds its N ends open until it has accepted them all, so
// at that moment 2N sockets are open at once, one goroutine parked per
// connection on each side. Prints "ok N" and exits 0, or "FAIL: ..." and 1.
#include <goro/goro.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::printf("usage: net_idle_client ADDRESS N\n");
    return 2;
  }
  const std::string address = argv[1];
  const int n = std::atoi(argv[2]);
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);

  goro::runtime_options opts;
  opts.stack_size = 64 * 1024;
  goro::runtime rt(opts);
  std::atomic<int> dialed{0}, done{0};
  std::mutex m;
  std::string first_error;
  auto note = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(m);
    if (first_error.empty()) first_error = what;
  };
  auto all_dialed = goro::make_chan<int>();  // closed once all n are open
  const int dialers = 16;
  for (int d = 0; d < dialers; ++d) {
    rt.go([&, d] {
      for (int i = d; i < n; i += dialers) {
        try {
          goro::net::conn c = goro::net::dial("tcp", address);
          dialed.fetch_add(1);
          goro::go([&, c]() {
            try {
              all_dialed.recv();  // idle until every connection is open
              c.write("x");
              char b = 0;
              c.read_full(&b, 1);
              char more = 0;
              if (b != 'x' || c.read(&more, 1) != 0) note("bad echo or no EOF");
            } catch (const std::exception& e) {
              note(e.what());
            }
            done.fetch_add(1);
          });
        } catch (const std::exception& e) {
          note(e.what());
          done.fetch_add(1);
          dialed.fetch_add(1);
        }
      }
    });
  }
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (dialed.load() < n && std::chrono::steady_clock::now() < limit) {
    goro::sleep_for(std::chrono::milliseconds(2));
  }
  all_dialed.close();
  while (done.load() < n && std::chrono::steady_clock::now() < limit) {
    goro::sleep_for(std::chrono::milliseconds(2));
  }
  if (done.load() < n) {
    std::printf("FAIL: timed out: %d dialed, %d done of %d\n", dialed.load(), done.load(), n);
    std::fflush(stdout);
    std::_Exit(1);  // goroutines still blocked: do not wait for them
  }
  if (!first_error.empty()) {
    std::printf("FAIL: %s\n", first_error.c_str());
    return 1;
  }
  std::printf("ok %d\n", n);
  return 0;
}
