// The network's layers as plain loops over contiguous row-major buffers.
//
// Size letters: N batch, D input, H hidden, C classes; K and M name the inner and outer sizes of
// an affine layer. Outputs come first, then inputs and weights, then sizes. Input rows may be of
// another scalar type than the weights (float32 MNIST into a float64 net): they are widened on
// the fly instead of copying the whole batch.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "compiler.hpp"
#include "dims.hpp"

namespace twolayer {

// Whether a product of inputs and weights skips the zero inputs. The first layer does, as the
// sparse kernels below do: most MNIST pixels are zero, and 0·w counts as 0 there even where w is
// NaN or Inf. The hidden layer's product does not: 0·NaN is NaN there, as in NumPy.
enum class ZeroInputs { multiply, skip };

// out[N×M] = a[N×K]·w[K×M] + b[M]; no bias when b is null. Overwrites out. Each row is a sum of
// rows of w, one per input (per non-zero input with ZeroInputs::skip).
template <ZeroInputs Z = ZeroInputs::multiply, class T, class A>
void affine_forward(T* out, const A* a, const T* w, const T* b, std::size_t N, std::size_t K,
                    std::size_t M) {
  for (std::size_t n = 0; n < N; ++n) {
    T* o = out + n * M;
    for (std::size_t m = 0; m < M; ++m) o[m] = b ? b[m] : T(0);
    const A* an = a + n * K;
    for (std::size_t k = 0; k < K; ++k) {
      const T ak = static_cast<T>(an[k]);
      if (Z == ZeroInputs::skip && ak == T(0)) continue;
      const T* wk = w + k * M;
      for (std::size_t m = 0; m < M; ++m) o[m] += ak * wk[m];
    }
  }
}

// The non-zero entries of a batch a[N×K] (compressed sparse rows), each row cut into segments of
// kSegment inputs: the non-zeros of row n among inputs [kSegment·s, kSegment·(s + 1)) are
// index[e], value[e] for e in [start[n·S + s], start[n·S + s + 1]), S = segments. So row n's are
// [start[n·S], start[(n + 1)·S]), and a kernel finds those in a range of inputs without searching.
// The values are widened to the net's type T. About 81% of MNIST pixels are zero, so the first
// layer's products over these lists do a fifth of the dense work.
//
// Where the backward pass follows, the gather also leaves `groups`, a bitmap of the non-zeros by
// groups of 8 inputs: bit i of groups[g·stride + n] is set when a[n, 8g + i] != 0, stride being
// group_stride(N) (rows past N are zero). mark_nonzero_columns turns it into masks by columns.
constexpr std::size_t kGatherSlack = 8;
constexpr std::size_t kSegment = 32;

inline std::size_t segments_per_row(std::size_t K) { return (K + kSegment - 1) / kSegment; }

// The non-zeros by columns, without their values: bit n % 64 of masks[k·W + n / 64] is set when
// a[n, k] != 0, W = words_per_column(N).
inline std::size_t words_per_column(std::size_t N) { return (N + 63) / 64; }

inline std::size_t groups_per_row(std::size_t K) { return (K + 7) / 8; }
inline std::size_t group_stride(std::size_t N) { return 64 * words_per_column(N); }

template <class T>
struct SparseRows {
  const std::uint32_t* index;
  const T* value;
  const std::size_t* start;
  std::size_t segments;
  const std::uint8_t* groups;  // null where the gather was not asked for them

  std::size_t row_begin(std::size_t n) const { return start[n * segments]; }
  std::size_t row_end(std::size_t n) const { return start[(n + 1) * segments]; }
};

// index, value, start = the non-zeros of a[N×K], row by row, and groups unless it is null.
// Overwrites; index and value need room for N·K + kGatherSlack entries (vector versions may write
// a few past the last non-zero), start for N·segments_per_row(K) + 1, groups for
// groups_per_row(K)·group_stride(N). Returns the number of non-zeros. NaNs count as non-zero.
template <class T, class A>
std::size_t gather_nonzeros_by_rows(std::uint32_t* index, T* value, std::size_t* start,
                                    std::uint8_t* groups, const A* a, std::size_t N,
                                    std::size_t K) {
  const std::size_t stride = group_stride(N);
  if (groups)
    for (std::size_t i = 0; i < groups_per_row(K) * stride; ++i) groups[i] = 0;
  std::size_t count = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) {
      if (k % kSegment == 0) *start++ = count;
      if (a[n * K + k] != A(0)) {
        index[count] = static_cast<std::uint32_t>(k);
        value[count++] = static_cast<T>(a[n * K + k]);
        if (groups) groups[k / 8 * stride + n] |= static_cast<std::uint8_t>(1u << k % 8);
      }
    }
  *start = count;
  return count;
}

