// api_tour: one program that uses every part of goro's public API and checks
// the results, without Catch2 (which needs exceptions).
//
// It serves twice (see tests/strict/CMakeLists.txt):
//  - compiled, never run, under the strict warning sets: a header warns only
//    where a template is instantiated, so the headers alone are not enough;
//    this file instantiates every public template;
//  - built and run with -fno-exceptions and with -fno-rtti, to show that goro
//    works there: it prints "api_tour ok" when every check passed.
//
// `api_tour errors` instead checks how goro reports misuse: with exceptions,
// each error is caught with its message; without, each one is run in a child
// process that must die of SIGABRT after printing "goro: fatal error: <message>".
//
// Code added here must stay clean under every flag set in strict_flags.cmake.
#if defined(GORO_TOUR_SINGLE_HEADER)
#include "goro.hpp"
#elif !defined(GORO_TOUR_HEADERS_INCLUDED)
#include <goro/goro.hpp>
#endif

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tour {
namespace {

using namespace std::chrono_literals;

std::atomic<int> failures{0};

void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("api_tour: FAILED: %s\n", what);
    ++failures;
  }
}

void producer(goro::send_chan<int> out, int n) {
  for (int i = 1; i <= n; ++i) out.send(i);
  out.close();
}

void channels() {
  // Unbuffered pipeline with range-for, a move-only element, directions.
  auto numbers = goro::make_chan<int>();
  goro::go(producer, numbers, 100);
  long sum = 0;
  for (int v : goro::recv_chan<int>(numbers)) sum += v;
  check(sum == 5050, "range over a channel");

  auto boxes = goro::make_chan<std::unique_ptr<int>>(2);
  boxes.send(std::make_unique<int>(7));
  std::optional<std::unique_ptr<int>> box = boxes.recv();
  check(box.has_value() && **box == 7, "move-only element");

  auto buf = goro::make_chan<std::string>(1);
  check(buf.capacity() == 1 && buf.size() == 0, "capacity and size");
  check(buf.try_send(std::string("a")) == goro::op_status::ok, "try_send into room");
  check(buf.try_send(std::string("b")) == goro::op_status::full, "try_send when full");
  check(buf.send_for(std::string("c"), 1ms) == goro::op_status::timeout, "send_for times out");
  goro::recv_result<std::string> r = buf.try_recv();
  check(r && r.value == std::string("a"), "try_recv");
  check(buf.try_recv().status == goro::op_status::empty, "try_recv when empty");
  check(buf.recv_for(1ms).status == goro::op_status::timeout, "recv_for times out");
  check(buf.recv_until(goro::clock::now() + 1ms).status == goro::op_status::timeout,
        "recv_until times out");
  buf.close();
  check(!buf.recv().has_value(), "recv on a closed channel");

  goro::chan<int> nil;
  check(!nil && nil.try_send(1) == goro::op_status::full, "nil channel never ready");
  check(numbers != nil, "channel comparison");
}

void selects() {
  auto a = goro::make_chan<int>(1);
  auto b = goro::make_chan<int>(1);
  int got = 0;
  b.send(2);
  goro::select(goro::case_recv(a, [&](std::optional<int> v) { got = v.value_or(-1); }),
               goro::case_recv(b, [&](std::optional<int> v) { got = v.value_or(-1) * 10; }));
  check(got == 20, "select receives from the ready case");

  bool defaulted = false;
  goro::select(goro::case_recv(a), goro::case_default([&] { defaulted = true; }));
  check(defaulted, "select takes the default when nothing is ready");

  bool sent = false;
  goro::select(goro::case_send(a, 5, [&] { sent = true; }));
  check(sent && a.recv() == 5, "select sends");

  goro::select_set set;
  const std::size_t rx = set.add_recv(
      b, [&](std::size_t i, std::optional<int> v) { got = static_cast<int>(i) + v.value_or(0); });
  const std::size_t tx = set.add_send(a, 9);
  set.disable(rx);
  check(!set.enabled(rx) && set.enabled(tx), "disable");
  check(set.select() == tx && a.recv() == 9, "select_set sends");
  check(!set.enabled(tx), "a sent case is off");
  set.rearm_send<int>(tx, 11);
  set.enable(rx);
  b.send(3);
  set.disable(tx);
  check(set.select() == rx && got == 3, "select_set receives");
  set.disable(rx);
  set.set_default();
  check(set.select() == goro::select_set::default_index, "select_set default");
  check(set.size() == 2, "select_set size");
}

