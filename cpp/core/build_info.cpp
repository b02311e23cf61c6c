#include "build_info.hpp"

#include "compiler.hpp"
#include "dispatch.hpp"

#ifndef TWOLAYER_BUILD_TYPE
#define TWOLAYER_BUILD_TYPE "unknown"
#endif

namespace twolayer {
namespace {

#define TWOLAYER_STRING2(x) #x
#define TWOLAYER_STRING(x) TWOLAYER_STRING2(x)

constexpr const char* compiler_name() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " __VERSION__;
#elif defined(_MSC_VER)
  return "MSVC " TWOLAYER_STRING(_MSC_FULL_VER);
#else
  return "unknown";
#endif
}

bool cpu_runs_avx2_fma() {
#if defined(__x86_64__) || defined(_M_X64)
  return cpu_has_avx2_fma();
#else
  return false;
#endif
}

}  // namespace

BuildInfo build_info() {
  BuildInfo info{};
  info.compiler = compiler_name();
  info.build_type = TWOLAYER_BUILD_TYPE;
  info.cplusplus = static_cast<long>(__cplusplus);
#ifdef TWOLAYER_HAVE_AVX2
  info.avx2_built = true;
#endif
#ifdef TWOLAYER_NATIVE_BUILD
  info.native = true;
#endif
#ifdef TWOLAYER_SANITIZED_BUILD
  info.sanitized = true;
#endif
  info.cpu_avx2_fma = cpu_runs_avx2_fma();
  info.float32_kernels = kernels<float>().name;
  info.float64_kernels = kernels<double>().name;
  return info;
}

}  // namespace twolayer
