#include "numerical_gradient.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "dispatch.hpp"
#include "forward.hpp"
#include "parallel.hpp"

namespace twolayer {

template <class X>
bool numerical_gradient_naive(double* grads, const double* theta, const Dims& d,
                              Activation activation, const X* x, const std::int64_t* t,
                              std::size_t N, double h, const std::atomic<bool>& cancel) {
  const int workers = num_threads();
  // Each worker perturbs its own copy of θ.
  std::vector<std::vector<double>> copies(workers, std::vector<double>(theta, theta + d.size()));
  std::vector<std::vector<double>> z1(workers, std::vector<double>(N * d.H));
  std::vector<std::vector<double>> y(workers, std::vector<double>(N * d.C));

  parallel_for(d.size(), 8, workers, [&](std::size_t begin, std::size_t end, int w) {
    double* th = copies[w].data();
    const Params<const double> p(th, d);
    auto loss = [&] {
      forward(z1[w].data(), y[w].data(), p, x, d, activation, N);
      return cross_entropy_sum(y[w].data(), t, N, d.C) / static_cast<double>(N);
    };
    for (std::size_t i = begin; i < end && !cancel.load(std::memory_order_relaxed); ++i) {
      const double saved = th[i];
      th[i] = saved + h;
      const double f_plus = loss();
      th[i] = saved - h;
      const double f_minus = loss();
      th[i] = saved;
      grads[i] = (f_plus - f_minus) / (2 * h);
    }
  });
  return !cancel.load();
}

namespace {

std::size_t round_up(std::size_t n, std::size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

// -log(softmax(l)[t] + 1e-7) for the logits l_c = a2n[c] + dz·w[c·stride].
double shifted_sample_loss(const double* a2n, double dz, const double* w, std::size_t stride,
                           std::int64_t t, std::size_t C) {
  double top = a2n[0] + dz * w[0];
  for (std::size_t c = 1; c < C; ++c) top = std::max(top, a2n[c] + dz * w[c * stride]);
  double sum = 0, target = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const double e = std::exp(a2n[c] + dz * w[c * stride] - top);
    sum += e;
    if (c == static_cast<std::size_t>(t)) target = e;
  }
  return -std::log(target / sum + kLogEpsilon);
}

// The same loss with only logit `shifted` moved, by `shift`.
double one_logit_shifted_loss(const double* a2n, std::size_t shifted, double shift, std::int64_t t,
                              std::size_t C) {
  auto logit = [&](std::size_t c) { return c == shifted ? a2n[c] + shift : a2n[c]; };
  double top = logit(0);
  for (std::size_t c = 1; c < C; ++c) top = std::max(top, logit(c));
  double sum = 0, target = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const double e = std::exp(logit(c) - top);
    sum += e;
    if (c == static_cast<std::size_t>(t)) target = e;
  }
  return -std::log(target / sum + kLogEpsilon);
}

void portable_hidden_row_differences(double* diff, const UnperturbedPass& u,
                                     const std::uint32_t* samples, const double* inputs,
                                     std::size_t count, double h) {
  for (std::size_t j = 0; j < u.H; ++j) {
    double sum = 0;
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t n = samples[k];
      const double shift = h * inputs[k], a = u.a1[n * u.Hp + j], z = u.z1[n * u.Hp + j];
      const double* a2n = u.a2 + n * u.C;
      const double dz_plus = activate(u.activation, a + shift) - z;
      const double dz_minus = activate(u.activation, a - shift) - z;
      const double plus = shifted_sample_loss(a2n, dz_plus, u.w2t + j, u.Hp, u.t[n], u.C);
      const double minus = shifted_sample_loss(a2n, dz_minus, u.w2t + j, u.Hp, u.t[n], u.C);
      sum += plus - minus;
    }
    diff[j] = sum;
  }
}

void portable_logit_row_differences(double* diff, const UnperturbedPass& u, const double* shift) {
  for (std::size_t c = 0; c < u.C; ++c) {
    double sum = 0;
    for (std::size_t n = 0; n < u.N; ++n) {
      const double* a2n = u.a2 + n * u.C;
      sum += one_logit_shifted_loss(a2n, c, shift[n], u.t[n], u.C) -
             one_logit_shifted_loss(a2n, c, -shift[n], u.t[n], u.C);
    }
    diff[c] = sum;
  }
}

}  // namespace

