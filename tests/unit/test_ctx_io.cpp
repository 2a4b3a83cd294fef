// Context-aware I/O: conn.read/read_full/write and listener.accept with a
// context, and goro::blocking(ctx, f). A context's end (cancel on another
// thread, or a deadline) ends a wait in a goroutine or a plain thread with
// goro::context_error; a context already done throws before the operation;
// the conn stays usable and its own deadline untouched; blocking stops
// waiting while f runs on (and its result is dropped safely), and a call
// still queued never runs.
//
// Loopback only. Time is checked with lower bounds and generous upper
// bounds; every wait is bounded.
// goro-test: labels=net serial=true
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

using namespace goro_test;

/// Runs f; returns the code of the context_error it threw, or "none"/"other".
template <class F>
std::string ctx_outcome(F&& f) {
  try {
    f();
  } catch (const goro::context_error& e) {
    if (e.code() == goro::context_errc::canceled) return "canceled";
    if (e.code() == goro::context_errc::deadline_exceeded) return "deadline_exceeded";
    return "context_error?";
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
  return "none";
}

/// A connected pair: client end, server end (accepted from a fresh listener).
struct conn_pair {
  net::conn client, server;
};
conn_pair connect_pair() {
  net::listener ln = net::listen("tcp", "127.0.0.1:0");
  auto accepted = goro::make_chan<net::conn>(1);
  goro::go([ln, accepted]() { accepted.send(ln.accept()); });
  conn_pair p;
  p.client = net::dial("tcp", ln.addr(), 10s);
  auto r = accepted.recv_for(20s);
  if (r.value) p.server = *r.value;
  ln.close();
  return p;
}

/// Cancels from a plain thread after `delay` (joined by the destructor).
struct cancel_later {
  std::thread t;
  cancel_later(goro::cancel_func cancel, std::chrono::milliseconds delay)
      : t([cancel, delay] {
          std::this_thread::sleep_for(delay);
          cancel();
        }) {}
  cancel_later(const cancel_later&) = delete;
  cancel_later& operator=(const cancel_later&) = delete;
  ~cancel_later() { t.join(); }
};

/// Reads one byte with a generous deadline (so a broken test fails, not hangs).
std::string read_one(const net::conn& c) {
  c.set_read_deadline(std::chrono::steady_clock::now() + 20s);
  char b = 0;
  const std::size_t n = c.read(&b, 1);
  c.clear_deadline();
  return n == 1 ? std::string(1, b) : std::string("EOF");
}

/// Runs body in a goroutine on the default runtime; returns what it sent.
template <class Body>
std::string in_goroutine(Body body) {
  auto out = goro::make_chan<std::string>(1);
  goro::go([body, out]() mutable { out.send(body()); });
  auto r = out.recv_for(30s);
  return r.value ? *r.value : std::string("goroutine did not finish");
}

/// Sets the blocking pool's options for one test, and restores the defaults after it.
struct pool_options {
  explicit pool_options(std::size_t max_threads) {
    goro::blocking_options o;
    o.max_threads = max_threads;
    goro::set_blocking_options(o);
  }
  ~pool_options() { goro::set_blocking_options(goro::blocking_options{}); }
  pool_options(const pool_options&) = delete;
  pool_options& operator=(const pool_options&) = delete;
};

/// A gate a blocking function waits at (bounded: 20 s), opened by the test.
struct gate {
  std::atomic<bool> open{false};
  std::atomic<bool> entered{false};
  std::atomic<bool> left{false};
  void pass() {
    entered = true;
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (!open.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(1ms);
    }
    left = true;
  }
};

/// Counts destructions: the result of a blocking call whose caller left.
struct counted {
  std::shared_ptr<std::atomic<int>> destroyed;
  std::vector<char> payload = std::vector<char>(1000, 'r');
  explicit counted(std::shared_ptr<std::atomic<int>> d) : destroyed(std::move(d)) {}
  counted(counted&& o) noexcept
      : destroyed(std::move(o.destroyed)), payload(std::move(o.payload)) {}
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
  ~counted() {
    if (destroyed) ++*destroyed;
  }
};

}  // namespace

