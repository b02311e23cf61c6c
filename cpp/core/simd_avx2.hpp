// AVX2/FMA vectors of float and double, and the vectorised exp, log, sigmoid and relu on them.
//
// Include this only from *_avx2.cpp files: CMake compiles those alone with -mavx2 -mfma, and the
// rest of the core runs on any x86-64. Everything here lives in namespace twolayer::avx2 so that
// no inline function compiled for AVX2 shares a name (and thus a linker slot) with baseline code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <limits>

namespace twolayer {
namespace avx2 {

// Constants, not calls: std::numeric_limits' functions are inline functions of namespace std, and
// an unoptimised build emits them in this AVX2 file and in baseline files alike, leaving the
// linker to pick either copy for the whole program.
constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <class T>
struct Simd;

template <>
struct Simd<double> {
  using V = __m256d;
  static constexpr int lanes = 4;

  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double a) { return _mm256_set1_pd(a); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  // Only the lanes of mask = first(n) are read or written; the others load as zero. Tails of
  // rows use these so that nothing past the row's end is touched.
  static V load_masked(const double* p, __m256i mask) { return _mm256_maskload_pd(p, mask); }
  static void store_masked(double* p, __m256i mask, V v) { _mm256_maskstore_pd(p, mask, v); }
  static unsigned nonzero_lanes(V v) {  // bit l set when lane l is non-zero or NaN
    return static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(v, zero(), _CMP_NEQ_UQ)));
  }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }  // a·b + c, one rounding
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V div(V a, V b) { return _mm256_div_pd(a, b); }
  static V max(V a, V b) { return _mm256_max_pd(a, b); }
  static V min(V a, V b) { return _mm256_min_pd(a, b); }
  static V abs(V a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
  static V select(V mask, V if_true, V if_false) {
    return _mm256_blendv_pd(if_false, if_true, mask);
  }
  static V is_nan(V a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
  static V greater_equal(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
  static V less_equal(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
  // a in the lanes where mask is clear, 0 where it is set
  static V andnot(V mask, V a) { return _mm256_andnot_pd(mask, a); }
  static double sum(V v) {
    const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
  }

  // A mask of the first n lanes, 0 <= n <= 4.
  static __m256i first(int n) {
    alignas(32) static const std::int64_t ones_then_zeros[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ones_then_zeros + 4 - n));
  }
};

template <>
struct Simd<float> {
  using V = __m256;
  static constexpr int lanes = 8;

  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float a) { return _mm256_set1_ps(a); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V load_masked(const float* p, __m256i mask) { return _mm256_maskload_ps(p, mask); }
  static void store_masked(float* p, __m256i mask, V v) { _mm256_maskstore_ps(p, mask, v); }
  static unsigned nonzero_lanes(V v) {
    return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, zero(), _CMP_NEQ_UQ)));
  }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static V select(V mask, V if_true, V if_false) {
    return _mm256_blendv_ps(if_false, if_true, mask);
  }
  static V is_nan(V a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static V greater_equal(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static V less_equal(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  // a in the lanes where mask is clear, 0 where it is set
  static V andnot(V mask, V a) { return _mm256_andnot_ps(mask, a); }
  static float sum(V v) {
    __m128 quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    quad = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    return _mm_cvtss_f32(_mm_add_ss(quad, _mm_movehdup_ps(quad)));
  }

  // A mask of the first n lanes, 0 <= n <= 8.
  static __m256i first(int n) {
    alignas(32) static const std::int32_t ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                                 0,  0,  0,  0,  0,  0,  0,  0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ones_then_zeros + 8 - n));
  }
};

