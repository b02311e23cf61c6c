// train_step with each of the book's optimizers against the gradient and the book's statements
// written out here, over many steps (the state matters only after the first), with and without a
// gathered batch and weight decay, in float and double. Run on the kernels in use and, by CTest,
// once more on the portable ones (TWOLAYER_SIMD=0).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"
#include "net.hpp"
#include "optimizer.hpp"

namespace {

using twolayer::OptimizerKind;

// One parameter's step, statement by statement as common/optimizer.py writes it, each result
// rounded to T (volatile keeps the compiler from fusing a product into the next sum).
template <class T>
void book_step(const twolayer::Optimizer& o, T& p, T g, T* s, std::size_t n, std::size_t i) {
  volatile T a, b;
  const T eps = T(1e-7);
  switch (o.kind) {
    case OptimizerKind::sgd:
      a = T(o.lr) * g;
      p = p - a;
      break;
    case OptimizerKind::momentum:
      a = T(o.momentum) * s[i];
      b = T(o.lr) * g;
      s[i] = a - b;
      p = p + s[i];
      break;
    case OptimizerKind::nesterov:
      s[i] = s[i] * T(o.momentum);
      a = T(o.lr) * g;
      s[i] = s[i] - a;
      a = T(o.momentum * o.momentum) * s[i];
      p = p + a;
      a = T((1 + o.momentum) * o.lr) * g;
      p = p - a;
      break;
    case OptimizerKind::adagrad:
      a = g * g;
      s[i] = s[i] + a;
      a = T(o.lr) * g;
      b = std::sqrt(s[i]) + eps;
      p = p - a / b;
      break;
    case OptimizerKind::rmsprop:
      s[i] = s[i] * T(o.decay_rate);
      a = T(1 - o.decay_rate) * g;
      a = a * g;
      s[i] = s[i] + a;
      a = T(o.lr) * g;
      b = std::sqrt(s[i]) + eps;
      p = p - a / b;
      break;
    case OptimizerKind::adam: {
      const double k = double(o.iter);
      const T lr_t = T(o.lr * std::sqrt(1.0 - std::pow(o.beta2, k)) / (1.0 - std::pow(o.beta1, k)));
      a = T(1 - o.beta1) * (g - s[i]);
      s[i] = s[i] + a;
      a = g * g;
      a = T(1 - o.beta2) * (a - s[n + i]);
      s[n + i] = s[n + i] + a;
      a = lr_t * s[i];
      b = std::sqrt(s[n + i]) + eps;
      p = p - a / b;
      break;
    }
  }
}

template <class T>
void check_optimizer(OptimizerKind kind, bool gather, double decay) {
  constexpr std::size_t D = 40, H = 9, C = 4, M = 300;  // batches of 150 rows: two chunks
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<float> x(M * D);
  for (auto& v : x) v = uniform(gen) < 0.3 ? 0.0f : static_cast<float>(uniform(gen));
  std::vector<std::int64_t> labels(M);
  for (auto& label : labels) label = static_cast<std::int64_t>(gen() % C);

  const twolayer::Dims dims{D, H, C};
  const std::size_t n = dims.size();
  twolayer::TwoLayerNet<T> book(dims), fused(dims);
  book.set_weight_decay_lambda(decay);
  fused.set_weight_decay_lambda(decay);
  for (std::size_t i = 0; i < n; ++i)
    book.params()[i] = fused.params()[i] = static_cast<T>(0.5 * uniform(gen));
  const std::vector<T> initial(fused.params(), fused.params() + n);
  twolayer::Optimizer o;
  o.kind = kind;
  o.lr = 0.05, o.momentum = 0.8, o.decay_rate = 0.9, o.beta1 = 0.85, o.beta2 = 0.99;
  const std::size_t buffers = twolayer::state_buffers(kind);
  std::vector<T> book_state(buffers * n), fused_state(buffers * n), grads(n);

  constexpr std::size_t N = 150;
  std::vector<std::int64_t> rows(N);
  std::vector<float> batch(N * D);
  std::vector<std::int64_t> batch_labels(N);
  for (std::uint64_t step = 1; step <= 20; ++step) {
    for (std::size_t r = 0; r < N; ++r) {
      rows[r] = static_cast<std::int64_t>(gen() % M);
      for (std::size_t k = 0; k < D; ++k) batch[r * D + k] = x[rows[r] * D + k];
      batch_labels[r] = labels[rows[r]];
    }
    twolayer::Targets<T> t;
    t.labels = batch_labels.data();
    o.iter = step;
    book.gradient(grads.data(), batch.data(), t, N);
    for (std::size_t i = 0; i < n; ++i)
      book_step(o, book.params()[i], grads[i], book_state.data(), n, i);
    const twolayer::Update<T> update(o, buffers ? fused_state.data() : nullptr, n);
    if (gather) {
      twolayer::Targets<T> all;
      all.labels = batch_labels.data();  // the batch's own targets, as the bindings take them
      fused.train_step(x.data(), all, rows.data(), N, update, false);
    } else {
      fused.train_step(batch.data(), t, nullptr, N, update, false);
    }
  }
  // The same bits, and every parameter moved (the first row of W1 sees non-zero inputs).
  std::size_t differ = 0, moved = 0;
  for (std::size_t i = 0; i < n; ++i) {
    differ += fused.params()[i] != book.params()[i];
    moved += fused.params()[i] != initial[i];
  }
  for (std::size_t i = 0; i < buffers * n; ++i) differ += fused_state[i] != book_state[i];
  CHECK(differ == 0);
  CHECK(moved > n * 9 / 10);
}

}  // namespace

int main() {
  const OptimizerKind kinds[] = {OptimizerKind::sgd,      OptimizerKind::momentum,
                                 OptimizerKind::nesterov, OptimizerKind::adagrad,
                                 OptimizerKind::rmsprop,  OptimizerKind::adam};
  for (OptimizerKind kind : kinds)
    for (bool gather : {false, true})
      for (double decay : {0.0, 0.01}) {
        check_optimizer<double>(kind, gather, decay);
        check_optimizer<float>(kind, gather, decay);
      }
  return twolayer_test::report("test_optimizers");
}
