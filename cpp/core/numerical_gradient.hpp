// Central-difference gradients of the book's loss, in double precision.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "dims.hpp"

namespace twolayer {

// grads[i] = (f(θ + h·e_i) - f(θ - h·e_i)) / 2h for every parameter i, f the mean loss over the
// batch x[N×D] with labels t, θ the flat parameters (the layout of Dims). Both return false as soon
// as `cancel` turns true, leaving grads incomplete.

// The book's algorithm: each perturbation evaluates the whole loss again.
template <class X>
bool numerical_gradient_naive(double* grads, const double* theta, const Dims& d, const X* x,
                              const std::int64_t* t, std::size_t N, double h,
                              const std::atomic<bool>& cancel);

// The same differences, recomputing only what a perturbation changes: W1[i, j] moves hidden unit j
// of the samples whose x[n, i] is non-zero, W2[j, c] moves logit c of every sample; samples left
// unchanged contribute exactly zero and are skipped.
template <class X>
bool numerical_gradient_incremental(double* grads, const double* theta, const Dims& d, const X* x,
                                    const std::int64_t* t, std::size_t N, double h,
                                    const std::atomic<bool>& cancel);

}  // namespace twolayer
