// What the monitor prints when asked through the environment.
//
//   monitor_output trace     run with GORO_SCHEDTRACE=N: a goroutine sleeps
//                            300 ms, so the trace has lines to print
//   monitor_output sigquit   run with GORO_SIGQUIT_DUMP=1: sends itself
//                            SIGQUIT while a goroutine waits on a channel,
//                            then carries on and ends normally
#include <goro/goro.hpp>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  goro::runtime_options options;
  options.workers = 2;
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
  } else {
    std::fprintf(stderr, "usage: monitor_output trace|sigquit\n");
    return 2;
  }
  rt.wait();
  return 0;
}