const NumericalKernels& portable_numerical_kernels() {
  static const NumericalKernels k{"portable", &portable_hidden_row_differences,
                                  &portable_logit_row_differences};
  return k;
}

namespace {

// The unperturbed pass of numerical_gradient_incremental over x[N×D], in padded rows, and its
// UnperturbedPass view (see numerical_gradient.hpp for what each array holds). The padding is a
// unit with a1 = 0. It stops early, incomplete, once `cancel` turns true: a large batch takes a
// while (20,000 rows about 2 s under AddressSanitizer on the 2-core Zen 1 VM, where a Ctrl-C half
// a second into the call came back 1.47 s later), and Ctrl-C must not wait for it.
struct UnperturbedArrays {
  Activation activation;
  std::size_t Np, Hp;
  std::vector<double> a1, z1, a2, a2t, w2t, exp_minus_a1, e2, e2t, e2_sum, e2_target, w2_max;
  std::vector<std::int64_t> labels;

  template <class X>
  UnperturbedArrays(const Params<const double>& p, const Dims& d, Activation f, const X* x,
                    const std::int64_t* t, std::size_t N, const std::atomic<bool>& cancel)
      : activation(f),
        Np(round_up(N, kPassPadding)),
        Hp(round_up(d.H, kPassPadding)),
        a1(N * Hp, 0.0),
        z1(N * Hp, activate(f, 0.0)),
        a2(N * d.C),
        a2t(d.C * Np, 0.0),
        w2t(d.C * Hp, 0.0),
        exp_minus_a1(N * Hp, 1.0),
        e2(N * d.C),
        e2t(d.C * Np, 1.0),
        e2_sum(Np, static_cast<double>(d.C)),
        e2_target(Np, 1.0),
        w2_max(Hp, 0.0),
        labels(Np, 0) {
    const std::size_t D = d.D, H = d.H, C = d.C;
    std::vector<double> row(H);
    for (std::size_t n = 0; n < N && !cancel.load(std::memory_order_relaxed); ++n) {
      affine_forward<ZeroInputs::skip>(row.data(), x + n * D, p.W1, p.b1, 1, D, H);
      std::copy(row.begin(), row.end(), &a1[n * Hp]);
      for (std::size_t j = 0; j < H; ++j) exp_minus_a1[n * Hp + j] = std::exp(-row[j]);
      activation_forward(activation, row.data(), H);
      std::copy(row.begin(), row.end(), &z1[n * Hp]);
      double* a2n = &a2[n * C];
      affine_forward(a2n, row.data(), p.W2, p.b2, 1, H, C);
      const double top = *std::max_element(a2n, a2n + C);
      e2_sum[n] = 0;
      for (std::size_t c = 0; c < C; ++c) {
        a2t[c * Np + n] = a2n[c];
        e2t[c * Np + n] = e2[n * C + c] = std::exp(a2n[c] - top);
        e2_sum[n] += e2[n * C + c];
      }
      labels[n] = t[n];
      e2_target[n] = e2[n * C + t[n]];
    }
    for (std::size_t j = 0; j < H; ++j)
      for (std::size_t c = 0; c < C; ++c) {
        w2t[c * Hp + j] = p.W2[j * C + c];
        w2_max[j] = std::max(w2_max[j], std::abs(p.W2[j * C + c]));
      }
  }

  UnperturbedPass view(const Dims& d, std::size_t N) const {
    return {activation,
            N,
            d.H,
            d.C,
            Np,
            Hp,
            a1.data(),
            z1.data(),
            a2.data(),
            a2t.data(),
            w2t.data(),
            labels.data(),
            exp_minus_a1.data(),
            e2.data(),
            e2t.data(),
            e2_sum.data(),
            e2_target.data(),
            w2_max.data()};
  }
};

// Input i's non-zeros, column by column: samples[start[i] .. start[i + 1]) with their values.
// Column D is b1's input, 1 for every sample.
struct NonzerosByColumn {
  std::vector<std::size_t> start;
  std::vector<std::uint32_t> samples;
  std::vector<double> inputs;

