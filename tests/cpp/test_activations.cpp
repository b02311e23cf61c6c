// The sigmoid and the softmax of every kernel set against the formulas evaluated in double.
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "check.hpp"
#include "dispatch.hpp"
#include "random.hpp"

namespace {

using twolayer::Kernels;

template <class T>
void check_sigmoid(const Kernels<T>& k) {
  std::mt19937 gen(2);
  std::normal_distribution<double> normal(0.0, 10.0);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<T> z;
  for (int i = 0; i < 1001; ++i) z.push_back(static_cast<T>(normal(gen)));
  for (double special : {0.0, 50.0, -50.0, 800.0, -800.0, inf, -inf})
    z.push_back(static_cast<T>(special));
  std::vector<double> expected;
  for (T v : z) expected.push_back(1.0 / (1.0 + std::exp(-double(v))));
  k.sigmoid_forward(z.data(), z.size());
  CHECK_ARRAY_CLOSE(z, expected, 4 * std::numeric_limits<T>::epsilon());

  T nan = std::numeric_limits<T>::quiet_NaN();
  k.sigmoid_forward(&nan, 1);
  CHECK(std::isnan(nan));
}

template <class T>
void check_softmax(const Kernels<T>& k) {
  const std::size_t N = 37, C = 10;
  std::mt19937 gen(3);
  std::normal_distribution<double> normal(0.0, 20.0);
  std::vector<T> y(N * C);
  for (auto& v : y) v = static_cast<T>(normal(gen));
  std::vector<double> expected(N * C);
  for (std::size_t n = 0; n < N; ++n) {
    double top = -std::numeric_limits<double>::infinity(), sum = 0;
    for (std::size_t c = 0; c < C; ++c) top = std::fmax(top, double(y[n * C + c]));
    for (std::size_t c = 0; c < C; ++c) sum += expected[n * C + c] = std::exp(y[n * C + c] - top);
    for (std::size_t c = 0; c < C; ++c) expected[n * C + c] /= sum;
  }
  k.softmax_forward(y.data(), N, C);
  CHECK_ARRAY_CLOSE(y, expected, 8 * std::numeric_limits<T>::epsilon());
}

template <class T>
void check_every_kernel_set() {
  twolayer_test::on_every_kernel_set<T>([](const Kernels<T>& k) {
    check_sigmoid(k);
    check_softmax(k);
  });
}

}  // namespace

int main() {
  check_every_kernel_set<double>();
  check_every_kernel_set<float>();
  return twolayer_test::report("test_activations");
}
