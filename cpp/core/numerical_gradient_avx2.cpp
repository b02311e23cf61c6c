// The incremental numerical gradient's inner loops with AVX2 and FMA: each evaluates the loss of
// a sample at θ + h and at θ - h, as the portable loops of numerical_gradient.cpp do, four lanes
// at a time. Compiled alone with -mavx2 -mfma and used only on CPUs that have both (see
// kernels_avx2.cpp for the rules of such a file).
//
// The losses are the same; the arithmetic is arranged to need fewer exponentials. A perturbed
// logit is a2_c + δ_c with δ_c tiny, and the unperturbed pass already holds E_c = exp(a2_c - top)
// (top = max_c a2_c), so
//     softmax numerator c = exp(a2_c + δ_c - top) = E_c·(1 + expm1(δ_c)),
//     softmax denominator  = Σ_c E_c + Σ_c E_c·expm1(δ_c),
// exact identities; expm1 of |δ| < 2^-10 is its Taylor series to δ^5, whose first omitted term
// is 2^-60/720 relative, far below an ulp. The hidden unit's sigmoid at a ± s is 1/(1 + e^-a·e^∓s)
// with e^-a from the unperturbed pass and e^∓s shared by the four lanes; ReLU's is max(a ± s, 0),
// computed whole (the kink needs no special case: it is a real evaluation). Each loss is then
// -log(numerator_t/denominator + 1e-7) as before: a real evaluation of the loss at the perturbed
// parameters, not a derivative. Where some |δ| is 2^-10 or more (huge weights or step sizes),
// the lanes take the general path, every exp computed whole.
#include <cmath>
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

constexpr double kSmall = 1.0 / 1024;  // below this |δ|, expm1(δ) is its Taylor series

// expm1(d) for |d| < kSmall.
V expm1_small(V d) {
  V p = S::fmadd(d, S::set1(1.0 / 120.0), S::set1(1.0 / 24.0));
  p = S::fmadd(p, d, S::set1(1.0 / 6.0));
  p = S::fmadd(p, d, S::set1(0.5));
  p = S::fmadd(p, d, S::set1(1.0));
  return S::mul(p, d);
}

bool all_small(V magnitude) {
  return _mm256_movemask_pd(_mm256_cmp_pd(magnitude, S::set1(kSmall), _CMP_LT_OQ)) == 0xF;
}

// All ones in the lanes whose label t is c.
V is_label(__m256i t, size_t c) {
  return _mm256_castsi256_pd(_mm256_cmpeq_epi64(t, _mm256_set1_epi64x(static_cast<long long>(c))));
}

V loss_of(V numerator, V denominator) {
  return S::sub(S::zero(), log(S::add(S::div(numerator, denominator), S::set1(kLogEpsilon))));
}

// The general path: -log(softmax(l)[t] + 1e-7) lane by lane for the logits l_c = a2n[c] + dz·w_c,
// w_c = w[c·stride] (each lane its own dz and w; all lanes the same sample and label).
V shifted_sample_loss(const double* a2n, V dz, const double* w, size_t stride, size_t t, size_t C) {
  V top = S::fmadd(dz, S::load(w), S::set1(a2n[0]));
  for (size_t c = 1; c < C; ++c)
    top = S::max(top, S::fmadd(dz, S::load(w + c * stride), S::set1(a2n[c])));
  V sum = S::zero(), target = S::zero();
  for (size_t c = 0; c < C; ++c) {
    const V e = exp(S::sub(S::fmadd(dz, S::load(w + c * stride), S::set1(a2n[c])), top));
    sum = S::add(sum, e);
    if (c == t) target = e;
  }
  return loss_of(target, sum);
}

// How a hidden unit's output moves when its pre-activation a moves by ±shift: f(a ± shift) - f(a),
// four units of one sample at a time.
template <Activation F>
struct HiddenShift;

template <>
struct HiddenShift<Activation::sigmoid> {
  V exp_minus_shift, exp_plus_shift;
  explicit HiddenShift(double shift)
      : exp_minus_shift(S::set1(std::exp(-shift))), exp_plus_shift(S::set1(std::exp(shift))) {}
  // sigmoid(a ± shift) = 1 / (1 + exp(-a)·exp(∓shift)), exp(-a) from the unperturbed pass.
  void operator()(V& dz_plus, V& dz_minus, const UnperturbedPass& u, size_t at) const {
    const V e = S::load(u.exp_minus_a1 + at), z = S::load(u.z1 + at), one = S::set1(1.0);
    dz_plus = S::sub(S::div(one, S::fmadd(e, exp_minus_shift, one)), z);
    dz_minus = S::sub(S::div(one, S::fmadd(e, exp_plus_shift, one)), z);
  }
};