// out[N×M] = b[M] + a[N×K]·w[K×M] for a given by its non-zeros; no bias when b is null.
// Overwrites. The same sums as affine_forward, in the same order.
template <class T>
void sparse_affine_forward(T* out, const SparseRows<T>& a, const T* w, const T* b, std::size_t N,
                           std::size_t K, std::size_t M) {
  (void)K;
  for (std::size_t n = 0; n < N; ++n) {
    T* o = out + n * M;
    for (std::size_t m = 0; m < M; ++m) o[m] = b ? b[m] : T(0);
    for (std::size_t e = a.row_begin(n), end = a.row_end(n); e < end; ++e) {
      const T ak = a.value[e];
      const T* wk = w + std::size_t{a.index[e]} * M;
      for (std::size_t m = 0; m < M; ++m) o[m] += ak * wk[m];
    }
  }
}

// masks = the columns of a's non-zeros, from its groups. Overwrites K·W words.
template <class T>
void mark_nonzero_columns(std::uint64_t* masks, const SparseRows<T>& a, std::size_t N,
                          std::size_t K) {
  const std::size_t W = words_per_column(N), stride = group_stride(N);
  for (std::size_t i = 0; i < K * W; ++i) masks[i] = 0;
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t n = 0; n < N; ++n)
      if (a.groups[k / 8 * stride + n] >> k % 8 & 1)
        masks[k * W + n / 64] |= std::uint64_t{1} << n % 64;
}

// Rows k_begin <= k < k_end of dw[K×M] = a[N×K]ᵀ·d[N×M], over the non-zeros of a that masks
// marks, their values read from a; with `accumulate`, dw += that. The same sums as
// affine_backward_weights, in the same order. (Ranges of rows let threads share the work without
// sharing a row.)
template <class T, class A>
void sparse_affine_backward_weights(T* dw, const std::uint64_t* masks, const A* a, const T* d,
                                    std::size_t N, std::size_t K, std::size_t M,
                                    std::size_t k_begin, std::size_t k_end, bool accumulate) {
  const std::size_t W = words_per_column(N);
  for (std::size_t k = k_begin; k < k_end; ++k) {
    T* dwk = dw + k * M;
    if (!accumulate)
      for (std::size_t m = 0; m < M; ++m) dwk[m] = T(0);
    for (std::size_t word = 0; word < W; ++word)
      for (std::uint64_t bits = masks[k * W + word]; bits != 0; bits &= bits - 1) {
        const std::size_t n = word * 64 + static_cast<std::size_t>(count_trailing_zeros(bits));
        const T ak = static_cast<T>(a[n * K + k]);
        for (std::size_t m = 0; m < M; ++m) dwk[m] += ak * d[n * M + m];
      }
  }
}

// wt[M×K] = w[K×M]ᵀ. Overwrites.
template <class T>
void transpose(T* wt, const T* w, std::size_t K, std::size_t M) {
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t m = 0; m < M; ++m) wt[m * K + k] = w[k * M + m];
}

// dw[K×M] += a[N×K]ᵀ·d[N×M]. Accumulates. Zero inputs included (ZeroInputs::multiply).
template <class T, class A>
void affine_backward_weights(T* dw, const A* a, const T* d, std::size_t N, std::size_t K,
                             std::size_t M) {
  for (std::size_t n = 0; n < N; ++n) {
    const A* an = a + n * K;
    const T* dn = d + n * M;
    for (std::size_t k = 0; k < K; ++k) {
      const T ak = static_cast<T>(an[k]);
      T* dwk = dw + k * M;
      for (std::size_t m = 0; m < M; ++m) dwk[m] += ak * dn[m];
    }
  }
}

// db[M] += Σ_n d[n, :]. Accumulates.
template <class T>
void bias_backward(T* db, const T* d, std::size_t N, std::size_t M) {
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t m = 0; m < M; ++m) db[m] += d[n * M + m];
}

