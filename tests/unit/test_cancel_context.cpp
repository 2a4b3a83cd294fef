// goro::context (cancellation, deadlines, values, after_func) and the
// context-aware waits, from goroutines and plain threads. (test_context.cpp
// is the execution-context switch; this is Go's package context.)
//
// Timing: only lower bounds are exact ("not before the deadline"); upper
// bounds are generous (seconds) so that a loaded machine cannot fail them.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace goro_test;

/// A wait that cannot end by itself may block this long at most in a test
/// before it counts as hung.
constexpr auto kHung = 20s;

/// Whether ctx's done channel is closed now (a receive that does not wait).
bool is_done(const goro::context& ctx) {
  return ctx.done().try_recv().status == goro::op_status::closed;
}

/// Whether ctx's done channel closes within `limit`.
bool closes_within(const goro::context& ctx, goro::clock::duration limit) {
  return ctx.done().recv_for(limit).status == goro::op_status::closed;
}

/// Runs `wait` (which should throw context_error when ctx ends) while
/// another goroutine cancels ctx after a short delay; reports what happened.
template <class Wait>
void expect_canceled_by_other(failures& f, const std::string& what, Wait wait) {
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  goro::go([cancel = cancel] {
    goro::sleep_for(10ms);
    cancel();
  });
  try {
    wait(ctx);
    f.add(what + ": returned instead of throwing");
  } catch (const goro::context_error& e) {
    f.expect(e.code() == goro::context_errc::canceled, what + ": wrong code " + e.what());
  }
}

/// A weak reference to ctx's cancel state, to see when it is freed.
std::weak_ptr<goro::detail::cancel_state> state_of(const goro::context& ctx) {
  return goro::detail::context_access::node(ctx)->cancel;
}

}  // namespace

TEST_CASE("background is never done and has nothing", "[context]") {
  goro::context bg = goro::background();
  CHECK(!bg.done());  // a nil channel: its select case is never ready
  CHECK(!bg.err());
  CHECK(!bg.deadline());
  goro::context_key<int> key;
  CHECK(bg.value(key) == nullptr);
  CHECK(!goro::cause(bg));
  goro::context dflt;
  CHECK(!dflt.done());
  CHECK(!goro::todo().err());
}

TEST_CASE("cancel before anyone asked for done(): done() comes already closed", "[context]") {
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  CHECK(!ctx.err());
  cancel();
  cancel();  // harmless
  CHECK(ctx.err() == goro::context_errc::canceled);
  CHECK(ctx.err().message() == "context canceled");
  CHECK(is_done(ctx));
  CHECK(ctx.done() == ctx.done());  // made once
  CHECK(!ctx.done().recv().has_value());
  // The cause defaults to a context_error with err().
  std::exception_ptr c = goro::cause(ctx);
  REQUIRE(c);
  CHECK(what_of(c) == "context canceled");
}

TEST_CASE("done() asked before cancel closes on cancel, waking a select from another thread",
          "[context][select]") {
  SECTION("a goroutine waits, a plain thread cancels") {
    goro::runtime rt(workers(2));
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    std::atomic<int> chosen{-1};
    rt.go([&, ctx = ctx] {
      chosen = static_cast<int>(
          goro::select(goro::case_recv(ctx.done()), goro::case_recv(goro::after(kHung))));
    });
    std::thread t([cancel = cancel] {
      std::this_thread::sleep_for(20ms);
      cancel();
    });
    t.join();
    rt.wait();
    CHECK(chosen == 0);
    CHECK(ctx.err() == goro::context_errc::canceled);
  }
  SECTION("a plain thread waits, a goroutine cancels") {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::runtime rt(workers(2));
    rt.go([cancel = cancel] {
      goro::sleep_for(20ms);
      cancel();
    });
    const std::size_t i =
        goro::select(goro::case_recv(ctx.done()), goro::case_recv(goro::after(kHung)));
    CHECK(i == 0);
    CHECK(ctx.err() == goro::context_errc::canceled);
  }
}

TEST_CASE("a timeout closes done() no sooner than its deadline, with deadline_exceeded",
          "[context][deadline]") {
  on_thread_and_goroutine([](failures& f) {
    const auto t0 = goro::clock::now();
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 50ms);
    f.expect(ctx.deadline().has_value(), "no deadline");
    f.expect(ctx.deadline() && *ctx.deadline() >= t0 + 50ms, "deadline too early");
    f.expect(!ctx.err() || goro::clock::now() >= *ctx.deadline(), "done before its deadline");
    f.expect(closes_within(ctx, kHung), "done() did not close");
    const auto took = goro::clock::now() - t0;
    f.expect(at_least(took, 50ms), "closed before the deadline");
    f.expect(took < 10s, "closed far too late");
    f.expect(ctx.err() == goro::context_errc::deadline_exceeded, "err() is not deadline_exceeded");
    f.expect(ctx.err().message() == "context deadline exceeded", "message");
    cancel();  // after the deadline: changes nothing
    f.expect(ctx.err() == goro::context_errc::deadline_exceeded, "cancel changed err()");
  });
}

