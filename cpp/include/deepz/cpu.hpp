// deepz/cpu.hpp -- run-time choice of the instruction set (CPU side only).
//
// The build is portable (no -march=native): hot loops are compiled a second
// time with __attribute__((target("avx2"))) where DEEPZ_X86_DISPATCH is set,
// and the binding picks that copy at run time when the CPU has AVX2. FMA is
// never enabled, and the vector code runs the same IEEE operations in the same
// order, so both copies give the same bits (the tests check it by forcing the
// baseline copy through each kernel's _<kernel>_isa hook). Never include this
// from CUDA code.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace deepz {

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define DEEPZ_X86_DISPATCH 1
inline bool cpu_has_avx2() {
  return __builtin_cpu_supports("avx2");
}
#else
#define DEEPZ_X86_DISPATCH 0
inline bool cpu_has_avx2() {
  return false;
}
#endif

// One switch per kernel: on = use the AVX2 copy. set() implements the test
// hook: "baseline" forces the portable copy, "auto" restores the default;
// returns the copy in use ("avx2" or "baseline").
struct IsaSwitch {
  bool on = cpu_has_avx2();
  std::string set(const std::optional<std::string>& name) {
    if (name) {
      if (*name == "baseline") {
        on = false;
      } else if (*name == "auto") {
        on = cpu_has_avx2();
      } else {
        throw std::invalid_argument("isa must be 'auto' or 'baseline', got '" + *name + "'");
      }
    }
    return on ? "avx2" : "baseline";
  }
};

}  // namespace deepz
