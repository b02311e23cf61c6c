#include "net.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "dispatch.hpp"
#include "kernels.hpp"
#include "numerical_gradient.hpp"
#include "parallel.hpp"

namespace twolayer {
namespace {

// Rows per chunk at most: small enough that a chunk's activations stay in cache, large enough
// that the per-chunk overhead vanishes.
constexpr std::size_t kRowsPerChunk = 256;
// Passes split a batch over threads only when each thread gets at least this many rows: a
// batch of 100 takes about 100-200 µs, and two halves of it finish 1.3-1.7 times sooner (measured
// on 2 cores), while below some 30 rows waking a thread costs more than it saves.
constexpr std::size_t kMinRowsPerThread = 32;

// The chunks the forward passes cut N rows into: an even number of equal chunks of at most
// kRowsPerChunk rows (so that two threads share them evenly), one chunk below 2·kMinRowsPerThread
// rows. They depend on N only, so that per-chunk sums do not depend on the thread count.
std::size_t rows_per_chunk(std::size_t N) {
  if (N < 2 * kMinRowsPerThread) return N;
  const std::size_t chunks = 2 * ((N + 2 * kRowsPerChunk - 1) / (2 * kRowsPerChunk));
  return (N + chunks - 1) / chunks;
}

// Rows rows[begin..end) of x[·×D], copied to the same places of out.
template <class X>
void gather_rows(X* out, const X* x, const std::int64_t* rows, std::size_t begin, std::size_t end,
                 std::size_t D) {
  for (std::size_t r = begin; r < end; ++r)
    std::copy_n(x + static_cast<std::size_t>(rows[r]) * D, D, out + r * D);
}

}  // namespace

template <class T>
TwoLayerNet<T>::TwoLayerNet(const Dims& dims, Activation activation)
    : dims_(dims), activation_(activation) {
  if (dims.D == 0 || dims.H == 0 || dims.C == 0)
    throw std::invalid_argument("network sizes must be positive");
  // The gathers of non-zero inputs keep the inputs' indices in 32 bits.
  if (dims.D > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("network input size is too large for 32-bit input indices");
  // The flat layout's offsets must not wrap around.
  const std::size_t limit = std::numeric_limits<std::size_t>::max() / (4 * sizeof(T));
  if (dims.D > limit / dims.H || dims.H > limit / dims.C || dims.D * dims.H > limit / 2)
    throw std::length_error("network sizes are too large to allocate");
  params_.assign(dims.size(), T(0));
}

template <class T>
typename TwoLayerNet<T>::Scratch& TwoLayerNet<T>::scratch(int worker) {
  if (scratch_.size() <= static_cast<std::size_t>(worker)) scratch_.resize(worker + 1);
  return scratch_[worker];
}

template <class T>
void TwoLayerNet<T>::reserve(int worker, std::size_t rows, bool with_backward) {
  const Dims& d = dims_;
  Scratch& s = scratch(worker);
  s.z1.resize(rows * d.H);
  s.y.resize(rows * d.C);
  s.index.resize(rows * d.D + kGatherSlack);
  s.value.resize(rows * d.D + kGatherSlack);
  s.start.resize(rows * segments_per_row(d.D) + 1);
  if (with_backward) {
    s.dy.resize(rows * d.C);
    s.da1.resize(rows * d.H);
    s.groups.resize(groups_per_row(d.D) * group_stride(rows));
    s.masks.resize(d.D * words_per_column(rows));
    s.grads.resize(d.size() - d.b1());
  }
}

template <class T>
template <class X>
SparseRows<T> TwoLayerNet<T>::forward_chunk(Scratch& s, T* logits, const X* x, std::size_t n,
                                            bool with_groups) const {
  std::uint8_t* groups = with_groups ? s.groups.data() : nullptr;
  kernels<T>().gather_nonzeros_by_rows(s.index.data(), s.value.data(), s.start.data(), groups, x, n,
                                       dims_.D);
  SparseRows<T> rows = s.nonzeros(dims_.D);
  forward_nonzeros(s, logits, rows, n);
  rows.groups = groups;
  return rows;
}

template <class T>
void TwoLayerNet<T>::forward_nonzeros(Scratch& s, T* logits, const SparseRows<T>& x,
                                      std::size_t n) const {
  const Dims& d = dims_;
  const Params<const T> p(params_.data(), d);
  const Kernels<T>& k = kernels<T>();
  k.sparse_affine_forward(s.z1.data(), x, p.W1, p.b1, n, d.D, d.H);
  k.activation_forward(activation_, s.z1.data(), n * d.H);
  k.affine_forward(logits, s.z1.data(), p.W2, p.b2, n, d.H, d.C);
}

template <class T>
template <class X>
void TwoLayerNet<T>::predict(T* y, const X* x, std::size_t N) {
  const Dims& d = dims_;
  const int workers = num_threads();
  const std::size_t rows = rows_per_chunk(N);
  for (int w = 0; w < workers; ++w) reserve(w, rows, false);
  parallel_for(N, rows, workers, [&](std::size_t begin, std::size_t end, int w) {
    T* yb = y + begin * d.C;
    forward_chunk(scratch_[w], yb, x + begin * d.D, end - begin);
    kernels<T>().softmax_forward(yb, end - begin, d.C);
  });
}

template <class T>
template <class X>
double TwoLayerNet<T>::loss(const X* x, const std::int64_t* t, std::size_t N) {
  const int workers = num_threads();
  for (int w = 0; w < workers; ++w) reserve(w, rows_per_chunk(N), false);
  return weight_decay_loss() +
         mean_cross_entropy(t, N, workers, [&](std::size_t begin, std::size_t end, int w) {
           Scratch& s = scratch_[w];
           forward_chunk(s, s.y.data(), x + begin * dims_.D, end - begin);
           return &s;
         });
}

template <class T>
double TwoLayerNet<T>::weight_decay_loss() const {
  if (weight_decay_lambda_ == 0) return 0;
  const Dims& d = dims_;
  auto squares = [&](std::size_t begin, std::size_t end) {
    double sum = 0;
    for (std::size_t i = begin; i < end; ++i) sum += double(params_[i]) * double(params_[i]);
    return sum;
  };
  // The book adds each layer's term in turn: 0.5·λ·ΣW1², then 0.5·λ·ΣW2².
  const double half = 0.5 * weight_decay_lambda_;
  return half * squares(d.W1(), d.b1()) + half * squares(d.W2(), d.b2());
}

template <class T>
void TwoLayerNet<T>::add_weight_decay(T* grads, std::size_t begin, std::size_t end) const {
  if (weight_decay_lambda_ == 0) return;
  // The book's `dW + λ·W`: the product rounded to T, then the sum (-ffp-contract=off).
  const T lambda = static_cast<T>(weight_decay_lambda_);
  for (std::size_t i = begin; i < end; ++i) grads[i] += lambda * params_[i];
}

template <class T>
template <class Forward>
double TwoLayerNet<T>::mean_cross_entropy(const std::int64_t* t, std::size_t N, int workers,
                                          Forward&& forward) {
  const std::size_t C = dims_.C, rows = rows_per_chunk(N);
  // Summed per chunk, then in chunk order, so the result does not depend on the thread count.
  std::vector<double> sums((N + rows - 1) / rows);
  parallel_for(N, rows, workers, [&](std::size_t begin, std::size_t end, int w) {
    Scratch* s = forward(begin, end, w);
    kernels<T>().softmax_forward(s->y.data(), end - begin, C);
    sums[begin / rows] = cross_entropy_sum(s->y.data(), t + begin, end - begin, C);
  });
  double total = 0;
  for (double s : sums) total += s;
  return total / static_cast<double>(N);
}

template <class T>
template <class X>
std::size_t TwoLayerNet<T>::count_correct(const X* x, const std::int64_t* t, std::size_t N) {
  const Dims& d = dims_;
  const int workers = num_threads();
  const std::size_t rows = rows_per_chunk(N);
  for (int w = 0; w < workers; ++w) reserve(w, rows, false);
  std::vector<std::size_t> counts((N + rows - 1) / rows);
  parallel_for(N, rows, workers, [&](std::size_t begin, std::size_t end, int w) {
    Scratch& s = scratch_[w];
    std::int64_t predicted[kRowsPerChunk];
    forward_chunk(s, s.y.data(), x + begin * d.D, end - begin);
    kernels<T>().softmax_forward(s.y.data(), end - begin, d.C);  // ties as in the probabilities
    argmax_rows(predicted, s.y.data(), end - begin, d.C);
    std::size_t correct = 0;
    for (std::size_t n = begin; n < end; ++n) correct += predicted[n - begin] == t[n];
    counts[begin / rows] = correct;
  });
  std::size_t total = 0;
  for (std::size_t c : counts) total += c;
  return total;
}

template <class T>
template <class X>
void TwoLayerNet<T>::backward_chunk(Scratch& s, const X* x, const Targets<T>& t, std::size_t n,
                                    T scale) const {
  const Dims& d = dims_;
  const Kernels<T>& k = kernels<T>();
  T *gb1 = s.grads.data(), *gW2 = gb1 + d.H, *gb2 = gW2 + d.H * d.C;  // b1, W2, b2 of this slot
  const SparseRows<T> xb = forward_chunk(s, s.y.data(), x, n, true);
  k.softmax_forward(s.y.data(), n, d.C);
  if (t.labels)
    softmax_cross_entropy_backward(s.dy.data(), s.y.data(), t.labels, scale, n, d.C);
  else
    softmax_cross_entropy_backward(s.dy.data(), s.y.data(), t.rows, scale, n, d.C);
  k.affine_backward_weights(gW2, s.z1.data(), s.dy.data(), n, d.H, d.C);
  bias_backward(gb2, s.dy.data(), n, d.C);
  k.affine_forward(s.da1.data(), s.dy.data(), w2t_.data(), nullptr, n, d.C, d.H);
  activation_backward(activation_, s.da1.data(), s.z1.data(), n * d.H);
  bias_backward(gb1, s.da1.data(), n, d.H);
  k.mark_nonzero_columns(s.masks.data(), xb, n, d.D);
}

template <class T>
template <class X>
void TwoLayerNet<T>::gradient(T* grads, const X* x, const Targets<T>& t, std::size_t N) {
  backprop(grads, x, nullptr, t, N, nullptr);
}

template <class T>
template <class X>
bool TwoLayerNet<T>::backprop(T* grads, const X* x, const std::int64_t* rows, const Targets<T>& t,
                              std::size_t N, const Update<T>* update) {
  const Dims& d = dims_;
  // da1 = dy·W2ᵀ runs as a forward product with W2 transposed once per call.
  w2t_.resize(d.H * d.C);
  transpose(w2t_.data(), params_.data() + d.W2(), d.H, d.C);
  X* gathered = nullptr;  // the batch's rows, copied chunk by chunk by the thread that takes it
  if (rows) {
    batch_rows<X>().resize(N * d.D);
    gathered = batch_rows<X>().data();
  }
  const X* batch = rows ? gathered : x;

  // Rounds of up to one chunk per thread. In each round, the threads first take a chunk each
  // through backward_chunk, with its part of the small gradients (b1, W2, b2: everything after
  // W1 in the flat layout), which are then added up in chunk order; then they share out the rows
  // of W1's gradient, each adding every chunk's part to its rows. So W1's gradient needs no
  // partial copies, and every sum is taken in chunk order whatever the thread count.
  const int workers = num_threads();
  const std::size_t chunk = rows_per_chunk(N), chunks = (N + chunk - 1) / chunk;
  // At least two slots: a batch of up to 2·kRowsPerChunk rows (two chunks) then takes a single
  // round on any number of threads, and train_step's loss can start from its chunks' non-zeros.
  const std::size_t slots = std::min(chunks, static_cast<std::size_t>(std::max(workers, 2)));
  for (std::size_t slot = 0; slot < slots; ++slot) reserve(static_cast<int>(slot), chunk, true);
  // W1's gradient rows are shared out in pieces of this many, taken in turn by free threads.
  const std::size_t w1_rows = std::max<std::size_t>(16, (d.D + 4 * workers - 1) / (4 * workers));
  // Its work grows with the rows in the round: with a single chunk (fewer than
  // 2·kMinRowsPerThread rows) it is too small to pay for waking a second thread, as the forward is.
  const int w1_workers = chunks > 1 ? workers : 1;
  T* gW1 = grads + d.W1();
  const T scale = T(1) / static_cast<T>(N);
  for (std::size_t first = 0; first < chunks; first += slots) {
    const std::size_t in_round = std::min(slots, chunks - first);
    auto begin = [&](std::size_t slot) { return (first + slot) * chunk; };  // the slot's chunk
    auto size = [&](std::size_t slot) { return std::min(chunk, N - begin(slot)); };
    parallel_for(in_round, 1, workers, [&](std::size_t slot, std::size_t, int) {
      if (rows) gather_rows(gathered, x, rows, begin(slot), begin(slot) + size(slot), d.D);
      Scratch& s = scratch_[slot];
      std::fill(s.grads.begin(), s.grads.end(), T(0));
      backward_chunk(s, batch + begin(slot) * d.D, t.from(begin(slot), d.C), size(slot), scale);
    });
    add_small_gradients(grads, first, in_round);
    const bool last = first + slots >= chunks;
    parallel_for(d.D, w1_rows, w1_workers, [&](std::size_t k0, std::size_t k1, int) {
      // A pass per chunk: one pass over all of them thrashed L1 with their gradients at once.
      for (std::size_t slot = 0; slot < in_round; ++slot)
        kernels<T>().sparse_affine_backward_weights(
            gW1, scratch_[slot].masks.data(), batch + begin(slot) * d.D, scratch_[slot].da1.data(),
            size(slot), d.D, d.H, k0, k1, first + slot > 0);
      if (!last) return;
      // Each thread finishes the rows of W1 it has just summed, and updates them (and their
      // optimizer state), while they are in its cache.
      add_weight_decay(grads, k0 * d.H, k1 * d.H);
      if (update) update->apply(params_.data(), grads, k0 * d.H, k1 * d.H);
    });
  }
  add_weight_decay(grads, d.W2(), d.b2());
  if (update) update->apply(params_.data(), grads, d.b1(), d.size());
  return chunks == slots;
}

template <class T>
void TwoLayerNet<T>::add_small_gradients(T* grads, std::size_t first_chunk, std::size_t in_round) {
  T* small = grads + dims_.b1();
  for (std::size_t slot = 0; slot < in_round; ++slot) {
    const std::vector<T>& part = scratch_[slot].grads;
    if (first_chunk + slot == 0)
      std::copy(part.begin(), part.end(), small);
    else
      for (std::size_t i = 0; i < part.size(); ++i) small[i] += part[i];
  }
}

template <class T>
template <class X>
std::vector<X>& TwoLayerNet<T>::batch_rows() {
  if constexpr (std::is_same<X, float>::value)
    return rows_of_float_;
  else
    return rows_of_double_;
}

template <class T>
template <class X>
double TwoLayerNet<T>::train_step(const X* x, const Targets<T>& t, const std::int64_t* rows,
                                  std::size_t N, T learning_rate, bool with_loss) {
  Optimizer sgd;
  sgd.lr = static_cast<double>(learning_rate);
  return train_step(x, t, rows, N, Update<T>(sgd, nullptr, dims_.size()), with_loss);
}

template <class T>
template <class X>
double TwoLayerNet<T>::train_step(const X* x, const Targets<T>& t, const std::int64_t* rows,
                                  std::size_t N, const Update<T>& update, bool with_loss) {
  step_grads_.resize(dims_.size());
  const bool kept = backprop(step_grads_.data(), x, rows, t, N, &update);
  if (!with_loss) return std::numeric_limits<double>::quiet_NaN();
  const std::int64_t* labels = t.labels;
  if (!labels) {  // the loss reads target rows through their argmax, as the book's does
    batch_labels_.resize(N);
    argmax_rows(batch_labels_.data(), t.rows, N, dims_.C);
    labels = batch_labels_.data();
  }
  if (!kept) return loss(rows ? batch_rows<X>().data() : x, labels, N);
  // Each chunk's non-zeros are still in the scratch of its slot: the forward pass of the updated
  // net starts from them rather than gathering them again (23 µs of a 100-row float64 batch).
  const std::size_t chunk = rows_per_chunk(N);
  return weight_decay_loss() +
         mean_cross_entropy(labels, N, num_threads(), [&](std::size_t begin, std::size_t end, int) {
           Scratch& s = scratch_[begin / chunk];
           forward_nonzeros(s, s.y.data(), s.nonzeros(dims_.D), end - begin);
           return &s;
         });
}

template <class T>
template <class X>
bool TwoLayerNet<T>::numerical_gradient(T* grads, const X* x, const std::int64_t* t, std::size_t N,
                                        double h, NumericalMethod method,
                                        const std::atomic<bool>& cancel) {
  // A float32 net's loss changes by about 2h·g ≈ 1e-8 under a perturbation, below one float32 ulp
  // of the loss: the differences are formed in double so that they still measure a gradient.
  const std::vector<double> theta(params_.begin(), params_.end());
  std::vector<double> wide(theta.size());
  const bool done = method == NumericalMethod::naive
                        ? numerical_gradient_naive(wide.data(), theta.data(), dims_, activation_, x,
                                                   t, N, h, cancel)
                        : numerical_gradient_incremental(wide.data(), theta.data(), dims_,
                                                         activation_, x, t, N, h, cancel);
  if (!done) return false;
  // The weight decay's central difference, 0.5·λ·((w + h)² - (w - h)²) / 2h, is λ·w exactly: it is
  // added as that rather than differenced, which would only add the rounding of two whole losses.
  const Dims& d = dims_;
  if (weight_decay_lambda_ != 0)
    for (std::size_t i = 0; i < theta.size(); ++i)
      if (i < d.b1() || (i >= d.W2() && i < d.b2())) wide[i] += weight_decay_lambda_ * theta[i];
  std::transform(wide.begin(), wide.end(), grads, [](double g) { return static_cast<T>(g); });
  return true;
}

#define TWOLAYER_INSTANTIATE(T, X)                                                                \
  template void TwoLayerNet<T>::predict<X>(T*, const X*, std::size_t);                            \
  template double TwoLayerNet<T>::loss<X>(const X*, const std::int64_t*, std::size_t);            \
  template std::size_t TwoLayerNet<T>::count_correct<X>(const X*, const std::int64_t*,            \
                                                        std::size_t);                             \
  template void TwoLayerNet<T>::gradient<X>(T*, const X*, const Targets<T>&, std::size_t);        \
  template double TwoLayerNet<T>::train_step<X>(const X*, const Targets<T>&, const std::int64_t*, \
                                                std::size_t, T, bool);                            \
  template double TwoLayerNet<T>::train_step<X>(const X*, const Targets<T>&, const std::int64_t*, \
                                                std::size_t, const Update<T>&, bool);             \
  template bool TwoLayerNet<T>::numerical_gradient<X>(T*, const X*, const std::int64_t*,          \
                                                      std::size_t, double, NumericalMethod,       \
                                                      const std::atomic<bool>&);
template class TwoLayerNet<float>;
template class TwoLayerNet<double>;
TWOLAYER_INSTANTIATE(float, float)
TWOLAYER_INSTANTIATE(float, double)
TWOLAYER_INSTANTIATE(double, float)
TWOLAYER_INSTANTIATE(double, double)
#undef TWOLAYER_INSTANTIATE

}  // namespace twolayer
