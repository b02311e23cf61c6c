#include "optimizer.hpp"

#include <cmath>

namespace twolayer {

std::size_t state_buffers(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
      return 0;
    case OptimizerKind::adam:
      return 2;
    default:
      return 1;
  }
}

namespace {

// The book adds this to the square root of the squared gradients, so that 0 never divides.
constexpr double kRootEpsilon = 1e-7;

// Adam's lr_t = lr·√(1 - β2^iter) / (1 - β1^iter), in double as the book's Python computes it.
double bias_corrected_rate(const Optimizer& o) {
  const double k = static_cast<double>(o.iter);
  return o.lr * std::sqrt(1.0 - std::pow(o.beta2, k)) / (1.0 - std::pow(o.beta1, k));
}

}  // namespace

template <class T>
Update<T>::Update(const Optimizer& o, T* state, std::size_t n)
    : kind_(o.kind),
      rate_(static_cast<T>(o.kind == OptimizerKind::adam ? bias_corrected_rate(o) : o.lr)),
      first_(0),
      second_(0),
      step_(0),
      state_(state),
      moment_(o.kind == OptimizerKind::adam ? state + n : nullptr) {
  switch (o.kind) {
    case OptimizerKind::momentum:
      first_ = static_cast<T>(o.momentum);
      break;
    case OptimizerKind::nesterov:
      first_ = static_cast<T>(o.momentum);
      second_ = static_cast<T>(o.momentum * o.momentum);
      step_ = static_cast<T>((1 + o.momentum) * o.lr);
      break;
    case OptimizerKind::rmsprop:
      first_ = static_cast<T>(o.decay_rate);
      second_ = static_cast<T>(1 - o.decay_rate);
      break;
    case OptimizerKind::adam:
      first_ = static_cast<T>(1 - o.beta1);
      second_ = static_cast<T>(1 - o.beta2);
      break;
    default:
      break;
  }
}

// Each statement's result is rounded to T before the next reads it, as NumPy's are: CMakeLists.txt
// builds this file with -ffp-contract=off, so that no product and sum fuse into one rounding, and
// -fno-math-errno, so that the square roots vectorize (errno is never read).
template <class T>
void Update<T>::apply(T* p, const T* g, std::size_t begin, std::size_t end) const {
  const T lr = rate_, eps = static_cast<T>(kRootEpsilon);
  T *s = state_, *v = moment_;
  switch (kind_) {
    case OptimizerKind::sgd:  // p -= lr·g
      for (std::size_t i = begin; i < end; ++i) p[i] -= lr * g[i];
      break;
    case OptimizerKind::momentum:  // v = m·v - lr·g; p += v
      for (std::size_t i = begin; i < end; ++i) {
        s[i] = first_ * s[i] - lr * g[i];
        p[i] += s[i];
      }
      break;
    case OptimizerKind::nesterov:  // v *= m; v -= lr·g; p += (m·m)·v; p -= ((1 + m)·lr)·g
      for (std::size_t i = begin; i < end; ++i) {
        s[i] *= first_;
        s[i] -= lr * g[i];
        p[i] += second_ * s[i];
        p[i] -= step_ * g[i];
      }
      break;
    case OptimizerKind::adagrad:  // h += g·g; p -= lr·g / (√h + 1e-7)
      for (std::size_t i = begin; i < end; ++i) {
        s[i] += g[i] * g[i];
        p[i] -= lr * g[i] / (std::sqrt(s[i]) + eps);
      }
      break;
    case OptimizerKind::rmsprop:  // h *= d; h += (1 - d)·g·g; p -= lr·g / (√h + 1e-7)
      for (std::size_t i = begin; i < end; ++i) {
        s[i] *= first_;
        s[i] += second_ * g[i] * g[i];
        p[i] -= lr * g[i] / (std::sqrt(s[i]) + eps);
      }
      break;
    case OptimizerKind::adam:  // m += (1-β1)·(g - m); v += (1-β2)·(g² - v); p -= lr_t·m / (√v + ε)
      for (std::size_t i = begin; i < end; ++i) {
        s[i] += first_ * (g[i] - s[i]);
        v[i] += second_ * (g[i] * g[i] - v[i]);
        p[i] -= lr * s[i] / (std::sqrt(v[i]) + eps);
      }
      break;
  }
}

template class Update<float>;
template class Update<double>;

}  // namespace twolayer
