// A goroutine lets an exception escape and no handler was set: the program
// must end with a message naming the goroutine and what() (Go's unrecovered
// panic). Prints "goroutine <id>" to stdout first so the test knows the id.
//
//   unhandled_exception std       throws std::runtime_error("the answer was 41")
//   unhandled_exception other     throws an int
//   unhandled_exception default   std, from a goroutine of the default runtime
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace {

void report_and_throw(bool standard) {
  std::printf("goroutine %llu\n", static_cast<unsigned long long>(goro::goroutine_id()));
  std::fflush(stdout);
  if (standard) throw std::runtime_error("the answer was 41");
  throw 42;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  if (std::strcmp(mode, "default") == 0) {
    goro::go(report_and_throw, true);
    goro::sleep_for(std::chrono::seconds(60));  // the abort comes first
  } else if (std::strcmp(mode, "std") == 0 || std::strcmp(mode, "other") == 0) {
    const bool standard = std::strcmp(mode, "std") == 0;
    goro::runtime rt;
    rt.go(report_and_throw, standard);
    rt.wait();
  } else {
    std::fprintf(stderr, "usage: unhandled_exception std|other|default\n");
    return 2;
  }
  std::puts("still alive");
  return 0;
}