TEST_CASE("deadlines: inherited when earlier, already passed means done at once",
          "[context][deadline]") {
  auto [parent, pcancel] = goro::with_timeout(goro::background(), 1h);
  auto [later, lcancel] = goro::with_timeout(parent, 2h);
  CHECK(later.deadline() == parent.deadline());
  auto [earlier, ecancel] = goro::with_timeout(parent, 30min);
  CHECK(earlier.deadline() < parent.deadline());
  auto [past, xcancel] = goro::with_deadline(parent, goro::clock::now() - 1s);
  CHECK(past.err() == goro::context_errc::deadline_exceeded);
  CHECK(is_done(past));
  CHECK(!parent.err());
  CHECK(goro::detail::context_child_count(parent) == 2);  // later, earlier; past left at once
  auto v = goro::with_value(parent, goro::context_key<int>(), 1);
  CHECK(v.deadline() == parent.deadline());
  pcancel();
  CHECK(later.err() == goro::context_errc::canceled);
  CHECK(earlier.err() == goro::context_errc::canceled);
}

TEST_CASE("cancelling a parent reaches 1,000 descendants and leaves no registrations",
          "[context][tree]") {
  auto [root, cancel_root] = goro::with_cancel(goro::background());
  std::vector<goro::cancelable_context> all;
  std::vector<goro::context> level{root};
  // 10 children of root, 10 of each, 10 of each: 1,110 descendants, some
  // through value contexts (which share their parent's cancellation).
  goro::context_key<int> depth("depth");
  for (int d = 1; d <= 3; ++d) {
    std::vector<goro::context> next;
    for (const goro::context& p : level) {
      for (int i = 0; i < 10; ++i) {
        goro::context base = i % 3 == 0 ? goro::with_value(p, depth, d) : p;
        all.push_back(i % 2 == 0 ? goro::with_cancel(base) : goro::with_timeout(base, 1h));
        next.push_back(all.back().ctx);
      }
    }
    level = std::move(next);
  }
  REQUIRE(all.size() == 1110);
  CHECK(goro::detail::context_child_count(root) == 10);
  // Some of them have been asked for done() (and have waiters), some not.
  goro::runtime rt(workers(2));
  std::atomic<int> woke{0};
  for (std::size_t i = 0; i < all.size(); i += 37) {
    rt.go([&woke, ctx = all[i].ctx] {
      if (ctx.done().recv_for(kHung).status == goro::op_status::closed) ++woke;
    });
  }
  cancel_root();
  rt.wait();
  CHECK(woke == static_cast<int>((all.size() + 36) / 37));
  std::size_t not_canceled = 0, not_closed = 0, registered = 0;
  for (auto& c : all) {
    if (c.ctx.err() != goro::context_errc::canceled) ++not_canceled;
    if (!is_done(c.ctx)) ++not_closed;
    registered += goro::detail::context_child_count(c.ctx);
  }
  CHECK(not_canceled == 0);
  CHECK(not_closed == 0);
  CHECK(registered == 0);
  CHECK(goro::detail::context_child_count(root) == 0);
}

TEST_CASE("a child cancelled first, or dropped unobserved, unregisters from its parent",
          "[context][tree]") {
  auto [root, cancel_root] = goro::with_cancel(goro::background());
  for (int i = 0; i < 1000; ++i) {
    auto [c, cancel] = goro::with_timeout(root, 1h);
    auto [grandchild, gcancel] = goro::with_cancel(c);
    cancel();
    CHECK(grandchild.err() == goro::context_errc::canceled);
  }
  CHECK(goro::detail::context_child_count(root) == 0);
  for (int i = 0; i < 1000; ++i) {
    auto child = goro::with_cancel(root);  // never cancelled, nothing observes it
  }
  CHECK(goro::detail::context_child_count(root) == 0);
  // One whose done channel is still held stays registered, and still closes
  // with its parent even though no context handle of it is left (as in Go).
  goro::recv_chan<goro::done_t> orphan_done = goro::with_cancel(root).ctx.done();
  CHECK(goro::detail::context_child_count(root) == 1);
  cancel_root();
  CHECK(orphan_done.try_recv().status == goro::op_status::closed);
  CHECK(goro::detail::context_child_count(root) == 0);
  // A child of a context that is already done is done from birth.
  auto [late, late_cancel] = goro::with_cancel(root);
  CHECK(late.err() == goro::context_errc::canceled);
  CHECK(goro::detail::context_child_count(root) == 0);
}

