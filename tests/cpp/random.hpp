// Random operands for the kernel tests, and the kernel sets to run them on.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

#include "dispatch.hpp"

namespace twolayer_test {

// n values uniform in [-1, 1).
template <class T>
std::vector<T> uniform(std::mt19937& gen, std::size_t n) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(u(gen));
  return v;
}

// n values in [0, 1) with about 81% zeros, like normalised MNIST pixels.
template <class T>
std::vector<T> mnist_like(std::mt19937& gen, std::size_t n) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<T> v(n);
  for (auto& e : v) e = u(gen) < 0.81 ? T(0) : static_cast<T>(u(gen));
  return v;
}

// Calls check(kernels) for the portable kernels, always, and for the AVX2 ones where this build
// and CPU have them.
template <class T, class F>
void on_every_kernel_set(F&& check) {
  check(twolayer::portable_kernels<T>());
  if (const twolayer::Kernels<T>* fast = twolayer::avx2_kernels<T>()) check(*fast);
}

}  // namespace twolayer_test
