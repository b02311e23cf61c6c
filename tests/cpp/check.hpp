// A few checks for the C++ tests of the core: each failure prints where and what, and the test's
// exit status counts the failures (CTest reads a non-zero status as a failed test).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>

namespace twolayer_test {

inline int& failures() {
  static int count = 0;
  return count;
}

inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  ++failures();
}

// |actual - expected| <= tolerance * max(1, |expected|): relative for large values, absolute near
// 0.
inline bool close(double actual, double expected, double tolerance) {
  const double scale = std::fabs(expected) > 1.0 ? std::fabs(expected) : 1.0;
  return std::fabs(actual - expected) <= tolerance * scale;
}

// max |actual - expected| over max |expected|: the error of a whole array relative to its scale.
template <class A, class E>
double worst_relative_error(const A& actual, const E& expected) {
  double diff = 0, scale = 1e-300;
  // Plain comparisons rather than std::fmax (NaNs are passed over alike): GCC 12's aarch64
  // vectorizer stops with an internal compiler error on an fmax reduction over floats.
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double d = std::fabs(double(actual[i]) - double(expected[i]));
    const double e = std::fabs(double(expected[i]));
    if (d > diff) diff = d;
    if (e > scale) scale = e;
  }
  return diff / scale;
}

// The test's exit status: 0 when every check passed.
inline int report(const char* name) {
  if (failures() == 0) {
    std::printf("%s: all checks passed\n", name);
    return 0;
  }
  std::fprintf(stderr, "%s: %d check(s) failed\n", name, failures());
  return 1;
}

}  // namespace twolayer_test

#define CHECK(condition)                                                   \
  do {                                                                     \
    if (!(condition)) twolayer_test::fail(__FILE__, __LINE__, #condition); \
  } while (0)

#define CHECK_CLOSE(actual, expected, tolerance)                                                \
  do {                                                                                          \
    const double check_actual_ = (actual), check_expected_ = (expected);                        \
    if (!twolayer_test::close(check_actual_, check_expected_, (tolerance))) {                   \
      std::fprintf(stderr, "  actual %.17g, expected %.17g\n", check_actual_, check_expected_); \
      twolayer_test::fail(__FILE__, __LINE__, #actual " close to " #expected);                  \
    }                                                                                           \
  } while (0)

// Fails unless worst_relative_error(actual, expected) <= tolerance, printing the error.
#define CHECK_ARRAY_CLOSE(actual, expected, tolerance)                                     \
  do {                                                                                     \
    const double check_error_ = twolayer_test::worst_relative_error((actual), (expected)); \
    if (!(check_error_ <= (tolerance))) {                                                  \
      std::fprintf(stderr, "  relative error %.3g, tolerance %.3g\n", check_error_,        \
                   double(tolerance));                                                     \
      twolayer_test::fail(__FILE__, __LINE__, #actual " close to " #expected);             \
    }                                                                                      \
  } while (0)
