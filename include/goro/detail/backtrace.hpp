// backtrace.hpp: the call stack a suspended goroutine is parked in, for
// goroutine dumps (monitor.hpp, read_block).
//
// A suspended goroutine's registers lie on its own stack, where the context
// switch saved them (context_x86_64.hpp, context_aarch64.hpp: resume address
// and frame pointer at fixed offsets from the saved sp; the ucontext fallback:
// a ucontext_t in the switch's frame). From there:
//
// 1. Frame-pointer chain. From the saved rbp/x29, each frame record is
//    {caller's frame pointer, return address}. The chain is followed while
//    each record lies inside the goroutine's stack, above the previous one,
//    16-byte aligned, and its return address lies in an executable segment.
//    It ends cleanly at the 0 that make_frame plants for the outermost frame
//    (reached through one record at least: no-frame-pointer code may leave
//    that 0 in the register).
//    Exact when everything on the stack was built with frame pointers
//    (-fno-omit-frame-pointer; GCC and Clang omit them at -O1 and above).
// 2. Conservative scan, when the chain breaks before that 0: every word from
//    where the chain stopped up to the top of the stack that points into an
//    executable segment just after a call instruction is taken as a return
//    address. Such frames are marked "guessed": a stale return address left
//    in a slot the current frames have not overwritten passes the same test.
//
// Safety. The walk reads another goroutine's stack, which may be resumed and
// change under it when the program is running (a SIGQUIT dump, not a
// deadlock). So every load of a stack word is bounds-checked against the
// goroutine's own mapping [stack bottom, stack top), which stays mapped
// while the caller holds a freeze of the registry (the goroutine cannot
// exit); a changing stack yields garbage frames, never a fault. The loads
// go through peek_word, exempt from ASan and TSan: the other stack's
// redzones are poisoned, and its owner's writes race with us by design.
// Code bytes (the call-instruction test) are read only inside a
// dl_iterate_phdr callback, whose loader lock keeps the module from being
// unloaded meanwhile. Symbols come from dladdr (a weak reference: without
// libdl on old glibc the frames keep their module+offset and lose their
// names) and abi::__cxa_demangle where <cxxabi.h> exists.
//
// Limits: exact stacks need frame pointers everywhere between the switch and
// the goroutine's entry; code without them is skipped over by the chain
// when it leaves rbp alone, or breaks it (then the scan takes over). Names
// need the symbols in the dynamic table (-rdynamic for an executable);
// module+offset always works with addr2line. Compiled out (no frames
// printed) where there is no dl_iterate_phdr, or on an architecture the walker
// does not know, or with GORO_NO_BACKTRACE.
#ifndef GORO_DETAIL_BACKTRACE_HPP
#define GORO_DETAIL_BACKTRACE_HPP

#include "../config.hpp"
#include "context.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#if !defined(GORO_NO_BACKTRACE) && defined(__ELF__) && defined(__has_include)
#if __has_include(<link.h>) && __has_include(<dlfcn.h>)
#if defined(GORO_CONTEXT_X86_64) || defined(GORO_CONTEXT_AARCH64) || \
    (defined(GORO_USE_UCONTEXT) && defined(__GLIBC__) &&             \
     (defined(__x86_64__) || defined(__aarch64__)))
#define GORO_BACKTRACE 1
#endif
#endif
#endif

#if defined(GORO_BACKTRACE)
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define GORO_BACKTRACE_DEMANGLE 1
#endif
#if defined(GORO_VALGRIND) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define GORO_BACKTRACE_MEMCHECK 1
#endif
// dladdr lives in libdl before glibc 2.34: a weak reference keeps goro free of
// a link dependency there (it is null when libdl is not linked in).
#pragma weak dladdr
#endif