TEST_CASE("cancel on another thread ends a goroutine's read; the conn stays usable",
          "[ctx_io][read]") {
  conn_pair p = connect_pair();
  REQUIRE(p.server);
  // The conn's own read deadline, far away: a context wait must not move it.
  p.client.set_read_deadline(std::chrono::steady_clock::now() + 1h);
  const int fd = p.client.native_handle();
  const auto before = goro::detail::fd_deadline(fd, goro::detail::io_mode::read);
  auto cc = goro::with_cancel(goro::background());
  net::conn c = p.client;
  goro::context ctx = cc.ctx;
  const auto t0 = goro::clock::now();
  std::string got;
  {
    cancel_later later(cc.cancel, 50ms);
    got = in_goroutine([c, ctx] {
      return ctx_outcome([&] {
        char b = 0;
        c.read(ctx, &b, 1);
      });
    });
  }
  CHECK(got == "canceled");
  CHECK(goro::clock::now() - t0 < 15s);
  CHECK(goro::detail::fd_deadline(fd, goro::detail::io_mode::read) == before);
  // Usable: data sent now is read by the next read.
  p.server.write("a");
  CHECK(read_one(p.client) == "a");
  p.client.close();
  p.server.close();
}

TEST_CASE("a context's deadline ends read, read_full, write and accept", "[ctx_io][deadline]") {
  conn_pair p = connect_pair();
  REQUIRE(p.server);
  net::conn c = p.client;
  // read
  {
    const auto t0 = goro::clock::now();
    auto tc = goro::with_timeout(goro::background(), 100ms);
    goro::context ctx = tc.ctx;
    const std::string got = in_goroutine([c, ctx] {
      return ctx_outcome([&] {
        char b = 0;
        c.read(ctx, &b, 1);
      });
    });
    const auto took = goro::clock::now() - t0;
    CHECK(got == "deadline_exceeded");
    CHECK(at_least(took, 95ms));
    CHECK(took < 15s);
  }
  // read_full part-way: the bytes it had are consumed; the conn still works.
  {
    p.server.write("xy");
    auto tc = goro::with_timeout(goro::background(), 100ms);
    goro::context ctx = tc.ctx;
    const std::string got = in_goroutine([c, ctx] {
      return ctx_outcome([&] {
        char b[4] = {};
        c.read_full(ctx, b, sizeof b);
      });
    });
    CHECK(got == "deadline_exceeded");
    p.server.write("z");
    CHECK(read_one(c) == "z");
  }
  // write: the peer does not read, so a big write fills the buffers and waits.
  {
    auto big = std::make_shared<std::vector<char>>(32 << 20, 'w');
    auto tc = goro::with_timeout(goro::background(), 200ms);
    goro::context ctx = tc.ctx;
    const std::string got = in_goroutine(
        [c, ctx, big] { return ctx_outcome([&] { c.write(ctx, big->data(), big->size()); }); });
    CHECK(got == "deadline_exceeded");
    // The conn still writes the other way. (Whether the write had begun
    // before the deadline depends on the machine's speed: the bytes written
    // are checked in the cancel test, which waits until some arrived.)
    p.server.write("k");
    CHECK(read_one(c) == "k");
  }
  // accept
  {
    net::listener ln = net::listen("tcp", "127.0.0.1:0");
    auto tc = goro::with_timeout(goro::background(), 100ms);
    goro::context ctx = tc.ctx;
    const std::string got =
        in_goroutine([ln, ctx] { return ctx_outcome([&] { ln.accept(ctx); }); });
    CHECK(got == "deadline_exceeded");
    // The listener still accepts.
    net::conn d = net::dial("tcp", ln.addr(), 10s);
    auto cc = goro::with_cancel(goro::background());
    net::conn a = ln.accept(cc.ctx);
    CHECK(a.remote_addr() == d.local_addr());
    a.close();
    d.close();
    ln.close();
  }
  p.client.close();
  p.server.close();
}

TEST_CASE("cancel ends a goroutine's write and accept", "[ctx_io][cancel]") {
  conn_pair p = connect_pair();
  REQUIRE(p.server);
  {
    auto cc = goro::with_cancel(goro::background());
    goro::context ctx = cc.ctx;
    net::conn c = p.client;
    auto big = std::make_shared<std::vector<char>>(32 << 20, 'w');
    auto out = goro::make_chan<std::string>(1);
    goro::go([c, ctx, big, out] {
      out.send(ctx_outcome([&] { c.write_all(ctx, big->data(), big->size()); }));
    });
    // Cancel once the write has begun (32 MiB cannot fit in the buffers).
    CHECK(goro::wait_readable(p.server.native_handle(), 20s) == goro::io_status::ready);
    std::this_thread::sleep_for(20ms);
    CHECK_FALSE(out.try_recv());
    cc.cancel();
    auto r = out.recv_for(20s);
    const std::string got = r.value ? *r.value : std::string("write did not end");
    CHECK(got == "canceled");
    CHECK(read_one(p.server) == "w");
    p.server.write("k");
    CHECK(read_one(p.client) == "k");
  }
  {
    net::listener ln = net::listen("tcp", "127.0.0.1:0");
    auto cc = goro::with_cancel(goro::background());
    goro::context ctx = cc.ctx;
    std::string got;
    {
      cancel_later later(cc.cancel, 50ms);
      got = in_goroutine([ln, ctx] { return ctx_outcome([&] { ln.accept(ctx); }); });
    }
    CHECK(got == "canceled");
    net::conn d = net::dial("tcp", ln.addr(), 10s);
    net::conn a = ln.accept();
    CHECK(a.remote_addr() == d.local_addr());
    ln.close();
  }
}

