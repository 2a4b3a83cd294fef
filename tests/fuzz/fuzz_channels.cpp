// A libFuzzer target: the input bytes choose a channel program (the model
// tester's generator, tests/support/model_program.hpp, reading bytes instead of
// a seeded stream), which runs on a goro runtime and is checked against channel
// semantics. A violation or a hang aborts, so libFuzzer saves the input.
//
// Built with clang++ -fsanitize=fuzzer,address,undefined in the clang-asan
// configuration (tests/CMakeLists.txt), where ctest runs it briefly over
// tests/fuzz/corpus; `tools/dev soak` runs it for longer. Elsewhere it is built
// with replay_main.cpp and just replays the corpus.
//
// The first byte picks the worker count (1, 2, 4 or 8); each count's runtime
// is made once and reused by every input.
#include <goro/goro.hpp>

#include "model_program.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static goro::runtime* runtimes[4] = {nullptr, nullptr, nullptr, nullptr};  // never destroyed
  const std::size_t which = data[0] % 4u;
  if (runtimes[which] == nullptr) {
    goro::runtime_options o;
    o.workers = std::size_t{1} << which;
    o.stack_size = 64 * 1024;
    runtimes[which] = new goro::runtime(o);
  }
  goro_model::entropy e(data + 1, size - 1);
  goro_model::program p = goro_model::generate(e, 5, 16);
  p.close_after_us %= 2000;  // keep each execution short
  const goro_model::run_result r = goro_model::run(p, *runtimes[which], std::chrono::seconds(20));
  if (!r.violations.empty()) {
    std::fprintf(stderr, "goro fuzz: %zu violation(s) at %zu workers\n", r.violations.size(),
                 runtimes[which]->workers());
    for (const auto& v : r.violations) std::fprintf(stderr, "  violation: %s\n", v.c_str());
    std::fprintf(stderr, "  program: %s", goro_model::describe(p).c_str());
    std::abort();
  }
  return 0;
}
