// A SIGSEGV that is not a stack overflow must be left to whoever handled it
// before goro installed its handler, or to the default action.
//
//   segv_not_overflow chained   installs a handler first; it prints
//                               "own handler ran" and exits with status 3
//   segv_not_overflow plain     no handler of its own: dies of SIGSEGV, with
//                               no "stack overflow" message
//   segv_not_overflow sent      like plain, but the SIGSEGV is raise()d, not a
//                               fault: it must still kill (a sent signal does
//                               not come back by itself once handled)
// All fault on a goro context, after goro's handler is installed.
#include <goro/goro.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

int* volatile forbidden = nullptr;  // a page that may not be touched (not null: that is UB)

void own_handler(int) {
  const char msg[] = "own handler ran\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
  ::_exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  const bool sent = argc == 2 && std::strcmp(argv[1], "sent") == 0;
  if (argc != 2 ||
      (std::strcmp(argv[1], "chained") != 0 && std::strcmp(argv[1], "plain") != 0 && !sent)) {
    std::fprintf(stderr, "usage: segv_not_overflow chained|plain|sent\n");
    return 2;
  }
  if (std::strcmp(argv[1], "chained") == 0) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = &own_handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, nullptr);
  }
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return 1;
  forbidden = static_cast<int*>(page);
  goro::detail::context home;  // installs goro's handler (once per process)
  goro::detail::stack stk(64 * 1024);
  goro::detail::context ctx(
      stk,
      [](void* send) {
        if (send != nullptr) {
          ::raise(SIGSEGV);
        } else {
          *forbidden = 42;
        }
      },
      sent ? &home : nullptr);
  home.switch_to(ctx);
  std::puts("no fault?");
  return 0;
}