template <>
struct HiddenShift<Activation::relu> {
  V shift;
  explicit HiddenShift(double s) : shift(S::set1(s)) {}
  void operator()(V& dz_plus, V& dz_minus, const UnperturbedPass& u, size_t at) const {
    const V a = S::load(u.a1 + at), z = S::load(u.z1 + at);
    dz_plus = S::sub(relu<double>(S::add(a, shift)), z);
    dz_minus = S::sub(relu<double>(S::sub(a, shift)), z);
  }
};

// Lanes over the hidden units j: for each sample with a non-zero input, four units at a time.
template <Activation F>
void hidden_row_differences_of(double* diff, const UnperturbedPass& u, const std::uint32_t* samples,
                               const double* inputs, size_t count, double h) {
  const size_t C = u.C, Hp = u.Hp;
  for (size_t j = 0; j < Hp; j += S::lanes) S::store(diff + j, S::zero());
  for (size_t k = 0; k < count; ++k) {
    const size_t n = samples[k], t = static_cast<size_t>(u.t[n]);
    const HiddenShift<F> moved(h * inputs[k]);
    const double* e2n = u.e2 + n * C;
    const V e2_sum = S::set1(u.e2_sum[n]), e2_target = S::set1(u.e2_target[n]);
    for (size_t j = 0; j < Hp; j += S::lanes) {
      V dz_plus, dz_minus;
      moved(dz_plus, dz_minus, u, n * Hp + j);
      const double* w = u.w2t + j;
      const V w_max = S::load(u.w2_max + j);
      V plus, minus;
      if (all_small(S::mul(S::max(S::abs(dz_plus), S::abs(dz_minus)), w_max))) {
        V sum_plus = e2_sum, sum_minus = e2_sum, target_plus = e2_target, target_minus = e2_target;
        for (size_t c = 0; c < C; ++c) {
          const V wc = S::load(w + c * Hp), e2c = S::set1(e2n[c]);
          const V up = expm1_small(S::mul(dz_plus, wc)), um = expm1_small(S::mul(dz_minus, wc));
          sum_plus = S::fmadd(e2c, up, sum_plus);
          sum_minus = S::fmadd(e2c, um, sum_minus);
          if (c == t) {
            target_plus = S::fmadd(e2c, up, e2c);
            target_minus = S::fmadd(e2c, um, e2c);
          }
        }
        plus = loss_of(target_plus, sum_plus);
        minus = loss_of(target_minus, sum_minus);
      } else {
        plus = shifted_sample_loss(u.a2 + n * C, dz_plus, w, Hp, t, C);
        minus = shifted_sample_loss(u.a2 + n * C, dz_minus, w, Hp, t, C);
      }
      S::store(diff + j, S::add(S::load(diff + j), S::sub(plus, minus)));
    }
  }
}

void hidden_row_differences(double* diff, const UnperturbedPass& u, const std::uint32_t* samples,
                            const double* inputs, size_t count, double h) {
  if (u.activation == Activation::relu)
    hidden_row_differences_of<Activation::relu>(diff, u, samples, inputs, count, h);
  else
    hidden_row_differences_of<Activation::sigmoid>(diff, u, samples, inputs, count, h);
}

// The general path for four samples (lanes) with logit `shifted` moved by `shift`; a2t holds the
// logits transposed, so the four samples' logit c are a2t[c·Np ...].
V one_logit_shifted_loss(const double* a2t, size_t Np, size_t shifted, V shift, __m256i t,
                         size_t C) {
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
    target = S::select(is_label(t, c), e, target);
  }
  return loss_of(target, sum);
}

// Lanes over the samples: each lane sums its own samples' differences, and the four sums are
// added at the end (a different order than the portable loop's, so the last bits may differ).
void logit_row_differences(double* diff, const UnperturbedPass& u, const double* shift) {
  for (size_t c = 0; c < u.C; ++c) {
    V sum = S::zero();
    for (size_t n = 0; n < u.Np; n += S::lanes) {
      const V s = S::load(shift + n);
      const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u.t + n));
      V plus, minus;
      if (all_small(S::abs(s))) {
        // Only numerator c moves: by e2[n, c]·expm1(±s), in the denominator and, for the
        // samples whose label is c, in the target.
        const V e2c = S::load(u.e2t + c * u.Np + n), e2_sum = S::load(u.e2_sum + n);
        const V e2_target = S::load(u.e2_target + n), labelled_c = is_label(t, c);
        const V up = S::mul(e2c, expm1_small(s)),
                um = S::mul(e2c, expm1_small(S::sub(S::zero(), s)));
        plus = loss_of(S::add(e2_target, S::select(labelled_c, up, S::zero())), S::add(e2_sum, up));
        minus =
            loss_of(S::add(e2_target, S::select(labelled_c, um, S::zero())), S::add(e2_sum, um));
      } else {
        plus = one_logit_shifted_loss(u.a2t + n, u.Np, c, s, t, u.C);
        minus = one_logit_shifted_loss(u.a2t + n, u.Np, c, S::sub(S::zero(), s), t, u.C);
      }
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