// Logistic function, stable for large |a|: exp never overflows.
template <class T>
inline T sigmoid(T a) {
  if (a >= T(0)) return T(1) / (T(1) + std::exp(-a));
  const T e = std::exp(a);
  return e / (T(1) + e);
}

// z[n] = sigmoid(z[n]) in place.
template <class T>
void sigmoid_forward(T* z, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) z[i] = sigmoid(z[i]);
}

// da[n] *= z(1 - z), the sigmoid's derivative from its output. In place.
template <class T>
void sigmoid_backward(T* da, const T* z, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) da[i] *= z[i] * (T(1) - z[i]);
}

// max(a, 0) as the book's Relu writes it: entries with a <= 0 become 0, the others (NaN too) pass.
template <class T>
inline T relu(T a) {
  return a <= T(0) ? T(0) : a;
}

// z[n] = relu(z[n]) in place.
template <class T>
void relu_forward(T* z, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) z[i] = relu(z[i]);
}

// da[n] = 0 where the unit was cut off (z <= 0, the book's mask), in place. z > 0 exactly where the
// pre-activation was, so the output tells as much as the input would.
template <class T>
void relu_backward(T* da, const T* z, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) da[i] = z[i] <= T(0) ? T(0) : da[i];
}

// The activations one by one (dims.hpp): each pass branches on f once, here or in
// Kernels::activation_forward.
template <class T>
inline T activate(Activation f, T a) {
  return f == Activation::relu ? relu(a) : sigmoid(a);
}

// z[n] = f(z[n]) in place.
template <class T>
void activation_forward(Activation f, T* z, std::size_t n) {
  if (f == Activation::relu)
    relu_forward(z, n);
  else
    sigmoid_forward(z, n);
}

// da[n] *= the derivative of the activation at the unit whose output is z[n]. In place.
template <class T>
void activation_backward(Activation f, T* da, const T* z, std::size_t n) {
  if (f == Activation::relu)
    relu_backward(da, z, n);
  else
    sigmoid_backward(da, z, n);
}

// y[N×C] = softmax of each row, in place. Subtracting the row max keeps exp from overflowing.
template <class T>
void softmax_forward(T* y, std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n) {
    T* row = y + n * C;
    T top = row[0];
    for (std::size_t c = 1; c < C; ++c) top = row[c] > top ? row[c] : top;
    T sum = 0;
    for (std::size_t c = 0; c < C; ++c) sum += (row[c] = std::exp(row[c] - top));
    for (std::size_t c = 0; c < C; ++c) row[c] /= sum;
  }
}

// Index of each row's largest entry, the first on ties; a NaN counts as largest, as in np.argmax.
template <class T>
void argmax_rows(std::int64_t* out, const T* x, std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n) {
    const T* row = x + n * C;
    std::size_t best = 0;
    for (std::size_t c = 1; c < C && !std::isnan(row[best]); ++c)
      if (row[c] > row[best] || std::isnan(row[c])) best = c;
    out[n] = static_cast<std::int64_t>(best);
  }
}

// Σ_n -log(y[n, t_n] + 1e-7): the book's cross-entropy before dividing by N, summed in double.
template <class T>
double cross_entropy_sum(const T* y, const std::int64_t* t, std::size_t N, std::size_t C) {
  double sum = 0;
  for (std::size_t n = 0; n < N; ++n)
    sum -= std::log(static_cast<double>(y[n * C + t[n]] + static_cast<T>(1e-7)));
  return sum;
}

// dy[N×C] = (y - onehot(t)) * scale. Overwrites.
template <class T>
void softmax_cross_entropy_backward(T* dy, const T* y, const std::int64_t* t, T scale,
                                    std::size_t N, std::size_t C) {
  for (std::size_t n = 0; n < N; ++n) {
    for (std::size_t c = 0; c < C; ++c) dy[n * C + c] = y[n * C + c] * scale;
    dy[n * C + t[n]] -= scale;
  }
}

// dy[N×C] = (y - t) * scale for target rows t, as the book writes it (any rows, not only one-hot).
template <class T>
void softmax_cross_entropy_backward(T* dy, const T* y, const T* t, T scale, std::size_t N,
                                    std::size_t C) {
  for (std::size_t i = 0; i < N * C; ++i) dy[i] = (y[i] - t[i]) * scale;
}

}  // namespace twolayer
