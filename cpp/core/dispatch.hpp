// The kernels the net runs, chosen at run time: AVX2/FMA ones where the CPU has them, the plain
// loops of kernels.hpp elsewhere. A wheel built here thus runs on any x86-64 (and any other CPU).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace twolayer {

// One implementation of every kernel whose speed matters, with the signatures of kernels.hpp.
// The dense products take activations of the net's type; the sparse ones take gathered non-zeros.
template <class T>
struct Kernels {
  const char* name;
  std::size_t (*gather_nonzeros_by_rows_of_float)(std::uint32_t* index, T* value,
                                                  std::size_t* start, std::uint8_t* groups,
                                                  const float* a, std::size_t N, std::size_t K);
  std::size_t (*gather_nonzeros_by_rows_of_double)(std::uint32_t* index, T* value,
                                                   std::size_t* start, std::uint8_t* groups,
                                                   const double* a, std::size_t N, std::size_t K);
  void (*sparse_affine_forward)(T* out, const SparseRows<T>& a, const T* w, const T* b,
                                std::size_t N, std::size_t K, std::size_t M);
  void (*mark_nonzero_columns)(std::uint64_t* masks, const SparseRows<T>& a, std::size_t N,
                               std::size_t K);
  void (*sparse_affine_backward_weights_of_float)(T* dw, const std::uint64_t* masks, const float* a,
                                                  const T* d, std::size_t N, std::size_t K,
                                                  std::size_t M, std::size_t k_begin,
                                                  std::size_t k_end, bool accumulate);
  void (*sparse_affine_backward_weights_of_double)(T* dw, const std::uint64_t* masks,
                                                   const double* a, const T* d, std::size_t N,
                                                   std::size_t K, std::size_t M,
                                                   std::size_t k_begin, std::size_t k_end,
                                                   bool accumulate);
  void (*affine_forward)(T* out, const T* a, const T* w, const T* b, std::size_t N, std::size_t K,
                         std::size_t M);
  void (*affine_backward_weights)(T* dw, const T* a, const T* d, std::size_t N, std::size_t K,
                                  std::size_t M);
  void (*sigmoid_forward)(T* z, std::size_t n);
  void (*relu_forward)(T* z, std::size_t n);
  void (*softmax_forward)(T* y, std::size_t N, std::size_t C);

  // z[n] = f(z[n]) in place, by the kernel of the activation f.
  void activation_forward(Activation f, T* z, std::size_t n) const {
    (f == Activation::relu ? relu_forward : sigmoid_forward)(z, n);
  }

  // The kernels that read the input, for either type of it.
  void sparse_affine_backward_weights(T* dw, const std::uint64_t* masks, const float* a, const T* d,
                                      std::size_t N, std::size_t K, std::size_t M,
                                      std::size_t k_begin, std::size_t k_end,
                                      bool accumulate) const {
    sparse_affine_backward_weights_of_float(dw, masks, a, d, N, K, M, k_begin, k_end, accumulate);
  }
  void sparse_affine_backward_weights(T* dw, const std::uint64_t* masks, const double* a,
                                      const T* d, std::size_t N, std::size_t K, std::size_t M,
                                      std::size_t k_begin, std::size_t k_end,
                                      bool accumulate) const {
    sparse_affine_backward_weights_of_double(dw, masks, a, d, N, K, M, k_begin, k_end, accumulate);
  }
  std::size_t gather_nonzeros_by_rows(std::uint32_t* index, T* value, std::size_t* start,
                                      std::uint8_t* groups, const float* a, std::size_t N,
                                      std::size_t K) const {
    return gather_nonzeros_by_rows_of_float(index, value, start, groups, a, N, K);
  }
  std::size_t gather_nonzeros_by_rows(std::uint32_t* index, T* value, std::size_t* start,
                                      std::uint8_t* groups, const double* a, std::size_t N,
                                      std::size_t K) const {
    return gather_nonzeros_by_rows_of_double(index, value, start, groups, a, N, K);
  }
};

// The plain loops of kernels.hpp: the reference for the tests and the fallback.
template <class T>
const Kernels<T>& portable_kernels();

// The AVX2/FMA kernels, or null when they are not built in or the CPU lacks AVX2 or FMA.
template <class T>
const Kernels<T>* avx2_kernels();

// The kernels in use: AVX2 when available, unless the environment variable TWOLAYER_SIMD is 0 (or
// off) at start-up.
template <class T>
const Kernels<T>& kernels();

bool simd_available();
bool simd_enabled();

}  // namespace twolayer
