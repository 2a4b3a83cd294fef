// W7: the raw cost of one user-space context switch, ping-ponging between
// the main execution and one other, for each switch routine this program was
// built with:
//
//   boost-fcontext  boost::context::detail::jump_fcontext, the assembly under
//                   Boost.Context and Boost.Fiber (GORO_BENCH_WITH_FCONTEXT)
//   ucontext        POSIX swapcontext, which also saves and restores the
//                   signal mask with a system call on every switch
//   goro-switch     goro::detail::context::switch_to (GORO_BENCH_WITH_GORO),
//                   with the thread's switch slots looked up once, as the
//                   scheduler calls it
//
// Each is measured `rounds` times, the routines taking turns (A B C A B C ..)
// so that a noisy moment hurts all of them alike. Per routine, one line:
//   RESULT W7 <routine> <ns for the median round> <ns per switch>
// One switch is one resume of the other execution (a round trip is two).
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench_common.hpp"

#if defined(GORO_BENCH_WITH_FCONTEXT)
#include <boost/context/detail/fcontext.hpp>
#endif
#if defined(GORO_BENCH_WITH_GORO)
#include <goro/detail/context.hpp>
#endif

namespace {

constexpr int rounds = 7;
constexpr std::size_t stack_bytes = 64 * 1024;

/// A plain mmap'd stack for the peers (goro brings its own).
class raw_stack {
 public:
  raw_stack() {
    base_ =
        ::mmap(nullptr, stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED) bench::fail("W7", "mmap");
  }
  ~raw_stack() { ::munmap(base_, stack_bytes); }
  raw_stack(const raw_stack&) = delete;
  raw_stack& operator=(const raw_stack&) = delete;
  char* bottom() const { return static_cast<char*>(base_); }
  char* top() const { return bottom() + stack_bytes; }

 private:
  void* base_;
};

/// One routine under test: `run(n)` performs n switches and returns the ns taken.
struct routine {
  std::string name;
  long switches;  ///< per round: slow routines do fewer, so each round stays short
  std::function<std::int64_t(long)> run;
  std::vector<std::int64_t> samples;
};

// ---- Boost.Context fcontext -------------------------------------------------
#if defined(GORO_BENCH_WITH_FCONTEXT)
namespace fctx = boost::context::detail;

void fcontext_entry(fctx::transfer_t from) {
  for (;;) from = fctx::jump_fcontext(from.fctx, nullptr);
}

std::int64_t run_fcontext(long switches) {
  raw_stack stack;
  fctx::fcontext_t other = fctx::make_fcontext(stack.top(), stack_bytes, fcontext_entry);
  other = fctx::jump_fcontext(other, nullptr).fctx;  // first entry, untimed
  std::int64_t start = bench::now_ns();
  for (long i = 0; i < switches / 2; ++i) other = fctx::jump_fcontext(other, nullptr).fctx;
  return bench::now_ns() - start;
}
#endif

// ---- ucontext -----------------------------------------------------------------
ucontext_t uc_main, uc_other;

void ucontext_entry() {
  for (;;) swapcontext(&uc_other, &uc_main);
}

std::int64_t run_ucontext(long switches) {
  raw_stack stack;
  getcontext(&uc_other);
  uc_other.uc_stack.ss_sp = stack.bottom();
  uc_other.uc_stack.ss_size = stack_bytes;
  uc_other.uc_link = nullptr;
  makecontext(&uc_other, ucontext_entry, 0);
  swapcontext(&uc_main, &uc_other);  // first entry, untimed
  std::int64_t start = bench::now_ns();
  for (long i = 0; i < switches / 2; ++i) swapcontext(&uc_main, &uc_other);
  return bench::now_ns() - start;
}

// ---- goro -----------------------------------------------------------------------
#if defined(GORO_BENCH_WITH_GORO)
struct goro_pair {
  goro::detail::context* main;
  goro::detail::context* other;
};

void goro_entry(void* arg) {
  auto* pair = static_cast<goro_pair*>(arg);
  const auto slots = goro::detail::current_thread_switch_slots();
  for (;;) pair->other->switch_to(*pair->main, slots);
}

std::int64_t run_goro(long switches) {
  goro::detail::stack stack(stack_bytes);
  goro_pair pair{};
  goro::detail::context main_ctx;
  goro::detail::context other(stack, goro_entry, &pair);
  pair.main = &main_ctx;
  pair.other = &other;
  // The thread's switch slots are looked up once, as a scheduler worker does.
  const auto slots = goro::detail::current_thread_switch_slots();
  main_ctx.switch_to(other, slots);  // first entry, untimed
  std::int64_t start = bench::now_ns();
  for (long i = 0; i < switches / 2; ++i) main_ctx.switch_to(other, slots);
  return bench::now_ns() - start;
}
#endif

}  // namespace

int main() {
  std::vector<routine> routines;
#if defined(GORO_BENCH_WITH_FCONTEXT)
  routines.push_back({"boost-fcontext", 20000000, run_fcontext, {}});
#endif
  routines.push_back({"ucontext", 2000000, run_ucontext, {}});
#if defined(GORO_BENCH_WITH_GORO)
  routines.push_back({"goro-switch", 20000000, run_goro, {}});
#endif
  for (auto& r : routines) r.run(r.switches / 10);  // warm up: caches, page faults
  for (int round = 0; round < rounds; ++round) {
    for (auto& r : routines) r.samples.push_back(r.run(r.switches));
  }
  for (auto& r : routines) {
    std::sort(r.samples.begin(), r.samples.end());
    std::int64_t median = r.samples[r.samples.size() / 2];
    bench::print_result("W7", r.name, median, static_cast<double>(median) / r.switches);
  }
}
