// The incremental numerical gradient's inner loops with AVX2 and FMA: the same losses as the
// portable loops of numerical_gradient.cpp, four at a time. Compiled alone with -mavx2 -mfma, used
// only on CPUs that have both (see kernels_avx2.cpp for the rules of such a file).
#include <cstddef>
#include <cstdint>

#include "kernels_avx2.hpp"
#include "simd_avx2.hpp"

namespace twolayer {
namespace avx2 {
namespace {

using std::size_t;
using S = Simd<double>;
using V = S::V;

// -log(exp(l_t - top) / Σ_c exp(l_c - top) + 1e-7) lane by lane, top = max_c l_c, for the logits
// l_c = a2n[c] + dz·w[c·stride] (each lane its own dz and w; all lanes the same sample and label).
V shifted_sample_loss(const double* a2n, V dz, const double* w, size_t stride, size_t t, size_t C) {
  V top = S::fmadd(dz, S::load(w), S::set1(a2n[0]));
  for (size_t c = 1; c < C; ++c) top = S::max(top, S::fmadd(dz, S::load(w + c * stride), S::set1(a2n[c])));
  V sum = S::zero(), target = S::zero();
  for (size_t c = 0; c < C; ++c) {
    const V e = exp(S::sub(S::fmadd(dz, S::load(w + c * stride), S::set1(a2n[c])), top));
    sum = S::add(sum, e);
    if (c == t) target = e;
  }
  return S::sub(S::zero(), log(S::add(S::div(target, sum), S::set1(kLogEpsilon))));
}

// Lanes over the hidden units j: for each sample with a non-zero input, four units at a time.
void hidden_row_differences(double* diff, const UnperturbedPass& u, const std::uint32_t* samples,
                            const double* inputs, size_t count, double h) {
  for (size_t j = 0; j < u.Hp; j += S::lanes) S::store(diff + j, S::zero());
  for (size_t k = 0; k < count; ++k) {
    const size_t n = samples[k];
    const V shift = S::set1(h * inputs[k]);
    const double* a2n = u.a2 + n * u.C;
    const size_t t = static_cast<size_t>(u.t[n]);
    for (size_t j = 0; j < u.Hp; j += S::lanes) {
      const V a = S::load(u.a1 + n * u.Hp + j), z = S::load(u.z1 + n * u.Hp + j);
      const V plus = shifted_sample_loss(a2n, S::sub(sigmoid<double>(S::add(a, shift)), z), u.w2t + j, u.Hp, t, u.C);
      const V minus = shifted_sample_loss(a2n, S::sub(sigmoid<double>(S::sub(a, shift)), z), u.w2t + j, u.Hp, t, u.C);
      S::store(diff + j, S::add(S::load(diff + j), S::sub(plus, minus)));
    }
  }
}

// The loss of four samples (lanes) with logit `shifted` moved by `shift`; a2t holds the logits
// transposed, so the four samples' logit c are a2t[c·Np ...].
V one_logit_shifted_loss(const double* a2t, size_t Np, size_t shifted, V shift, __m256i t, size_t C) {
  auto logit = [&](size_t c) {
    const V l = S::load(a2t + c * Np);
    return c == shifted ? S::add(l, shift) : l;
  };
  V top = logit(0);
  for (size_t c = 1; c < C; ++c) top = S::max(top, logit(c));
  V sum = S::zero(), target = S::zero();
  for (size_t c = 0; c < C; ++c) {
    const V e = exp(S::sub(logit(c), top));
    sum = S::add(sum, e);
    const V is_target = _mm256_castsi256_pd(_mm256_cmpeq_epi64(t, _mm256_set1_epi64x(static_cast<long long>(c))));
    target = S::select(is_target, e, target);
  }
  return S::sub(S::zero(), log(S::add(S::div(target, sum), S::set1(kLogEpsilon))));
}

// Lanes over the samples: each lane sums its own samples' differences, and the four sums are
// added at the end (a different order than the portable loop's, so the last bits may differ).
void logit_row_differences(double* diff, const UnperturbedPass& u, const double* shift) {
  for (size_t c = 0; c < u.C; ++c) {
    V sum = S::zero();
    for (size_t n = 0; n < u.Np; n += S::lanes) {
      const V s = S::load(shift + n);
      const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u.t + n));
      const V plus = one_logit_shifted_loss(u.a2t + n, u.Np, c, s, t, u.C);
      const V minus = one_logit_shifted_loss(u.a2t + n, u.Np, c, S::sub(S::zero(), s), t, u.C);
      sum = S::add(sum, S::sub(plus, minus));
    }
    diff[c] = S::sum(sum);
  }
}

}  // namespace

extern const NumericalKernels numerical_kernels = {"avx2", &hidden_row_differences,
                                                   &logit_row_differences};

}  // namespace avx2
}  // namespace twolayer
