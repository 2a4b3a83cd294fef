// Lifetimes (issue 13, defect 2): nothing a user can write without a cast
// may leave goro holding a channel that is gone. Each pattern below builds a
// select case, or an iterator, from a temporary channel handle inside a
// helper and uses it after the helper returned; before cases owned a
// temporary channel, each was a heap use after free (AddressSanitizer
// reports it; a plain build may hang or crash). The patterns that cannot be
// made safe do not compile: tests/compile_fail/range_begin_on_temporary.cpp.
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <thread>
#include <utility>

using namespace std::chrono_literals;

namespace {

// noinline: the temporaries die before the select runs, whatever inlining does.
__attribute__((noinline)) auto timeout_case(std::chrono::milliseconds d) {
  return goro::case_recv(goro::after(d));  // Go's `case <-time.After(d):`
}

__attribute__((noinline)) auto done_case(bool* ran) {
  goro::cancelable_context cc = goro::with_cancel(goro::background());
  cc.cancel();
  return goro::case_recv(cc.ctx.done(), [ran] { *ran = true; });  // ctx dies here
}

__attribute__((noinline)) auto fresh_recv_case() {
  return goro::case_recv(goro::make_chan<int>());  // never ready, never closed
}

__attribute__((noinline)) auto fresh_send_case(int v) {
  return goro::case_send(goro::make_chan<int>(1), v);  // room for one: ready
}

__attribute__((noinline)) auto view_recv_case(const goro::chan<int>& c) {
  return goro::case_recv(goro::recv_chan<int>(c));  // a temporary view
}

__attribute__((noinline)) auto view_send_case(const goro::chan<int>& c, int v) {
  return goro::case_send(goro::send_chan<int>(c), v);
}

// Helpers that return const handles (some code bases make every return
// value const): the temporaries are const rvalues, and must be owned too.
__attribute__((noinline)) const goro::chan<int> const_chan_with(int v) {
  auto c = goro::make_chan<int>(1);
  c.send(v);
  return c;
}

__attribute__((noinline)) const goro::recv_chan<int> const_recv_view(int v) {
  return goro::recv_chan<int>(const_chan_with(v));
}

__attribute__((noinline)) const goro::send_chan<int> const_send_view() {
  return goro::send_chan<int>(goro::make_chan<int>(1));
}

__attribute__((noinline)) auto const_recv_case(int v) {
  return goro::case_recv(const_chan_with(v));
}

__attribute__((noinline)) auto const_view_recv_case(int v) {
  return goro::case_recv(const_recv_view(v));
}

__attribute__((noinline)) auto const_send_case(int v) {
  return goro::case_send(const_send_view(), v);
}

__attribute__((noinline)) auto const_chan_send_case(int v) {
  const goro::chan<int> c = goro::make_chan<int>(1);
  return goro::case_send(std::move(c), v);  // std::move of a const: a const rvalue
}

__attribute__((noinline)) auto timer_case() {
  goro::timer t(1ms);
  return goro::case_recv(t.chan());  // the timer stops here; its channel stays
}

// Runs f on a goroutine of a fresh runtime and on a plain thread.
template <class F>
void on_goroutine_and_thread(F f) {
  {
    goro::runtime_options options;
    options.workers = 2;
    goro::runtime rt(options);
    rt.go(f);
  }
  std::thread t(f);
  t.join();
}

}  // namespace