namespace goro::detail::backtrace {

/// Frames printed per goroutine at most (Go prints 100; goroutine stacks here
/// are shallower, and a dump of many goroutines should stay readable).
inline constexpr std::size_t max_frames = 32;

/// One frame: a return address (the top frame: where the goroutine resumes).
struct frame {
  std::uintptr_t pc = 0;
  bool guessed = false;  ///< found by the scan, not the frame-pointer chain
};

/// The registers a suspended context saved, read from its stack.
struct saved_regs {
  std::uintptr_t pc = 0;  ///< where it resumes
  std::uintptr_t fp = 0;  ///< its frame pointer
  std::uintptr_t sp = 0;  ///< lowest address of its callers' frames
  /// Where the saved registers themselves lie above sp (the ucontext
  /// fallback's uc_frame), which the scan must not take for frames.
  std::uintptr_t saved_lo = 0, saved_hi = 0;
};

/// What a walk found: frames in order from the innermost, and whether the
/// chain reached the outermost frame (else the rest was guessed).
struct walk_result {
  std::vector<frame> frames;
  bool chain_complete = false;
};

/// A frame placed: its module and offset there, and (once written) its
/// symbol if known.
struct named_frame {
  frame f;
  std::string module;
  std::uintptr_t offset = 0;  ///< of the call's last byte (pc - 1), for addr2line
  std::string symbol;         ///< demangled, or empty
};

#if defined(GORO_BACKTRACE)

// Sanitizer-exempt loads: the walk reads another execution's stack (ASan
// poisons its redzones, TSan would report its owner's writes) and code.
// Never inlined, so that no instrumented caller absorbs them.
#if defined(__clang__)
#define GORO_BACKTRACE_READER \
  __attribute__((noinline, no_sanitize("address", "thread", "memory", "undefined")))
#else
#define GORO_BACKTRACE_READER \
  __attribute__((noinline, no_sanitize("address", "thread", "undefined")))
#endif

/// The aligned word at `addr`. The caller has checked that it lies in memory
/// that stays mapped during the read.
GORO_BACKTRACE_READER inline std::uintptr_t peek_word(std::uintptr_t addr) noexcept {
  std::uintptr_t v = *reinterpret_cast<const volatile std::uintptr_t*>(addr);
#if defined(GORO_BACKTRACE_MEMCHECK)
  // A slot of a live frame nobody wrote yet: garbage is fine here, and
  // memcheck must not report what the walk does with it.
  (void)VALGRIND_MAKE_MEM_DEFINED(&v, sizeof v);
#endif
  return v;
}

/// The byte at `addr`, under the same contract.
GORO_BACKTRACE_READER inline unsigned peek_byte(std::uintptr_t addr) noexcept {
  return *reinterpret_cast<const volatile unsigned char*>(addr);
}

/// Calls visit(lo, hi) for each executable segment [lo, hi) of one module.
template <class Visit>
void each_code_segment(const dl_phdr_info* info, Visit visit) {
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    visit(lo, lo + ph.p_memsz);
  }
}

/// The executable segments of the process at one moment, sorted: the cheap
/// test a scanned word must pass before the careful one (call_before).
struct code_map {
  struct range {
    std::uintptr_t lo, hi;
  };
  std::vector<range> ranges;

  bool contains(std::uintptr_t a) const noexcept {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), a,
                               [](std::uintptr_t v, const range& r) { return v < r.lo; });
    return it != ranges.begin() && a < std::prev(it)->hi;
  }

  static code_map snapshot() {
    code_map m;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) -> int {
          auto& out = *static_cast<code_map*>(data);
          each_code_segment(info, [&](std::uintptr_t lo, std::uintptr_t hi) {
            out.ranges.push_back({lo, hi});
          });
          return 0;
        },
        &m);
    std::sort(m.ranges.begin(), m.ranges.end(),
              [](const range& a, const range& b) { return a.lo < b.lo; });
    return m;
  }
};

