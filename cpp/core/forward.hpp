// The forward pass and the per-sample loss, shared by the net and the numerical gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "dims.hpp"
#include "kernels.hpp"

namespace twolayer {

// z1[N×H] = f(x·W1 + b1); y[N×C] = softmax(z1·W2 + b2). Overwrites z1 and y.
template <class T, class X>
void forward(T* z1, T* y, const Params<const T>& p, const X* x, const Dims& d, Activation f,
             std::size_t N) {
  affine_forward(z1, x, p.W1, p.b1, N, d.D, d.H);
  activation_forward(f, z1, N * d.H);
  affine_forward(y, z1, p.W2, p.b2, N, d.H, d.C);
  softmax_forward(y, N, d.C);
}

// -log(softmax(logits)[t] + 1e-7) for one sample, from its C logits.
inline double sample_loss(const double* logits, std::int64_t t, std::size_t C) {
  const double top = *std::max_element(logits, logits + C);
  double sum = 0;
  for (std::size_t c = 0; c < C; ++c) sum += std::exp(logits[c] - top);
  return -std::log(std::exp(logits[t] - top) / sum + kLogEpsilon);
}

}  // namespace twolayer
