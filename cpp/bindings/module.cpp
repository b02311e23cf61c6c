// Python bindings of the core: converts and checks NumPy arrays, releases the GIL around the
// kernels, and dispatches float32/float64. Argument errors raise ValueError (std::invalid_argument)
// or TypeError naming the argument, what was expected and what was given.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "build_info.hpp"
#include "kernels.hpp"
#include "net.hpp"
#include "parallel.hpp"

namespace py = pybind11;
using twolayer::Activation;
using twolayer::Dims;
using twolayer::NumericalMethod;
using twolayer::Targets;

namespace {

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_of(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// obj as a NumPy array: itself when it is one already (the Python wrapper passes arrays), else
// numpy.asarray(obj) for a direct caller of the extension.
py::array as_array(py::handle obj) {
  if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
  return py::module_::import("numpy").attr("asarray")(obj);
}

void require_real(const py::array& a, const std::string& name) {
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u')
    throw py::type_error(name + " must hold real numbers, got dtype " + dtype_of(a));
}

// obj as a C-contiguous array of U, copied and converted only where needed. Unlike
// array_t::ensure, which returns an empty array (and a later null dereference) when the conversion
// fails, this raises the conversion's Python error: MemoryError for a huge broadcast view, say.
template <class U>
CArray<U> c_array(const py::array& a) {
  return CArray<U>(static_cast<const py::object&>(a));
}

// An input batch x (N×D) as a C-contiguous float32 or float64 array. float32 and float64 keep
// their type (the kernels widen float32 rows on the fly); other real types become T.
template <class T>
struct Batch {
  py::array array;
  std::size_t N;
  bool wide;  // the rows are double; else float

  Batch(py::handle obj, std::size_t D) {
    array = as_array(obj);
    require_real(array, "x");
    if (array.ndim() != 2 || static_cast<std::size_t>(array.shape(1)) != D)
      throw std::invalid_argument("x must have shape (N, " + std::to_string(D) + "), got " +
                                  shape_of(array));
    N = static_cast<std::size_t>(array.shape(0));
    if (N == 0) throw std::invalid_argument("x must hold at least one row, got " + shape_of(array));
    // Chosen by kind and size, not by dtype identity: a float32 dtype carrying metadata, or of the
    // other byte order, is another dtype object but still holds (or converts to) float32 rows.
    const py::dtype type = array.dtype();
    if (type.kind() == 'f' && type.itemsize() == 4)
      wide = false;
    else if (type.kind() == 'f' && type.itemsize() == 8)
      wide = true;
    else
      wide = std::is_same<T, double>::value;
    if (wide)
      array = c_array<double>(array);
    else
      array = c_array<float>(array);
  }

  // Calls f with the rows as const float* or const double*.
  template <class F>
  auto visit(F&& f) const {
    if (!wide) return f(static_cast<const float*>(array.data()));
    return f(static_cast<const double*>(array.data()));
  }
};

// The targets t of a batch of N rows: integer labels (N,) or rows (N×C). Rows are read through
// their argmax wherever a label is needed, as the book's loss does.
template <class T>
struct Labels {
  CArray<std::int64_t> labels;
  CArray<T> rows;
  bool has_labels = false;  // given as labels, or taken from the rows' argmax already

  // `batch`, when given, lists the rows of t that make the batch (train_step's indices): only
  // they are taken, converted and checked, so that a step costs the same whatever the type of
  // the whole set's targets (converting 60,000 float32 one-hot rows to float64 took 0.4 ms).
  Labels(py::handle obj, std::size_t N, std::size_t C,
         const CArray<std::int64_t>* batch = nullptr) {
    py::array t = as_array(obj);
    require_real(t, "t");
    const std::string expected = "t must be labels of shape (" + std::to_string(N) +
                                 ",) or rows of shape (" + std::to_string(N) + ", " +
                                 std::to_string(C) + ") to match x, got " + shape_of(t);
    const bool rows_given = t.ndim() == 2;
    if ((t.ndim() != 1 && !rows_given) || static_cast<std::size_t>(t.shape(0)) != N ||
        (rows_given && static_cast<std::size_t>(t.shape(1)) != C))
      throw std::invalid_argument(expected);
    if (!rows_given && t.dtype().kind() == 'f')
      throw py::type_error("t of shape " + shape_of(t) +
                           " holds class labels and must be of an integer dtype, got " +
                           dtype_of(t));
    if (batch) t = t.attr("take")(*batch, py::arg("axis") = 0);
    if (rows_given) {
      rows = c_array<T>(t);
      return;
    }
    // Entry i of the (taken) labels, named as the caller knows it: t[row].
    auto row = [&](py::ssize_t i) { return batch ? batch->data()[i] : std::int64_t{i}; };
    if (t.dtype().kind() == 'u' && t.dtype().itemsize() == 8) {
      // uint64 labels past int64's range would wrap to negative numbers: check them first.
      auto u = c_array<std::uint64_t>(t);
      for (py::ssize_t i = 0; i < u.size(); ++i)
        if (u.data()[i] >= C) bad_label(row(i), std::to_string(u.data()[i]), C);
    }
    labels = c_array<std::int64_t>(t);
    has_labels = true;
    const std::int64_t* l = labels.data();
    for (py::ssize_t i = 0; i < labels.size(); ++i)
      if (l[i] < 0 || static_cast<std::size_t>(l[i]) >= C)
        bad_label(row(i), std::to_string(l[i]), C);
  }

  [[noreturn]] static void bad_label(std::int64_t n, const std::string& value, std::size_t C) {
    throw std::invalid_argument("t[" + std::to_string(n) + "] = " + value +
                                " is not a class label: expected 0 <= label < " +
                                std::to_string(C));
  }

  // Labels, taking the argmax of each row when t was given as rows.
  const std::int64_t* as_labels(std::size_t N, std::size_t C) {
    if (!has_labels) {
      labels = CArray<std::int64_t>(static_cast<py::ssize_t>(N));
      twolayer::argmax_rows(labels.mutable_data(), rows.data(), N, C);
      has_labels = true;
    }
    return labels.data();
  }

  // For the gradient: the rows as given, else the labels.
  Targets<T> targets() const {
    Targets<T> t;
    if (has_labels)
      t.labels = labels.data();
    else
      t.rows = rows.data();
    return t;
  }
};

// A core net, with a lock so that calls from several Python threads take turns instead of
// sharing its scratch space.
template <class T>
struct PyNet {
  twolayer::TwoLayerNet<T> net;
  std::mutex busy;

  PyNet(const Dims& d, Activation f) : net(d, f) {}

  // Runs f(net) without the GIL, once no other thread is using this net.
  template <class F>
  auto locked(F&& f) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(busy);
    return f(net);
  }
};

// The four parameter-shaped arrays W1 b1 W2 b2 viewing a flat buffer that `owner` keeps alive.
template <class T>
py::tuple split(T* flat, const Dims& d, py::handle owner) {
  auto view = [&](std::size_t offset, std::vector<py::ssize_t> shape) {
    return py::array_t<T>(shape, flat + offset, owner);
  };
  const auto D = static_cast<py::ssize_t>(d.D), H = static_cast<py::ssize_t>(d.H),
             C = static_cast<py::ssize_t>(d.C);
  return py::make_tuple(view(d.W1(), {D, H}), view(d.b1(), {H}), view(d.W2(), {H, C}),
                        view(d.b2(), {C}));
}

// Runs work(cancel) on another thread while this one, holding the GIL between waits, checks for
// Ctrl-C every 50 ms; a signal sets `cancel`, waits for the work to stop, and raises.
template <class F>
auto interruptible(F&& work) {
  std::atomic<bool> cancel{false};
  auto result = std::async(std::launch::async, [&] { return work(cancel); });
  for (;;) {
    {
      py::gil_scoped_release release;
      if (result.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready) break;
    }
    if (PyErr_CheckSignals() != 0) {
      cancel = true;
      {
        py::gil_scoped_release release;
        result.wait();
      }
      throw py::error_already_set();
    }
  }
  return result.get();
}

// train_step's indices: a non-empty 1-D integer array of rows of x, which has N rows.
CArray<std::int64_t> batch_indices(py::handle obj, std::size_t N) {
  py::array a = as_array(obj);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw py::type_error("indices must be an array of integers, got dtype " + dtype_of(a));
  if (a.ndim() != 1) throw std::invalid_argument("indices must be 1-D, got shape " + shape_of(a));
  if (a.shape(0) == 0)
    throw std::invalid_argument("indices must select at least one row, got none");
  const std::string range = " is not a row of x: expected 0 <= index < " + std::to_string(N);
  if (kind == 'u' && a.dtype().itemsize() == 8) {  // past int64's range they would wrap around
    auto u = c_array<std::uint64_t>(a);
    for (py::ssize_t i = 0; i < u.size(); ++i)
      if (u.data()[i] >= N)
        throw std::invalid_argument("indices[" + std::to_string(i) +
                                    "] = " + std::to_string(u.data()[i]) + range);
  }
  auto rows = c_array<std::int64_t>(a);
  for (py::ssize_t i = 0; i < rows.size(); ++i)
    if (rows.data()[i] < 0 || static_cast<std::size_t>(rows.data()[i]) >= N)
      throw std::invalid_argument("indices[" + std::to_string(i) +
                                  "] = " + std::to_string(rows.data()[i]) + range);
  return rows;
}

// The activations by the names Python gives them, in the order the error messages list them.
const std::pair<const char*, Activation> kActivations[] = {{"sigmoid", Activation::sigmoid},
                                                           {"relu", Activation::relu}};

Activation parse_activation(const std::string& name) {
  std::string known;
  for (const auto& [n, f] : kActivations) {
    if (name == n) return f;
    known += std::string(known.empty() ? "" : " or ") + "'" + n + "'";
  }
  throw std::invalid_argument("activation must be " + known + ", got '" + name + "'");
}

const char* activation_name(Activation f) {
  for (const auto& [n, g] : kActivations)
    if (f == g) return n;
  return "?";  // unreachable: every Activation is in the table
}

NumericalMethod parse_method(const std::string& method) {
  if (method == "incremental") return NumericalMethod::incremental;
  if (method == "naive") return NumericalMethod::naive;
  throw std::invalid_argument("method must be 'incremental' or 'naive', got '" + method + "'");
}

// The methods of the bound nets, one function each. Each converts and checks its arrays, then
// runs the core on them without the GIL.

template <class T>
py::tuple sizes(const PyNet<T>& self) {
  const Dims& d = self.net.dims();
  return py::make_tuple(d.D, d.H, d.C);
}

template <class T>
py::tuple params(py::object self) {
  PyNet<T>& n = self.cast<PyNet<T>&>();
  return split(n.net.params(), n.net.dims(), self);
}

// A copy of the parameters taken under the net's lock, so that it is the net after some whole
// call (save, pickle and copy use it while other threads may be training the net).
template <class T>
py::tuple params_copy(PyNet<T>& self) {
  const Dims d = self.net.dims();
  py::array_t<T> flat(static_cast<py::ssize_t>(d.size()));
  T* out = flat.mutable_data();
  self.locked([&](auto& net) { std::copy(net.params(), net.params() + d.size(), out); });
  return split(out, d, flat);
}

template <class T>
py::array_t<T> predict(PyNet<T>& self, py::handle x_obj) {
  const Dims d = self.net.dims();
  Batch<T> x(x_obj, d.D);
  py::array_t<T> y({static_cast<py::ssize_t>(x.N), static_cast<py::ssize_t>(d.C)});
  T* out = y.mutable_data();
  x.visit([&](auto* rows) { return self.locked([&](auto& net) { net.predict(out, rows, x.N); }); });
  return y;
}

// f(net, rows, labels, n) on the batch `x_obj` and the labels of `t_obj`, holding the net's lock.
template <class T, class F>
double on_labelled_batch(PyNet<T>& self, py::handle x_obj, py::handle t_obj, F f) {
  const Dims d = self.net.dims();
  Batch<T> x(x_obj, d.D);
  Labels<T> t(t_obj, x.N, d.C);
  const std::int64_t* labels = t.as_labels(x.N, d.C);
  return x.visit([&](auto* rows) {
    return self.locked([&](auto& net) { return f(net, rows, labels, x.N); });
  });
}

template <class T>
double loss(PyNet<T>& self, py::handle x_obj, py::handle t_obj) {
  return on_labelled_batch(
      self, x_obj, t_obj,
      [](auto& net, auto* rows, auto* labels, std::size_t n) { return net.loss(rows, labels, n); });
}

template <class T>
double accuracy(PyNet<T>& self, py::handle x_obj, py::handle t_obj) {
  return on_labelled_batch(
      self, x_obj, t_obj, [](auto& net, auto* rows, auto* labels, std::size_t n) {
        return static_cast<double>(net.count_correct(rows, labels, n)) / static_cast<double>(n);
      });
}

template <class T>
py::tuple gradient(PyNet<T>& self, py::handle x_obj, py::handle t_obj) {
  const Dims d = self.net.dims();
  Batch<T> x(x_obj, d.D);
  Labels<T> t(t_obj, x.N, d.C);
  const Targets<T> targets = t.targets();
  py::array_t<T> flat(static_cast<py::ssize_t>(d.size()));
  T* out = flat.mutable_data();
  x.visit([&](auto* rows) {
    return self.locked([&](auto& net) { net.gradient(out, rows, targets, x.N); });
  });
  return split(out, d, flat);
}

// The loss after the step, or None without it. learning_rate is the wrapper's to check.
template <class T>
py::object train_step(PyNet<T>& self, py::handle x_obj, py::handle t_obj, double learning_rate,
                      py::handle indices_obj, bool return_loss) {
  const Dims d = self.net.dims();
  Batch<T> x(x_obj, d.D);
  const bool gather = !indices_obj.is_none();
  CArray<std::int64_t> indices;
  if (gather) indices = batch_indices(indices_obj, x.N);
  Labels<T> t(t_obj, x.N, d.C, gather ? &indices : nullptr);
  const Targets<T> targets = t.targets();
  const std::int64_t* rows = gather ? indices.data() : nullptr;
  const std::size_t N = gather ? static_cast<std::size_t>(indices.size()) : x.N;
  const double loss = x.visit([&](auto* in) {
    return self.locked([&](auto& net) {
      return net.train_step(in, targets, rows, N, static_cast<T>(learning_rate), return_loss);
    });
  });
  if (!return_loss) return py::none();
  return py::float_(loss);
}

template <class T>
py::tuple numerical_gradient(PyNet<T>& self, py::handle x_obj, py::handle t_obj,
                             const std::string& method, double h) {
  const NumericalMethod how = parse_method(method);  // h is the wrapper's to check
  const Dims d = self.net.dims();
  Batch<T> x(x_obj, d.D);
  Labels<T> t(t_obj, x.N, d.C);
  const std::int64_t* labels = t.as_labels(x.N, d.C);
  py::array_t<T> flat(static_cast<py::ssize_t>(d.size()));
  T* out = flat.mutable_data();
  x.visit([&](auto* rows) {
    return interruptible([&](const std::atomic<bool>& cancel) {
      std::lock_guard<std::mutex> lock(self.busy);
      return self.net.numerical_gradient(out, rows, labels, x.N, h, how, cancel);
    });
  });
  return split(out, d, flat);
}

template <class T>
void bind_net(py::module_& m, const char* name) {
  using Net = PyNet<T>;
  const std::string doc = std::string("The two-layer network's ") +
                          (std::is_same<T, float>::value ? "float32" : "float64") +
                          " parameters and passes. Use twolayer.TwoLayerNet instead.";
  py::class_<Net>(m, name, doc.c_str())
      .def(py::init([](std::size_t D, std::size_t H, std::size_t C, const std::string& activation) {
             return new Net(Dims{D, H, C}, parse_activation(activation));
           }),
           py::arg("input_size"), py::arg("hidden_size"), py::arg("output_size"),
           py::arg("activation") = "sigmoid")
      .def_property_readonly("sizes", &sizes<T>)
      .def_property_readonly("activation",
                             [](const Net& self) { return activation_name(self.net.activation()); })
      .def_property_readonly("params", &params<T>,
                             "(W1, b1, W2, b2): writable views of the parameter buffer")
      .def("params_copy", &params_copy<T>,
           "(W1, b1, W2, b2): new arrays, copied once no other call is using the net")
      .def("predict", &predict<T>, py::arg("x"))
      .def("loss", &loss<T>, py::arg("x"), py::arg("t"))
      .def("accuracy", &accuracy<T>, py::arg("x"), py::arg("t"))
      .def("gradient", &gradient<T>, py::arg("x"), py::arg("t"))
      .def("train_step", &train_step<T>, py::arg("x"), py::arg("t"), py::arg("learning_rate"),
           py::kw_only(), py::arg("indices") = py::none(), py::arg("return_loss") = true)
      .def("numerical_gradient", &numerical_gradient<T>, py::arg("x"), py::arg("t"),
           py::arg("method") = "incremental", py::arg("h") = 1e-4);
}

// The core's BuildInfo as a dict, for twolayer.show_config().
py::dict build_info_dict() {
  const twolayer::BuildInfo info = twolayer::build_info();
  py::dict d;
  d["compiler"] = info.compiler;
  d["build_type"] = info.build_type;
  d["cplusplus"] = info.cplusplus;
  d["avx2_built"] = info.avx2_built;
  d["native"] = info.native;
  d["sanitized"] = info.sanitized;
  d["cpu_avx2_fma"] = info.cpu_avx2_fma;
  py::dict running;
  running["float32"] = info.float32_kernels;
  running["float64"] = info.float64_kernels;
  d["kernels"] = running;
  return d;
}

}  // namespace

