// The few compiler-specific operations of the core behind portable names: GCC's and Clang's
// builtins, MSVC's intrinsics. Everything else in the core is standard C++17.
//
// Static: each file gets its own copy, so that one compiled with -mavx2 never stands in, through
// the linker, for the baseline code's (the rule simd_avx2.hpp explains).
#pragma once

#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define TWOLAYER_MSVC 1
#endif

namespace twolayer {

// The index of the lowest set bit of x, which must not be 0.
static inline int count_trailing_zeros(std::uint64_t x) {
#ifdef TWOLAYER_MSVC
  unsigned long index;
  _BitScanForward64(&index, x);
  return static_cast<int>(index);
#else
  return __builtin_ctzll(x);
#endif
}

// The number of set bits of x. (MSVC's __popcnt needs the POPCNT instruction, which every CPU
// with AVX2, the only caller, has.)
static inline int popcount(unsigned x) {
#ifdef TWOLAYER_MSVC
  return static_cast<int>(__popcnt(x));
#else
  return __builtin_popcount(x);
#endif
}

#if defined(__x86_64__) || defined(_M_X64)
// Whether this CPU has AVX2 and FMA and the OS saves the YMM registers across context switches.
static inline bool cpu_has_avx2_fma() {
#ifdef TWOLAYER_MSVC
  int info[4];
  __cpuid(info, 0);
  if (info[0] < 7) return false;
  __cpuid(info, 1);
  const bool fma = info[2] & (1 << 12), osxsave = info[2] & (1 << 27), avx = info[2] & (1 << 28);
  if (!(fma && osxsave && avx) || (_xgetbv(0) & 0x6) != 0x6) return false;  // XMM and YMM state
  __cpuidex(info, 7, 0);
  return (info[1] & (1 << 5)) != 0;  // AVX2
#else
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}
#endif

}  // namespace twolayer
