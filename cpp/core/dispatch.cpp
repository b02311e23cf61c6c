#include "dispatch.hpp"

#include <cstdlib>
#include <cstring>

#include "compiler.hpp"
#include "numerical_gradient.hpp"
#ifdef TWOLAYER_HAVE_AVX2
#include "kernels_avx2.hpp"
#endif

namespace twolayer {
namespace {

bool avx2_kernels_usable() {
#ifdef TWOLAYER_HAVE_AVX2
  return cpu_has_avx2_fma();
#else
  return false;
#endif
}

bool enabled_at_start() {
  const char* value = std::getenv("TWOLAYER_SIMD");
  return !(value && (std::strcmp(value, "0") == 0 || std::strcmp(value, "off") == 0));
}

}  // namespace

template <class T>
const Kernels<T>& portable_kernels() {
  static const Kernels<T> k{"portable",
                            &gather_nonzeros_by_rows<T, float>,
                            &gather_nonzeros_by_rows<T, double>,
                            &sparse_affine_forward<T>,
                            &mark_nonzero_columns<T>,
                            &sparse_affine_backward_weights<T, float>,
                            &sparse_affine_backward_weights<T, double>,
                            &affine_forward<ZeroInputs::multiply, T, T>,
                            &affine_backward_weights<T, T>,
                            &sigmoid_forward<T>,
                            &relu_forward<T>,
                            &softmax_forward<T>};
  return k;
}

template <>
const Kernels<float>* avx2_kernels<float>() {
#ifdef TWOLAYER_HAVE_AVX2
  if (simd_available()) return &avx2::kernels_float;
#endif
  return nullptr;
}

template <>
const Kernels<double>* avx2_kernels<double>() {
#ifdef TWOLAYER_HAVE_AVX2
  if (simd_available()) return &avx2::kernels_double;
#endif
  return nullptr;
}

template <class T>
const Kernels<T>& kernels() {
  const Kernels<T>* fast = avx2_kernels<T>();
  return fast && simd_enabled() ? *fast : portable_kernels<T>();
}

const NumericalKernels& numerical_kernels() {
#ifdef TWOLAYER_HAVE_AVX2
  if (simd_enabled()) return avx2::numerical_kernels;
#endif
  return portable_numerical_kernels();
}

bool simd_available() {
  static const bool available = avx2_kernels_usable();
  return available;
}

bool simd_enabled() {
  static const bool enabled = simd_available() && enabled_at_start();
  return enabled;
}

template const Kernels<float>& portable_kernels<float>();
template const Kernels<double>& portable_kernels<double>();
template const Kernels<float>& kernels<float>();
template const Kernels<double>& kernels<double>();

}  // namespace twolayer
