// Deadlocks the monitor must report, and near-deadlocks it must not.
//
//   deadlock recv         a goroutine receives on a channel nobody sends on
//   deadlock range        a goroutine ranges over a channel never closed
//   deadlock wait_group   a goroutine waits for a wait_group never done
//   deadlock mutex        a goroutine locks a mutex it holds
//   deadlock select       a goroutine selects on two silent channels
//
// In each, main waits for the runtime; the program must abort with Go's
// message and a dump naming the wait and the line that started the
// goroutine (printed first on stdout as "line N" for the test to match).
//
//   deadlock timer        a goroutine sleeps 700 ms (a pending timer)
//   deadlock fd           a goroutine waits 700 ms on a timerfd (an fd waiter)
//   deadlock thread       a plain thread sends after 700 ms
//   deadlock blocking     a goroutine in goro::blocking: the call is counted
//                         in the census while a helper thread sleeps 700 ms
//
// These must end normally, with no report.
#include <goro/goro.hpp>

#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

// Long enough for the monitor to have looked twice (100 ms apart) and
// reported, were it going to.
constexpr auto delay = std::chrono::milliseconds(700);

goro::runtime_options two_workers() {
  goro::runtime_options o;
  o.workers = 2;
  return o;
}

void line(unsigned n) {
  std::printf("line %u\n", n);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc == 2 ? argv[1] : "";
  goro::runtime rt(two_workers());
  auto c = goro::make_chan<int>();
  auto c4 = goro::make_chan<int>(4);
  goro::wait_group wg;
  goro::mutex m;
  if (std::strcmp(mode, "recv") == 0) {
    line(__LINE__ + 1);
    rt.go([c] { c.recv(); });
  } else if (std::strcmp(mode, "range") == 0) {
    line(__LINE__ + 1);
    rt.go([c4] {
      for (int v : c4) (void)v;
    });
    c4.send(1);
  } else if (std::strcmp(mode, "wait_group") == 0) {
    wg.add(1);
    line(__LINE__ + 1);
    rt.go([&wg] { wg.wait(); });
  } else if (std::strcmp(mode, "mutex") == 0) {
    line(__LINE__ + 1);
    rt.go([&m] {
      m.lock();
      m.lock();
    });
  } else if (std::strcmp(mode, "select") == 0) {
    for (int i = 0; i < 4; ++i) c4.send(i);  // full: the send case cannot complete
    line(__LINE__ + 1);
    rt.go([c, c4] { goro::select(goro::case_recv(c), goro::case_send(c4, 0)); });
  } else if (std::strcmp(mode, "timer") == 0) {
    rt.go([] { goro::sleep_for(delay); });
  } else if (std::strcmp(mode, "fd") == 0) {
    const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec spec{};
    spec.it_value.tv_nsec = std::chrono::nanoseconds(delay).count();
    if (fd < 0 || ::timerfd_settime(fd, 0, &spec, nullptr) != 0) {
      std::perror("timerfd");
      return 2;
    }
    rt.go([fd] {
      if (goro::wait_readable(fd) != goro::io_status::ready) std::abort();
    });
    rt.wait();
    goro::close_fd(fd);
  } else if (std::strcmp(mode, "thread") == 0) {
    rt.go([c] { c.recv(); });
    std::thread t([c] {
      std::this_thread::sleep_for(delay);
      c.send(1);
    });
    rt.wait();
    t.join();
  } else if (std::strcmp(mode, "blocking") == 0) {
    // Every goroutine parked, one of them in goro::blocking, whose helper
    // thread sleeps: not a deadlock, the call will return.
    rt.go([c4] {
      c4.send(goro::blocking([] {
        std::this_thread::sleep_for(delay);
        return 1;
      }));
    });
    rt.go([c4] { c4.recv(); });
  } else {
    std::fprintf(stderr,
                 "usage: deadlock recv|range|wait_group|mutex|select|timer|fd|thread|blocking\n");
    return 2;
  }
  rt.wait();
  std::printf("no deadlock\n");
  return 0;
}
