// What every part of the Python module shares: numpy arrays to grove's t,z,y,x,c arrays and back
// (inputs wrapped without copying where their layout allows, results handed to numpy without
// copying), axes strings, grove's errors as Python exceptions, and running grove's work with the
// GIL released while Ctrl-C still stops it. For the binding files in this folder only.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "grove/core/array.h"
#include "grove/core/cancel.h"
#include "grove/engine/engine.h"
#include "grove/learn/forest_training.h"

namespace grove::python {

namespace py = pybind11;

// Raises the Python exception for a grove error: kInvalidArgument and kOutOfRange give
// ValueError, kNotFound FileNotFoundError, kAlreadyExists FileExistsError, kUnsupported
// NotImplementedError, kIo OSError, kResourceExhausted MemoryError, kCancelled
// KeyboardInterrupt, the others RuntimeError; the message is the error with all its context.
[[noreturn]] void raise_error(const Error& error);
// Raises a Python exception of type kind (PyExc_ValueError, ...) with message.
[[noreturn]] void raise_python(PyObject* kind, const std::string& message);

inline void check(Status status) {
  if (!status.ok()) raise_error(status.error());
}
template <class T>
T check(Result<T> result) {
  if (!result.ok()) raise_error(result.error());
  return std::move(result).value();
}

// The axes of an array of ndim dimensions: `axes` checked (one letter of "tzyxc" per dimension,
// none twice, lower-cased), or, when not given, guessed the way grove guesses the axes of a .npy
// file (2: yx; 3: yxc if the last extent is <= 4, else zyx; 4: zyxc if the last extent is <= 4,
// else tzyx; 5: tzyxc). `what` names the argument in messages ("image", "labels").
std::string array_axes(const py::array& array, const std::optional<std::string>& axes,
                       const std::string& what);

// A numpy array with the given axes as a t,z,y,x,c AnyArray. Native-endian, aligned arrays of
// bool, (u)int8..64, float32 or float64 whose strides are non-negative multiples of the element
// size are wrapped without copying (the AnyArray keeps the numpy array alive); float16 and other
// layouts are copied first. Other dtypes raise TypeError.
AnyArray array_from_numpy(const py::array& array, const std::string& axes, const std::string& what);

// A t,z,y,x,c array as a numpy array with the given axes (letters of "tzyxc"; every axis of
// extent > 1 must be among them), sharing the array's buffer (no copy).
py::array array_to_numpy(const AnyArray& array, const std::string& axes);

// The numpy dtype of a grove dtype and back (TypeError for dtypes grove does not handle).
py::dtype numpy_dtype(DType dtype);
DType grove_dtype(const py::dtype& dtype, const std::string& what);

// A numpy image as an engine input node (wrapped as array_from_numpy does).
NodePtr numpy_node(const py::array& array, const std::string& axes, const std::string& what);

// The axes of a per-pixel result computed from an input with these axes: the input's axes
// without its channel axis, then the result's channels ("yx" -> "yxc", "cyx" -> "yxc").
std::string result_axes(const std::string& input_axes);

// Forest options from their JSON (forest_training.h's to_json); ValueError on bad JSON.
ForestOptions forest_options_from_json(const std::string& json);

// An engine for one call: threads <= 0 uses every core.
EngineOptions engine_options(int threads);

// Runs work(cancel) on a thread of its own with the GIL released and returns its result. Every
// 50 ms the calling thread checks for Python signals; on Ctrl-C it cancels the token, waits for
// the work to stop and raises KeyboardInterrupt. Work must not touch Python objects.
template <class F>
auto run_without_gil(F&& work) -> decltype(work(std::declval<const CancelToken&>())) {
  using R = decltype(work(std::declval<const CancelToken&>()));
  CancelToken cancel;
  std::packaged_task<R()> task([&work, &cancel] { return work(cancel); });
  std::future<R> future = task.get_future();
  bool interrupted = false;
  {
    py::gil_scoped_release release;
    std::thread thread(std::move(task));
    while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {
        interrupted = true;
        cancel.cancel();
        break;
      }
    }
    future.wait();
    thread.join();
  }
  if (interrupted) {
    [[maybe_unused]] R dropped = future.get();  // the cancelled work's result
    throw py::error_already_set();
  }
  return future.get();
}

}  // namespace grove::python
