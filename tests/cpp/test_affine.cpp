// The affine kernels of every kernel set (dense and sparse, forward and the weights' gradient, the
// gather of non-zeros) against plain loops written here, in double.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"
#include "dispatch.hpp"
#include "random.hpp"

namespace {

using twolayer::Kernels;
using twolayer_test::mnist_like;
using twolayer_test::uniform;

struct Shape {
  std::size_t N, K, M;
};

// Sizes that exercise every path: one-element rows, widths that are and are not whole vectors
// (4 doubles, 8 floats), more than one block of columns (13 vectors), rows of several segments of
// inputs (32) ending in a part of one or in a part of a group (8), batches of more than one
// 64-row word of the column masks, and the MNIST net.
const Shape kShapes[] = {{1, 1, 1},   {3, 5, 2},   {7, 13, 3},   {16, 40, 8},
                         {9, 17, 50}, {5, 30, 53}, {4, 20, 105}, {6, 70, 20},
                         {2, 9, 130}, {50, 37, 7}, {70, 16, 4},  {100, 784, 50}};

// b + a·w (no bias when b is empty), in double.
template <class A, class W>
std::vector<double> product(const std::vector<A>& a, const std::vector<W>& w,
                            const std::vector<W>& b, const Shape& s) {
  std::vector<double> out(s.N * s.M);
  for (std::size_t n = 0; n < s.N; ++n)
    for (std::size_t m = 0; m < s.M; ++m) {
      double sum = b.empty() ? 0.0 : double(b[m]);
      for (std::size_t k = 0; k < s.K; ++k) sum += double(a[n * s.K + k]) * double(w[k * s.M + m]);
      out[n * s.M + m] = sum;
    }
  return out;
}

// dw + aᵀ·d, in double.
template <class A, class T>
std::vector<double> weights_gradient(const std::vector<T>& dw, const std::vector<A>& a,
                                     const std::vector<T>& d, const Shape& s) {
  std::vector<double> out(dw.begin(), dw.end());
  for (std::size_t k = 0; k < s.K; ++k)
    for (std::size_t m = 0; m < s.M; ++m)
      for (std::size_t n = 0; n < s.N; ++n)
        out[k * s.M + m] += double(a[n * s.K + k]) * double(d[n * s.M + m]);
  return out;
}

template <class T>
void check_dense(const Kernels<T>& k, const Shape& s, double rtol) {
  std::mt19937 gen(static_cast<unsigned>(s.N + s.K + s.M + 1));
  const auto a = uniform<T>(gen, s.N * s.K), w = uniform<T>(gen, s.K * s.M),
             b = uniform<T>(gen, s.M), d = uniform<T>(gen, s.N * s.M);
  std::vector<T> out(s.N * s.M);
  k.affine_forward(out.data(), a.data(), w.data(), b.data(), s.N, s.K, s.M);
  CHECK_ARRAY_CLOSE(out, product(a, w, b, s), rtol * double(s.K));
  k.affine_forward(out.data(), a.data(), w.data(), nullptr, s.N, s.K, s.M);
  CHECK_ARRAY_CLOSE(out, product(a, w, std::vector<T>{}, s), rtol * double(s.K));

  auto dw = uniform<T>(gen, s.K * s.M);
  const auto expected = weights_gradient(dw, a, d, s);
  k.affine_backward_weights(dw.data(), a.data(), d.data(), s.N, s.K, s.M);  // accumulates
  CHECK_ARRAY_CLOSE(dw, expected, rtol * double(s.N));
}

// The non-zeros of a[N×K] by rows, gathered by a kernel set with their groups, and their storage.
// The groups start as garbage, so that the check sees every byte written.
template <class T>
struct Gathered {
  std::vector<std::uint32_t> index;
  std::vector<T> value;
  std::vector<std::size_t> start;
  std::vector<std::uint8_t> groups;

  template <class X>
  Gathered(const Kernels<T>& k, const X* a, std::size_t N, std::size_t K)
      : index(N * K + twolayer::kGatherSlack),
        value(N * K + twolayer::kGatherSlack),
        start(N * twolayer::segments_per_row(K) + 1),
        groups(twolayer::groups_per_row(K) * twolayer::group_stride(N), 0xA5) {
    k.gather_nonzeros_by_rows(index.data(), value.data(), start.data(), groups.data(), a, N, K);
  }
  twolayer::SparseRows<T> rows(std::size_t K) const {
    return {index.data(), value.data(), start.data(), twolayer::segments_per_row(K), groups.data()};
  }
};

// The non-zeros of a by rows must be exactly those of a plain scan, in order, the groups their
// bitmap with zeros past the last row, and the same without groups.
template <class T, class X>
void check_gather(const Kernels<T>& k, const std::vector<X>& a, const Shape& s) {
  const Gathered<T> g(k, a.data(), s.N, s.K);
  std::size_t e = 0;
  const std::size_t S = twolayer::segments_per_row(s.K), stride = twolayer::group_stride(s.N);
  for (std::size_t n = 0; n < stride; ++n)
    for (std::size_t i = 0; i < s.K; ++i) {
      const bool nonzero = n < s.N && a[n * s.K + i] != X(0);
      CHECK((g.groups[i / 8 * stride + n] >> i % 8 & 1) == nonzero);
      if (n >= s.N) continue;
      if (i % twolayer::kSegment == 0) CHECK(g.start[n * S + i / twolayer::kSegment] == e);
      if (nonzero) {
        CHECK(g.index[e] == i && g.value[e] == static_cast<T>(a[n * s.K + i]));
        ++e;
      }
    }
  CHECK(g.start[s.N * S] == e);

  std::vector<std::uint32_t> index(g.index.size());
  std::vector<T> value(g.value.size());
  std::vector<std::size_t> start(g.start.size());
  CHECK(k.gather_nonzeros_by_rows(index.data(), value.data(), start.data(), nullptr, a.data(), s.N,
                                  s.K) == e);
  CHECK(start == g.start);
  CHECK(std::equal(index.begin(), index.begin() + e, g.index.begin()));
  CHECK(std::equal(value.begin(), value.begin() + e, g.value.begin()));
}

// Bit masks of the columns of a[N×K]'s non-zeros, by a kernel set.
template <class T, class X>
std::vector<std::uint64_t> column_masks(const Kernels<T>& k, const X* a, std::size_t N,
                                        std::size_t K) {
  std::vector<std::uint64_t> masks(K * twolayer::words_per_column(N), 0xA5A5);
  k.mark_nonzero_columns(masks.data(), Gathered<T>(k, a, N, K).rows(K), N, K);
  return masks;
}

// The same by a plain scan of a.
template <class X>
std::vector<std::uint64_t> plain_column_masks(const X* a, std::size_t N, std::size_t K) {
  const std::size_t W = twolayer::words_per_column(N);
  std::vector<std::uint64_t> masks(K * W, 0);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k)
      if (a[n * K + k] != X(0)) masks[k * W + n / 64] |= std::uint64_t{1} << n % 64;
  return masks;
}

