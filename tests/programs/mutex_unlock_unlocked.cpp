// Unlocks a goro::mutex that is not locked: a fatal error, as in Go
// ("sync: unlock of unlocked mutex"). The process must abort with a message.
//
//   mutex_unlock_unlocked thread      from the main thread
//   mutex_unlock_unlocked goroutine   from a goroutine
//   mutex_unlock_unlocked twice       lock once, unlock twice (from main)
#include <goro/goro.hpp>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  goro::mutex m;
  if (std::strcmp(mode, "thread") == 0) {
    m.unlock();
  } else if (std::strcmp(mode, "goroutine") == 0) {
    goro::runtime_options options;
    options.workers = 1;
    goro::runtime rt(options);
    rt.go([&m] { m.unlock(); });
    rt.wait();
  } else if (std::strcmp(mode, "twice") == 0) {
    m.lock();
    m.unlock();
    m.unlock();
  } else {
    std::fprintf(stderr, "usage: mutex_unlock_unlocked thread|goroutine|twice\n");
    return 2;
  }
  std::puts("still alive");
  return 0;
}
