// The affine products of every kernel set against a plain triple loop written here.
#include <cstddef>
#include <random>
#include <vector>

#include "check.hpp"
#include "dispatch.hpp"

namespace {

template <class T>
void check_affine_forward(const twolayer::Kernels<T>& k, double tolerance) {
  const std::size_t N = 7, K = 13, M = 9;
  std::mt19937 gen(1);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> a(N * K), w(K * M), b(M), out(N * M);
  for (auto& v : a) v = uniform(gen) < 0 ? T(0) : static_cast<T>(uniform(gen));  // half zeros
  for (auto& v : w) v = static_cast<T>(uniform(gen));
  for (auto& v : b) v = static_cast<T>(uniform(gen));
  k.affine_forward(out.data(), a.data(), w.data(), b.data(), N, K, M);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t m = 0; m < M; ++m) {
      double expected = b[m];
      for (std::size_t i = 0; i < K; ++i) expected += double(a[n * K + i]) * double(w[i * M + m]);
      CHECK_CLOSE(out[n * M + m], expected, tolerance);
    }
}

template <class T>
void check_every_kernel_set(double tolerance) {
  check_affine_forward(twolayer::portable_kernels<T>(), tolerance);
  if (const auto* fast = twolayer::avx2_kernels<T>()) check_affine_forward(*fast, tolerance);
}

}  // namespace

int main() {
  check_every_kernel_set<double>(1e-13);
  check_every_kernel_set<float>(1e-5);
  return twolayer_test::report("test_affine");
}
