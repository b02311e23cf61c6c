// Central-difference gradients of the book's loss, in double precision.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "dims.hpp"

namespace twolayer {

// grads[i] = (f(θ + h·e_i) - f(θ - h·e_i)) / 2h for every parameter i, f the mean loss over the
// batch x[N×D] with labels t of the net of sizes d and hidden activation `activation`, θ its flat
// parameters (the layout of Dims). Both return false as soon as `cancel` turns true, leaving grads
// incomplete.

// The book's algorithm: each perturbation evaluates the whole loss again.
template <class X>
bool numerical_gradient_naive(double* grads, const double* theta, const Dims& d,
                              Activation activation, const X* x, const std::int64_t* t,
                              std::size_t N, double h, const std::atomic<bool>& cancel);

// The same differences, recomputing only what a perturbation changes: W1[i, j] moves hidden unit j
// of the samples whose x[n, i] is non-zero, W2[j, c] moves logit c of every sample; samples left
// unchanged contribute exactly zero and are skipped. The perturbed hidden unit is evaluated
// through the activation itself, f(a1 ± shift), never through its derivative: at ReLU's kink
// (|a1| < shift) the difference straddles it exactly as the book's whole recomputation does.
template <class X>
bool numerical_gradient_incremental(double* grads, const double* theta, const Dims& d,
                                    Activation activation, const X* x, const std::int64_t* t,
                                    std::size_t N, double h, const std::atomic<bool>& cancel);

// The incremental method's inner loops, one implementation per instruction set (see dispatch).

// What the incremental method starts from: the unperturbed pass over the batch. Rows are padded
// to whole vectors; the padding is inert (zero weights, zero shifts), so padded lanes compute
// a difference of two equal losses, which is exactly zero, and are never stored.
struct UnperturbedPass {
  Activation activation;
  std::size_t N, H, C;
  std::size_t Np, Hp;     // N and H rounded up to a multiple of kPassPadding
  const double* a1;       // [N×Hp] hidden pre-activations x·W1 + b1
  const double* z1;       // [N×Hp] hidden outputs activation(a1)
  const double* a2;       // [N×C] logits z1·W2 + b2
  const double* a2t;      // [C×Np] the logits transposed
  const double* w2t;      // [C×Hp] W2 transposed
  const std::int64_t* t;  // [Np] labels
  // The same pass in exponentials, for evaluating perturbed losses through exp(a + b) =
  // exp(a)·exp(b) (the AVX2 kernels; see numerical_gradient_avx2.cpp).
  const double* exp_minus_a1;  // [N×Hp] exp(-a1), for the sigmoid
  const double* e2;            // [N×C] exp(a2 - max_c a2), each row's softmax numerators
  const double* e2t;           // [C×Np] e2 transposed
  const double* e2_sum;        // [Np] Σ_c e2, each row's softmax denominator
  const double* e2_target;     // [Np] e2[n, t_n]
  const double* w2_max;        // [Hp] max_c |W2[j, c]|
};
constexpr std::size_t kPassPadding = 4;

struct NumericalKernels {
  const char* name;
  // diff[j] = Σ_k ℓ_n(W1[i, j] + h) - ℓ_n(W1[i, j] - h) for j < H, over the samples n = samples[k]
  // whose input i is inputs[k] != 0 (k < count); ℓ_n is sample n's loss. A perturbation moves
  // a1[n, j] by ±h·inputs[k]. Overwrites diff (room for Hp).
  void (*hidden_row_differences)(double* diff, const UnperturbedPass& u,
                                 const std::uint32_t* samples, const double* inputs,
                                 std::size_t count, double h);
  // diff[c] = Σ_n ℓ_n(a2[n, c] + shift[n]) - ℓ_n(a2[n, c] - shift[n]) for c < C: the differences
  // for row j of W2 (shift = h·z1[:, j]) or for b2 (shift = h). shift has Np entries, the padding
  // zero. Overwrites diff.
  void (*logit_row_differences)(double* diff, const UnperturbedPass& u, const double* shift);
};

// Plain loops, the reference for the tests and the fallback.
const NumericalKernels& portable_numerical_kernels();
// The kernels in use, chosen like kernels<T>() in dispatch.hpp.
const NumericalKernels& numerical_kernels();

}  // namespace twolayer