TEST_CASE("a deadline's timer is freed on cancel, and when nothing can observe it",
          "[context][deadline]") {
  std::weak_ptr<goro::detail::cancel_state> w;
  {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
    w = state_of(ctx);
    cancel();
  }
  CHECK(w.expired());  // the timer no longer holds it
  {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
    w = state_of(ctx);
  }
  CHECK(w.expired());  // dropped uncancelled, unobserved: timer stopped too
  // Observed through its done channel: kept (by the timer and the parent)
  // until it ends, then freed.
  goro::recv_chan<goro::done_t> d;
  {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    {
      auto [ctx, cancel] = goro::with_timeout(parent, 1h);
      w = state_of(ctx);
      d = ctx.done();
    }
    CHECK(!w.expired());
    cancel_parent();
    CHECK(d.try_recv().status == goro::op_status::closed);
    CHECK(w.expired());
  }
  // Held by nothing but its timer and a done channel: the deadline still
  // closes the channel, then the state goes.
  {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 30ms);
    w = state_of(ctx);
    d = ctx.done();
  }
  CHECK(d.recv_for(kHung).status == goro::op_status::closed);
  CHECK(eventually([&] { return w.expired(); }));
}

TEST_CASE("values: typed keys compared by identity, nearest wins", "[context][value]") {
  static const goro::context_key<std::string> user("user");
  static const goro::context_key<std::string> other("other");  // same type, other key
  static const goro::context_key<int> count("count");
  goro::context c1 = goro::with_value(goro::background(), user, "ada");
  goro::context c2 = goro::with_value(c1, count, 7);
  auto [c3, cancel] = goro::with_cancel(c2);
  goro::context c4 = goro::with_value(c3, user, std::string("grace"));
  REQUIRE(c4.value(user) != nullptr);
  CHECK(*c4.value(user) == "grace");
  CHECK(*c3.value(user) == "ada");
  CHECK(c4.value(other) == nullptr);
  REQUIRE(c4.value(count) != nullptr);
  CHECK(*c4.value(count) == 7);
  CHECK(std::string(user.name()) == "user");
  CHECK(user.id() != other.id());
  CHECK(user.id() != count.id());  // keys of different types never share an identity
  // The first key made of each of two new types: still distinct.
  goro::context_key<double> first_double;
  goro::context_key<char> first_char;
  CHECK(first_double.id() != first_char.id());
  goro::context with_double = goro::with_value(goro::background(), first_double, 2.5);
  CHECK(with_double.value(first_char) == nullptr);
  REQUIRE(with_double.value(first_double) != nullptr);
  CHECK(*with_double.value(first_double) == 2.5);
  // Values outlive the handles of the contexts that stored them.
  const std::string* p = c4.value(user);
  c1 = c2 = goro::context();
  CHECK(*c4.value(count) == 7);
  CHECK(*p == "grace");
  // without_cancel keeps values, drops cancellation and deadline.
  goro::context detached = goro::without_cancel(c4);
  cancel();
  CHECK(c4.err() == goro::context_errc::canceled);
  CHECK(!detached.err());
  CHECK(!detached.done());
  CHECK(*detached.value(count) == 7);
}

TEST_CASE("the cause given to cancel reaches err's exception and descendants", "[context][cause]") {
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  auto [child, child_cancel] = goro::with_cancel(ctx);
  CHECK(!goro::cause(ctx));
  cancel(std::make_exception_ptr(std::runtime_error("client went away")));
  CHECK(child.err() == goro::context_errc::canceled);
  CHECK(what_of(goro::cause(child)) == "client went away");
  auto c = goro::make_chan<int>();
  try {
    c.recv(child);
    FAIL("recv on a cancelled context returned");
  } catch (const goro::context_error& e) {
    CHECK(e.code() == goro::context_errc::canceled);
    CHECK(what_of(e.cause()) == "client went away");
  }
  // A deadline's cause is deadline_exceeded itself.
  auto [late, late_cancel] = goro::with_deadline(goro::background(), goro::clock::now());
  CHECK(what_of(goro::cause(late)) == "context deadline exceeded");
}

