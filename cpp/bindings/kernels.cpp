// Bindings of the individual kernels, for the tests and the benchmarks: each runs one
// implementation ("portable" or "avx2", or the one in use) on NumPy arrays, so that the fast
// kernels can be checked against the plain loops and against NumPy. Not part of the public API.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "dispatch.hpp"

namespace py = pybind11;

namespace {

using twolayer::Kernels;
using twolayer::SparseRows;

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
const Kernels<T>& implementation(const std::string& name) {
  if (name == "active") return twolayer::kernels<T>();
  if (name == "portable") return twolayer::portable_kernels<T>();
  if (name == "avx2") {
    if (const Kernels<T>* k = twolayer::avx2_kernels<T>()) return *k;
    throw std::invalid_argument("the avx2 kernels are not available on this CPU or build");
  }
  throw std::invalid_argument("implementation must be 'active', 'portable' or 'avx2', got '" + name +
                              "'");
}

std::size_t rows(const py::array& a) { return static_cast<std::size_t>(a.shape(0)); }
std::size_t cols(const py::array& a) { return static_cast<std::size_t>(a.shape(1)); }

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

void require_matrix(const py::array& a, const char* name) {
  require(a.ndim() == 2, std::string(name) + " must be 2-d");
}

// The operands of an affine product b + a·w, checked: sizes N×K by K×M, and the bias of M
// entries, if any.
template <class T>
struct AffineOperands {
  std::size_t N, K, M;
  CArray<T> bias;
  bool has_bias;

  AffineOperands(const py::array& a, const py::array& w, const py::object& b)
      : has_bias(!b.is_none()) {
    require_matrix(a, "a");
    require_matrix(w, "w");
    require(cols(a) == rows(w), "a and w do not chain");
    N = rows(a), K = cols(a), M = cols(w);
    if (has_bias) {
      bias = CArray<T>(b);
      require(static_cast<std::size_t>(bias.size()) == M, "b must have M entries");
    }
  }
  const T* b() const { return has_bias ? bias.data() : nullptr; }
  py::array_t<T> output() const {
    return py::array_t<T>({static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(M)});
  }
};

// The non-zeros of a, gathered by the chosen implementation, with their storage.
template <class T>
struct Gathered {
  std::vector<std::uint32_t> index;
  std::vector<T> value;
  std::vector<std::size_t> start;
  std::size_t count = 0;

