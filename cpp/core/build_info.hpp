// What this build of the core is and which kernels it runs, for bug reports: read by
// twolayer.show_config(), never changed by it.
#pragma once

namespace twolayer {

struct BuildInfo {
  const char* compiler;         // name and version, as the compiler gives them
  const char* build_type;       // CMake's configuration: Release, Debug, ...
  long cplusplus;               // __cplusplus: the language standard compiled for
  bool avx2_built;              // the AVX2/FMA kernels compiled in (CMake option TWOLAYER_AVX2)
  bool native;                  // everything compiled for the build machine (TWOLAYER_NATIVE)
  bool sanitized;               // AddressSanitizer and UBSan (TWOLAYER_SANITIZE)
  bool cpu_avx2_fma;            // this CPU (and OS) can run AVX2 and FMA instructions
  const char* float32_kernels;  // the kernel set that float32 nets run, "avx2" or "portable"
  const char* float64_kernels;  // the same for float64 nets
};

BuildInfo build_info();

}  // namespace twolayer
