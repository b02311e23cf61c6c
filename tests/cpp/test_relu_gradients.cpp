// The gradients of chapter 5's ReLU net, backprop and both numerical methods, at and away from
// ReLU's kink (its kernels: test_activations.cpp).
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"
#include "dispatch.hpp"
#include "net.hpp"

namespace {

using twolayer::Activation;

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

// On the kernels in use: CTest runs this test again with TWOLAYER_SIMD=0
// (tests/cpp/CMakeLists.txt).
void check_gradients() {
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
}

}  // namespace

int main() {
  check_gradients();
  return twolayer_test::report("test_relu_gradients");
}
