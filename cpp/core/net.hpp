// The two-layer network: its parameters in one buffer and the passes over a batch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dims.hpp"
#include "kernels.hpp"
#include "optimizer.hpp"

namespace twolayer {

// What the loss compares the predictions with: integer labels, or target rows (N×C). Exactly one
// is set. Rows are used as they are by the gradient, as the book does, and through their argmax
// by the loss and the accuracy.
template <class T>
struct Targets {
  const std::int64_t* labels = nullptr;
  const T* rows = nullptr;

  // The targets of the rows from `begin` on, for C classes.
  Targets from(std::size_t begin, std::size_t C) const {
    Targets t;
    if (labels) t.labels = labels + begin;
    if (rows) t.rows = rows + begin * C;
    return t;
  }
};

enum class NumericalMethod {
  naive,        // the book's: perturb one parameter, evaluate the whole loss, restore
  incremental,  // the same differences, recomputing only what the perturbed parameter changes
};

// A network of fixed sizes and activation with scalar type T (float or double). The parameter
// buffer is allocated once and never moves, so views of it stay valid for the net's lifetime. The
// passes reuse scratch space held by the net, so one net must not run two passes at the same time.
// X, the type of the input rows, is float or double independently of T. Every pass takes a batch
// of N >= 1 rows (the bindings refuse empty ones).
template <class T>
class TwoLayerNet {
 public:
  explicit TwoLayerNet(const Dims& dims, Activation activation = Activation::sigmoid);

  const Dims& dims() const { return dims_; }
  Activation activation() const { return activation_; }
  T* params() { return params_.data(); }
  const T* params() const { return params_.data(); }

  // The book's weight decay (chapter 6's MultiLayerNet): the loss gains 0.5·λ·(ΣW1² + ΣW2²) and the
  // gradients of W1 and W2 gain λ·W (not the biases'), in every pass. 0 (the default) is none.
  double weight_decay_lambda() const { return weight_decay_lambda_; }
  void set_weight_decay_lambda(double lambda) { weight_decay_lambda_ = lambda; }

  // y[N×C] = softmax probabilities for x[N×D].
  template <class X>
  void predict(T* y, const X* x, std::size_t N);

  // The book's loss, the mean over the batch of -log(y[n, t_n] + 1e-7), plus the weight decay.
  template <class X>
  double loss(const X* x, const std::int64_t* t, std::size_t N);

  // How many rows have argmax(y) equal to their label.
  template <class X>
  std::size_t count_correct(const X* x, const std::int64_t* t, std::size_t N);

  // grads (flat, the parameters' layout) = the backpropagated gradient of the loss. Overwrites.
  template <class X>
  void gradient(T* grads, const X* x, const Targets<T>& t, std::size_t N);

  // One step of an optimizer on a batch of N rows (update.apply on the gradient), without handing
  // the gradient out. t holds the batch's N targets. With `rows` (N indices checked to lie in x),
  // the batch's inputs are rows rows[0..N) of x; else its first N rows. Returns the batch's loss
  // after the update (the book records it), or NaN without computing it when with_loss is false.
  template <class X>
  double train_step(const X* x, const Targets<T>& t, const std::int64_t* rows, std::size_t N,
                    const Update<T>& update, bool with_loss);
  // The same with the book's SGD: params -= learning_rate · gradient.
  template <class X>
  double train_step(const X* x, const Targets<T>& t, const std::int64_t* rows, std::size_t N,
                    T learning_rate, bool with_loss);

  // grads = central differences (f(θ+h) - f(θ-h)) / 2h of the loss over every parameter, formed in
  // double precision for both T. Returns false, leaving grads incomplete, if `cancel` turned true.
  template <class X>
  bool numerical_gradient(T* grads, const X* x, const std::int64_t* t, std::size_t N, double h,
                          NumericalMethod method, const std::atomic<bool>& cancel);

