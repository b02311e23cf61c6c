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

namespace twolayer {

// out[N×M] = a[N×K]·w[K×M] + b[M]. Overwrites out. Each row is a sum of rows of w, so zero inputs
// (most MNIST pixels) cost nothing.
template <class T, class A>
void affine_forward(T* out, const A* a, const T* w, const T* b, std::size_t N, std::size_t K,
                    std::size_t M) {
  for (std::size_t n = 0; n < N; ++n) {
    T* o = out + n * M;
    for (std::size_t m = 0; m < M; ++m) o[m] = b[m];
    const A* an = a + n * K;
    for (std::size_t k = 0; k < K; ++k) {
      const T ak = static_cast<T>(an[k]);
      if (ak == T(0)) continue;
      const T* wk = w + k * M;
      for (std::size_t m = 0; m < M; ++m) o[m] += ak * wk[m];
    }
  }
}

// dw[K×M] += a[N×K]ᵀ·d[N×M]. Accumulates. Skips zero inputs like affine_forward.
template <class T, class A>
void affine_backward_weights(T* dw, const A* a, const T* d, std::size_t N, std::size_t K,
                             std::size_t M) {
  for (std::size_t n = 0; n < N; ++n) {
    const A* an = a + n * K;
    const T* dn = d + n * M;
    for (std::size_t k = 0; k < K; ++k) {
      const T ak = static_cast<T>(an[k]);
      if (ak == T(0)) continue;
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

// da[N×K] = d[N×M]·w[K×M]ᵀ. Overwrites.
template <class T>
void affine_backward_input(T* da, const T* d, const T* w, std::size_t N, std::size_t K,
                           std::size_t M) {
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) {
      T s = 0;
      for (std::size_t m = 0; m < M; ++m) s += d[n * M + m] * w[k * M + m];
      da[n * K + k] = s;
    }
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
void softmax_cross_entropy_backward(T* dy, const T* y, const std::int64_t* t, T scale, std::size_t N,
                                    std::size_t C) {
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
