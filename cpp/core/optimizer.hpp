// The book's optimizers (common/optimizer.py), as train_step applies them: each part of the
// parameters updated, with its state, in the pass that finishes its gradient.
#pragma once

#include <cstddef>
#include <cstdint>

namespace twolayer {

enum class OptimizerKind { sgd, momentum, nesterov, adagrad, rmsprop, adam };

// The parameter-shaped buffers of state an optimizer keeps: none for SGD, the velocity of Momentum
// and Nesterov, the squared sums of AdaGrad and RMSprop, Adam's two moments.
std::size_t state_buffers(OptimizerKind kind);

// An optimizer's settings with the book's defaults (each class reads only its own), and Adam's
// step number, counting the step about to be taken (the book's `self.iter` after its `+= 1`).
struct Optimizer {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0.01;
  double momentum = 0.9;     // Momentum, Nesterov
  double decay_rate = 0.99;  // RMSprop
  double beta1 = 0.9;        // Adam
  double beta2 = 0.999;      // Adam
  std::uint64_t iter = 1;    // Adam
};

// One step of an optimizer over parameters of n values whose state is state_buffers(kind) buffers
// of n values, one after another in `state`, each laid out like the parameters. Its coefficients
// are the book's Python floats (products of them formed in double, as Python forms them) rounded
// to T, as NumPy rounds a Python float that multiplies an array of T.
template <class T>
class Update {
 public:
  Update(const Optimizer& optimizer, T* state, std::size_t n);

  // params[begin, end) and their state, from grads[begin, end): elementwise, the book's
  // statements in the book's order, each result rounded to T.
  void apply(T* params, const T* grads, std::size_t begin, std::size_t end) const;

 private:
  OptimizerKind kind_;
  T rate_;     // lr; Adam's bias-corrected lr_t
  T first_;    // the momentum; RMSprop's decay rate; Adam's 1 - β1
  T second_;   // Nesterov's momentum², RMSprop's 1 - decay rate; Adam's 1 - β2
  T step_;     // Nesterov's (1 + momentum)·lr
  T* state_;   // the velocity, the squared sums or Adam's first moment (null for SGD)
  T* moment_;  // Adam's second moment
};

}  // namespace twolayer