/// Whether the instruction ending just before `ret` is a call, reading code in
/// [lo, hi) only. x86-64: call rel32, or call r/m64 (FF /2) in any of its
/// encodings with an optional REX prefix; AArch64: BL, BLR, BLRAA/AB(Z).
inline bool call_before(std::uintptr_t ret, std::uintptr_t lo, std::uintptr_t hi) noexcept {
  if (ret > hi || ret < lo) return false;
#if defined(__x86_64__)
  auto byte = [&](std::uintptr_t back) -> unsigned {
    return back <= ret - lo ? peek_byte(ret - back) : 0x100u;  // 0x100: outside, matches nothing
  };
  if (byte(5) == 0xE8) return true;
  for (std::uintptr_t len = 2; len <= 7; ++len) {
    if (byte(len) != 0xFF) continue;
    const unsigned modrm = byte(len - 1);
    if (((modrm >> 3) & 7) != 2) continue;  // FF /2 is call
    const unsigned mod = modrm >> 6, rm = modrm & 7;
    std::uintptr_t need = 2;  // opcode + ModRM
    // A SIB byte follows ModRM when rm is 4; with mod 0 and base 5 it has a
    // 32-bit displacement and no base register.
    if (mod != 3 && rm == 4) {
      ++need;
      if (mod == 0 && len >= 3 && (byte(len - 2) & 7) == 5) need += 4;
    }
    if (mod == 1) need += 1;
    if (mod == 2) need += 4;
    if (mod == 0 && rm == 5) need += 4;  // rip-relative
    if (need == len) return true;
  }
  return false;
#elif defined(__aarch64__)
  if (ret % 4 != 0 || ret - lo < 4) return false;
  static_assert(sizeof(unsigned) == 4, "AArch64 Linux has 32-bit unsigned");
  const std::uint32_t insn = peek_byte(ret - 4) | (peek_byte(ret - 3) << 8) |
                             (peek_byte(ret - 2) << 16) | (peek_byte(ret - 1) << 24);
  return (insn & 0xFC000000u) == 0x94000000u ||  // BL
         (insn & 0xFFFFFC1Fu) == 0xD63F0000u ||  // BLR
         (insn & 0xFEFFF800u) == 0xD63F0800u;    // BLRAA, BLRAB, BLRAAZ, BLRABZ
#else
  return false;
#endif
}

/// Bytes the switch's saved frame takes above the saved sp.
#if defined(GORO_USE_UCONTEXT)
inline constexpr std::uintptr_t saved_frame_bytes = sizeof(arch::uc_frame);
#elif defined(GORO_CONTEXT_X86_64)
inline constexpr std::uintptr_t saved_frame_bytes = 64;
#else
inline constexpr std::uintptr_t saved_frame_bytes = 176;
#endif

/// Reads the registers saved at `handle` (the context's saved sp) on a stack
/// whose readable range is [lo, hi). False if the handle is not in it.
inline bool read_saved(std::uintptr_t handle, std::uintptr_t lo, std::uintptr_t hi,
                       saved_regs& out) noexcept {
  if (handle < lo || handle >= hi || handle % 8 != 0 || hi - handle < saved_frame_bytes) {
    return false;
  }
#if defined(GORO_USE_UCONTEXT)
  // The mcontext of the uc_frame the switch keeps in its own frame (a fresh
  // context's lies at the top of the stack).
  const std::uintptr_t mc =
      handle + offsetof(arch::uc_frame, uc) + offsetof(ucontext_t, uc_mcontext);
#if defined(__x86_64__)
  const std::uintptr_t regs = mc + offsetof(mcontext_t, gregs);
  auto reg = [&](int r) {
    return peek_word(regs + sizeof(greg_t) * static_cast<std::uintptr_t>(r));
  };
  out.pc = reg(REG_RIP);
  out.fp = reg(REG_RBP);
  out.sp = reg(REG_RSP);
#else
  out.pc = peek_word(mc + offsetof(mcontext_t, pc));
  out.fp = peek_word(mc + offsetof(mcontext_t, regs) + 8 * 29);
  out.sp = peek_word(mc + offsetof(mcontext_t, sp));
#endif
  out.saved_lo = handle;
  out.saved_hi = handle + saved_frame_bytes;
#elif defined(GORO_CONTEXT_X86_64)
  out.fp = peek_word(handle + 48);
  out.pc = peek_word(handle + 56);
  out.sp = handle + 64;
#else
  out.fp = peek_word(handle + 144);
  out.pc = peek_word(handle + 152);
  out.sp = handle + 176;
#endif
  return true;
}

