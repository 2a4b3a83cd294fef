// context_aarch64.hpp: the AArch64 (AAPCS64, ELF) context switch.
//
// Built like context_x86_64.hpp: top-level assembly in its own COMDAT group
// (".text.<name>", "axG", comdat) with a weak, hidden symbol, so that every
// translation unit including this header emits an identical copy and the
// linker keeps one per linked object. Nothing depends on inlining, so it works
// at -O0 too.
//
// Saved frame, as it lies on the suspended stack (offsets from the saved sp;
// 176 bytes, a multiple of 16, so sp stays 16-byte aligned throughout):
//
//   +0   d8       +8   d9        (only the low 64 bits of v8-v15 are
//   +16  d10      +24  d11        callee-saved under AAPCS64)
//   +32  d12      +40  d13
//   +48  d14      +56  d15
//   +64  x19      +72  x20
//   +80  x21      +88  x22
//   +96  x23      +104 x24
//   +112 x25      +120 x26
//   +128 x27      +136 x28
//   +144 x29 (fp) +152 x30 (lr: where the suspended execution resumes)
//   +160 FPCR     +168 padding
//
// Only callee-saved state is saved: the switch is an ordinary call, so the
// compiler has already spilled every caller-saved register it still needs
// (x0-x18, v0-v7, v16-v31, NZCV, FPSR). x18 is the platform register and is
// left alone.
//
// The switch ends with `ret`, not `br x30`. Either way the return-address
// predictor is out of step after a stack swap, so `br` would buy little, and
// it would break under Branch Target Identification: a `br` must land on a
// BTI landing pad, and the instruction after a `bl` (every resume point) is
// none, whereas `ret` is exempt from the check.
#ifndef GORO_DETAIL_CONTEXT_AARCH64_HPP
#define GORO_DETAIL_CONTEXT_AARCH64_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>

#if !defined(__ELF__)
#error "goro: context_aarch64.hpp is written for ELF targets; define GORO_USE_UCONTEXT elsewhere"
#endif

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
    .pushsection .text.goro_detail_jump_v1,"axG",%progbits,goro_detail_jump_v1,comdat
    .weak   goro_detail_jump_v1
    .hidden goro_detail_jump_v1
    .type   goro_detail_jump_v1,%function
    .p2align 4
goro_detail_jump_v1:
    .cfi_startproc
    hint    #34                  // bti c: a landing pad should a linker veneer reach us by `br`
    sub     sp, sp, #176         // room for the frame (see table); keeps sp 16-byte aligned
    .cfi_def_cfa_offset 176
    stp     d8, d9, [sp, #0]     // callee-saved FP registers (low halves of v8-v15)
    stp     d10, d11, [sp, #16]
    stp     d12, d13, [sp, #32]
    stp     d14, d15, [sp, #48]
    stp     x19, x20, [sp, #64]  // callee-saved general registers
    stp     x21, x22, [sp, #80]
    stp     x23, x24, [sp, #96]
    stp     x25, x26, [sp, #112]
    stp     x27, x28, [sp, #128]
    stp     x29, x30, [sp, #144] // frame pointer and our return address
    .cfi_offset d8, -176
    .cfi_offset d9, -168
    .cfi_offset d10, -160
    .cfi_offset d11, -152
    .cfi_offset d12, -144
    .cfi_offset d13, -136
    .cfi_offset d14, -128
    .cfi_offset d15, -120
    .cfi_offset x19, -112
    .cfi_offset x20, -104
    .cfi_offset x21, -96
    .cfi_offset x22, -88
    .cfi_offset x23, -80
    .cfi_offset x24, -72
    .cfi_offset x25, -64
    .cfi_offset x26, -56
    .cfi_offset x27, -48
    .cfi_offset x28, -40
    .cfi_offset x29, -32
    .cfi_offset x30, -24
    mrs     x9, fpcr             // rounding mode, flush-to-zero, trap enables
    str     x9, [sp, #160]
    mov     x10, sp              // sp cannot be stored directly
    str     x10, [x0]            // *save_sp = this execution's frame
    mov     sp, x1               // switch stacks: from here on we run on the other one
                                 // (its frame has the same layout, so the CFI above
                                 // now describes the resumed side)
    ldr     x10, [sp, #160]      // the other execution's FPCR
    cmp     x9, x10              // writing FPCR can stall the pipeline, and it
    b.eq    1f                   // almost never differs: skip the write if equal
    msr     fpcr, x10
1:
    ldp     d8, d9, [sp, #0]     // its callee-saved registers, in frame order
    ldp     d10, d11, [sp, #16]
    ldp     d12, d13, [sp, #32]
    ldp     d14, d15, [sp, #48]
    ldp     x19, x20, [sp, #64]
    ldp     x21, x22, [sp, #80]
    ldp     x23, x24, [sp, #96]
    ldp     x25, x26, [sp, #112]
    ldp     x27, x28, [sp, #128]
    ldp     x29, x30, [sp, #144] // x30: where the other execution resumes
    add     sp, sp, #176         // drop its frame
    .cfi_def_cfa_offset 0
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
    mov     x0, x2               // the resumed side returns `transfer`
    ret                          // to x30; `ret`, not `br`: see the head of this file
    .cfi_endproc
    .size   goro_detail_jump_v1,.-goro_detail_jump_v1
    .popsection

    .pushsection .text.goro_detail_trampoline_v1,"axG",%progbits,goro_detail_trampoline_v1,comdat
    .weak   goro_detail_trampoline_v1
    .hidden goro_detail_trampoline_v1
    .type   goro_detail_trampoline_v1,%function
    .p2align 4
goro_detail_trampoline_v1:
    .cfi_startproc
    .cfi_undefined x30           // the outermost frame: unwinders and debuggers stop here
    mov     x1, x20              // entry(transfer, arg): x0 = transfer already,
    blr     x19                  // x19 = entry and x20 = arg from make_frame
    brk     #0                   // entry functions never return
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
/// floating-point control state (FPCR) is inherited from the caller, as a new
/// thread inherits it.
inline void* make_frame(void* bottom, std::size_t size, entry_fn entry, void* arg) noexcept {
  auto t = (reinterpret_cast<std::uintptr_t>(bottom) + size) & ~std::uintptr_t{15};
  // The jump pops the whole 176-byte frame, so the trampoline starts with
  // sp == t, 16-byte aligned as the ABI requires of every call.
  auto* frame = reinterpret_cast<std::uint64_t*>(t - 176);
  std::uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  for (int i = 0; i < 22; ++i) frame[i] = 0;          // d8-d15, x21-x28: no meaningful value
  frame[8] = reinterpret_cast<std::uint64_t>(entry);  // x19
  frame[9] = reinterpret_cast<std::uint64_t>(arg);    // x20
  frame[18] = 0;                                      // x29: ends frame-pointer chains
  frame[19] = reinterpret_cast<std::uint64_t>(&goro_detail_trampoline_v1);  // x30
  frame[20] = fpcr;
  return frame;
}

/// Switches stacks; see goro_detail_jump_v1.
GORO_ALWAYS_INLINE void* jump(void** save_sp, void* load_sp, void* transfer) noexcept {
  return goro_detail_jump_v1(save_sp, load_sp, transfer);
}

}  // namespace goro::detail::arch

#endif
