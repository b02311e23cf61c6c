// The forward pass in plain loops, for the numerical gradient's naive method and its unperturbed
// pass. (The net runs its own, chunked and on the dispatched kernels: net.cpp's forward_chunk.)
#pragma once

#include <cstddef>

#include "dims.hpp"
#include "kernels.hpp"

namespace twolayer {

// z1[N×H] = f(x·W1 + b1); y[N×C] = softmax(z1·W2 + b2). Overwrites z1 and y.
template <class T, class X>
void forward(T* z1, T* y, const Params<const T>& p, const X* x, const Dims& d, Activation f,
             std::size_t N) {
  affine_forward<ZeroInputs::skip>(z1, x, p.W1, p.b1, N, d.D, d.H);
  activation_forward(f, z1, N * d.H);
  affine_forward(y, z1, p.W2, p.b2, N, d.H, d.C);
  softmax_forward(y, N, d.C);
}

}  // namespace twolayer
