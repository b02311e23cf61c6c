// The net's kernels with AVX2 and FMA. Compiled alone with -mavx2 -mfma, and used only on CPUs
// that have both (dispatch.cpp). Each kernel computes what its namesake in kernels.hpp computes,
// the same products over the same inputs, rounded as FMAs and the vector exp round them; the
// tests check one against the other.
//
// No standard-library template is instantiated here (no std::vector, std::min, ...): a copy of it
// compiled for AVX2 could be the one the linker keeps for the baseline code too.
#include "kernels_avx2.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "compiler.hpp"
#include "simd_avx2.hpp"

namespace twolayer {
namespace avx2 {
namespace {

using std::size_t;

// A compile-time count, to turn a run-time vector count into a template argument.
template <int N>
struct Count {
  static constexpr int value = N;
};

// Calls f(Count<n>) for 1 <= n <= Max.
template <int Max, int N = 1, class F>
void with_count(int n, F&& f) {
  if constexpr (N < Max) {
    if (n != N) return with_count<Max, N + 1>(n, f);
  }
  f(Count<N>{});
}

// Splits M columns into blocks of at most max_vectors vectors of equal length, give or take one,
// and calls block(m0, vectors, tail): the block starts at column m0 and its last vector holds
// `tail` columns (a full vector but in the last block).
template <class T, class F>
void for_each_column_block(size_t M, int max_vectors, F&& block) {
  constexpr int L = Simd<T>::lanes;
  const size_t vectors = (M + L - 1) / L;
  const size_t blocks = (vectors + max_vectors - 1) / max_vectors;
  size_t v0 = 0;
  for (size_t b = 0; b < blocks; ++b) {
    const size_t nv = vectors / blocks + (b < vectors % blocks ? 1 : 0);
    const int tail = b + 1 == blocks ? static_cast<int>(M - (v0 + nv - 1) * L) : L;
    block(v0 * L, static_cast<int>(nv), tail);
    v0 += nv;
  }
}

// ---------------------------------------------------------------------------------------------
// gather_nonzeros_by_rows without a branch per non-zero: each vector of L inputs is compared
// with zero, and its non-zero lanes are packed to the front by a permutation looked up from the
// comparison's bit mask; all L lanes are stored and the count advances by the number of
// non-zeros (so up to L entries past the last non-zero are written: kGatherSlack). The masks of
// 8 inputs are the bytes of the groups.

// For each mask of 8 lanes, the positions of its set bits in order, then zeros.
struct LeftPack {
  std::uint32_t lanes[256][8];
};
constexpr LeftPack make_left_pack() {
  LeftPack t{};
  for (int mask = 0; mask < 256; ++mask)
    for (int bit = 0, c = 0; bit < 8; ++bit)
      if (mask >> bit & 1) t.lanes[mask][c++] = static_cast<std::uint32_t>(bit);
  return t;
}
alignas(32) constexpr LeftPack kLeftPack = make_left_pack();

// The same for 4 doubles as 8 32-bit halves: lane position p becomes halves 2p, 2p + 1.
struct LeftPackPairs {
  std::uint32_t halves[16][8];
};
constexpr LeftPackPairs make_left_pack_pairs() {
  LeftPackPairs t{};
  for (int mask = 0; mask < 16; ++mask)
    for (int i = 0; i < 4; ++i) {
      t.halves[mask][2 * i] = 2 * kLeftPack.lanes[mask][i];
      t.halves[mask][2 * i + 1] = 2 * kLeftPack.lanes[mask][i] + 1;
    }
  return t;
}
alignas(32) constexpr LeftPackPairs kLeftPackPairs = make_left_pack_pairs();

__m256i load_lanes(const std::uint32_t* p) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
}

// The non-zeros of 8 floats at a, their inputs numbered from k: stored at index, value. Returns
// their bit mask.
template <class T>
unsigned pack_nonzeros(std::uint32_t* index, T* value, const float* a, size_t k) {
  const __m256 x = _mm256_loadu_ps(a);
  const unsigned mask = Simd<float>::nonzero_lanes(x);
  const __m256i order = load_lanes(kLeftPack.lanes[mask]);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(index),
                      _mm256_add_epi32(order, _mm256_set1_epi32(static_cast<int>(k))));
  const __m256 packed = _mm256_permutevar8x32_ps(x, order);
  if constexpr (sizeof(T) == sizeof(double)) {
    _mm256_storeu_pd(value, _mm256_cvtps_pd(_mm256_castps256_ps128(packed)));
    _mm256_storeu_pd(value + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(packed, 1)));
  } else {
    _mm256_storeu_ps(value, packed);
  }
  return mask;
}

