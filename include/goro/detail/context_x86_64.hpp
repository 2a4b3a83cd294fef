// context_x86_64.hpp: the x86-64 System V context switch.
//
// The routine is written once, as top-level assembly placed in its own COMDAT
// group (".text.<name>", "axG", comdat) with a weak, hidden symbol: every
// translation unit that includes this header emits an identical copy and the
// linker keeps one per linked object (executable or shared library). That is
// what keeps goro header-only without duplicate-symbol errors, and it works at
// -O0 because nothing depends on inlining.
//
// Saved frame, as it lies on the suspended stack (offsets from the saved sp):
//
//   +0   MXCSR (4 bytes) | x87 control word (2) | padding (2)
//   +8   r12
//   +16  r13
//   +24  r14
//   +32  r15
//   +40  rbx
//   +48  rbp
//   +56  return address (where the suspended execution resumes)
//
// Only callee-saved state is saved: the switch is an ordinary call, so the
// compiler has already spilled every caller-saved register it still needs.
// The switch ends with an indirect jump rather than `ret`: after a stack swap
// the return-stack buffer always predicts the wrong target, and that
// misprediction would double the cost of a switch.
#ifndef GORO_DETAIL_CONTEXT_X86_64_HPP
#define GORO_DETAIL_CONTEXT_X86_64_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>

extern "C" {
/// Saves the current execution's callee-saved state on its stack, stores the
/// stack pointer in *save_sp, loads load_sp and resumes the execution suspended
/// there. The resumed side sees `transfer` as this function's return value (or,
/// for a fresh stack, as the first argument of its entry function).
__attribute__((visibility("hidden"))) void* goro_detail_jump_v1(void** save_sp, void* load_sp,
                                                                void* transfer) noexcept;
/// First code run on a fresh stack: calls entry(transfer, arg); entry never returns.
__attribute__((visibility("hidden"))) void goro_detail_trampoline_v1() noexcept;
}

// clang-format off
__asm__(R"(
    .pushsection .text.goro_detail_jump_v1,"axG",@progbits,goro_detail_jump_v1,comdat
    .weak   goro_detail_jump_v1
    .hidden goro_detail_jump_v1
    .type   goro_detail_jump_v1,@function
    .p2align 4
goro_detail_jump_v1:
    .cfi_startproc
    pushq   %rbp                 # callee-saved registers, in frame order (see table)
    pushq   %rbx
    pushq   %r15
    pushq   %r14
    pushq   %r13
    pushq   %r12
    subq    $8, %rsp             # room for the floating-point control state
    stmxcsr (%rsp)               # SSE rounding mode and exception masks
    fnstcw  4(%rsp)              # x87 precision and rounding control
    movq    %rsp, (%rdi)         # *save_sp = this execution's frame
    movq    %rsi, %rsp           # switch stacks: from here on we run on the other one
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r12
    popq    %r13
    popq    %r14
    popq    %r15
    popq    %rbx
    popq    %rbp
    popq    %rcx                 # the other execution's return address
    movq    %rdx, %rax           # the resumed side returns `transfer`
    jmp     *%rcx                # not `ret`: the return-stack buffer would predict our
                                 # own caller and mispredict every switch
    .cfi_endproc
    .size   goro_detail_jump_v1,.-goro_detail_jump_v1
    .popsection

    .pushsection .text.goro_detail_trampoline_v1,"axG",@progbits,goro_detail_trampoline_v1,comdat
    .weak   goro_detail_trampoline_v1
    .hidden goro_detail_trampoline_v1
    .type   goro_detail_trampoline_v1,@function
    .p2align 4
goro_detail_trampoline_v1:
    .cfi_startproc
    .cfi_undefined rip           # the outermost frame: debuggers stop unwinding here
    movq    %rax, %rdi           # entry(transfer, arg); r12 = entry, r13 = arg from make_frame
    movq    %r13, %rsi
    callq   *%r12
    ud2                          # entry functions never return
    .cfi_endproc
    .size   goro_detail_trampoline_v1,.-goro_detail_trampoline_v1
    .popsection
)");
// clang-format on

namespace goro::detail::arch {

/// Entry function of a fresh execution: `transfer` is what the first switch to
/// it passed; it must never return.
using entry_fn = void (*)(void* transfer, void* arg);

/// Lays out, at the top of the stack [bottom, bottom + size), a frame that
/// goro_detail_jump_v1 "resumes" into the trampoline, which then calls
/// entry(transfer, arg). Returns the stack pointer to switch to. The
/// floating-point control state is inherited from the caller, as a new thread
/// inherits it.
inline void* make_frame(void* bottom, std::size_t size, entry_fn entry, void* arg) noexcept {
  auto t = (reinterpret_cast<std::uintptr_t>(bottom) + size) & ~std::uintptr_t{15};
  // The trampoline starts with sp == t (the jump pops the return address too,
  // leaving sp 16-byte aligned), so the `call` in it
  // enters `entry` with the alignment the ABI promises.
  auto* frame = reinterpret_cast<std::uint64_t*>(t - 64);
  std::uint32_t mxcsr;
  std::uint16_t x87cw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(x87cw));
  frame[0] = std::uint64_t{mxcsr} | (std::uint64_t{x87cw} << 32);
  frame[1] = reinterpret_cast<std::uint64_t>(entry);  // r12
  frame[2] = reinterpret_cast<std::uint64_t>(arg);    // r13
  frame[3] = 0;                                       // r14
  frame[4] = 0;                                       // r15
  frame[5] = 0;                                       // rbx
  frame[6] = 0;                                       // rbp: ends frame-pointer chains
  frame[7] = reinterpret_cast<std::uint64_t>(&goro_detail_trampoline_v1);
  return frame;
}

/// Switches stacks; see goro_detail_jump_v1.
GORO_ALWAYS_INLINE void* jump(void** save_sp, void* load_sp, void* transfer) noexcept {
  return goro_detail_jump_v1(save_sp, load_sp, transfer);
}

}  // namespace goro::detail::arch

#endif
