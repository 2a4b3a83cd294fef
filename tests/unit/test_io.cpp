// Readiness waits (goro/io.hpp) and the netpoller under them: goroutines
// that wait on fds park instead of blocking their worker; edges, deadlines
// and close end the waits; fd numbers reused after a close get no stale
// wake-up; the poller is woken for new work; busy workers still serve I/O;
// descriptors move between runtimes.
//
// Every wait in these tests has a deadline far beyond what the test needs, so
// a lost wake-up fails the test with a message instead of hanging it.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using goro::io_status;

namespace {

using namespace goro_test;

/// Far beyond any wait a passing test makes.
constexpr auto kLost = 20s;

struct pipe_fds {
  int r = -1, w = -1;
  pipe_fds() {
    int p[2];
    REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    r = p[0];
    w = p[1];
  }
  ~pipe_fds() {
    if (r >= 0) goro::close_fd(r);
    if (w >= 0) goro::close_fd(w);
  }
  pipe_fds(const pipe_fds&) = delete;
  pipe_fds& operator=(const pipe_fds&) = delete;
};

/// Reads one byte from a non-blocking fd, waiting as goro does; returns the
/// byte, or -1 (and records why) if the wait did not end with data.
int read_byte(int fd, failures& f, const char* who) {
  for (;;) {
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 1) return static_cast<unsigned char>(c);
    if (n == 0) {
      f.add(std::string(who) + ": unexpected EOF");
      return -1;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      f.add(std::string(who) + ": read: " + std::to_string(errno));
      return -1;
    }
    const io_status st = goro::wait_readable(fd, kLost);
    if (st != io_status::ready) {
      f.add(std::string(who) + ": wait ended with " + std::to_string(static_cast<int>(st)));
      return -1;
    }
  }
}

bool write_byte(int fd, char c) { return ::write(fd, &c, 1) == 1; }

/// Raises the soft fd limit towards `want`; returns the limit in force.
rlim_t raise_fd_limit(rlim_t want) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace

TEST_CASE("goroutines reading empty pipes park; their one worker runs the writer", "[io]") {
  // With one worker, a reader that blocked its thread would stop the writer.
  pipe_fds a, b;
  failures f;
  std::atomic<int> got_a{-1}, got_b{-1};
  {
    goro::runtime rt(workers(1));
    rt.go([&] { got_a = read_byte(a.r, f, "reader a"); });
    rt.go([&] { got_b = read_byte(b.r, f, "reader b"); });
    rt.go([&] {
      goro::sleep_for(10ms);  // the readers are parked by now, most likely
      f.expect(write_byte(a.w, 'a'), "write a");
      f.expect(write_byte(b.w, 'b'), "write b");
    });
  }
  CHECK(f.take() == std::vector<std::string>{});
  CHECK(got_a == 'a');
  CHECK(got_b == 'b');
}

TEST_CASE("a plain thread's write wakes a parked reader; so does a later one", "[io]") {
  pipe_fds p;
  failures f;
  goro::runtime rt(workers(2));
  auto got = goro::make_chan<int>(4);
  rt.go([&] {
    for (int i = 0; i < 3; ++i) got.send(read_byte(p.r, f, "reader"));
  });
  for (char c : {'x', 'y', 'z'}) {
    std::this_thread::sleep_for(5ms);
    REQUIRE(write_byte(p.w, c));
    CHECK(got.recv_for(kLost).value == std::optional<int>(c));
  }
  rt.wait();
  CHECK(f.take() == std::vector<std::string>{});
}

TEST_CASE("one edge wakes every goroutine waiting on the fd", "[io]") {
  pipe_fds p;
  const int n = 100;
  std::atomic<int> ready{0}, other{0};
  {
    goro::runtime rt(workers(2));
    auto parked = goro::make_chan<int>(n);
    for (int i = 0; i < n; ++i) {
      rt.go([&] {
        parked.send(1);
        const io_status st = goro::wait_readable(p.r, kLost);
        (st == io_status::ready ? ready : other)++;
      });
    }
    for (int i = 0; i < n; ++i) parked.recv();
    std::this_thread::sleep_for(20ms);
    REQUIRE(write_byte(p.w, '!'));
  }
  CHECK(ready == n);
  CHECK(other == 0);
}