  template <class X>
  Gathered(const Kernels<T>& k, const CArray<X>& a)
      : index(rows(a) * cols(a) + twolayer::kGatherSlack),
        value(rows(a) * cols(a) + twolayer::kGatherSlack),
        start(rows(a) + 1) {
    count = k.gather_nonzeros_by_rows(index.data(), value.data(), start.data(), a.data(), rows(a), cols(a));
  }
  SparseRows<T> view() const { return {index.data(), value.data(), start.data()}; }
};

template <class T, class X>
void bind_typed(py::module_& m) {
  if constexpr (std::is_same<T, double>::value) {  // the gathers' values, widened to float64
  m.def(
        "gather_nonzeros_by_rows",
        [](CArray<X> a, const std::string& impl) {
          require_matrix(a, "a");
          Gathered<T> g(implementation<T>(impl), a);
          py::array_t<std::uint32_t> index(static_cast<py::ssize_t>(g.count));
          py::array_t<T> value(static_cast<py::ssize_t>(g.count));
          std::copy(g.index.begin(), g.index.begin() + g.count, index.mutable_data());
          std::copy(g.value.begin(), g.value.begin() + g.count, value.mutable_data());
          return py::make_tuple(index, value, py::array_t<std::size_t>(g.start.size(), g.start.data()));
        },
        py::arg("a"), py::arg("impl") = "active",
        "(index, value, start): the non-zeros of a row by row, widened to the type of the output");
  }
  m.def(
      "sparse_affine_forward",
      [](CArray<X> a, CArray<T> w, py::object b, const std::string& impl) {
        const AffineOperands<T> op(a, w, b);
        const Kernels<T>& k = implementation<T>(impl);
        Gathered<T> g(k, a);
        py::array_t<T> out = op.output();
        k.sparse_affine_forward(out.mutable_data(), g.view(), w.data(), op.b(), op.N, op.K, op.M);
        return out;
      },
      py::arg("a"), py::arg("w"), py::arg("b") = py::none(), py::arg("impl") = "active",
      "b + a·w, through a's non-zeros");
  m.def(
      "sparse_affine_backward_weights",
      [](py::array_t<T, py::array::c_style> dw, CArray<X> a, CArray<T> d, const std::string& impl) {
        require_matrix(a, "a");
        require_matrix(d, "d");
        require_matrix(dw, "dw");
        require(rows(a) == rows(d) && rows(dw) == cols(a) && cols(dw) == cols(d), "shapes do not match");
        const Kernels<T>& k = implementation<T>(impl);
        Gathered<T> g(k, a);
        std::vector<std::uint64_t> masks(cols(a) * twolayer::words_per_column(rows(a)));
        k.mark_nonzero_columns(masks.data(), g.view(), rows(a), cols(a));
        k.sparse_affine_backward_weights(dw.mutable_data(), masks.data(), a.data(), d.data(), rows(a),
                                         cols(a), cols(d), 0, cols(a));
      },
      py::arg("dw").noconvert(), py::arg("a"), py::arg("d"), py::arg("impl") = "active",
      "dw += aᵀ·d, through a's non-zeros (in place)");
}

template <class T>
void bind_dense(py::module_& m) {
  m.def(
      "affine_forward",
      [](CArray<T> a, CArray<T> w, py::object b, const std::string& impl) {
        const AffineOperands<T> op(a, w, b);
        py::array_t<T> out = op.output();
        implementation<T>(impl).affine_forward(out.mutable_data(), a.data(), w.data(), op.b(), op.N, op.K,
                                               op.M);
        return out;
      },
      py::arg("a"), py::arg("w"), py::arg("b") = py::none(), py::arg("impl") = "active", "b + a·w");
  m.def(
      "affine_backward_weights",
      [](py::array_t<T, py::array::c_style> dw, CArray<T> a, CArray<T> d, const std::string& impl) {
        require_matrix(a, "a");
        require_matrix(d, "d");
        require_matrix(dw, "dw");
        require(rows(a) == rows(d) && rows(dw) == cols(a) && cols(dw) == cols(d), "shapes do not match");
        implementation<T>(impl).affine_backward_weights(dw.mutable_data(), a.data(), d.data(), rows(a),
                                                        cols(a), cols(d));
      },
      py::arg("dw").noconvert(), py::arg("a"), py::arg("d"), py::arg("impl") = "active",
      "dw += aᵀ·d (in place)");
  auto elementwise = [&](const char* name, auto member, const char* doc) {
    m.def(
        name,
        [member](CArray<T> x, const std::string& impl) {
          py::array_t<T> y(x.request().shape);
          (implementation<T>(impl).*member)(y.mutable_data(), x.data(), static_cast<std::size_t>(x.size()));
          return y;
        },
        py::arg("x"), py::arg("impl") = "active", doc);
  };
  elementwise("exp", &Kernels<T>::exp, "exp(x), element-wise");
  elementwise("log", &Kernels<T>::log, "log(x), element-wise");
  m.def(
      "sigmoid",
      [](CArray<T> x, const std::string& impl) {
        py::array_t<T> y(x.request().shape);
        std::copy(x.data(), x.data() + x.size(), y.mutable_data());
        implementation<T>(impl).sigmoid_forward(y.mutable_data(), static_cast<std::size_t>(x.size()));
        return y;
      },
      py::arg("x"), py::arg("impl") = "active", "1/(1 + exp(-x)), element-wise");
  m.def(
      "softmax",
      [](CArray<T> x, const std::string& impl) {
        require_matrix(x, "x");
        py::array_t<T> y(x.request().shape);
        std::copy(x.data(), x.data() + x.size(), y.mutable_data());
        implementation<T>(impl).softmax_forward(y.mutable_data(), rows(x), cols(x));
        return y;
      },
      py::arg("x"), py::arg("impl") = "active", "softmax of each row");
}

}  // namespace

void bind_kernels(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "kernels", "The core's kernels one by one, for tests and benchmarks (not a public API).");
  // Overloads: pybind11 tries them in order; without conversion first, so float32 arrays reach
  // the float kernels and float64 arrays the double ones.
  bind_typed<double, double>(m);
  bind_typed<double, float>(m);
  bind_typed<float, float>(m);
  bind_typed<float, double>(m);
  bind_dense<double>(m);
  bind_dense<float>(m);
  m.def("available", [] {
    std::vector<std::string> names{"portable"};
    if (twolayer::simd_available()) names.push_back("avx2");
    return names;
  }, "the implementations this CPU and build can run");
  m.def("active", [] { return std::string(twolayer::kernels<double>().name); },
        "the implementation the net uses");
  m.def(
      "use",
      [](const std::string& name) {
        if (name == "avx2" && !twolayer::simd_available())
          throw std::invalid_argument("the avx2 kernels are not available on this CPU or build");
        if (name != "avx2" && name != "portable")
          throw std::invalid_argument("name must be 'portable' or 'avx2', got '" + name + "'");
        twolayer::set_simd_enabled(name == "avx2");
      },
      py::arg("name"), "make the net use these kernels (for tests and benchmarks)");
}
