// Sizes and activation of the network, and the layout of its parameters in one flat buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace twolayer {

// Size letters used throughout the core: N batch, D input, H hidden, C classes.
struct Dims {
  std::size_t D, H, C;

  // Flat layout shared by parameters and gradients: W1 (D×H), b1 (H), W2 (H×C), b2 (C).
  std::size_t W1() const { return 0; }
  std::size_t b1() const { return D * H; }
  std::size_t W2() const { return D * H + H; }
  std::size_t b2() const { return D * H + H + H * C; }
  std::size_t size() const { return D * H + H + H * C + C; }
};

// The parameters' names, in the order of the flat layout.
constexpr const char* kParamNames[] = {"W1", "b1", "W2", "b2"};

// Pointers into one flat parameter (or gradient) buffer.
template <class T>
struct Params {
  T *W1, *b1, *W2, *b2;

  Params(T* flat, const Dims& d)
      : W1(flat + d.W1()), b1(flat + d.b1()), W2(flat + d.W2()), b2(flat + d.b2()) {}
};

// The hidden layer's nonlinearity: the book's chapter 4 net uses the sigmoid, its chapter 5 net
// ReLU. (The kernels of each are in kernels.hpp.)
enum class Activation { sigmoid, relu };

// The book's cross-entropy adds this inside the log so that log(0) never happens.
constexpr double kLogEpsilon = 1e-7;

}  // namespace twolayer
