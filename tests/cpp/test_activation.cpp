// ReLU, chapter 5's activation: its kernel in every kernel set against the book's definition, and
// the net's gradients with it, backprop and both numerical methods, under both kernel sets.
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "check.hpp"
#include "dispatch.hpp"
#include "net.hpp"

namespace {

using twolayer::Activation;

// The book's Relu: x <= 0 becomes 0, anything else (NaN included) passes unchanged.
template <class T>
void check_relu_forward(const twolayer::Kernels<T>& k) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  // 11 entries: a whole vector and a masked tail in either type.
  std::vector<T> z = {T(-2), T(-0.0), T(0), T(1e-30), T(-1e-30), T(3.5), nan, -inf, inf, T(7), T(-7)};
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
  k.activation_forward(Activation::relu, s.data(), s.size());
  CHECK(s[0] == T(0) && s[1] == T(0) && s[2] == T(2));
  k.activation_forward(Activation::sigmoid, s.data(), s.size());
  CHECK_CLOSE(s[0], 0.5, 1e-7);
  CHECK_CLOSE(s[2], 1 / (1 + std::exp(-2.0)), 1e-7);
}

// The backward pass lets the gradient through where the output is positive, and nowhere else.
void check_relu_backward() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> z = {0.0, 2.0, 0.0, 1e-300, nan};
  std::vector<double> da = {5.0, 6.0, -7.0, 8.0, 9.0};
  twolayer::activation_backward(Activation::relu, da.data(), z.data(), da.size());
  CHECK(da[0] == 0.0 && da[1] == 6.0 && da[2] == 0.0 && da[3] == 8.0);
  CHECK(da[4] == 9.0);  // a NaN unit is not masked, as in the book (its mask is x <= 0)
}

// A small ReLU net on sparse inputs, with hidden unit 0 of sample 0 put on the kink:
// |a1| < h, so that the central difference straddles it.
struct KinkedNet {
  static constexpr std::size_t D = 6, H = 5, C = 3, N = 4;
  static constexpr double h = 1e-4, a_kink = 0.25e-4;
  twolayer::TwoLayerNet<double> net{twolayer::Dims{D, H, C}, Activation::relu};
  std::vector<double> x = std::vector<double>(N * D);
  std::vector<std::int64_t> t = {0, 2, 1, 2};

  KinkedNet() {
    std::mt19937 gen(3);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (auto& v : x) v = uniform(gen) < 0 ? 0.0 : uniform(gen) + 1.0;  // half zeros, the rest > 0
    double* p = net.params();
    for (std::size_t i = 0; i < net.dims().size(); ++i) p[i] = 0.5 * uniform(gen);
    // Unit 0 of sample 0: its pre-activation x[0]·W1[:, 0] + b1[0], set to a_kink through b1[0].
    const twolayer::Dims& d = net.dims();
    double a = 0;
    for (std::size_t i = 0; i < D; ++i) a += x[i] * p[d.W1() + i * H];
    p[d.b1()] = a_kink - a;
  }
};

void check_gradients(bool simd) {
  twolayer::set_simd_enabled(simd);
  KinkedNet k;
  const std::size_t size = k.net.dims().size();
  std::vector<double> backprop(size), naive(size), incremental(size);
  const std::atomic<bool> never{false};
  twolayer::Targets<double> targets;
  targets.labels = k.t.data();
  k.net.gradient(backprop.data(), k.x.data(), targets, k.N);
  CHECK(k.net.numerical_gradient(naive.data(), k.x.data(), k.t.data(), k.N, k.h,
                                 twolayer::NumericalMethod::naive, never));
  CHECK(k.net.numerical_gradient(incremental.data(), k.x.data(), k.t.data(), k.N, k.h,
                                 twolayer::NumericalMethod::incremental, never));
  // The two numerical methods evaluate the same differences: they agree to rounding everywhere,
  // the kink included.
  for (std::size_t i = 0; i < size; ++i) CHECK_CLOSE(incremental[i], naive[i], 1e-9);
  // Away from the kink the differences approach backprop's derivative (to O(h²)). The kink's
  // unit 0 is reached by b1[0] and by W1[:, 0] (which move sample 0 by h·x >= h: past the kink).
  const twolayer::Dims& d = k.net.dims();
  for (std::size_t i = 0; i < size; ++i)
    if (i != d.b1() && !(i < d.b1() && i % d.H == 0)) CHECK_CLOSE(naive[i], backprop[i], 1e-6);
  // Perturbing b1[0] moves sample 0's unit 0 output by relu(a + h) - relu(a - h) = a + h instead of
  // 2h: its share of the derivative counts (a + h)/2h times, as in the book's recomputation.
  // Sample 0's share of b1[0]'s gradient: backprop over sample 0 alone, divided by N.
  std::vector<double> alone(size);
  targets.labels = k.t.data();
  k.net.gradient(alone.data(), k.x.data(), targets, 1);
  const double share = alone[d.b1()] / k.N, factor = (k.a_kink + k.h) / (2 * k.h);
  CHECK(std::fabs(share) > 1e-3);  // the case means something: the kink moves the result
  CHECK_CLOSE(naive[d.b1()], backprop[d.b1()] + share * (factor - 1), 1e-6);
  twolayer::set_simd_enabled(true);
}

}  // namespace

int main() {
  check_relu_forward(twolayer::portable_kernels<double>());
  check_relu_forward(twolayer::portable_kernels<float>());
  if (const auto* fast = twolayer::avx2_kernels<double>()) check_relu_forward(*fast);
  if (const auto* fast = twolayer::avx2_kernels<float>()) check_relu_forward(*fast);
  check_relu_backward();
  check_gradients(false);
  check_gradients(true);
  return twolayer_test::report("test_activation");
}