// The weight gradient of the rows in two chunks, the first overwriting and the second adding to
// it: bit for bit the gradient of all the rows at once, added to zeros.
template <class T, class X>
void check_chunks_of_rows(const Kernels<T>& k, const std::vector<X>& a, const std::vector<T>& d,
                          const std::vector<T>& garbage, const Shape& s) {
  const std::size_t split = s.N / 2;
  const auto all = column_masks(k, a.data(), s.N, s.K), top = column_masks(k, a.data(), split, s.K),
             bottom = column_masks(k, a.data() + split * s.K, s.N - split, s.K);
  std::vector<T> expected(s.K * s.M, T(0)), dw = garbage;
  k.sparse_affine_backward_weights(expected.data(), all.data(), a.data(), d.data(), s.N, s.K, s.M,
                                   0, s.K, true);
  k.sparse_affine_backward_weights(dw.data(), top.data(), a.data(), d.data(), split, s.K, s.M, 0,
                                   s.K, false);
  k.sparse_affine_backward_weights(dw.data(), bottom.data(), a.data() + split * s.K,
                                   d.data() + split * s.M, s.N - split, s.K, s.M, 0, s.K, true);
  CHECK(dw == expected);
}

template <class T, class X>
void check_sparse(const Kernels<T>& k, const Shape& s, double rtol) {
  std::mt19937 gen(static_cast<unsigned>(s.N + s.K + s.M));
  auto a = mnist_like<X>(gen, s.N * s.K);
  for (std::size_t i = 0; i < s.K; ++i) a[i] = X(0);  // a row without non-zeros
  // and one that starts with 64 zeros, the last -0.0: a segment of zero bits, then one of zeros
  // whose bits are not all zero
  const std::size_t blank = std::min(s.K, 2 * twolayer::kSegment);
  for (std::size_t i = 0; s.N > 1 && i < blank; ++i) a[s.K + i] = i == blank - 1 ? -X(0) : X(0);
  const auto w = uniform<T>(gen, s.K * s.M), b = uniform<T>(gen, s.M),
             d = uniform<T>(gen, s.N * s.M), zero_bias = std::vector<T>(s.M, T(0));

  check_gather(k, a, s);
  const Gathered<T> gathered(k, a.data(), s.N, s.K);
  const twolayer::SparseRows<T> rows = gathered.rows(s.K);

  std::vector<T> out(s.N * s.M), unbiased(s.N * s.M), zero_biased(s.N * s.M);
  k.sparse_affine_forward(out.data(), rows, w.data(), b.data(), s.N, s.K, s.M);
  CHECK_ARRAY_CLOSE(out, product(a, w, b, s), rtol * double(s.K));
  k.sparse_affine_forward(unbiased.data(), rows, w.data(), nullptr, s.N, s.K, s.M);
  k.sparse_affine_forward(zero_biased.data(), rows, w.data(), zero_bias.data(), s.N, s.K, s.M);
  CHECK(unbiased == zero_biased);

  const auto masks = column_masks(k, a.data(), s.N, s.K);
  CHECK(masks == plain_column_masks(a.data(), s.N, s.K));
  auto dw = uniform<T>(gen, s.K * s.M);
  const auto expected = weights_gradient(dw, a, d, s);
  k.sparse_affine_backward_weights(dw.data(), masks.data(), a.data(), d.data(), s.N, s.K, s.M, 0,
                                   s.K, true);
  CHECK_ARRAY_CLOSE(dw, expected, rtol * double(s.N));
  check_chunks_of_rows(k, a, d, dw, s);
}

template <class T>
void check_every_kernel_set(double rtol) {
  twolayer_test::on_every_kernel_set<T>([&](const Kernels<T>& k) {
    for (const Shape& s : kShapes) {
      check_dense(k, s, rtol);
      check_sparse<T, double>(k, s, rtol);
      check_sparse<T, float>(k, s, rtol);
    }
  });
}

}  // namespace

int main() {
  check_every_kernel_set<double>(1e-13);
  check_every_kernel_set<float>(1e-5);
  return twolayer_test::report("test_affine");
}
