#include "conversion.h"

#include <fmt/format.h>
#include <atomic>
#include <cctype>

#include "grove/io/axes.h"

namespace grove::python {

void raise_python(PyObject* kind, const std::string& message) {
  PyErr_SetString(kind, message.c_str());
  throw py::error_already_set();
}

void raise_error(const Error& error) {
  PyObject* kind = PyExc_RuntimeError;
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange: kind = PyExc_ValueError; break;
    case ErrorCode::kNotFound: kind = PyExc_FileNotFoundError; break;
    case ErrorCode::kAlreadyExists: kind = PyExc_FileExistsError; break;
    case ErrorCode::kUnsupported: kind = PyExc_NotImplementedError; break;
    case ErrorCode::kIo: kind = PyExc_OSError; break;
    case ErrorCode::kResourceExhausted: kind = PyExc_MemoryError; break;
    case ErrorCode::kCancelled: kind = PyExc_KeyboardInterrupt; break;
    case ErrorCode::kCorrupt:
    case ErrorCode::kInternal: kind = PyExc_RuntimeError; break;
  }
  raise_python(kind, error.to_string());
}

std::string array_axes(const py::array& array, const std::optional<std::string>& axes,
                       const std::string& what) {
  const auto ndim = static_cast<size_t>(array.ndim());
  if (!axes) {
    if (ndim < 2 || ndim > 5) {
      raise_python(PyExc_ValueError,
                   fmt::format("{} has {} dimension(s); grove handles images of 2 to 5 dimensions "
                               "(t, z, y, x, c); give axes=... for other layouts",
                               what, ndim));
    }
    std::vector<int64_t> dims(array.shape(), array.shape() + ndim);
    return check(io::guess_axes(dims));
  }
  std::string lower;
  for (char letter : *axes)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(letter)));
  if (lower.size() != ndim) {
    raise_python(PyExc_ValueError,
                 fmt::format("axes '{}' has {} letter(s) but {} has {} dimension(s) (shape {})",
                             *axes, lower.size(), what, ndim,
                             py::str(py::tuple(array.attr("shape"))).cast<std::string>()));
  }
  Status valid = io::validate_axes(lower, ndim);
  if (!valid.ok()) {
    raise_python(PyExc_ValueError,
                 fmt::format("axes '{}' of {}: {} (use letters of 'tzyxc', each at most once)",
                             *axes, what, valid.error().to_string()));
  }
  return lower;
}

py::dtype numpy_dtype(DType dtype) { return py::dtype(std::string(dtype_name(dtype))); }

DType grove_dtype(const py::dtype& dtype, const std::string& what) {
  const char kind = dtype.kind();
  const auto size = dtype.itemsize();
  if (kind == 'b' && size == 1) return DType::boolean;
  if (kind == 'u' || kind == 'i') {
    const bool is_signed = kind == 'i';
    switch (size) {
      case 1: return is_signed ? DType::i8 : DType::u8;
      case 2: return is_signed ? DType::i16 : DType::u16;
      case 4: return is_signed ? DType::i32 : DType::u32;
      case 8: return is_signed ? DType::i64 : DType::u64;
      default: break;
    }
  }
  if (kind == 'f' && size == 4) return DType::f32;
  if (kind == 'f' && size == 8) return DType::f64;
  raise_python(PyExc_TypeError,
               fmt::format("{} has dtype {}, which grove does not handle (use bool, (u)int8 to "
                           "(u)int64, float32 or float64)",
                           what, py::str(py::handle(dtype)).cast<std::string>()));
}

namespace {

// Holds a Python object for a C++ buffer; the last owner may be a worker thread without the GIL.
std::shared_ptr<void> keep_alive(py::object object) {
  return std::shared_ptr<void>(new py::object(std::move(object)), [](void* pointer) {
    auto* held = static_cast<py::object*>(pointer);
    if (!Py_IsInitialized()) return;  // the interpreter is gone: nothing left to release
    py::gil_scoped_acquire acquire;
    delete held;
  });
}

bool wrappable(const py::array& array) {
  if (!py::bool_(array.dtype().attr("isnative"))) return false;
  if (!py::bool_(array.attr("flags").attr("aligned"))) return false;
  const auto itemsize = array.itemsize();
  for (py::ssize_t d = 0; d < array.ndim(); ++d) {
    const auto stride = array.strides(d);
    if (array.shape(d) > 1 && (stride < 0 || stride % itemsize != 0)) return false;
  }
  return true;
}

}  // namespace

