// What the monitor prints when asked through the environment.
//
//   monitor_output trace     run with GORO_SCHEDTRACE=N: a goroutine sleeps
//                            300 ms, so the trace has lines to print
//   monitor_output sigquit   run with GORO_SIGQUIT_DUMP=1: sends itself
//                            SIGQUIT while a goroutine waits on a channel,
//                            then carries on and ends normally
//   monitor_output pingpong  run with GORO_SCHEDTRACE=N: a ping-pong pair on
//                            one worker for 500 ms; with runnext inheriting
//                            the time slice, the trace counts preemptions
#include <goro/goro.hpp>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

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
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      while (std::chrono::steady_clock::now() < until) {
        ping.send(1);
        pong.recv();
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
