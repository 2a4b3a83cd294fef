// What the monitor prints when asked through the environment.
//
//   monitor_output trace     run with GORO_SCHEDTRACE=N: a goroutine sleeps
//                            300 ms, so the trace has lines to print
//   monitor_output sigquit   run with GORO_SIGQUIT_DUMP=1: sends itself
//                            SIGQUIT while a goroutine waits on a channel,
//                            then carries on and ends normally
//   monitor_output pingpong  run with GORO_SCHEDTRACE=N: a ping-pong pair on
//                            one worker for 500 ms of its CPU time; with
//                            runnext inheriting the time slice, the trace
//                            counts preemptions
#include <goro/goro.hpp>

#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

/// CPU time of the calling thread (with one worker: the worker's), in ms.
long thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  long ms = ts.tv_sec * 1000;  // time_t and long: both 64 bits where goro runs
  ms += ts.tv_nsec / 1000000;
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  goro::runtime_options options;
  options.workers = std::strcmp(mode, "pingpong") == 0 ? 1 : 2;
  goro::runtime rt(options);
  if (std::strcmp(mode, "trace") == 0) {
    rt.go([] { goro::sleep_for(std::chrono::milliseconds(300)); });
  } else if (std::strcmp(mode, "sigquit") == 0) {
    auto c = goro::make_chan<int>();
    rt.go([c] { c.recv(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::raise(SIGQUIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::printf("still running\n");
    c.send(1);
  } else if (std::strcmp(mode, "pingpong") == 0) {
    auto ping = goro::make_chan<int>();
    auto pong = goro::make_chan<int>();
    rt.go([ping, pong] {
      for (int v : ping) pong.send(v);
    });
    rt.go([ping, pong] {
      // 500 ms of the worker's CPU time (a loaded machine stretches it),
      // at most 30 s.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (thread_cpu_ms() < 500 && std::chrono::steady_clock::now() < give_up) {
        for (int i = 0; i < 100; ++i) {
          ping.send(1);
          pong.recv();
        }
      }
      ping.close();
    });
  } else {
    std::fprintf(stderr, "usage: monitor_output trace|sigquit|pingpong\n");
    return 2;
  }
  rt.wait();
  return 0;
}