TEST_CASE("deadlines end waits, and a deadline already past ends one at once", "[io][deadline]") {
  on_thread_and_goroutine([](failures& f) {
    pipe_fds p;
    auto t0 = goro::clock::now();
    f.expect(goro::wait_readable(p.r, 30ms) == io_status::timed_out, "30 ms: timed out");
    const auto took = goro::clock::now() - t0;
    f.expect(at_least(took, 30ms), "30 ms: not early");
    f.expect(took < 10s, "30 ms: not hugely late");

    t0 = goro::clock::now();
    f.expect(goro::wait_readable(p.r, goro::clock::now() - 1s) == io_status::timed_out,
             "past deadline");
    f.expect(goro::wait_writable(p.w, goro::clock::time_point::min()) == io_status::timed_out,
             "time_point::min");
    f.expect(goro::wait_readable(p.r, -5s) == io_status::timed_out, "negative timeout");
    f.expect(goro::clock::now() - t0 < 5s, "past deadlines return at once");

    // A deadline on another clock is converted.
    f.expect(
        goro::wait_readable(p.r, std::chrono::system_clock::now() + 20ms) == io_status::timed_out,
        "system_clock deadline");
    // A writable pipe is ready whatever the deadline.
    f.expect(goro::wait_writable(p.w, kLost) == io_status::ready, "writable");
  });
}

TEST_CASE("an fd's own deadline moves under a blocked wait", "[io][deadline]") {
  pipe_fds p;
  goro::runtime rt(workers(2));
  auto result = goro::make_chan<io_status>(1);
  goro::detail::fd_set_deadline(p.r, goro::detail::io_mode::read, goro::clock::now() + kLost);
  rt.go([&] {
    result.send(
        goro::detail::fd_wait(p.r, goro::detail::io_mode::read, goro::clock::time_point::max()));
  });
  std::this_thread::sleep_for(20ms);
  CHECK(result.try_recv().status == goro::op_status::empty);  // still waiting
  // Shortened to the past: the wait ends now, not in kLost.
  goro::detail::fd_set_deadline(p.r, goro::detail::io_mode::read, goro::clock::now() - 1ms);
  CHECK(result.recv_for(5s).value == std::optional<io_status>(io_status::timed_out));
  // Cleared: waits are unbounded again (a write ends this one).
  goro::detail::fd_set_deadline(p.r, goro::detail::io_mode::read, goro::clock::time_point::max());
  rt.go([&] {
    result.send(
        goro::detail::fd_wait(p.r, goro::detail::io_mode::read, goro::clock::time_point::max()));
  });
  std::this_thread::sleep_for(20ms);
  CHECK(result.try_recv().status == goro::op_status::empty);
  REQUIRE(write_byte(p.w, 'd'));
  CHECK(result.recv_for(kLost).value == std::optional<io_status>(io_status::ready));
}

TEST_CASE("close_fd ends waits on the fd, in goroutines and threads", "[io][close]") {
  int fds[2];
  REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
  goro::runtime rt(workers(2));
  auto result = goro::make_chan<io_status>(8);
  auto parked = goro::make_chan<int>(8);
  for (int i = 0; i < 3; ++i) {
    rt.go([&] {
      parked.send(1);
      result.send(goro::wait_readable(fds[0], kLost));
    });
  }
  std::thread th([&] {
    parked.send(1);
    result.send(goro::wait_readable(fds[0], kLost));
  });
  for (int i = 0; i < 4; ++i) parked.recv();
  std::this_thread::sleep_for(20ms);
  CHECK(goro::close_fd(fds[0]) == 0);
  for (int i = 0; i < 4; ++i)
    CHECK(result.recv_for(5s).value == std::optional<io_status>(io_status::closed));
  th.join();
  goro::close_fd(fds[1]);
}

TEST_CASE("a reused fd number gets no wake-up meant for the closed file", "[io][close]") {
  // Make the old file ready (an edge on its way to the poller), close it
  // through goro, and take the same number for a new, empty pipe: a wait on
  // the new file must time out, not see the old edge.
  goro::runtime rt(workers(2));
  failures f;
  const int rounds = 200 / kScale;
  rt.go([&] {
    for (int i = 0; i < rounds; ++i) {
      int old_fds[2];
      if (::pipe2(old_fds, O_NONBLOCK | O_CLOEXEC) != 0) return f.add("pipe");
      // Watch it, then make it ready and close it at once.
      f.expect(goro::wait_readable(old_fds[0], 1ns) == io_status::timed_out, "old: empty");
      write_byte(old_fds[1], 'o');
      goro::close_fd(old_fds[0]);
      int new_fds[2];
      if (::pipe2(new_fds, O_NONBLOCK | O_CLOEXEC) != 0) return f.add("pipe");
      f.expect(new_fds[0] == old_fds[0] || new_fds[1] == old_fds[0], "number reused");
      const int empty_end = new_fds[0];
      f.expect(goro::wait_readable(empty_end, 2ms) == io_status::timed_out,
               "new file: no stale edge");
      goro::close_fd(old_fds[1]);
      goro::close_fd(new_fds[0]);
      goro::close_fd(new_fds[1]);
    }
  });
  rt.wait();
  CHECK(f.take() == std::vector<std::string>{});
}