// exp(x) lane by lane, within 1 ulp of the correctly rounded result for normal results (the
// numerical gradient subtracts nearly equal losses, so a sloppy exp would show in it). Overflow
// gives +inf, underflow 0 or a subnormal, exp(-inf) = 0, exp(+inf) = +inf, NaN stays NaN.
//
// x = k·ln2 + r with k an integer and |r| <= ln2/2, so exp(x) = 2^k·exp(r). ln2 is split in two
// so that k·ln2_hi is exact and r keeps its low bits; exp(r) is its Taylor series to r^13 (the
// first omitted term is below 5e-18). 2^k is applied as two factors 2^(k/2) so that the scaling
// overflows and underflows gradually, exactly where exp itself does.
inline __m256d exp(__m256d input) {
  using S = Simd<double>;
  // Beyond ±1100 every result is 0 or inf already; clamping keeps k within two 2^(k/2) factors.
  // (The clamp turns NaN into -1100; NaN lanes are restored at the end.)
  const __m256d x = S::min(S::max(input, S::set1(-1100.0)), S::set1(1100.0));
  const __m256d k = _mm256_round_pd(S::mul(x, S::set1(1.4426950408889634)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = S::fmadd(k, S::set1(-6.93147180369123816490e-01), x);  // ln2_hi: k·ln2_hi exact
  r = S::fmadd(k, S::set1(-1.90821492927058770002e-10), r);          // ln2_lo
  // exp(r) = 1 + r·(1 + r·(1/2 + r·q(r))), q(r) = Σ r^i/(i + 3)! for i <= 10. The outer steps
  // are Horner's, so that the rounding errors of q are damped by r³; q itself is evaluated by
  // Estrin's scheme, in powers r², r⁴, r⁸, which halves the chain of dependent FMAs (the numerical
  // gradient's exps wait on each other otherwise).
  const __m256d r2 = S::mul(r, r), r4 = S::mul(r2, r2), r8 = S::mul(r4, r4);
  auto pair = [&](double c0, double c1) { return S::fmadd(S::set1(c1), r, S::set1(c0)); };
  const __m256d a = pair(1.0 / 6.0, 1.0 / 24.0);                // r^0, r^1 of q
  const __m256d b = pair(1.0 / 120.0, 1.0 / 720.0);             // r^2, r^3
  const __m256d c = pair(1.0 / 5040.0, 1.0 / 40320.0);          // r^4, r^5
  const __m256d d = pair(1.0 / 362880.0, 1.0 / 3628800.0);      // r^6, r^7
  const __m256d e = pair(1.0 / 39916800.0, 1.0 / 479001600.0);  // r^8, r^9
  const __m256d f = S::set1(1.0 / 6227020800.0);                // r^10
  const __m256d q =
      S::fmadd(S::fmadd(f, r2, e), r8, S::fmadd(S::fmadd(d, r2, c), r4, S::fmadd(b, r2, a)));
  __m256d p = S::fmadd(q, r, S::set1(0.5));
  p = S::fmadd(p, r, S::set1(1.0));
  p = S::fmadd(p, r, S::set1(1.0));
  // 2^k1 · 2^k2 with k1 = floor(k/2), k2 = k - k1, both within the normal exponent range.
  const __m128i k32 = _mm256_cvtpd_epi32(k);
  const __m128i k1 = _mm_srai_epi32(k32, 1);
  const __m128i k2 = _mm_sub_epi32(k32, k1);
  auto two_to = [](__m128i e) {
    const __m256i biased = _mm256_cvtepi32_epi64(_mm_add_epi32(e, _mm_set1_epi32(1023)));
    return _mm256_castsi256_pd(_mm256_slli_epi64(biased, 52));
  };
  const __m256d y = S::mul(S::mul(p, two_to(k1)), two_to(k2));
  return S::select(S::is_nan(input), input, y);
}

// The same for float: Taylor series to r^7 (first omitted term below 6e-9, a tenth of an ulp).
inline __m256 exp(__m256 input) {
  using S = Simd<float>;
  // exp(float) is 0 below -104 and inf above 89; the clamp keeps 2^(k/2) a normal float.
  const __m256 x = S::min(S::max(input, S::set1(-150.0f)), S::set1(100.0f));
  const __m256 k = _mm256_round_ps(S::mul(x, S::set1(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = S::fmadd(k, S::set1(-0.693145751953125f), x);  // ln2_hi: 12 significant bits
  r = S::fmadd(k, S::set1(-1.428606765330187045e-06f), r);  // ln2_lo
  __m256 p = S::set1(1.0f / 5040.0f);
  p = S::fmadd(p, r, S::set1(1.0f / 720.0f));
  p = S::fmadd(p, r, S::set1(1.0f / 120.0f));
  p = S::fmadd(p, r, S::set1(1.0f / 24.0f));
  p = S::fmadd(p, r, S::set1(1.0f / 6.0f));
  p = S::fmadd(p, r, S::set1(0.5f));
  p = S::fmadd(p, r, S::set1(1.0f));
  p = S::fmadd(p, r, S::set1(1.0f));
  const __m256i k32 = _mm256_cvtps_epi32(k);
  const __m256i k1 = _mm256_srai_epi32(k32, 1);
  const __m256i k2 = _mm256_sub_epi32(k32, k1);
  auto two_to = [](__m256i e) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
  };
  const __m256 y = S::mul(S::mul(p, two_to(k1)), two_to(k2));
  return S::select(S::is_nan(input), input, y);
}

// log(x) lane by lane, within 1 ulp: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays
// NaN.
//
// x = 2^e·m with m in [√½, √2); with f = m - 1 and s = f/(2 + f), log(m) = 2·atanh(s) =
// f - f²/2 + s·(f²/2 + R(s²)), R the minimax polynomial of fdlibm's log (error below 2^-58).
inline __m256d log(__m256d x) {
  using S = Simd<double>;
  // Subnormals are scaled up by 2^54 first so that their exponent field is meaningful.
  const __m256d tiny = _mm256_cmp_pd(x, S::set1(2.2250738585072014e-308), _CMP_LT_OQ);
  const __m256d scaled = S::select(tiny, S::mul(x, S::set1(18014398509481984.0)), x);
  const __m256i bits = _mm256_castpd_si256(scaled);
  // The biased exponent as a double, by the 2^52 trick (AVX2 has no int64 -> double conversion).
  const __m256i biased = _mm256_srli_epi64(bits, 52);
  const __m256d magic = S::set1(4503599627370496.0);
  __m256d e =
      S::sub(_mm256_castsi256_pd(_mm256_or_si256(biased, _mm256_castpd_si256(magic))), magic);
  e = S::sub(e, S::select(tiny, S::set1(1023.0 + 54.0), S::set1(1023.0)));
  // m in [1, 2): the significand with the exponent of 1.0; then into [√½, √2).
  __m256d m = _mm256_castsi256_pd(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
                      _mm256_castpd_si256(S::set1(1.0))));
  const __m256d big = _mm256_cmp_pd(m, S::set1(1.4142135623730951), _CMP_GT_OQ);
  m = S::select(big, S::mul(m, S::set1(0.5)), m);
  e = S::add(e, _mm256_and_pd(big, S::set1(1.0)));

  const __m256d f = S::sub(m, S::set1(1.0));
  const __m256d s = S::div(f, S::add(S::set1(2.0), f));
  const __m256d z = S::mul(s, s);
  __m256d R = S::set1(1.479819860511658591e-01);
  R = S::fmadd(R, z, S::set1(1.531383769920937332e-01));
  R = S::fmadd(R, z, S::set1(1.818357216161805012e-01));
  R = S::fmadd(R, z, S::set1(2.222219843214978396e-01));
  R = S::fmadd(R, z, S::set1(2.857142874366239149e-01));
  R = S::fmadd(R, z, S::set1(3.999999999940941908e-01));
  R = S::fmadd(R, z, S::set1(6.666666666666735130e-01));
  R = S::mul(R, z);
  const __m256d hfsq = S::mul(S::set1(0.5), S::mul(f, f));
  // log(x) = e·ln2_hi + (f - (hfsq - (s·(hfsq + R) + e·ln2_lo)))
  const __m256d low = S::fmadd(e, S::set1(1.90821492927058770002e-10), S::mul(s, S::add(hfsq, R)));
  __m256d y = S::fmadd(e, S::set1(6.93147180369123816490e-01), S::sub(f, S::sub(hfsq, low)));

  // Special cases, in order: x = 0, x < 0 or NaN, x = inf.
  y = S::select(_mm256_cmp_pd(x, S::zero(), _CMP_EQ_OQ), S::set1(-kInfinity), y);
  y = S::select(_mm256_cmp_pd(x, S::zero(), _CMP_NGE_UQ), S::set1(kNaN), y);
  y = S::select(_mm256_cmp_pd(x, S::set1(kInfinity), _CMP_EQ_OQ), x, y);
  return y;
}

// The logistic function 1/(1 + exp(-a)), as e/(1 + e) for a < 0 with e = exp(-|a|) <= 1, so that
// exp never overflows (the naive kernel's formula).
template <class T>
inline typename Simd<T>::V sigmoid(typename Simd<T>::V a) {
  using S = Simd<T>;
  const auto e = exp(S::sub(S::zero(), S::abs(a)));
  const auto numerator = S::select(S::greater_equal(a, S::zero()), S::set1(T(1)), e);
  return S::div(numerator, S::add(S::set1(T(1)), e));
}

// ReLU as relu() of kernels.hpp: the lanes where a <= 0 cleared to +0, NaN passing (a max with 0
// would turn NaN into 0).
template <class T>
inline typename Simd<T>::V relu(typename Simd<T>::V a) {
  using S = Simd<T>;
  return S::andnot(S::less_equal(a, S::zero()), a);
}

}  // namespace avx2
}  // namespace twolayer