TEST_CASE("a plain thread's read and accept end with its context", "[ctx_io][thread]") {
  conn_pair p = connect_pair();
  REQUIRE(p.server);
  {
    auto cc = goro::with_cancel(goro::background());
    std::string got;
    net::conn c = p.client;
    goro::context ctx = cc.ctx;
    std::thread reader([&got, c, ctx] {
      got = ctx_outcome([&] {
        char b = 0;
        c.read(ctx, &b, 1);
      });
    });
    std::this_thread::sleep_for(50ms);  // let it block (if not yet, it sees the end at once)
    cc.cancel();
    reader.join();
    CHECK(got == "canceled");
    p.server.write("t");
    CHECK(read_one(p.client) == "t");
  }
  {
    net::listener ln = net::listen("tcp", "127.0.0.1:0");
    const auto t0 = goro::clock::now();
    auto tc = goro::with_timeout(goro::background(), 100ms);
    std::string got;
    goro::context ctx = tc.ctx;
    std::thread acceptor([&got, ln, ctx] { got = ctx_outcome([&] { ln.accept(ctx); }); });
    acceptor.join();
    const auto took = goro::clock::now() - t0;
    CHECK(got == "deadline_exceeded");
    CHECK(at_least(took, 95ms));
    CHECK(took < 15s);
    ln.close();
  }
  // The thread's wait still ends for the conn's own deadline and with data.
  {
    auto cc = goro::with_cancel(goro::background());
    p.client.set_read_deadline(std::chrono::steady_clock::now() + 100ms);
    char b = 0;
    CHECK_THROWS_AS(p.client.read(cc.ctx, &b, 1), net::timeout_error);
    p.client.clear_deadline();
    p.server.write("d");
    CHECK(p.client.read(cc.ctx, &b, 1) == 1);
    CHECK(b == 'd');
  }
}

TEST_CASE("a context already done throws at once, before the operation", "[ctx_io][done]") {
  conn_pair p = connect_pair();
  REQUIRE(p.server);
  auto cc = goro::with_cancel(goro::background());
  cc.cancel();
  // Data is waiting, yet the read throws and leaves it for the next read.
  p.server.write("q");
  char b = 0;
  CHECK(ctx_outcome([&] { p.client.read(cc.ctx, &b, 1); }) == "canceled");
  CHECK(ctx_outcome([&] { p.client.read_full(cc.ctx, &b, 1); }) == "canceled");
  CHECK(read_one(p.client) == "q");
  // A write writes nothing.
  CHECK(ctx_outcome([&] { p.client.write(cc.ctx, "never"); }) == "canceled");
  CHECK(ctx_outcome([&] { p.client.write_all(cc.ctx, std::string_view("never")); }) == "canceled");
  p.server.set_read_deadline(std::chrono::steady_clock::now() + 100ms);
  CHECK_THROWS_AS(p.server.read(&b, 1), net::timeout_error);
  p.server.clear_deadline();
  // An accept with a connection queued accepts nothing; the next one gets it.
  net::listener ln = net::listen("tcp", "127.0.0.1:0");
  net::conn d = net::dial("tcp", ln.addr(), 10s);
  CHECK(ctx_outcome([&] { ln.accept(cc.ctx); }) == "canceled");
  CHECK(ln.accept().remote_addr() == d.local_addr());
  // A deadline already past says deadline_exceeded.
  auto tc = goro::with_deadline(goro::background(), goro::clock::now() - 1s);
  CHECK(ctx_outcome([&] { p.client.read(tc.ctx, &b, 1); }) == "deadline_exceeded");
  // In a goroutine too.
  goro::context ctx = cc.ctx;
  net::conn c = p.client;
  CHECK(in_goroutine([c, ctx] {
          return ctx_outcome([&] {
            char x = 0;
            c.read(ctx, &x, 1);
          });
        }) == "canceled");
  ln.close();
}