// The same for 4 doubles.
template <class T>
unsigned pack_nonzeros(std::uint32_t* index, T* value, const double* a, size_t k) {
  const __m256d x = _mm256_loadu_pd(a);
  const unsigned mask = Simd<double>::nonzero_lanes(x);
  _mm_storeu_si128(
      reinterpret_cast<__m128i*>(index),
      _mm_add_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(kLeftPack.lanes[mask])),
                    _mm_set1_epi32(static_cast<int>(k))));
  const __m256d packed = _mm256_castps_pd(
      _mm256_permutevar8x32_ps(_mm256_castpd_ps(x), load_lanes(kLeftPackPairs.halves[mask])));
  if constexpr (sizeof(T) == sizeof(double))
    _mm256_storeu_pd(value, packed);
  else
    _mm_storeu_ps(value, _mm256_cvtpd_ps(packed));
  return mask;
}

// The non-zeros of the 8 inputs at a, numbered from k, appended at index, value from `count` on.
// Returns their bit mask.
template <class T, class X>
unsigned pack_group(std::uint32_t* index, T* value, size_t& count, const X* a, size_t k) {
  unsigned mask = 0;
  for (size_t i = 0; i < 8; i += Simd<X>::lanes) {
    const unsigned part = pack_nonzeros(index + count, value + count, a + i, k + i);
    count += static_cast<size_t>(popcount(part));
    mask |= part << i;
  }
  return mask;
}

// Whether the kSegment inputs at a are all +0.0, bit for bit; a -0.0 or a NaN says no, and the
// comparisons then decide. A third of MNIST's segments are blank (the top and bottom of the
// picture, two runs per row that the branch predicts): skipping them took the gather of 100 rows
// from about 53 to 46 µs in float64 on a Zen 1 EPYC.
template <class X>
bool all_bits_zero(const X* a) {
  constexpr size_t vectors = kSegment * sizeof(X) / sizeof(__m256i);
  const __m256i* v = reinterpret_cast<const __m256i*>(a);
  __m256i bits = _mm256_loadu_si256(v);
  for (size_t i = 1; i < vectors; ++i) bits = _mm256_or_si256(bits, _mm256_loadu_si256(v + i));
  return _mm256_testz_si256(bits, bits) != 0;
}

template <class T, class X>
size_t gather_nonzeros_by_rows(std::uint32_t* index, T* value, size_t* start, std::uint8_t* groups,
                               const X* a, size_t N, size_t K) {
  static_assert(kSegment % 8 == 0, "a segment holds whole groups");
  const size_t stride = 64 * ((N + 63) / 64);  // group_stride(N)
  size_t count = 0;
  for (size_t n = 0; n < N; ++n) {
    const X* row = a + n * K;
    std::uint8_t* group = groups ? groups + n : nullptr;  // group[g·stride]: inputs 8g to 8g + 7
    for (size_t k0 = 0; k0 < K; k0 += kSegment) {
      *start++ = count;
      if (K - k0 >= kSegment) {
        if (all_bits_zero(row + k0)) {
          if (group)
            for (size_t g = k0 / 8; g < (k0 + kSegment) / 8; ++g) group[g * stride] = 0;
          continue;
        }
#pragma GCC unroll 4
        for (size_t k = k0; k < k0 + kSegment; k += 8) {
          const unsigned mask = pack_group(index, value, count, row + k, k);
          if (group) group[k / 8 * stride] = static_cast<std::uint8_t>(mask);
        }
        continue;
      }
      size_t k = k0;
      for (; k + 8 <= K; k += 8) {
        const unsigned mask = pack_group(index, value, count, row + k, k);
        if (group) group[k / 8 * stride] = static_cast<std::uint8_t>(mask);
      }
      if (k == K) continue;
      unsigned mask = 0;  // the row's last inputs, fewer than 8
      for (size_t i = k; i < K; ++i)
        if (row[i] != X(0)) {
          index[count] = static_cast<std::uint32_t>(i);
          value[count++] = static_cast<T>(row[i]);
          mask |= 1u << (i - k);
        }
      if (group) group[k / 8 * stride] = static_cast<std::uint8_t>(mask);
    }
  }
  *start = count;
  if (groups)  // the rows past N, read by mark_nonzero_columns a vector at a time
    for (size_t g = 0; g < (K + 7) / 8; ++g)
      for (size_t n = N; n < stride; ++n) groups[g * stride + n] = 0;
  return count;
}

