// The sigmoid, ReLU and the softmax of every kernel set against the formulas evaluated in double
// (ReLU: the book's definition, NaN and signed zeros included).
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

// The book's Relu: x <= 0 becomes 0, anything else (NaN included) passes unchanged.
template <class T>
void check_relu(const Kernels<T>& k) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  // 11 entries: a whole vector and a masked tail in either type.
  std::vector<T> z = {T(-2), T(-0.0), T(0), T(1e-30), T(-1e-30), T(3.5),
                      nan,   -inf,    inf,  T(7),     T(-7)};
  const std::vector<T> in = z;
  k.relu_forward(z.data(), z.size());
  for (std::size_t i = 0; i < z.size(); ++i) {
    if (std::isnan(in[i])) {
      CHECK(std::isnan(z[i]));
    } else if (in[i] <= T(0)) {
      CHECK(z[i] == T(0) && !std::signbit(z[i]));  // +0, as the book's out[mask] = 0
    } else {
      CHECK(z[i] == in[i]);
    }
  }
  // Kernels::activation_forward picks the kernel of each activation.
  std::vector<T> s = {T(-1), T(0), T(2)};
  k.activation_forward(twolayer::Activation::relu, s.data(), s.size());
  CHECK(s[0] == T(0) && s[1] == T(0) && s[2] == T(2));
  k.activation_forward(twolayer::Activation::sigmoid, s.data(), s.size());
  CHECK_CLOSE(s[0], 0.5, 1e-7);
  CHECK_CLOSE(s[2], 1 / (1 + std::exp(-2.0)), 1e-7);
}

// The backward pass lets the gradient through where the output is positive, and nowhere else.
void check_relu_backward() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> z = {0.0, 2.0, 0.0, 1e-300, nan};
  std::vector<double> da = {5.0, 6.0, -7.0, 8.0, 9.0};
  twolayer::activation_backward(twolayer::Activation::relu, da.data(), z.data(), da.size());
  CHECK(da[0] == 0.0 && da[1] == 6.0 && da[2] == 0.0 && da[3] == 8.0);
  CHECK(da[4] == 9.0);  // a NaN unit is not masked, as in the book (its mask is x <= 0)
}

template <class T>
void check_every_kernel_set() {
  twolayer_test::on_every_kernel_set<T>([](const Kernels<T>& k) {
    check_sigmoid(k);
    check_softmax(k);
    check_relu(k);
  });
}

}  // namespace

int main() {
  check_every_kernel_set<double>();
  check_every_kernel_set<float>();
  check_relu_backward();
  return twolayer_test::report("test_activations");
}