TEST_CASE("after_func runs f in its own goroutine once the context is done; stop prevents it",
          "[context][after_func]") {
  goro::runtime rt(workers(2));
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  std::atomic<int> ran{0};
  auto kept = goro::after_func(ctx, [&] {
    if (goro::in_goroutine()) ran += 1;
  });
  auto stopped = goro::after_func(ctx, [&] { ran += 100; });
  CHECK(stopped.stop());
  CHECK(!stopped.stop());  // the second stop does nothing
  CHECK(ran == 0);
  cancel();
  CHECK(eventually([&] { return ran.load() == 1; }));
  CHECK(!kept.stop());  // already started
  // On a context already done: runs at once (in a goroutine).
  auto again = goro::after_func(ctx, [&] { ran += 10; });
  CHECK(eventually([&] { return ran.load() == 11; }));
  CHECK(!again.stop());
  // On a context that can never be done: never runs; stop says it prevented it.
  auto never = goro::after_func(goro::background(), [&] { ran += 1000; });
  CHECK(never.stop());
  // A deadline starts it too.
  auto [t, tcancel] = goro::with_timeout(goro::background(), 10ms);
  goro::after_func(t, [&] { ran += 10000; });
  CHECK(eventually([&] { return ran.load() == 10011; }));
}

TEST_CASE("context-aware waits end with canceled, from goroutines and threads",
          "[context][waits]") {
  on_thread_and_goroutine([](failures& f) {
    auto unbuffered = goro::make_chan<int>();
    expect_canceled_by_other(f, "send", [&](const goro::context& ctx) { unbuffered.send(ctx, 1); });
    expect_canceled_by_other(f, "recv", [&](const goro::context& ctx) { unbuffered.recv(ctx); });
    goro::chan<int> nil;
    expect_canceled_by_other(f, "recv on nil", [&](const goro::context& ctx) { nil.recv(ctx); });
    expect_canceled_by_other(f, "select", [&](const goro::context& ctx) {
      goro::select(ctx, goro::case_recv(unbuffered), goro::case_send(unbuffered, 2));
    });
    expect_canceled_by_other(f, "sleep_for",
                             [&](const goro::context& ctx) { goro::sleep_for(ctx, kHung); });
    goro::mutex m;
    m.lock();
    expect_canceled_by_other(f, "mutex::lock", [&](const goro::context& ctx) { m.lock(ctx); });
    m.unlock();
    f.expect(m.try_lock(), "the mutex was left locked by a cancelled lock()");
    m.unlock();
    goro::semaphore s(0);
    expect_canceled_by_other(f, "semaphore::acquire",
                             [&](const goro::context& ctx) { s.acquire(ctx); });
    s.release();
    f.expect(s.try_acquire(), "a release after a cancelled acquire lost its permit");
    goro::wait_group wg;
    wg.add(1);
    expect_canceled_by_other(f, "wait_group::wait",
                             [&](const goro::context& ctx) { wg.wait(ctx); });
    wg.done();
    wg.wait();
    f.expect(unbuffered.try_recv().status == goro::op_status::empty,
             "a cancelled send delivered its value");
  });
}

TEST_CASE("context-aware waits complete normally while the context lives", "[context][waits]") {
  on_thread_and_goroutine([](failures& f) {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
    auto c = goro::make_chan<int>();
    goro::semaphore s(0);
    goro::mutex m;
    goro::wait_group wg;
    m.lock();
    wg.add(1);
    goro::go([c, &s, &m, &wg, &f] {
      goro::sleep_for(5ms);
      c.send(41);
      f.expect(c.recv() == 42, "did not get 42 back");
      s.release();
      m.unlock();
      wg.done();
    });
    goro::recv_chan<int> in = c;  // the directional views have the context forms too
    goro::send_chan<int> out = c;
    f.expect(in.recv(ctx) == 41, "recv(ctx) lost the value");
    out.send(ctx, 42);
    s.acquire(ctx);
    m.lock(ctx);
    wg.wait(ctx);
    m.unlock();
    goro::sleep_for(ctx, 1ms);
    int got = 0;
    c.close();
    goro::select(ctx, goro::case_recv(c, [&](std::optional<int> v) { got = v ? *v : -1; }));
    f.expect(got == -1, "select(ctx) did not see the close");
    // Every wait above left a waiter on ctx.done() for a while; each must be
    // gone (a stale one would be touched here, on a dead stack).
    cancel();
    f.expect(is_done(ctx), "not done after cancel");
  });
}

