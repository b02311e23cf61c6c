// train_step's update against the book's `params[key] -= learning_rate * grad[key]`, bit for bit:
// the product rounded, then the difference. A compiler that contracts the two into one fused
// multiply-subtract (GCC does on aarch64 unless told not to) rounds once and fails this.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"
#include "net.hpp"

namespace {

template <class T>
void check_train_step_is_gradient_then_update() {
  // Two chunks of rows (150 rows), sparse inputs, a few of them exactly 0.
  constexpr std::size_t D = 40, H = 9, C = 4, N = 150;
  const T learning_rate = T(0.3);
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<float> x(N * D);
  for (auto& v : x) v = uniform(gen) < 0 ? 0.0f : static_cast<float>(uniform(gen));
  std::vector<std::int64_t> labels(N);
  for (auto& label : labels) label = static_cast<std::int64_t>(gen() % C);
  twolayer::Targets<T> targets;
  targets.labels = labels.data();

  const twolayer::Dims dims{D, H, C};
  twolayer::TwoLayerNet<T> book(dims, twolayer::Activation::sigmoid),
      stepped(dims, book.activation());
  for (std::size_t i = 0; i < dims.size(); ++i)
    book.params()[i] = stepped.params()[i] = static_cast<T>(0.5 * uniform(gen));

  std::vector<T> grads(dims.size());
  book.gradient(grads.data(), x.data(), targets, N);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    volatile T product = learning_rate * grads[i];  // rounded to T before the difference
    book.params()[i] -= product;
  }
  stepped.train_step(x.data(), targets, nullptr, N, learning_rate, false);

  std::size_t differ = 0;
  for (std::size_t i = 0; i < dims.size(); ++i) differ += stepped.params()[i] != book.params()[i];
  CHECK(differ == 0);
}

}  // namespace

int main() {
  check_train_step_is_gradient_then_update<double>();
  check_train_step_is_gradient_then_update<float>();
  return twolayer_test::report("test_train_step");
}
