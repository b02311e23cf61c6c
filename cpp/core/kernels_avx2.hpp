// The AVX2/FMA kernels (kernels_avx2.cpp), for dispatch.cpp. They are plain data: reading the
// tables runs no AVX2 instruction, so dispatch.cpp can look at them before checking the CPU.
#pragma once

#include "dispatch.hpp"
#include "numerical_gradient.hpp"

namespace twolayer {
namespace avx2 {

extern const Kernels<float> kernels_float;
extern const Kernels<double> kernels_double;
extern const NumericalKernels numerical_kernels;

}  // namespace avx2
}  // namespace twolayer