TEST_CASE("a context already done fails a wait without attempting it", "[context][waits]") {
  auto [ctx, cancel] = goro::with_cancel(goro::background());
  cancel();
  auto c = goro::make_chan<int>(1);
  CHECK_THROWS_AS(c.send(ctx, 1), goro::context_error);
  CHECK(c.size() == 0);
  c.send(2);
  CHECK_THROWS_AS(c.recv(ctx), goro::context_error);
  CHECK(c.size() == 1);
  goro::mutex m;
  CHECK_THROWS_AS(m.lock(ctx), goro::context_error);
  CHECK(m.try_lock());
  m.unlock();
  CHECK_THROWS_AS(goro::select(ctx, goro::case_default()), goro::context_error);
  CHECK_THROWS_AS(goro::sleep_for(ctx, 0ms), goro::context_error);
  goro::wait_group wg;
  CHECK_THROWS_AS(wg.wait(ctx), goro::context_error);
}

TEST_CASE("a deadline ends a context-aware wait with deadline_exceeded", "[context][waits]") {
  on_thread_and_goroutine([](failures& f) {
    const auto t0 = goro::clock::now();  // before the context: its deadline is later
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 30ms);
    try {
      goro::make_chan<int>().recv(ctx);
      f.add("recv returned");
    } catch (const goro::context_error& e) {
      f.expect(e.code() == goro::context_errc::deadline_exceeded, "code");
    }
    f.expect(at_least(goro::clock::now() - t0, 30ms), "ended before the deadline");
    f.expect(goro::clock::now() >= *ctx.deadline(), "ended before ctx.deadline()");
  });
}

TEST_CASE("concurrent cancels, waits and releases keep permits and wake everyone",
          "[context][stress]") {
  const int rounds = scaled(200, 50, 40);
  goro::runtime rt(workers(3, 64 * 1024));
  goro::semaphore s(0);
  std::atomic<int> acquired{0}, canceled{0};
  for (int r = 0; r < rounds; ++r) {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::wait_group wg;
    for (int i = 0; i < 4; ++i) {
      wg.add(1);
      rt.go([&, ctx = ctx] {
        try {
          s.acquire(ctx);
          ++acquired;
        } catch (const goro::context_error&) {
          ++canceled;
        }
        wg.done();
      });
    }
    // Two releases race with two cancels from two threads.
    std::thread a([&s] { s.release(); });
    std::thread b([cancel = cancel] { cancel(); });
    std::thread c([cancel = cancel] { cancel(); });
    s.release();
    a.join();
    b.join();
    c.join();
    wg.wait();
  }
  // Every permit released was either acquired or is still there.
  int left = 0;
  while (s.try_acquire()) ++left;
  CHECK(acquired + left == 2 * rounds);
  CHECK(acquired + canceled == 4 * rounds);
}

TEST_CASE("a chain 20,000 deep is cancelled and freed on a goroutine's stack", "[context][tree]") {
  goro::runtime rt(workers(1));
  std::atomic<bool> ok_cancelled{false}, ok_dropped{false};
  rt.go([&] {
    constexpr int depth = 20000;
    goro::context_key<int> key;
    {
      auto [root, cancel] = goro::with_cancel(goro::background());
      goro::context c = root;
      for (int i = 0; i < depth; ++i) {
        c = i % 2 == 0 ? goro::with_cancel(c).ctx : goro::with_value(c, key, i);
      }
      cancel();  // reaches the leaf without recursion
      ok_cancelled = c.err() == goro::context_errc::canceled && *c.value(key) == depth - 1;
    }
    {
      auto [root, cancel] = goro::with_cancel(goro::background());
      {
        goro::context c = root;
        for (int i = 0; i < depth; ++i) c = goro::with_timeout(c, 1h).ctx;
      }  // dropped uncancelled, from the leaf up
      ok_dropped = goro::detail::context_child_count(root) == 0;
    }
  });
  rt.wait();
  CHECK(ok_cancelled);
  CHECK(ok_dropped);
}

TEST_CASE("a deadline made on a runtime that ends first: cancel still works",
          "[context][deadline]") {
  goro::context stash;
  goro::cancel_func stash_cancel;
  {
    goro::runtime rt(workers(1));
    rt.go([&] {
      goro::cancelable_context r = goro::with_timeout(goro::background(), 1h);
      stash = r.ctx;
      stash_cancel = r.cancel;
    });
  }  // the runtime's timer heap is gone; the deadline let go of it
  CHECK(!stash.err());
  stash_cancel();
  CHECK(stash.err() == goro::context_errc::canceled);
  CHECK(is_done(stash));
}
