// The first goroutine stack of a process decides how guard pages are made,
// probing MADV_GUARD_INSTALL through a pipe. With no file descriptor left for
// that pipe, stacks must still be made (with mprotect guards), not fail.
// Prints "stacks made, guard method N" (N: goro::detail::guard_method) and
// exits 0; exits 1 with a message otherwise.
#include <goro/goro.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <vector>

int main() {
  // Use up every descriptor below a small limit.
  rlimit lim{32, 32};
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    std::perror("setrlimit");
    return 1;
  }
  std::vector<int> held;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) held.push_back(fd);
  try {
    goro::detail::stack first(64 * 1024);
    goro::detail::stack second(64 * 1024);
    std::printf("stacks made, guard method %d\n",
                static_cast<int>(goro::detail::guard_method_in_use().load()));
  } catch (const std::exception& e) {
    std::printf("stack failed: %s\n", e.what());
    return 1;
  }
  for (int fd : held) ::close(fd);
  return 0;
}