TEST_CASE("thousands of socket pairs ping-pong across workers with no lost wake-up",
          "[io][stress]") {
  const int pairs = (under_sanitizer() ? 500 : 2000) / (slow_run() ? 4 : 1);
  const int rounds = 20;
  if (raise_fd_limit(static_cast<rlim_t>(2 * pairs + 256)) < static_cast<rlim_t>(2 * pairs + 64)) {
    WARN("the fd limit is too low for this test; not run");
    return;
  }
  failures f;
  std::atomic<long> exchanged{0};
  {
    goro::runtime rt(workers(4));  // more workers than cores: migrations and steals
    for (int i = 0; i < pairs; ++i) {
      int sv[2];
      REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
      rt.go([&, a = sv[0]] {
        for (int r = 0; r < rounds; ++r) {
          if (!write_byte(a, static_cast<char>(r))) return f.add("ping write");
          if (read_byte(a, f, "ping") != r) return f.add("ping: wrong reply");
          exchanged++;
        }
        goro::close_fd(a);
      });
      rt.go([&, b = sv[1]] {
        for (int r = 0; r < rounds; ++r) {
          const int c = read_byte(b, f, "pong");
          if (c < 0 || !write_byte(b, static_cast<char>(c))) return f.add("pong");
        }
        goro::close_fd(b);
      });
    }
  }
  CHECK(f.take() == std::vector<std::string>{});
  CHECK(exchanged == static_cast<long>(pairs) * rounds);
}

TEST_CASE("work from a plain thread wakes a worker sleeping in the poller", "[io][poller]") {
  pipe_fds p;
  goro::runtime rt(workers(1));
  std::atomic<bool> waiting_done{false};
  rt.go([&] {
    goro::wait_readable(p.r, kLost);  // the only worker then sleeps in epoll_wait
    waiting_done = true;
  });
  std::this_thread::sleep_for(30ms);
  auto ran = goro::make_chan<int>(1);
  const auto t0 = goro::clock::now();
  rt.go([&] { ran.send(1); });
  CHECK(ran.recv_for(kLost).value == std::optional<int>(1));
  CHECK(goro::clock::now() - t0 < 5s);  // promptly, not at some timeout
  CHECK_FALSE(waiting_done);
  REQUIRE(write_byte(p.w, 'k'));
  rt.wait();
  CHECK(waiting_done);
}

TEST_CASE("an fd waiter is served while every worker runs busy goroutines", "[io][poller]") {
  pipe_fds p;
  failures f;
  std::atomic<bool> served{false};
  std::atomic<long> spins{0};
  {
    goro::runtime rt(workers(2));
    for (int i = 0; i < 2; ++i) {
      rt.go([&] {
        const auto give_up = goro::clock::now() + kLost;
        while (!served && goro::clock::now() < give_up) {
          goro::yield();  // runnable all the time: no worker ever goes idle
          spins++;
        }
      });
    }
    rt.go([&] {
      if (read_byte(p.r, f, "reader") == 'q') served = true;
    });
    while (spins < 1000) std::this_thread::sleep_for(1ms);
    REQUIRE(write_byte(p.w, 'q'));
  }
  CHECK(f.take() == std::vector<std::string>{});
  CHECK(served);
}

TEST_CASE("goroutines of two runtimes wait on one fd; the poller's runtime may go first",
          "[io][poller]") {
  pipe_fds p;
  std::atomic<int> a_result{-1}, b_result{-1};
  goro::runtime b(workers(1));
  auto b_parked = goro::make_chan<int>(1);
  {
    goro::runtime a(workers(1));
    // A's goroutine binds the fd to A's poller and waits a little.
    a.go([&] { a_result = static_cast<int>(goro::wait_readable(p.r, 100ms)); });
    std::this_thread::sleep_for(20ms);
    // B's goroutine queues behind it on A's poller.
    b.go([&] {
      b_parked.send(1);
      b_result = static_cast<int>(goro::wait_readable(p.r, kLost));
    });
    b_parked.recv();
  }  // A's goroutine timed out; A is gone: B's goroutine moves to B's poller
  CHECK(a_result == static_cast<int>(io_status::timed_out));
  std::this_thread::sleep_for(20ms);
  CHECK(b_result == -1);
  REQUIRE(write_byte(p.w, 'b'));
  b.wait();
  CHECK(b_result == static_cast<int>(io_status::ready));
}

TEST_CASE("regular files are always ready; bad fds are errors", "[io]") {
  on_thread_and_goroutine([](failures& f) {
    const std::string path = std::string(GORO_SOURCE_DIR) + "/CMakeLists.txt";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    f.expect(fd >= 0, "open");
    f.expect(goro::wait_readable(fd, kLost) == io_status::ready, "regular file readable");
    goro::close_fd(fd);
    bool threw = false;
    try {
      goro::wait_readable(-1, 1s);
    } catch (const std::system_error& e) {
      threw = e.code().value() == EBADF;
    }
    f.expect(threw, "fd -1: std::system_error(EBADF)");
  });
}