void sync_and_runtime() {
  goro::runtime_options options;
  options.workers = 2;
  options.stack_size = 64 * 1024;
  goro::runtime rt(options);
  check(rt.workers() == 2, "runtime workers");

  goro::mutex mu;
  goro::wait_group wg;
  goro::semaphore slots(2);
  goro::once_flag once;
  std::atomic<int> inits{0};
  long counter = 0;
  constexpr int kGoroutines = 50;
  wg.add(kGoroutines);
  for (int i = 0; i < kGoroutines; ++i) {
    rt.go([&] {
      goro::call_once(once, [&] { inits.fetch_add(1); });
      slots.acquire();
      goro::yield();
      slots.release();
      mu.lock();
      counter += 2;
      mu.unlock();
      check(goro::in_goroutine() && goro::goroutine_id() != 0, "goroutine identity");
      check(goro::runtime::current() == &rt, "runtime::current");
      wg.done();
    });
  }
  wg.wait();
  rt.wait();
  check(counter == 2 * kGoroutines && inits.load() == 1, "mutex, semaphore, once");
  check(wg.count() == 0 && rt.num_goroutines() == 0, "everything finished");
  check(mu.try_lock() && slots.try_acquire(), "try_lock, try_acquire");
  mu.unlock();
  slots.release();
  check(!goro::in_goroutine(), "main is not a goroutine");
  check(goro::num_goroutines() < 1000, "num_goroutines");
}

void timers() {
  const goro::clock::time_point start = goro::clock::now();
  goro::sleep_for(1ms);
  goro::sleep_until(goro::clock::now() + 1ms);
  check(goro::after(1ms).recv().has_value(), "after");

  goro::timer t(1h);
  check(t.stop(), "stop a pending timer");
  t.reset(1ms);
  check(t.chan().recv().has_value(), "reset timer fires");

  goro::ticker tick(1ms);
  check(tick.chan().recv().has_value() && tick.chan().recv().has_value(), "ticker ticks");
  tick.reset(2ms);
  check(tick.chan().recv().has_value(), "reset ticker ticks");
  tick.stop();
  check(goro::clock::now() - start >= 5ms, "time passes");
}

void contexts() {
  goro::context_key<int> key("tour.key");
  goro::cancelable_context cc = goro::with_cancel(goro::background());
  const goro::context valued = goro::with_value(cc.ctx, key, 42);
  const int* v = valued.value(key);
  check(v != nullptr && *v == 42, "with_value");

  auto c = goro::make_chan<int>(1);
  c.send(cc.ctx, 1);
  check(c.recv(cc.ctx) == 1, "context-aware send and recv");
  goro::mutex mu;
  mu.lock(cc.ctx);
  mu.unlock();
  goro::semaphore sem(1);
  sem.acquire(cc.ctx);
  sem.release();
  goro::wait_group wg;
  wg.wait(cc.ctx);

  goro::cancelable_context timed = goro::with_timeout(cc.ctx, 1ms);
  goro::select(goro::case_recv(timed.ctx.done()));
  check(timed.ctx.err() == goro::context_errc::deadline_exceeded, "with_timeout");
  check(timed.ctx.deadline().has_value(), "deadline");
  timed.cancel();

  std::atomic<bool> ran{false};
  goro::after_func_handle h = goro::after_func(cc.ctx, [&ran] { ran.store(true); });
  const goro::context detached = goro::without_cancel(cc.ctx);
  cc.cancel();
  check(cc.ctx.err() == goro::context_errc::canceled && !detached.err(), "cancel");
  check(goro::cause(cc.ctx) != nullptr, "cause: the context's error when none was given");
  check(!h.stop(), "after_func already started");
  for (int i = 0; i < 1000 && !ran.load(); ++i) goro::sleep_for(1ms);
  check(ran.load(), "after_func runs");
}

void groups() {
  goro::errgroup g(goro::background());
  g.set_limit(4);
  std::atomic<int> sum{0};
  for (int i = 1; i <= 10; ++i) {
    g.go([&sum, i](const goro::context&) { sum.fetch_add(i); });
  }
  g.go([]() -> std::error_code { return {}; });
  g.go([] { return std::exception_ptr(); });
  g.wait();
  check(sum.load() == 55 && g.context().err() == goro::context_errc::canceled, "errgroup members");

  goro::errgroup failing;
  failing.go([]() -> std::error_code { return std::make_error_code(std::errc::invalid_argument); });
  check(failing.wait_error() != nullptr, "errgroup failure");
}

void blocking_and_io() {
  check(goro::blocking([](int x) { return x * 2; }, 21) == 42, "blocking from a thread");
  goro::runtime rt;
  std::atomic<int> got{0};
  rt.go([&got] { got.store(goro::blocking([] { return 7; })); });
  rt.wait();
  check(got.load() == 7, "blocking from a goroutine");
  goro::blocking_options options = goro::get_blocking_options();
  goro::set_blocking_options(options);

  int fds[2];
  if (pipe(fds) != 0) {
    check(false, "pipe");
    return;
  }
  check(goro::wait_readable(fds[0], 1ms) == goro::io_status::timed_out, "wait_readable times out");
  check(goro::wait_writable(fds[1]) == goro::io_status::ready, "wait_writable");
  check(write(fds[1], "x", 1) == 1, "write");
  check(goro::wait_readable(fds[0], goro::clock::now() + 1s) == goro::io_status::ready,
        "wait_readable");
  check(goro::close_fd(fds[0]) == 0, "close_fd");
  goro::forget_fd(fds[1]);
  close(fds[1]);
}