 private:
  // Scratch space of one worker, grown on demand and kept between calls: a chunk's activations
  // and its input's non-zeros, by rows (index, value, start), by groups of 8 inputs (groups) and by
  // columns (masks).
  struct Scratch {
    std::vector<T> z1, y, dy, da1, grads;
    std::vector<std::uint32_t> index;
    std::vector<T> value;
    std::vector<std::size_t> start;
    std::vector<std::uint8_t> groups;
    std::vector<std::uint64_t> masks;

    // The non-zeros of the chunk's D inputs, as the last gather left them (without their groups).
    SparseRows<T> nonzeros(std::size_t D) const {
      return {index.data(), value.data(), start.data(), segments_per_row(D), nullptr};
    }
  };
  Scratch& scratch(int worker);

  // The gradient into grads, then update->apply on it unless update is null.
  // With `rows`, the batch is gathered from x first (into batch_rows<X>()). Returns whether every
  // chunk's non-zeros are still in the scratch of its slot (chunk c in scratch_[c]): true when the
  // batch took a single round of chunks.
  template <class X>
  bool backprop(T* grads, const X* x, const std::int64_t* rows, const Targets<T>& t, std::size_t N,
                const Update<T>* update);
  // grads += λ·params over [begin, end) (a part of W1 or W2), when there is a weight decay.
  void add_weight_decay(T* grads, std::size_t begin, std::size_t end) const;
  // 0.5·λ·(ΣW1² + ΣW2²), the weight decay's part of the loss (0 without one).
  double weight_decay_loss() const;
  // The mean cross-entropy over N rows against labels t, chunk by chunk on up to `workers`
  // threads: forward(begin, end, worker) leaves the chunk's logits in the y of the Scratch* it
  // returns.
  template <class Forward>
  double mean_cross_entropy(const std::int64_t* t, std::size_t N, int workers, Forward&& forward);
  template <class X>
  std::vector<X>& batch_rows();
  // Sizes worker w's scratch for chunks of up to `rows` rows; with_backward adds what the
  // gradient needs.
  void reserve(int worker, std::size_t rows, bool with_backward);

  // s.z1 = activation(x·W1 + b1), logits = z1·W2 + b2 for n <= kRowsPerChunk rows; x's non-zeros
  // are left in s, with their groups in s.groups for the backward pass if with_groups.
  template <class X>
  SparseRows<T> forward_chunk(Scratch& s, T* logits, const X* x, std::size_t n,
                              bool with_groups = false) const;
  // The same from the chunk's non-zeros x, gathered already.
  void forward_nonzeros(Scratch& s, T* logits, const SparseRows<T>& x, std::size_t n) const;

  // The forward pass of n <= kRowsPerChunk rows, then the backward pass down to the hidden layer:
  // s.da1 = the gradient at its pre-activations, s.masks = x's non-zeros by columns, and the
  // chunk's part of the gradients of b1, W2 and b2 added to s.grads (W1's is left to the caller,
  // which shares its rows out over threads). Needs w2t_ = W2ᵀ.
  template <class X>
  void backward_chunk(Scratch& s, const X* x, const Targets<T>& t, std::size_t n, T scale) const;
  // grads' b1, W2 and b2 (+)= the parts of chunks [first_chunk, first_chunk + in_round), which
  // scratch slots [0, in_round) hold: one at a time in chunk order, so that the sum does not
  // depend on how many chunks a round takes (the thread count). The first chunk's overwrites.
  void add_small_gradients(T* grads, std::size_t first_chunk, std::size_t in_round);

  Dims dims_;
  Activation activation_;
  double weight_decay_lambda_ = 0;
  std::vector<T> params_;
  std::vector<Scratch> scratch_;
  std::vector<T> w2t_;  // W2 transposed, for the gradient
  // train_step's: the gradient, the batch's rows gathered from x (of either type), and the labels
  // of its target rows.
  std::vector<T> step_grads_;
  std::vector<float> rows_of_float_;
  std::vector<double> rows_of_double_;
  std::vector<std::int64_t> batch_labels_;
};

}  // namespace twolayer
