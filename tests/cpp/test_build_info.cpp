// build_info() reports the kernel set that each dtype really runs, and the AVX2 kernels as built in
// exactly where dispatch can hand them out.
#include <cstring>

#include "build_info.hpp"
#include "check.hpp"
#include "dispatch.hpp"

namespace {

using twolayer::build_info;

bool same(const char* a, const char* b) { return std::strcmp(a, b) == 0; }

void check_kernels_are_the_dispatched_ones() {
  const twolayer::BuildInfo info = build_info();
  CHECK(same(info.float32_kernels, twolayer::kernels<float>().name));
  CHECK(same(info.float64_kernels, twolayer::kernels<double>().name));
  CHECK(same(info.float64_kernels, "avx2") == twolayer::simd_enabled());
  CHECK(same(info.float32_kernels, info.float64_kernels));
}

void check_avx2_is_offered_where_built_and_supported() {
  const twolayer::BuildInfo info = build_info();
  const bool offered = twolayer::avx2_kernels<double>() != nullptr;
  CHECK(offered == (info.avx2_built && info.cpu_avx2_fma));
  CHECK(offered == twolayer::simd_available());
  if (!offered) CHECK(same(info.float64_kernels, "portable"));
}

void check_build_is_described() {
  const twolayer::BuildInfo info = build_info();
  CHECK(info.compiler != nullptr && std::strlen(info.compiler) > 0);
  CHECK(info.build_type != nullptr && std::strlen(info.build_type) > 0);
  CHECK(info.cplusplus >= 201703L);
}

}  // namespace

int main() {
  check_kernels_are_the_dispatched_ones();
  check_avx2_is_offered_where_built_and_supported();
  check_build_is_described();
  return twolayer_test::report("test_build_info");
}
