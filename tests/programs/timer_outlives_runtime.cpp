// A ticker made on a goro::runtime that is destroyed first: touching the
// ticker afterwards (here its destructor) must be a goro fatal error naming
// the mistake, not a use of the freed scheduler.
//
//   timer_outlives_runtime ticker|timer
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

int main(int argc, char** argv) {
  const bool ticker = argc > 1 && std::strcmp(argv[1], "ticker") == 0;
  std::unique_ptr<goro::ticker> t;
  std::unique_ptr<goro::timer> tm;
  {
    goro::runtime_options o;
    o.workers = 1;
    goro::runtime rt(o);
    auto made = goro::make_chan<int>(1);
    rt.go([&] {
      if (ticker)
        t = std::make_unique<goro::ticker>(std::chrono::hours(1));
      else
        tm = std::make_unique<goro::timer>(std::chrono::hours(1));
      made.send(1);
    });
    made.recv();
  }  // the runtime ends with the ticker or timer armed
  std::puts("runtime gone");
  std::fflush(stdout);
  t.reset();
  tm.reset();
  std::puts("no fatal error?");
  return 0;
}
