// The AVX2 exp and log of simd_avx2.hpp against the C library's, ulp by ulp, and their special
// values. Compiled with -mavx2 -mfma like the core's AVX2 files; on a CPU without AVX2 and FMA it
// reports itself skipped (exit status 77) before running any of it.
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "check.hpp"
#include "simd_avx2.hpp"

namespace {

namespace avx2 = twolayer::avx2;

// y[i] = f(x[i]), four doubles or eight floats at a time (x padded with ones to whole vectors).
template <class T, class F>
std::vector<T> map(const std::vector<T>& x, F&& f) {
  using S = avx2::Simd<T>;
  const std::size_t L = S::lanes;
  std::vector<T> padded(x), y((x.size() + L - 1) / L * L);
  padded.resize(y.size(), T(1));
  for (std::size_t i = 0; i < y.size(); i += L) S::store(&y[i], f(S::load(&padded[i])));
  y.resize(x.size());
  return y;
}

std::vector<double> exp_of(const std::vector<double>& x) {
  return map(x, [](__m256d v) { return avx2::exp(v); });
}
std::vector<float> exp_of(const std::vector<float>& x) {
  return map(x, [](__m256 v) { return avx2::exp(v); });
}
std::vector<double> log_of(const std::vector<double>& x) {
  return map(x, [](__m256d v) { return avx2::log(v); });
}

// The largest |actual - expected| in units in the last place of expected (subnormal results in
// their own, fixed ulp).
template <class T>
double worst_ulps(const std::vector<T>& actual, const std::vector<T>& expected) {
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const T e = std::fabs(expected[i]);
    const double spacing = double(std::nextafter(e, std::numeric_limits<T>::infinity()) - e);
    worst = std::fmax(worst, std::fabs(double(actual[i]) - double(expected[i])) / spacing);
  }
  return worst;
}

template <class T>
std::vector<T> uniform(std::mt19937& gen, std::size_t n, double low, double high) {
  std::uniform_real_distribution<double> u(low, high);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(u(gen));
  return v;
}

template <class T>
std::vector<T> joined(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The same value, or both NaN.
template <class T>
bool same(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

void check_exp_double() {
  std::mt19937 gen(0);
  const auto x =
      joined(joined(uniform<double>(gen, 100000, -745, 709.7), uniform<double>(gen, 100000, -2, 2)),
             {0.0, -0.0, 1e-300});
  std::vector<double> expected;
  for (double v : x) expected.push_back(std::exp(v));
  CHECK(worst_ulps(exp_of(x), expected) <= 1);
}

void check_exp_float() {
  std::mt19937 gen(1);
  const auto x =
      joined(uniform<float>(gen, 100000, -103, 88.7), uniform<float>(gen, 100000, -2, 2));
  std::vector<float> expected;  // correctly rounded, or nearly
  for (float v : x) expected.push_back(static_cast<float>(std::exp(double(v))));
  CHECK(worst_ulps(exp_of(x), expected) <= 1);
}

template <class T>
void check_exp_special_values() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<T> x;
  for (double v :
       {std::nan(""), inf, -inf, 0.0, -0.0, 1000.0, -1000.0, 89.0, -104.0, 709.8, -745.2})
    x.push_back(static_cast<T>(v));
  const std::vector<T> y = exp_of(x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const T expected = static_cast<T>(std::exp(double(x[i])));
    if (!same(y[i], expected)) {
      std::fprintf(stderr, "  exp(%g) = %g, expected %g\n", double(x[i]), double(y[i]),
                   double(expected));
      CHECK(same(y[i], expected));
    }
  }
}

void check_log() {
  std::mt19937 gen(2);
  std::vector<double> x = uniform<double>(gen, 100000, -740, 709);
  for (double& v : x) v = std::exp(v);
  x = joined(joined(joined(x, uniform<double>(gen, 100000, 0.5, 2)),
                    uniform<double>(gen, 100000, 1e-7, 1)),
             {5e-324, 1e-310});
  std::vector<double> expected;
  for (double v : x) expected.push_back(std::log(v));
  CHECK(worst_ulps(log_of(x), expected) <= 1);
}

void check_log_special_values() {
  using limits = std::numeric_limits<double>;
  const std::vector<double> x{
      limits::quiet_NaN(), limits::infinity(),   -limits::infinity(), 0.0, -0.0, -1.0, 1.0, 2.0,
      limits::min(),       limits::denorm_min(), limits::max()};
  const std::vector<double> y = log_of(x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double expected = std::log(x[i]);
    const bool ok =
        same(y[i], expected) || twolayer_test::close(y[i], expected, 2 * limits::epsilon());
    if (!ok) std::fprintf(stderr, "  log(%g) = %g, expected %g\n", x[i], y[i], expected);
    CHECK(ok);
  }
  CHECK(std::isnan(y[0]) && std::isnan(y[2]) && std::isnan(y[5]));
}

}  // namespace

int main() {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::printf("test_simd_math: skipped, this CPU lacks AVX2 or FMA\n");
    return 77;  // SKIP_RETURN_CODE in tests/cpp/CMakeLists.txt
  }
  check_exp_double();
  check_exp_float();
  check_exp_special_values<double>();
  check_exp_special_values<float>();
  check_log();
  check_log_special_values();
  return twolayer_test::report("test_simd_math");
}