AnyArray array_from_numpy(const py::array& input, const std::string& axes,
                          const std::string& what) {
  py::array array = input;
  if (array.dtype().kind() == 'f' && array.itemsize() == 2) {
    array = py::array(array.attr("astype")("float32"));
  }
  const DType dtype = grove_dtype(array.dtype(), what);
  if (static_cast<size_t>(array.ndim()) != axes.size()) {
    raise_python(PyExc_ValueError, fmt::format("axes '{}' has {} letter(s) but {} has {} "
                                               "dimension(s)",
                                               axes, axes.size(), what, array.ndim()));
  }
  if (!wrappable(array)) {
    py::module_ numpy = py::module_::import("numpy");
    array = numpy.attr("ascontiguousarray")(array, numpy_dtype(dtype));
  }
  Shape5 shape;
  Strides5 strides{0, 0, 0, 0, 0};
  for (size_t d = 0; d < axes.size(); ++d) {
    const int axis = io::axis_index(axes[d]);
    shape[axis] = array.shape(static_cast<py::ssize_t>(d));
    strides[axis] = array.strides(static_cast<py::ssize_t>(d)) / array.itemsize();
  }
  if (shape.empty()) {
    raise_python(PyExc_ValueError,
                 fmt::format("{} is empty (shape {})", what,
                             py::str(py::tuple(array.attr("shape"))).cast<std::string>()));
  }
  // Views only read through the wrapped pointer; the const_cast lets AnyArray hold it.
  void* data = const_cast<void*>(array.data());
  return AnyArray::wrap(dtype, data, shape, strides, keep_alive(array));
}

py::array array_to_numpy(const AnyArray& array, const std::string& axes) {
  const Shape5& shape = array.shape();
  for (int axis = 0; axis < kRank; ++axis) {
    if (shape[axis] > 1 && axes.find(kAxisNames[axis]) == std::string::npos) {
      raise_python(PyExc_ValueError,
                   fmt::format("the result has extent {} along {}, which axes '{}' leaves out",
                               shape[axis], kAxisNames[axis], axes));
    }
  }
  const auto itemsize = static_cast<py::ssize_t>(dtype_size(array.dtype()));
  std::vector<py::ssize_t> numpy_shape;
  std::vector<py::ssize_t> numpy_strides;
  for (char letter : axes) {
    const int axis = io::axis_index(letter);
    numpy_shape.push_back(shape[axis]);
    numpy_strides.push_back(array.strides()[axis] * itemsize);
  }
  auto* owner = new AnyArray(array);
  py::capsule base(owner, [](void* pointer) { delete static_cast<AnyArray*>(pointer); });
  return py::array(numpy_dtype(array.dtype()), numpy_shape, numpy_strides, array.raw_data(), base);
}

NodePtr numpy_node(const py::array& array, const std::string& axes, const std::string& what) {
  static std::atomic<uint64_t> counter{0};
  AnyArray wrapped = array_from_numpy(array, axes, what);
  return array_node(std::move(wrapped), fmt::format("numpy array #{}", ++counter));
}

std::string result_axes(const std::string& input_axes) {
  std::string axes;
  for (char letter : input_axes)
    if (letter != 'c') axes += letter;
  return axes + "c";
}

ForestOptions forest_options_from_json(const std::string& text) {
  try {
    return nlohmann::json::parse(text).get<ForestOptions>();
  } catch (const std::exception& error) {
    raise_python(PyExc_ValueError, fmt::format("bad random forest options: {}", error.what()));
  }
}

EngineOptions engine_options(int threads) {
  EngineOptions options;
  options.threads = threads;
  return options;
}

}  // namespace grove::python