// mark_nonzero_columns from the gather's groups, 64 rows of a group at a time: the top bit of
// each byte of a vector is input 8g + 7 of its row, a movemask takes it for 32 rows, and adding
// the vector to itself brings the next input's bit to the top. (The plain loop, a bit set per
// non-zero, took 10.5 µs for a chunk of 100 MNIST rows in float64, this 1.8 µs, on Zen 3.)
template <class T>
void mark_nonzero_columns(std::uint64_t* masks, const SparseRows<T>& a, size_t N, size_t K) {
  const size_t W = (N + 63) / 64, stride = 64 * W;
  for (size_t g = 0; g < (K + 7) / 8; ++g)
    for (size_t w = 0; w < W; ++w) {
      const std::uint8_t* rows = a.groups + g * stride + 64 * w;
      __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows));
      __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + 32));
      for (size_t k = 8 * g + 8; k-- > 8 * g;) {
        const std::uint64_t bits =
            static_cast<std::uint32_t>(_mm256_movemask_epi8(low)) |
            std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(high))} << 32;
        if (k < K) masks[k * W + w] = bits;
        low = _mm256_add_epi8(low, low);
        high = _mm256_add_epi8(high, high);
      }
    }
}

// Stores the first n lanes of v at p. Through a small buffer: a masked store is slow on AMD CPUs.
template <class T>
void store_first(T* p, typename Simd<T>::V v, int n) {
  alignas(32) T lanes[Simd<T>::lanes];
  Simd<T>::store(lanes, v);
  for (int i = 0; i < n; ++i) p[i] = lanes[i];
}

// How a block of columns ends: on a whole vector, or with a last vector of `count` < L columns.
// That vector is read and written whole `shift` = L - count lanes early where the block has a
// vector before it (overlapped), its first lanes then computing the same values, bit for bit, as
// the vector before it does, so nothing past the row is read. Otherwise (a row narrower than a
// vector) it is read through `mask`. Masked loads in the inner loops took the sparse products of
// a batch of 100 MNIST rows into 50 float64 columns from 53.1 to 54.2 µs (forward) and from 48.6
// to 48.9 µs (weight gradient); in a bare loop without the L1 slices, from 51.2 to 65.7 µs.
enum class Ending { whole, overlapped, masked };

struct Edge {
  int count, shift;
  __m256i mask;
};

// A block of columns of a row, NV vectors wide, ending as E says: loads and stores of such blocks,
// and the product `acc += a·w` with a block of w. A block is loaded whole before it is stored
// whole, so that the overlapped lanes of its last two vectors stay equal.
template <class T, int NV, Ending E>
struct RowBlock {
  using S = Simd<T>;
  using V = typename S::V;
  static constexpr int L = S::lanes, F = E == Ending::whole ? NV : NV - 1;  // F whole vectors
  static constexpr size_t bytes = sizeof(T) * L * NV;

  V v[NV];

  // The last vector of a block that does not end on a whole one, at p + F·L.
  static V load_last(const T* p, const Edge& edge) {
    if constexpr (E == Ending::overlapped) return S::load(p + F * L - edge.shift);
    return S::load_masked(p + F * L, edge.mask);
  }

  void load(const T* p, const Edge& edge) {
#pragma GCC unroll 16
    for (int i = 0; i < F; ++i) v[i] = S::load(p + i * L);
    if constexpr (E != Ending::whole) v[F] = load_last(p, edge);
  }
  void store(T* p, const Edge& edge) const {
#pragma GCC unroll 16
    for (int i = 0; i < F; ++i) S::store(p + i * L, v[i]);
    if constexpr (E == Ending::overlapped) S::store(p + F * L - edge.shift, v[F]);
    if constexpr (E == Ending::masked) store_first<T>(p + F * L, v[F], edge.count);
  }
  void zero() {
    for (int i = 0; i < NV; ++i) v[i] = S::zero();
  }
  void fmadd(T a, const T* w, const Edge& edge) {  // v += a·w[block]
    const V av = S::set1(a);
#pragma GCC unroll 16
    for (int i = 0; i < F; ++i) v[i] = S::fmadd(av, S::load(w + i * L), v[i]);
    if constexpr (E != Ending::whole) v[F] = S::fmadd(av, load_last(w, edge), v[F]);
  }
};

