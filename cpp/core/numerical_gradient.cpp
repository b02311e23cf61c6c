#include "numerical_gradient.hpp"

#include <algorithm>
#include <vector>

#include "forward.hpp"
#include "parallel.hpp"

namespace twolayer {

template <class X>
bool numerical_gradient_naive(double* grads, const double* theta, const Dims& d, const X* x,
                              const std::int64_t* t, std::size_t N, double h,
                              const std::atomic<bool>& cancel) {
  const int workers = num_threads();
  // Each worker perturbs its own copy of θ.
  std::vector<std::vector<double>> copies(workers, std::vector<double>(theta, theta + d.size()));
  std::vector<std::vector<double>> z1(workers, std::vector<double>(N * d.H));
  std::vector<std::vector<double>> y(workers, std::vector<double>(N * d.C));

  parallel_for(d.size(), 8, workers, [&](std::size_t begin, std::size_t end, int w) {
    double* th = copies[w].data();
    const Params<const double> p(th, d);
    auto f = [&] {
      forward(z1[w].data(), y[w].data(), p, x, d, N);
      return cross_entropy_sum(y[w].data(), t, N, d.C) / static_cast<double>(N);
    };
    for (std::size_t i = begin; i < end && !cancel.load(std::memory_order_relaxed); ++i) {
      const double saved = th[i];
      th[i] = saved + h;
      const double f_plus = f();
      th[i] = saved - h;
      const double f_minus = f();
      th[i] = saved;
      grads[i] = (f_plus - f_minus) / (2 * h);
    }
  });
  return !cancel.load();
}

template <class X>
bool numerical_gradient_incremental(double* grads, const double* theta, const Dims& d, const X* x,
                                    const std::int64_t* t, std::size_t N, double h,
                                    const std::atomic<bool>& cancel) {
  const std::size_t D = d.D, H = d.H, C = d.C;
  const Params<const double> p(theta, d);

  // The unperturbed pass, keeping what the perturbations start from: hidden pre-activations a1,
  // hidden outputs z1 and logits a2.
  std::vector<double> a1(N * H), z1(N * H), a2(N * C);
  affine_forward(a1.data(), x, p.W1, p.b1, N, D, H);
  std::copy(a1.begin(), a1.end(), z1.begin());
  sigmoid_forward(z1.data(), N * H);
  affine_forward(a2.data(), z1.data(), p.W2, p.b2, N, H, C);

  // A bias is the weight of an input fixed at 1, so b1 is row D of W1 and b2 row H of W2 in the
  // flat layout; each task below fills one such row of the gradient.
  const std::size_t hidden_rows = D + 1, logit_rows = H + 1;
  const double scale = 1.0 / (2 * h * static_cast<double>(N));
  struct Work {
    std::vector<std::size_t> samples;
    std::vector<double> inputs, logits;
  };
  const int workers = num_threads();
  std::vector<Work> work(workers, Work{std::vector<std::size_t>(N), std::vector<double>(N),
                                       std::vector<double>(C)});

  parallel_for(hidden_rows + logit_rows, 4, workers, [&](std::size_t begin, std::size_t end, int w) {
    Work& s = work[w];
    double* logits = s.logits.data();
    for (std::size_t row = begin; row < end && !cancel.load(std::memory_order_relaxed); ++row) {
      if (row < hidden_rows) {
        // W1[i, :] (b1 when i == D): perturbing W1[i, j] by ±h moves a1[n, j] by ±h·x[n, i].
        const std::size_t i = row;
        std::size_t count = 0;
        for (std::size_t n = 0; n < N; ++n) {
          const double v = i < D ? static_cast<double>(x[n * D + i]) : 1.0;
          if (v != 0) s.samples[count] = n, s.inputs[count++] = v;
        }
        for (std::size_t j = 0; j < H; ++j) {
          double diff = 0;
          for (std::size_t k = 0; k < count; ++k) {
            const std::size_t n = s.samples[k];
            const double shift = h * s.inputs[k];
            double loss[2];
            for (int sign = 0; sign < 2; ++sign) {
              const double dz = sigmoid(a1[n * H + j] + (sign ? -shift : shift)) - z1[n * H + j];
              for (std::size_t c = 0; c < C; ++c) logits[c] = a2[n * C + c] + dz * p.W2[j * C + c];
              loss[sign] = sample_loss(logits, t[n], C);
            }
            diff += loss[0] - loss[1];
          }
          grads[d.W1() + i * H + j] = diff * scale;
        }
      } else {
        // W2[j, :] (b2 when j == H): perturbing W2[j, c] by ±h moves a2[n, c] by ±h·z1[n, j].
        const std::size_t j = row - hidden_rows;
        for (std::size_t c = 0; c < C; ++c) {
          double diff = 0;
          for (std::size_t n = 0; n < N; ++n) {
            const double shift = h * (j < H ? z1[n * H + j] : 1.0);
            if (shift == 0) continue;
            double loss[2];
            for (int sign = 0; sign < 2; ++sign) {
              std::copy(&a2[n * C], &a2[n * C] + C, logits);
              logits[c] += sign ? -shift : shift;
              loss[sign] = sample_loss(logits, t[n], C);
            }
            diff += loss[0] - loss[1];
          }
          grads[d.W2() + j * C + c] = diff * scale;
        }
      }
    }
  });
  return !cancel.load();
}

#define TWOLAYER_INSTANTIATE(X)                                                                   \
  template bool numerical_gradient_naive<X>(double*, const double*, const Dims&, const X*,       \
                                            const std::int64_t*, std::size_t, double,            \
                                            const std::atomic<bool>&);                           \
  template bool numerical_gradient_incremental<X>(double*, const double*, const Dims&, const X*, \
                                                  const std::int64_t*, std::size_t, double,      \
                                                  const std::atomic<bool>&);
TWOLAYER_INSTANTIATE(float)
TWOLAYER_INSTANTIATE(double)
#undef TWOLAYER_INSTANTIATE

}  // namespace twolayer