TEST_CASE("a context ends a read waiting for another read's lock; the other reads on",
          "[ctx_io][lock]") {
  conn_pair p = connect_pair();
  REQUIRE(p.server);
  net::conn c = p.client;
  auto first = goro::make_chan<std::string>(1);
  goro::go([c, first] {
    first.send(ctx_outcome([&] {
      char b = 0;
      goro::context forever;
      if (c.read(forever, &b, 1) != 1 || b != 'f') throw std::runtime_error("bad read");
    }));
  });
  goro::sleep_for(50ms);  // the first read now holds the read lock, waiting in the poller
  auto cc = goro::with_cancel(goro::background());
  goro::context ctx = cc.ctx;
  std::string second;
  {
    cancel_later later(cc.cancel, 50ms);
    second = in_goroutine([c, ctx] {
      return ctx_outcome([&] {
        char b = 0;
        c.read(ctx, &b, 1);
      });
    });
  }
  CHECK(second == "canceled");
  CHECK_FALSE(first.try_recv());
  p.server.write("f");
  auto r = first.recv_for(20s);
  REQUIRE(r.value);
  CHECK(*r.value == "none");
}

TEST_CASE("reads racing with cancels lose no byte", "[ctx_io][race]") {
  conn_pair p = connect_pair();
  REQUIRE(p.server);
  const int rounds = 200 / kScale;
  net::conn c = p.client;
  net::conn s = p.server;
  // Each round: a read with a context that is cancelled at about the time a
  // byte is sent. Whatever the read missed, a later read gets, so the bytes
  // received are exactly the bytes sent (the writers race, so not in order).
  const std::string got = in_goroutine([c, s, rounds] {
    std::string seen;
    auto rng = seeded_bitgen();
    for (int i = 0; i < rounds; ++i) {
      auto cc = goro::with_cancel(goro::background());
      const auto d1 = std::chrono::microseconds(absl::Uniform<int>(rng, 0, 300));
      const auto d2 = std::chrono::microseconds(absl::Uniform<int>(rng, 0, 300));
      goro::go([cc, d1] {
        goro::sleep_for(d1);
        cc.cancel();
      });
      const char byte = static_cast<char>('a' + i % 26);
      goro::go([s, d2, byte] {
        goro::sleep_for(d2);
        s.write(&byte, 1);
      });
      char b = 0;
      try {
        while (c.read(cc.ctx, &b, 1) == 1) {
          seen += b;
          if (seen.size() == static_cast<std::size_t>(i) + 1) break;
        }
      } catch (const goro::context_error&) {
      }
    }
    // Collect what is still on its way.
    c.set_read_deadline(std::chrono::steady_clock::now() + 20s);
    char b = 0;
    while (seen.size() < static_cast<std::size_t>(rounds) && c.read(&b, 1) == 1) seen += b;
    return seen;
  });
  std::string want;
  for (int i = 0; i < rounds; ++i) want += static_cast<char>('a' + i % 26);
  std::string sorted = got;
  std::sort(sorted.begin(), sorted.end());
  std::sort(want.begin(), want.end());
  CHECK(sorted == want);
}

TEST_CASE("blocking(ctx, f): the caller stops waiting; f runs on and its result is dropped",
          "[ctx_blocking][cancel]") {
  auto g = std::make_shared<gate>();
  auto destroyed = std::make_shared<std::atomic<int>>(0);
  auto cc = goro::with_cancel(goro::background());
  goro::context ctx = cc.ctx;
  const auto t0 = goro::clock::now();
  std::string got;
  {
    cancel_later later(cc.cancel, 100ms);
    got = in_goroutine([ctx, g, destroyed] {
      return ctx_outcome([&] {
        counted r = goro::blocking(ctx, [g, destroyed] {
          g->pass();
          return counted(destroyed);
        });
      });
    });
  }
  CHECK(got == "canceled");
  CHECK(goro::clock::now() - t0 < 15s);
  CHECK(g->entered.load());
  CHECK_FALSE(g->left.load());  // still running: the caller did not wait for it
  g->open = true;
  CHECK(eventually([&] { return g->left.load() && destroyed->load() >= 1; }));
  // Moved-from temporaries count too; the result itself is destroyed exactly once more.
  CHECK(eventually([&] { return g.use_count() == 1; }));
  // A plain thread stops waiting in the same way.
  auto g2 = std::make_shared<gate>();
  const auto t1 = goro::clock::now();
  auto tc = goro::with_timeout(goro::background(), 100ms);
  CHECK(ctx_outcome([&] {
          goro::blocking(tc.ctx, [g2] {
            g2->pass();
            return std::string(1000, 's');
          });
        }) == "deadline_exceeded");
  const auto took = goro::clock::now() - t1;
  CHECK(at_least(took, 95ms));
  CHECK(took < 15s);
  CHECK(g2->entered.load());
  g2->open = true;
  CHECK(eventually([&] { return g2.use_count() == 1; }));
}