/// Walks a suspended stack whose readable range is [lo, hi); see the file
/// comment. Returns up to `cap` candidate frames (not yet checked for a call
/// before them: resolve does that).
inline walk_result walk(const saved_regs& regs, std::uintptr_t lo, std::uintptr_t hi,
                        const code_map& code, std::size_t cap) {
  walk_result r;
  if (cap == 0) return r;
  if (code.contains(regs.pc)) r.frames.push_back({regs.pc, false});
  // Frame records are two words, 16-byte aligned, strictly rising.
  // regs.sp is read from the stack itself under the ucontext fallback: it
  // may be garbage, so it is clamped into [lo, hi] like everything else.
  std::uintptr_t floor = regs.sp < lo ? lo : regs.sp > hi ? hi : regs.sp;
  std::uintptr_t fp = regs.fp;
  for (bool first = true;; first = false) {
    // The 0 make_frame plants ends a chain, but only one that was followed:
    // code without frame pointers may never touch the register, and then it
    // still holds that 0 at the first step.
    if (fp == 0) {
      r.chain_complete = !first;
      break;
    }
    if (fp % 16 != 0 || fp < floor || fp >= hi || hi - fp < 16) break;
    const std::uintptr_t ret = peek_word(fp + 8);
    const std::uintptr_t next = peek_word(fp);
    if (!code.contains(ret) || r.frames.size() >= cap) break;
    r.frames.push_back({ret, false});
    floor = fp + 16;
    fp = next;
  }
  if (r.chain_complete || r.frames.size() >= cap) return r;
  // Scan from where the chain left off; at most 1 MiB of stack (a deeper
  // goroutine shows its innermost frames only).
  std::uintptr_t from = (floor + 7) & ~std::uintptr_t{7};
  if (from >= hi) return r;
  const std::uintptr_t limit = hi - from > (std::uintptr_t{1} << 20) ? from + (1u << 20) : hi;
  for (std::uintptr_t a = from; a + 8 <= limit && r.frames.size() < cap; a += 8) {
    if (a >= regs.saved_lo && a < regs.saved_hi) continue;
    const std::uintptr_t w = peek_word(a);
    if (code.contains(w)) r.frames.push_back({w, true});
  }
  return r;
}

/// The executable's path, for frames in it (dl_iterate_phdr names it "").
inline const std::string& self_path() {
  static const std::string path = [] {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("?");
  }();
  return path;
}

/// Keeps the frames whose return address follows a call instruction, with
/// their module and offset; the code is read under dl_iterate_phdr's lock.
inline std::vector<named_frame> resolve(const std::vector<frame>& frames) {
  struct job {
    const std::vector<frame>* in;
    std::vector<named_frame> out;
    std::vector<bool> found;
  } j{&frames, std::vector<named_frame>(frames.size()), std::vector<bool>(frames.size())};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto& jb = *static_cast<job*>(data);
        each_code_segment(info, [&](std::uintptr_t lo, std::uintptr_t hi) {
          for (std::size_t k = 0; k < jb.in->size(); ++k) {
            const frame& f = (*jb.in)[k];
            if (jb.found[k] || f.pc <= lo || f.pc > hi || !call_before(f.pc, lo, hi)) continue;
            jb.found[k] = true;
            named_frame& n = jb.out[k];
            n.f = f;
            n.module = info->dlpi_name != nullptr && info->dlpi_name[0] != '\0'
                           ? std::string(info->dlpi_name)
                           : self_path();
            n.offset = f.pc - 1 - info->dlpi_addr;
          }
        });
        return 0;
      },
      &j);
  std::vector<named_frame> kept;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    if (j.found[k]) kept.push_back(std::move(j.out[k]));
  }
  return kept;
}

