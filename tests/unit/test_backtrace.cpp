// Goroutine dumps with call stacks: the frame-pointer walk and the scan
// (detail/backtrace.hpp) on made-up stacks, and dumps of real programs
// (tests/programs/backtrace.cpp, built with and without frame pointers).
#include "goro_test.hpp"
#include "test_helpers.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// The lines of the block of the first goroutine whose header contains
/// `what`, without its header; empty if there is none.
std::vector<std::string> block_of(const std::string& dump, const std::string& what) {
  std::vector<std::string> lines;
  std::istringstream in(dump);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (inside) {
      if (line.empty()) break;
      lines.push_back(line);
    } else if (line.rfind("goroutine ", 0) == 0 && line.find(what) != std::string::npos) {
      inside = true;
    }
  }
  return lines;
}

/// Frame location lines ("\t<module>+0x<offset>") in a block.
std::size_t location_lines(const std::vector<std::string>& block) {
  std::size_t n = 0;
  for (const std::string& l : block) {
    if (l.size() > 1 && l[0] == '\t' && l.find("+0x") != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

#if defined(GORO_BACKTRACE)

namespace bt = goro::detail::backtrace;

namespace {

/// A return address: where this call returns to (a call precedes it).
__attribute__((noinline)) std::uintptr_t return_address() {
  return reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
}

std::uintptr_t addr(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

}  // namespace

TEST_CASE("backtrace: the frame-pointer chain of a made-up stack", "[backtrace]") {
  const std::uintptr_t ra0 = return_address();
  const std::uintptr_t ra1 = return_address();
  const std::uintptr_t ra2 = return_address();
  const bt::code_map code = bt::code_map::snapshot();
  REQUIRE(code.contains(ra0));
  REQUIRE_FALSE(code.contains(addr(&code)));
  alignas(16) std::uintptr_t s[64] = {};
  const std::uintptr_t lo = addr(&s[0]), hi = addr(&s[64]);
  s[8] = addr(&s[16]);
  s[9] = ra1;
  s[16] = 0;  // the outermost frame
  s[17] = ra2;
  bt::saved_regs regs;
  regs.pc = ra0;
  regs.fp = addr(&s[8]);
  regs.sp = lo;

  bt::walk_result w = bt::walk(regs, lo, hi, code, 32);
  CHECK(w.chain_complete);
  REQUIRE(w.frames.size() == 3);
  CHECK(w.frames[0].pc == ra0);
  CHECK(w.frames[1].pc == ra1);
  CHECK(w.frames[2].pc == ra2);
  CHECK_FALSE(w.frames[2].guessed);
  // Each follows a call, so all three are kept, in this executable.
  const auto named = bt::resolve(w.frames);
  REQUIRE(named.size() == 3);
  CHECK(named[1].offset + 1 + (ra0 - named[0].offset - 1) == ra1);
  CHECK_FALSE(named[0].module.empty());

  SECTION("a cycle ends the chain, and the scan finds what lies above it") {
    s[16] = addr(&s[8]);
    s[40] = ra0;
    w = bt::walk(regs, lo, hi, code, 32);
    CHECK_FALSE(w.chain_complete);
    REQUIRE(w.frames.size() == 4);
    CHECK(w.frames[3].pc == ra0);
    CHECK(w.frames[3].guessed);
  }
  SECTION("a misaligned frame pointer ends the chain") {
    s[8] = addr(&s[17]);
    w = bt::walk(regs, lo, hi, code, 32);
    CHECK_FALSE(w.chain_complete);
    CHECK(w.frames.size() == 3);  // ra0, ra1, then ra2 found by the scan
    CHECK(w.frames.back().guessed);
  }
  SECTION("a frame pointer still 0 (code without them) means no chain: the scan runs") {
    regs.fp = 0;
    s[40] = ra0;
    w = bt::walk(regs, lo, hi, code, 32);
    CHECK_FALSE(w.chain_complete);
    REQUIRE(w.frames.size() == 4);  // the resume address, then ra1, ra2, ra0 scanned
    CHECK(w.frames[1].pc == ra1);
    CHECK(w.frames[1].guessed);
    CHECK(w.frames[3].pc == ra0);
  }
  SECTION("the cap holds") {
    w = bt::walk(regs, lo, hi, code, 2);
    CHECK(w.frames.size() == 2);
  }
  SECTION("registers outside the stack are refused") {
    bt::saved_regs r;
    CHECK_FALSE(bt::read_saved(hi, lo, hi, r));
    CHECK_FALSE(bt::read_saved(lo - 16, lo, hi, r));
    CHECK_FALSE(bt::read_saved(hi - 8, lo, hi, r));
  }
}

TEST_CASE("backtrace: a walk never reads past the stack it is given", "[backtrace]") {
  // The stack ends where an inaccessible page begins: any read beyond faults.
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* m = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(m != MAP_FAILED);
  auto* base = static_cast<unsigned char*>(m);
  REQUIRE(::mprotect(base + page, page, PROT_NONE) == 0);
  const std::uintptr_t lo = addr(base), hi = addr(base + page);
  auto* words = static_cast<std::uintptr_t*>(m);
  const std::size_t n = page / sizeof(std::uintptr_t);
  const bt::code_map code = bt::code_map::snapshot();
  const std::uintptr_t ra = return_address();
  std::mt19937_64 rng(0x6f726f67);  // fixed: a failure replays
  for (int round = 0; round < 300; ++round) {
    // Garbage: pointers into the stack, just past it, return addresses,
    // small numbers and random bits.
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t r = rng();
      switch (r % 5) {
        case 0:
          words[i] = lo + (r >> 8) % (page + 64);
          break;
        case 1:
          words[i] = hi - 8 + ((r >> 8) % 4) * 8;
          break;
        case 2:
          words[i] = ra;
          break;
        case 3:
          words[i] = (r >> 8) % 4096;
          break;
        default:
          words[i] = r;
          break;
      }
    }
    bt::saved_regs regs;
    const std::uintptr_t handle = lo + (rng() % n) * 8;
    if (!bt::read_saved(handle, lo, hi, regs)) continue;
    const bt::walk_result w = bt::walk(regs, lo, hi, code, 32);
    REQUIRE(w.frames.size() <= 32);
    for (const bt::named_frame& f : bt::resolve(w.frames)) CHECK(f.f.pc == ra);
  }
  ::munmap(m, 2 * page);
}

#endif  // GORO_BACKTRACE

TEST_CASE("backtrace: dumps of a busy runtime, over and over", "[backtrace]") {
  goro::runtime_options o;
  o.workers = 2;
  goro::runtime rt(o);
  std::atomic<bool> stop{false};
  auto c = goro::make_chan<int>();
  auto d = goro::make_chan<int>();
  rt.go([c, d] {
    for (int v : c) d.send(v);
  });
  rt.go([c, d, &stop] {
    while (!stop.load()) {
      c.send(1);
      d.recv();
    }
    c.close();
  });
  rt.go([&stop] {
    while (!stop.load()) goro::yield();
  });
  auto parked = goro::make_chan<int>();
  rt.go([parked] { parked.recv(); });
  // Parked first (bounded wait), so that every dump below has its block.
  std::string last;
  for (int i = 0; i < 1000 && block_of(last, "[chan receive]").empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    std::ostringstream out;
    rt.dump_goroutines(out);
    last = out.str();
  }
  const int rounds = goro_test::scaled(200, 40);
  std::size_t frames = 0;
  for (int i = 0; i < rounds; ++i) {
    std::ostringstream out;
    rt.dump_goroutines(out);
    last = out.str();
    frames += location_lines(block_of(last, "[chan receive]"));
  }
  INFO(last);
  stop = true;
  parked.send(1);
  rt.wait();
#if defined(GORO_BACKTRACE)
  // Not a number of frames: it depends on the build. One at least (the parked
  // goroutine's lambda, or where it resumes) whenever it was listed.
  CHECK(frames > 0);
#else
  CHECK(frames == 0);
#endif
}

TEST_CASE("backtrace: a dump names the function a goroutine parked in", "[backtrace][program]") {
  const auto r = goro_test::run_program(goro_test::program_path("backtrace"), {"park"}, {}, 120s);
  INFO(r.describe());
  REQUIRE(r.succeeded());
  const auto block = block_of(r.out, "[chan receive]");
  INFO(r.out);
  REQUIRE_FALSE(block.empty());
#if defined(GORO_BACKTRACE)
  // Three nested calls, each named, with the program's path and an offset.
  std::size_t named = 0;
  for (std::size_t i = 0; i + 1 < block.size(); ++i) {
    if (block[i].rfind("goro_test_bt::parked_in_distinctive_frame(", 0) == 0) {
      ++named;
      CHECK(goro_test::contains(block[i + 1], "backtrace+0x"));
      CHECK_FALSE(goro_test::contains(block[i + 1], "(guessed)"));
    }
  }
  CHECK(named == 3);
  // goro's own frames (the wait, the switch) are hidden.
  CHECK_FALSE(goro_test::contains(r.out, "goro::detail::"));
  CHECK(goro_test::contains(r.out, "created by "));
#else
  CHECK(location_lines(block) == 0);
#endif
}

TEST_CASE("backtrace: without frame pointers or symbols a dump stays bounded",
          "[backtrace][program]") {
  const auto r =
      goro_test::run_program(goro_test::program_path("backtrace_nofp"), {"park"}, {}, 120s);
  INFO(r.describe());
  REQUIRE(r.succeeded());
  const auto block = block_of(r.out, "[chan receive]");
  INFO(r.out);
  REQUIRE_FALSE(block.empty());
  // At most 32 frames of two lines, the channel line, "created by" and the
  // elision line.
  CHECK(block.size() <= 2 * 32 + 3);
#if defined(GORO_BACKTRACE)
  CHECK(location_lines(block) >= 1);  // where it resumes, at least
#endif
}

TEST_CASE("backtrace: programs dumping their busy runtime do not crash", "[backtrace][program]") {
  for (const char* program : {"backtrace", "backtrace_nofp"}) {
    INFO(program);
    const auto r = goro_test::run_program(goro_test::program_path(program), {"busy"}, {}, 120s);
    INFO(r.describe());
    CHECK(r.succeeded());
    CHECK(goro_test::contains(r.out, "dumps "));
  }
}

TEST_CASE("backtrace: the deadlock report shows the parked goroutine's stack",
          "[backtrace][program][death]") {
  if (goro_test::config_has_tag("tsan") || goro_test::config_has_tag("qemu")) {
    WARN("no deadlock report in this build (threads goro does not know: see test_monitor)");
    return;
  }
  const auto r =
      goro_test::run_program(goro_test::program_path("backtrace"), {"deadlock"}, {}, 120s);
  INFO(r.describe());
  CHECK(r.signal == SIGABRT);
  CHECK(goro_test::contains(r.err, "all goroutines are asleep - deadlock!"));
#if defined(GORO_BACKTRACE)
  CHECK(goro_test::contains(r.err, "\ngoro_test_bt::parked_in_distinctive_frame("));
#endif
}