TEST_CASE("blocking(ctx, f): a call still queued when ctx ends never runs",
          "[ctx_blocking][queue]") {
  pool_options one(1);
  auto busy = std::make_shared<gate>();
  auto cc = goro::with_cancel(goro::background());
  goro::context ctx = cc.ctx;
  auto ran = std::make_shared<std::atomic<bool>>(false);
  // The only helper waits at `busy`.
  auto first = goro::make_chan<int>(1);
  goro::go([busy, first] {
    first.send(goro::blocking([busy] {
      busy->pass();
      return 1;
    }));
  });
  REQUIRE(eventually([&] { return busy->entered.load(); }));
  std::string got;
  {
    cancel_later later(cc.cancel, 50ms);
    got = in_goroutine(
        [ctx, ran] { return ctx_outcome([&] { goro::blocking(ctx, [ran] { *ran = true; }); }); });
  }
  CHECK(got == "canceled");
  busy->open = true;
  auto r = first.recv_for(20s);
  REQUIRE(r.value);
  CHECK(*r.value == 1);
  // The pool moves on; the dropped call never runs.
  CHECK(in_goroutine([] { return goro::blocking([] { return std::string("next"); }); }) == "next");
  goro::sleep_for(50ms);
  CHECK_FALSE(ran->load());
  CHECK(ran.use_count() == 1);  // and nobody holds it any more
}

TEST_CASE("blocking(ctx, f) otherwise behaves like blocking(f)", "[ctx_blocking][plain]") {
  auto cc = goro::with_cancel(goro::background());
  goro::context ctx = cc.ctx;
  // Already done: f never runs.
  auto ran = std::make_shared<std::atomic<bool>>(false);
  {
    auto done = goro::with_cancel(goro::background());
    done.cancel();
    CHECK(ctx_outcome([&] { goro::blocking(done.ctx, [ran] { *ran = true; }); }) == "canceled");
    goro::context dctx = done.ctx;
    CHECK(in_goroutine([dctx, ran] {
            return ctx_outcome([&] { goro::blocking(dctx, [ran] { *ran = true; }); });
          }) == "canceled");
    CHECK_FALSE(ran->load());
  }
  // Results, arguments and exceptions, from a goroutine and from a thread.
  CHECK(in_goroutine([ctx] {
          return goro::blocking(
              ctx, [](std::string a, int n) { return a + std::to_string(n); }, std::string("v"), 7);
        }) == "v7");
  CHECK(goro::blocking(
            ctx, [](int a) { return a * 2; }, 21) == 42);
  CHECK(ctx_outcome([&] { goro::blocking(ctx, [] { throw std::runtime_error("from f"); }); }) ==
        "other: from f");
  // From a thread, a context that can end runs f on a helper; one that cannot
  // (background) runs it right here.
  const auto here = std::this_thread::get_id();
  CHECK(goro::blocking(ctx, [] { return std::this_thread::get_id(); }) != here);
  CHECK(goro::blocking(goro::background(), [] { return std::this_thread::get_id(); }) == here);
  cc.cancel();
}

TEST_CASE("blocking(ctx, f) racing with cancels", "[ctx_blocking][race]") {
  const int rounds = 300 / kScale;
  std::atomic<int> ok{0}, canceled{0};
  auto ran = std::make_shared<std::atomic<int>>(0);
  const std::string got = in_goroutine([&ok, &canceled, ran, rounds] {
    auto rng = seeded_bitgen();
    for (int i = 0; i < rounds; ++i) {
      auto cc = goro::with_cancel(goro::background());
      const auto d = std::chrono::microseconds(absl::Uniform<int>(rng, 0, 200));
      goro::go([cc, d] {
        goro::sleep_for(d);
        cc.cancel();
      });
      try {
        std::vector<int> v = goro::blocking(cc.ctx, [ran] {
          ++*ran;
          return std::vector<int>(64, 1);
        });
        if (v.size() == 64) ++ok;
      } catch (const goro::context_error&) {
        ++canceled;
      }
    }
    return std::string("done");
  });
  CHECK(got == "done");
  CHECK(ok + canceled == rounds);
  CHECK(eventually([&] { return ran.use_count() == 1; }));
  CHECK(ran->load() >= ok.load());
  CHECK(ran->load() <= rounds);
}
