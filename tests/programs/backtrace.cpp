// goro-test: bundle=false
// (Alone: it is built twice, with frame pointers and exported symbols and without.)
// Goroutine dumps with the stacks goroutines are suspended in (backtrace.hpp).
//
//   backtrace park      a goroutine parks on a channel three calls deep in
//                       goro_test_bt::parked_in_distinctive_frame; main
//                       dumps the runtime to stdout, then lets it go
//   backtrace deadlock  the same goroutine parks for good: the deadlock
//                       report on stderr shows its stack
//   backtrace busy      goroutines recurse, ping-pong and sleep while main
//                       dumps the runtime over and over (at most 300 dumps,
//                       10 s); prints "dumps N" and ends normally
//
// Built twice (tests/CMakeLists.txt): `backtrace` with frame pointers and
// its symbols exported, `backtrace_nofp` with neither.
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#if defined(__clang__)
#define BT_NOINLINE __attribute__((noinline))
#else
#define BT_NOINLINE __attribute__((noinline, noipa))  // no clone either: keep the name
#endif

namespace goro_test_bt {

std::atomic<int> sink{0};  // written after each call, so that no call is a tail call

/// Parks on `c` `depth` calls down; the work after each call keeps the
/// compiler from turning it into a jump (which would drop the frame).
BT_NOINLINE void parked_in_distinctive_frame(goro::chan<int>& c, int depth) {
  if (depth > 0) {
    parked_in_distinctive_frame(c, depth - 1);
  } else {
    c.recv();
  }
  sink.fetch_add(depth, std::memory_order_relaxed);
}

/// Recurses `depth` calls down and yields at the bottom.
BT_NOINLINE void recurse_and_yield(int depth) {
  if (depth > 0) {
    recurse_and_yield(depth - 1);
  } else {
    goro::yield();
  }
  sink.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace goro_test_bt

namespace {

goro::runtime_options two_workers() {
  goro::runtime_options o;
  o.workers = 2;
  return o;
}

int busy(goro::runtime& rt) {
  std::atomic<bool> stop{false};
  auto ping = goro::make_chan<int>();
  auto pong = goro::make_chan<int>();
  rt.go([ping, pong] {
    for (int v : ping) pong.send(v);
  });
  rt.go([ping, pong, &stop] {
    while (!stop.load()) {
      ping.send(1);
      pong.recv();
    }
    ping.close();
  });
  for (int i = 0; i < 3; ++i) {
    rt.go([&stop, i] {
      while (!stop.load()) goro_test_bt::recurse_and_yield(10 + 20 * i);
    });
  }
  rt.go([&stop] {
    while (!stop.load()) goro::sleep_for(std::chrono::milliseconds(1));
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int dumps = 0;
  std::size_t bytes = 0;
  for (; dumps < 300 && std::chrono::steady_clock::now() < until; ++dumps) {
    std::ostringstream out;
    rt.dump_goroutines(out);
    bytes += out.str().size();
  }
  stop = true;
  rt.wait();
  std::printf("dumps %d (%zu bytes)\n", dumps, bytes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  goro::runtime rt(two_workers());
  if (std::strcmp(mode, "park") == 0 || std::strcmp(mode, "deadlock") == 0) {
    auto c = goro::make_chan<int>();
    std::atomic<bool> started{false};
    rt.go([c, &started]() mutable {
      started = true;
      goro_test_bt::parked_in_distinctive_frame(c, 2);
    });
    if (std::strcmp(mode, "deadlock") == 0) {
      rt.wait();  // never returns: the monitor reports the deadlock
      return 0;
    }
    // Parked once the dump says so (bounded: 10 s).
    std::string dump;
    for (int i = 0; i < 1000; ++i) {
      std::ostringstream out;
      rt.dump_goroutines(out);
      dump = out.str();
      if (started.load() && dump.find("[chan receive]") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::fwrite(dump.data(), 1, dump.size(), stdout);
    c.send(1);
    rt.wait();
    return 0;
  }
  if (std::strcmp(mode, "busy") == 0) return busy(rt);
  std::fprintf(stderr, "usage: backtrace park|deadlock|busy\n");
  return 2;
}