  template <class X>
  NonzerosByColumn(const X* x, std::size_t N, std::size_t D) : start(D + 2, 0) {
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t i = 0; i < D; ++i) start[i + 1] += x[n * D + i] != X(0);
    start[D + 1] = N;
    for (std::size_t i = 0; i <= D; ++i) start[i + 1] += start[i];
    samples.resize(start[D + 1]);
    inputs.resize(start[D + 1]);
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t n = 0; n < N; ++n) {
      for (std::size_t i = 0; i < D; ++i)
        if (x[n * D + i] != X(0)) {
          samples[next[i]] = static_cast<std::uint32_t>(n);
          inputs[next[i]++] = static_cast<double>(x[n * D + i]);
        }
      samples[next[D]] = static_cast<std::uint32_t>(n);
      inputs[next[D]++] = 1.0;
    }
  }
};

}  // namespace

template <class X>
bool numerical_gradient_incremental(double* grads, const double* theta, const Dims& d,
                                    Activation activation, const X* x, const std::int64_t* t,
                                    std::size_t N, double h, const std::atomic<bool>& cancel) {
  const std::size_t H = d.H, C = d.C;
  const UnperturbedArrays pass(Params<const double>(theta, d), d, activation, x, t, N, cancel);
  if (cancel.load()) return false;
  const UnperturbedPass u = pass.view(d, N);
  const NonzerosByColumn columns(x, N, d.D);

  // A bias is the weight of an input fixed at 1, so b1 is row D of W1 and b2 row H of W2 in the
  // flat layout; each task below fills one such row of the gradient.
  const NumericalKernels& kernels = numerical_kernels();
  const std::size_t hidden_rows = d.D + 1, logit_rows = H + 1;
  const double scale = 1.0 / (2 * h * static_cast<double>(N));
  struct Work {
    std::vector<double> diff, shift;
  };
  const int workers = num_threads();
  std::vector<Work> work(
      workers, Work{std::vector<double>(std::max(u.Hp, C)), std::vector<double>(u.Np, 0.0)});

  parallel_for(
      hidden_rows + logit_rows, 4, workers, [&](std::size_t begin, std::size_t end, int w) {
        Work& s = work[w];
        for (std::size_t row = begin; row < end && !cancel.load(std::memory_order_relaxed); ++row) {
          if (row < hidden_rows) {
            // W1[i, :] (b1 when i == D): perturbing W1[i, j] by ±h moves a1[n, j] by ±h·x[n, i].
            const std::size_t i = row, first = columns.start[i],
                              count = columns.start[i + 1] - first;
            if (count > 0)
              kernels.hidden_row_differences(s.diff.data(), u, &columns.samples[first],
                                             &columns.inputs[first], count, h);
            else
              std::fill(s.diff.begin(), s.diff.end(), 0.0);  // no sample's loss moves
            for (std::size_t j = 0; j < H; ++j) grads[d.W1() + i * H + j] = s.diff[j] * scale;
          } else {
            // W2[j, :] (b2 when j == H): perturbing W2[j, c] by ±h moves a2[n, c] by ±h·z1[n, j].
            const std::size_t j = row - hidden_rows;
            for (std::size_t n = 0; n < N; ++n) s.shift[n] = h * (j < H ? u.z1[n * u.Hp + j] : 1.0);
            kernels.logit_row_differences(s.diff.data(), u, s.shift.data());
            for (std::size_t c = 0; c < C; ++c) grads[d.W2() + j * C + c] = s.diff[c] * scale;
          }
        }
      });
  return !cancel.load();
}

#define TWOLAYER_INSTANTIATE(X)                                                                    \
  template bool numerical_gradient_naive<X>(double*, const double*, const Dims&, Activation,       \
                                            const X*, const std::int64_t*, std::size_t, double,    \
                                            const std::atomic<bool>&);                             \
  template bool numerical_gradient_incremental<X>(double*, const double*, const Dims&, Activation, \
                                                  const X*, const std::int64_t*, std::size_t,      \
                                                  double, const std::atomic<bool>&);
TWOLAYER_INSTANTIATE(float)
TWOLAYER_INSTANTIATE(double)
#undef TWOLAYER_INSTANTIATE

}  // namespace twolayer