// ---- errors: what goro does with misuse in each mode.

using misuse = void (*)();

void close_closed() {
  auto c = goro::make_chan<int>();
  c.close();
  c.close();
}
void close_nil() { goro::chan<int>().close(); }
void send_closed() {
  auto c = goro::make_chan<int>(1);
  c.close();
  c.send(1);
}
void send_closed_in_goroutine() {
  // The error is raised on a goroutine: with exceptions it would reach
  // on_unhandled_exception; without, it is a fatal error right there.
  auto c = goro::make_chan<int>(1);
  c.close();
  goro::runtime rt;
  rt.go([c] { c.send(1); });
  rt.wait();
}
void negative_wait_group() {
  goro::wait_group wg;
  wg.add(-1);
}
void negative_semaphore() { goro::semaphore s(-1); }
void zero_ticker() { goro::ticker t(0ms); }
void rearm_wrong_type() {
  goro::select_set set;
  auto c = goro::make_chan<int>(1);
  set.add_send(c, 1);
  set.rearm_send<long>(0, 2L);
}
void case_out_of_range() {
  goro::select_set set;
  set.disable(3);
}
void recv_cancelled() {
  goro::cancelable_context cc = goro::with_cancel(goro::background());
  cc.cancel();
  goro::make_chan<int>(1).recv(cc.ctx);
}
void bad_blocking_options() {
  goro::blocking_options options;
  options.max_threads = 0;
  goro::set_blocking_options(options);
}

struct misuse_case {
  misuse run;
  const char* message;  ///< what() of the error, as goro raises it
};

const misuse_case misuses[] = {
    {close_closed, "goro: close of closed channel"},
    {close_nil, "goro: close of nil channel"},
    {send_closed, "goro: send on closed channel"},
    {send_closed_in_goroutine, "goro: send on closed channel"},
    {negative_wait_group, "goro::wait_group: negative counter"},
    {negative_semaphore, "goro::semaphore: permit count out of range"},
    {zero_ticker, "goro::ticker: non-positive period"},
    {rearm_wrong_type, "goro::select_set: not a send case of that type"},
    {case_out_of_range, "goro::select_set: no case with that index"},
    {recv_cancelled, "context canceled"},
    {bad_blocking_options, "goro::set_blocking_options: max_threads must be at least 1"},
};

#if defined(GORO_EXCEPTIONS)
void errors() {
  for (const misuse_case& m : misuses) {
    // Thrown on a goroutine, it would end this program as an unhandled
    // exception (tests/programs/unhandled_exception checks that path).
    if (m.run == send_closed_in_goroutine) continue;
    std::string what = "(nothing thrown)";
    try {
      m.run();
    } catch (const std::exception& e) {
      what = e.what();
    }
    if (what != m.message) {
      std::printf("api_tour: FAILED: expected '%s', got '%s'\n", m.message, what.c_str());
      ++failures;
    }
  }
}
#else
// Runs m in a child; it must abort and print the message as a fatal error
// (without goro's "goro: " prefix twice).
void expect_fatal(const misuse_case& m) {
  int fds[2];
  if (pipe(fds) != 0) {
    check(false, "pipe");
    return;
  }
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    m.run();
    _exit(0);  // not reached when goro reports the error
  }
  close(fds[1]);
  std::string err;
  char buf[512];
  ssize_t n = 0;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string expected = "goro: fatal error: ";
  expected += std::strncmp(m.message, "goro: ", 6) == 0 ? m.message + 6 : m.message;
  expected += "\n";
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT ||
      err.find(expected) == std::string::npos) {
    std::printf("api_tour: FAILED: expected SIGABRT and '%s', got status %d and '%s'\n", m.message,
                status, err.c_str());
    ++failures;
  }
}

void errors() {
  for (const misuse_case& m : misuses) expect_fatal(m);
}
#endif

}  // namespace
}  // namespace tour

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "errors") == 0) {
    tour::errors();
    std::printf("api_tour errors: %s (%zu cases)\n", tour::failures.load() == 0 ? "ok" : "FAILED",
                sizeof tour::misuses / sizeof tour::misuses[0]);
    return tour::failures.load() == 0 ? 0 : 1;
  }
  tour::channels();
  tour::selects();
  tour::sync_and_runtime();
  tour::timers();
  tour::contexts();
  tour::groups();
  tour::blocking_and_io();
  std::printf("api_tour %s\n", tour::failures.load() == 0 ? "ok" : "FAILED");
  return tour::failures.load() == 0 ? 0 : 1;
}