// Exported under a C name, unlike the rest of the extension: threadpoolctl's controller of the
// core (python/twolayer/_threads.py) recognises this library among the loaded ones by this symbol.
#if defined(_WIN32)
#define TWOLAYER_EXPORT __declspec(dllexport)
#else
#define TWOLAYER_EXPORT __attribute__((visibility("default")))
#endif
extern "C" TWOLAYER_EXPORT int twolayer_get_num_threads() { return twolayer::num_threads(); }

PYBIND11_MODULE(_core, m) {
  m.doc() = "The C++ core of twolayer: float32 and float64 two-layer networks and a thread pool.";
  py::tuple names(std::size(twolayer::kParamNames));
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = twolayer::kParamNames[i];
  m.attr("PARAM_NAMES") = names;  // the order of `params` and of every gradient tuple
  bind_net<double>(m, "Net64");
  bind_net<float>(m, "Net32");
  py::tuple activations(std::size(kActivations));
  for (std::size_t i = 0; i < std::size(kActivations); ++i) activations[i] = kActivations[i].first;
  m.attr("ACTIVATIONS") = activations;
  m.def("set_num_threads", &twolayer::set_num_threads, py::arg("n"),
        "Use up to n threads (n >= 1) in the core's parallel loops.");
  m.def("get_num_threads", &twolayer::num_threads,
        "The number of threads the core's parallel loops may use.");
  m.def("build_info", &build_info_dict,
        "How the core was built and which kernel set each dtype runs (read-only, for bug "
        "reports): see twolayer.show_config().");
}