/// The demangled name of the function holding `pc` (a return address), or
/// empty when the dynamic symbol table does not know it.
inline std::string symbol_of(std::uintptr_t pc) {
#if !defined(GORO_USE_UCONTEXT)
  // Hidden, so absent from the dynamic table; every goroutine's outermost frame.
  const auto trampoline = reinterpret_cast<std::uintptr_t>(&goro_detail_trampoline_v1);
  if (pc > trampoline && pc - trampoline <= 16) return "goro_detail_trampoline_v1";
#endif
  if (&dladdr == nullptr) return {};
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0 || info.dli_sname == nullptr) return {};
#if defined(GORO_BACKTRACE_DEMANGLE)
  int status = 0;
  char* d = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
  if (d != nullptr) {
    std::string s(d);
    std::free(d);
    return s;
  }
#endif
  return info.dli_sname;
}

#endif  // GORO_BACKTRACE

/// Whether a frame's function is goro's own machinery (the wait layer, the
/// scheduler, the switch), which dumps hide as Go hides runtime frames: its
/// name is in goro::detail (or a goro_detail_ symbol) before any template
/// argument or parameter list.
inline bool internal_symbol(const std::string& s) noexcept {
  const std::size_t stop = s.find_first_of("<(");
  for (const char* p : {"goro::detail::", "goro_detail_", "_ZN4goro6detail"}) {
    const std::size_t at = s.find(p);
    if (at != std::string::npos && at < stop) return true;
  }
  return false;
}

/// Frames to show of a goroutine's stack, per GORO_TRACEBACK (read once):
/// "none" no frames, "system" goro's own frames too, else (default) the
/// goroutine's own frames.
enum class traceback_level { none, user, system };

inline traceback_level traceback_setting() noexcept {
  static const traceback_level level = [] {
    const char* s = std::getenv("GORO_TRACEBACK");
    if (s == nullptr) return traceback_level::user;
    if (std::strcmp(s, "none") == 0) return traceback_level::none;
    if (std::strcmp(s, "system") == 0) return traceback_level::system;
    return traceback_level::user;
  }();
  return level;
}

/// The frames of the context suspended on [stack_lo, stack_hi), placed in
/// their modules but not yet named. The caller guarantees that the stack
/// stays mapped (registry frozen); the context may be resumed meanwhile (see
/// the file comment). Takes only dl_iterate_phdr's lock, never dladdr's.
inline std::vector<named_frame> capture_frames(const context& ctx, std::uintptr_t stack_lo,
                                               std::uintptr_t stack_hi) {
#if defined(GORO_BACKTRACE)
  if (traceback_setting() == traceback_level::none) return {};
  saved_regs regs;
  const auto handle = reinterpret_cast<std::uintptr_t>(ctx.saved_sp_slot());
  if (!read_saved(peek_word(handle), stack_lo, stack_hi, regs)) return {};
  const code_map code = code_map::snapshot();
  // Room for the frames the call test and the filter drop.
  const walk_result w = walk(regs, stack_lo, stack_hi, code, 4 * max_frames);
  return resolve(w.frames);
#else
  (void)ctx;
  (void)stack_lo;
  (void)stack_hi;
  return {};
#endif
}

/// Names captured frames and writes them in Go's traceback format (the
/// function; a tab and where it is: module+offset). Call it with no registry
/// frozen: dladdr takes the dynamic loader's lock, which dlopen holds while a
/// library's constructors run, and a constructor may be calling go(), which
/// waits for a frozen registry.
inline void write_frames(std::ostream& out, std::vector<named_frame>& frames) {
#if defined(GORO_BACKTRACE)
  const traceback_level level = traceback_setting();
  std::size_t shown = 0;
  for (named_frame& f : frames) {
    f.symbol = symbol_of(f.f.pc);
    if (level != traceback_level::system && internal_symbol(f.symbol)) continue;
    if (shown == max_frames) {
      out << "...additional frames elided...\n";
      break;
    }
    ++shown;
    out << (f.symbol.empty() ? "?" : f.symbol) << "\n\t" << f.module << "+0x" << std::hex
        << f.offset << std::dec << (f.f.guessed ? " (guessed)" : "") << '\n';
  }
#else
  (void)out;
  (void)frames;
#endif
}

}  // namespace goro::detail::backtrace

#endif