TEST_CASE("lifetimes: a case made from a temporary channel owns it", "[lifetimes][select]") {
  goro_test::failures fail;
  on_goroutine_and_thread([&] {
    // time.After in a helper: the timeout fires, and the select takes it.
    auto t = timeout_case(5ms);
    fail.expect(goro::select(t) == 0, "the timeout case was not chosen");
    auto t2 = timeout_case(1h);
    fail.expect(goro::select(goro::case_recv(goro::after(2ms)), t2) == 0,
                "an inline after() lost to an hour");

    // A done channel whose context is gone: it was closed, so it is ready.
    bool ran = false;
    auto d = done_case(&ran);
    fail.expect(goro::select(d) == 0 && ran, "the done case of a cancelled context was not chosen");

    // Channels that only the case refers to.
    auto r = fresh_recv_case();
    fail.expect(goro::select(r, goro::case_default()) == 1, "a fresh channel was ready");
    auto s = fresh_send_case(7);
    fail.expect(goro::select(s) == 0, "a send into a fresh buffered channel was not chosen");

    // Temporary directional views of a named channel.
    auto c = goro::make_chan<int>(1);
    auto vs = view_send_case(c, 42);
    fail.expect(goro::select(vs) == 0, "the send view's case was not chosen");
    std::optional<int> got;
    auto vr = view_recv_case(c);
    fail.expect(goro::select(vr) == 0, "the receive view's case was not chosen");
    got = c.try_recv().value;
    fail.expect(!got, "the value was received twice");

    // Const temporaries, from helpers returning const handles.
    std::optional<int> seen;
    auto cr = goro::case_recv(const_chan_with(0), [&seen](std::optional<int> x) { seen = x; });
    auto cr2 = const_recv_case(1);
    auto cr3 = const_view_recv_case(2);
    fail.expect(goro::select(cr) == 0 && seen == 0, "a const temporary chan's value was lost");
    fail.expect(goro::select(cr2) == 0, "a const temporary chan's case was not chosen");
    fail.expect(goro::select(cr3) == 0, "a const temporary recv_chan's case was not chosen");
    auto cs = const_send_case(3);
    auto cs2 = const_chan_send_case(4);
    fail.expect(goro::select(cs) == 0, "a const temporary send_chan's case was not chosen");
    fail.expect(goro::select(cs2) == 0, "a const temporary chan's send case was not chosen");

    // A timer's channel, the timer gone: never fires, never dangles.
    auto tc = timer_case();
    fail.expect(goro::select(tc, goro::case_default()) <= 1, "select returned nonsense");
  });
  const auto seen = fail.take();
  for (const auto& f : seen) UNSCOPED_INFO(f);
  CHECK(seen.empty());
}

TEST_CASE("lifetimes: a case of a temporary channel can be reused and copied",
          "[lifetimes][select]") {
  goro_test::failures fail;
  on_goroutine_and_thread([&] {
    auto s = fresh_send_case(1);
    auto copy = std::move(s);  // the owner moves with the case
    fail.expect(goro::select(copy) == 0, "first send not chosen");
    // The buffer (capacity 1) is full now: the same case is not ready again.
    fail.expect(goro::select(copy, goro::case_default()) == 1, "a full channel took a value");
  });
  const auto seen = fail.take();
  for (const auto& f : seen) UNSCOPED_INFO(f);
  CHECK(seen.empty());
}

TEST_CASE("lifetimes: select_set keeps the channels of temporary handles", "[lifetimes][select]") {
  goro_test::failures fail;
  on_goroutine_and_thread([&] {
    goro::select_set sel;
    sel.add_recv(goro::after(2ms));
    sel.add_recv(goro::make_chan<int>());
    sel.add_send(goro::make_chan<int>(), 1);  // unbuffered, nobody receives
    fail.expect(sel.select() == 0, "the timeout was not chosen");
  });
  const auto seen = fail.take();
  for (const auto& f : seen) UNSCOPED_INFO(f);
  CHECK(seen.empty());
}

TEST_CASE("lifetimes: ranging over a temporary channel keeps it alive", "[lifetimes][chan]") {
  goro_test::failures fail;
  on_goroutine_and_thread([&] {
    int n = 0;
    for (auto t : goro::after(1ms)) {  // range-for names its range: alive while it runs
      (void)t;
      ++n;
      break;
    }
    fail.expect(n == 1, "no time came from after()");
  });
  const auto seen = fail.take();
  for (const auto& f : seen) UNSCOPED_INFO(f);
  CHECK(seen.empty());
}