// Calls f(RowBlock type, m0, edge) for each block of up to kBlockVectors vectors of M columns,
// m0 being its first column.
constexpr int kBlockVectors = 13;  // accumulators; with a broadcast and a mask, 15 registers

template <class T, class F>
void for_each_row_block(size_t M, F&& f) {
  for_each_column_block<T>(M, kBlockVectors, [&](size_t m0, int vectors, int tail) {
    const Edge edge{tail, Simd<T>::lanes - tail, Simd<T>::first(tail)};
    with_count<kBlockVectors>(vectors, [&](auto nv) {
      constexpr int NV = decltype(nv)::value;
      if (tail == Simd<T>::lanes)
        f(RowBlock<T, NV, Ending::whole>{}, m0, edge);
      else if (NV > 1)
        f(RowBlock<T, NV, Ending::overlapped>{}, m0, edge);
      else
        f(RowBlock<T, NV, Ending::masked>{}, m0, edge);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// sparse_affine_forward goes through the non-zeros of each row n: every a[n, k] adds a·w[k] to
// out[n]. out[n]'s block stays in registers and w[k]'s streams past, one load and one FMA per
// vector. Taken whole, w is too large for L1 (784×50 doubles are 313 KB) and those loads would
// come from L2, so the inputs k are taken in slices of whole segments whose rows of w fill about
// kSliceBytes of L1, and each row n visits each slice in turn with its non-zeros there, found
// from the segments' starts. (Finding them by scanning the indices cost a loop and a mispredicted
// branch per visit: the forward of 100 MNIST rows into 50 columns took 70.3 µs in float64 and
// 43.7 µs in float32, against 62.0 and 37.2 µs this way, on a Zen 3 EPYC with 32 KiB of L1.)

constexpr size_t kSliceBytes = 24 * 1024;

// Calls visit(n, e, end) for each row n and slice of inputs where row n has non-zeros, [e, end)
// being them, in order of slices then rows.
template <class T, class F>
void for_each_row_slice(const SparseRows<T>& a, size_t N, size_t block_bytes, F&& visit) {
  const size_t S = a.segments;
  const size_t rows = kSliceBytes / block_bytes, per_slice = (rows + kSegment / 2) / kSegment;
  const size_t step = per_slice > 0 ? per_slice : 1;
  for (size_t s0 = 0; s0 < S; s0 += step) {
    const size_t s1 = S - s0 < step ? S : s0 + step;
    for (size_t n = 0; n < N; ++n) {
      const size_t e = a.start[n * S + s0], end = a.start[n * S + s1];
      if (end != e) visit(n, e, end);
    }
  }
}

template <class T>
void sparse_affine_forward(T* out, const SparseRows<T>& a, const T* w, const T* b, size_t N,
                           size_t K, size_t M) {
  (void)K;
  for_each_row_block<T>(M, [&](auto block, size_t m0, const Edge& edge) {
    using Block = decltype(block);
    for (size_t n = 0; n < N; ++n) {
      Block acc;
      if (b)
        acc.load(b + m0, edge);
      else
        acc.zero();
      acc.store(out + n * M + m0, edge);
    }
    for_each_row_slice(a, N, Block::bytes, [&](size_t n, size_t e, size_t end) {
      T* o = out + n * M + m0;
      Block acc;
      acc.load(o, edge);
      for (; e < end; ++e) acc.fmadd(a.value[e], w + size_t{a.index[e]} * M + m0, edge);
      acc.store(o, edge);
    });
  });
}

// dw (+)= aᵀ·d by columns of a: each block of a row of dw is summed in registers over the samples
// whose input k is non-zero (found from the column's bit masks, the value read from a), then
// written once. (Adding each non-zero's product into dw row by row of a instead costs a load and
// a store of dw per vector, and measured two and a half times slower; sorting the non-zeros by
// column first cost more than this whole kernel.)
template <class T, class X>
void sparse_affine_backward_weights(T* dw, const std::uint64_t* masks, const X* a, const T* d,
                                    size_t N, size_t K, size_t M, size_t k_begin, size_t k_end,
                                    bool accumulate) {
  const size_t W = (N + 63) / 64;
  for_each_row_block<T>(M, [&](auto block, size_t m0, const Edge& edge) {
    using Block = decltype(block);
    for (size_t k = k_begin; k < k_end; ++k) {
      const std::uint64_t* column = masks + k * W;
      bool any = false;
      for (size_t word = 0; word < W; ++word) any |= column[word] != 0;
      T* row = dw + k * M + m0;
      Block acc;
      if (accumulate) {
        if (!any) continue;
        acc.load(row, edge);
      } else {
        acc.zero();
      }
      for (size_t word = 0; word < W; ++word)
        for (std::uint64_t bits = column[word]; bits != 0; bits &= bits - 1) {
          const size_t n = word * 64 + static_cast<size_t>(count_trailing_zeros(bits));
          acc.fmadd(static_cast<T>(a[n * K + k]), d + n * M + m0, edge);
        }
      acc.store(row, edge);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// affine_forward and affine_backward_weights for dense activations: register tiles of up to 4
// rows × 3 vectors (12 accumulators), the BLIS micro-kernel shape for 16 registers. The shapes
// here are small (N×H by H×C), so the operands are read in place, without packing.

constexpr int kTileRows = 4, kTileVectors = 3;

// out[R rows × block] = b + a[R×K]·w[K×block].
template <class T, int R, int NV, bool Partial>
void affine_forward_tile(T* out, const T* a, const T* w, const T* b, size_t K, size_t M, size_t m0,
                         __m256i mask) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = S::lanes, F = Partial ? NV - 1 : NV;
  V acc[R][NV];
  for (int v = 0; v < NV; ++v) {
    const V bias =
        !b ? S::zero() : (v < F ? S::load(b + m0 + v * L) : S::load_masked(b + m0 + v * L, mask));
    for (int r = 0; r < R; ++r) acc[r][v] = bias;
  }
  for (size_t k = 0; k < K; ++k) {
    const T* wk = w + k * M + m0;
    V wv[NV];
    for (int v = 0; v < F; ++v) wv[v] = S::load(wk + v * L);
    if constexpr (Partial) wv[F] = S::load_masked(wk + F * L, mask);
    for (int r = 0; r < R; ++r) {
      const V ar = S::set1(a[r * K + k]);
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(ar, wv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < F; ++v) S::store(out + r * M + m0 + v * L, acc[r][v]);
    if constexpr (Partial) S::store_masked(out + r * M + m0 + F * L, mask, acc[r][F]);
  }
}

template <class T>
void affine_forward(T* out, const T* a, const T* w, const T* b, size_t N, size_t K, size_t M) {
  for_each_column_block<T>(M, kTileVectors, [&](size_t m0, int vectors, int tail) {
    const __m256i mask = Simd<T>::first(tail);
    for (size_t n = 0; n < N; n += kTileRows) {
      const int rows = N - n < kTileRows ? static_cast<int>(N - n) : kTileRows;
      with_count<kTileRows>(rows, [&](auto r) {
        with_count<kTileVectors>(vectors, [&](auto nv) {
          constexpr int R = decltype(r)::value, NV = decltype(nv)::value;
          if (tail == Simd<T>::lanes)
            affine_forward_tile<T, R, NV, false>(out + n * M, a + n * K, w, b, K, M, m0, mask);
          else
            affine_forward_tile<T, R, NV, true>(out + n * M, a + n * K, w, b, K, M, m0, mask);
        });
      });
    }
  });
}

// dw[k0 .. k0+R, block] += a[N×K][:, k0 .. k0+R]ᵀ·d[N×block].
template <class T, int R, int NV, bool Partial>
void affine_backward_weights_tile(T* dw, const T* a, const T* d, size_t N, size_t K, size_t M,
                                  size_t k0, size_t m0, __m256i mask) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = S::lanes, F = Partial ? NV - 1 : NV;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
  for (size_t n = 0; n < N; ++n) {
    const T* dn = d + n * M + m0;
    V dv[NV];
    for (int v = 0; v < F; ++v) dv[v] = S::load(dn + v * L);
    if constexpr (Partial) dv[F] = S::load_masked(dn + F * L, mask);
    for (int r = 0; r < R; ++r) {
      const V ar = S::set1(a[n * K + k0 + r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(ar, dv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    T* row = dw + (k0 + r) * M + m0;
    for (int v = 0; v < F; ++v) S::store(row + v * L, S::add(S::load(row + v * L), acc[r][v]));
    if constexpr (Partial)
      S::store_masked(row + F * L, mask, S::add(S::load_masked(row + F * L, mask), acc[r][F]));
  }
}

template <class T>
void affine_backward_weights(T* dw, const T* a, const T* d, size_t N, size_t K, size_t M) {
  for_each_column_block<T>(M, kTileVectors, [&](size_t m0, int vectors, int tail) {
    const __m256i mask = Simd<T>::first(tail);
    for (size_t k = 0; k < K; k += kTileRows) {
      const int rows = K - k < kTileRows ? static_cast<int>(K - k) : kTileRows;
      with_count<kTileRows>(rows, [&](auto r) {
        with_count<kTileVectors>(vectors, [&](auto nv) {
          constexpr int R = decltype(r)::value, NV = decltype(nv)::value;
          if (tail == Simd<T>::lanes)
            affine_backward_weights_tile<T, R, NV, false>(dw, a, d, N, K, M, k, m0, mask);
          else
            affine_backward_weights_tile<T, R, NV, true>(dw, a, d, N, K, M, k, m0, mask);
        });
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Element-wise: the vector exp of simd_avx2.hpp over whole arrays.

// y[i] = f(x[i]) vector by vector, the last one masked. y may be x.
template <class T, class F>
void map(T* y, const T* x, size_t n, F&& f) {
  using S = Simd<T>;
  constexpr int L = S::lanes;
  size_t i = 0;
  for (; i + L <= n; i += L) S::store(y + i, f(S::load(x + i)));
  if (i < n) {
    const __m256i mask = S::first(static_cast<int>(n - i));
    S::store_masked(y + i, mask, f(S::load_masked(x + i, mask)));
  }
}

template <class T>
void exp_array(T* y, const T* x, size_t n) {
  map(y, x, n, [](typename Simd<T>::V v) { return exp(v); });
}

template <class T>
void sigmoid_forward(T* z, size_t n) {
  map(z, z, n, [](typename Simd<T>::V v) { return sigmoid<T>(v); });
}

template <class T>
void relu_forward(T* z, size_t n) {
  map(z, z, n, [](typename Simd<T>::V v) { return relu<T>(v); });
}

// Each row's max is subtracted first, so that exp never overflows; the exps of the whole batch
// then run as one vector loop; each row's sum and the divisions follow the naive kernel's order.
template <class T>
void softmax_forward(T* y, size_t N, size_t C) {
  for (size_t n = 0; n < N; ++n) {
    T* row = y + n * C;
    T top = row[0];
    for (size_t c = 1; c < C; ++c) top = row[c] > top ? row[c] : top;
    for (size_t c = 0; c < C; ++c) row[c] -= top;
  }
  exp_array(y, y, N * C);
  for (size_t n = 0; n < N; ++n) {
    T* row = y + n * C;
    T sum = 0;
    for (size_t c = 0; c < C; ++c) sum += row[c];
    for (size_t c = 0; c < C; ++c) row[c] /= sum;
  }
}

template <class T>
constexpr Kernels<T> table() {
  return Kernels<T>{"avx2",
                    &gather_nonzeros_by_rows<T, float>,
                    &gather_nonzeros_by_rows<T, double>,
                    &sparse_affine_forward<T>,
                    &mark_nonzero_columns<T>,
                    &sparse_affine_backward_weights<T, float>,
                    &sparse_affine_backward_weights<T, double>,
                    &affine_forward<T>,
                    &affine_backward_weights<T>,
                    &sigmoid_forward<T>,
                    &relu_forward<T>,
                    &softmax_forward<T>};
}

}  // namespace

extern const Kernels<float> kernels_float = table<float>();
extern const Kernels<double> kernels_double = table<double>();

}  // namespace avx2
}  // namespace twolayer
