// Large values and goroutine stacks (issue 13, defect 7). A 1 MiB element
// goes through every channel operation on a goroutine with the default
// 256 KiB stack: goro's own code keeps a large element on the heap
// (detail/value_box.hpp), so only what the user's own frames hold counts.
// The test's frames hold the elements on the heap too (make_unique), and
// receive into heap objects (`new R(c.recv())`: a returned std::optional<T>
// is constructed in place). Before the fix, send(const T&) copied the element into its own
// frame, and a select's cases and a range-for's iterator held one in the
// caller's frame: each stepped 1 MiB below a 256 KiB stack, a crash (or a
// silent write into another stack). And a user frame that overshoots the
// stack by a lot is reported by goro's overflow message: the guard is
// 256 KiB wide (it was 16 KiB).
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <signal.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

/// 1 MiB, four times the default stack.
struct big {
  std::array<std::uint32_t, (1u << 20) / sizeof(std::uint32_t)> words;
};
static_assert(sizeof(big) == (1u << 20), "big is 1 MiB");

std::unique_ptr<big> make_big(std::uint32_t seed) {
  auto b = std::make_unique<big>();
  for (std::size_t i = 0; i < b->words.size(); ++i) {
    b->words[i] = seed + static_cast<std::uint32_t>(i);
  }
  return b;
}

bool is_big(const big& b, std::uint32_t seed) {
  for (std::size_t i = 0; i < b.words.size(); i += 4097) {
    if (b.words[i] != seed + static_cast<std::uint32_t>(i)) return false;
  }
  return b.words.back() == seed + static_cast<std::uint32_t>(b.words.size() - 1);
}

/// What f() returns, made in place on the heap (`new R(f())` constructs
/// from the prvalue directly; std::make_unique would first materialize it in
/// this frame).
template <class F>
auto on_heap(F f) {
  using R = decltype(f());
  return std::unique_ptr<R>(new R(f()));
}

/// Runs f on a goroutine of a runtime with the default stack size.
template <class F>
void on_default_stack(F f) {
  goro::runtime_options options;
  options.workers = 2;
  goro::runtime rt(options);
  REQUIRE(rt.options().stack_size == 256 * 1024);
  rt.go(f);
}

}  // namespace

TEST_CASE("large values: send, try_send, send_for and recv of a 1 MiB element", "[large]") {
  goro_test::failures fail;
  on_default_stack([&] {
    auto c = goro::make_chan<big>(2);  // buffered: the sends complete alone
    const auto one = make_big(1);
    c.send(*one);  // const T&: goro copies, not onto this stack
    fail.expect(c.try_send(*one) == goro::op_status::ok, "try_send(const T&) failed");
    auto got = on_heap([&] { return c.recv(); });
    fail.expect(got->has_value() && is_big(**got, 1), "the first value is wrong");
    auto r = on_heap([&] { return c.recv_for(1s); });
    fail.expect(r->value.has_value() && is_big(*r->value, 1), "recv_for got a wrong value");
    fail.expect(c.send_for(*one, 1s) == goro::op_status::ok, "send_for(const T&) failed");
    fail.expect(c.send_until(*one, goro::clock::now() + 1s) == goro::op_status::ok,
                "send_until(const T&) failed");
    auto t = on_heap([&] { return c.try_recv(); });
    fail.expect(t->value.has_value() && is_big(*t->value, 1), "try_recv got a wrong value");
    c.send(std::move(*make_big(2)));  // T&&: never copied
    c.close();
    int n = 0;
    for (const big& v : c) {  // the iterator's value is on the heap
      fail.expect(is_big(v, n == 0 ? 1 : 2), "range got a wrong value");
      ++n;
    }
    fail.expect(n == 2, "range got " + std::to_string(n) + " values, want 2");
  });
  const auto seen = fail.take();
  for (const auto& f : seen) UNSCOPED_INFO(f);
  CHECK(seen.empty());
}

TEST_CASE("large values: an unbuffered 1 MiB element between goroutines, and select",
          "[large][select]") {
  goro_test::failures fail;
  on_default_stack([&] {
    auto c = goro::make_chan<big>();
    auto back = goro::make_chan<big>();
    goro::go([c, back] {
      const auto mine = make_big(7);
      c.send(*mine);  // blocks until taken: the copy waits, on the heap
      auto v = on_heap([&] { return back.recv(); });
      back.send(std::move(**v));  // return it for the select below
    });
    auto got = on_heap([&] { return c.recv(); });
    fail.expect(got->has_value() && is_big(**got, 7), "the unbuffered value is wrong");

    // A select whose send case holds a 1 MiB value and whose receive case a
    // 1 MiB slot; both live in this frame's temporaries.
    const auto out = make_big(9);
    bool sent = false;
    const std::size_t i = goro::select(goro::case_send(back, *out, [&] { sent = true; }),
                                       goro::case_recv(c, [&](std::optional<big>&&) {}));
    fail.expect(i == 0 && sent, "the send case was not chosen");
    bool received = false;
    goro::select(goro::case_recv(
        back, [&](std::optional<big>&& v) { received = v.has_value() && is_big(*v, 9); }));
    fail.expect(received, "the receive case got a wrong value");

    // select_set: its cases are on the heap; add_send makes its value there.
    auto buf = goro::make_chan<big>(1);
    goro::select_set sel;
    sel.add_send(buf, *out);
    sel.add_recv(buf, [&](std::optional<big>&& v) { received = v && is_big(*v, 9); });
    received = false;
    fail.expect(sel.select() == 0, "select_set did not send first");
    fail.expect(sel.select() == 1 && received, "select_set did not receive the value");
  });
  const auto seen = fail.take();
  for (const auto& f : seen) UNSCOPED_INFO(f);
  CHECK(seen.empty());
}

TEST_CASE("large values: a frame overshooting a goroutine's stack is reported as an overflow",
          "[large][stack][death]") {
  goro_test::check_goroutine_overflow("bigframe");
}
