// Result<T>: a value or an Error. Status is Result<void>.
//
//   Result<Array> read(...);
//   GROVE_ASSIGN_OR_RETURN(auto array, read(path));   // propagates the error
//   GROVE_RETURN_IF_ERROR(write(path, array));
//   return read(p).context("reading " + p);           // adds a context line on failure
#pragma once

#include <fmt/format.h>
#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "grove/core/error.h"

namespace grove {

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}
  template <class U>
  requires(std::is_convertible_v<U&&, T> && !std::is_same_v<std::decay_t<U>, Error> &&
           !std::is_same_v<std::decay_t<U>, T>) Result(U&& value)
      : data_(std::in_place_index<0>, T(std::forward<U>(value))) {}

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(data_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(data_));
  }

  // On failure, adds an outer context line.
  Result context(std::string line) && {
    if (!ok()) std::get<1>(data_).add_context(std::move(line));
    return std::move(*this);
  }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    assert(!ok());
    return *error_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*error_);
  }
  Result context(std::string line) && {
    if (error_) error_->add_context(std::move(line));
    return std::move(*this);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

// Builds an Error with a fmt-formatted message.
template <class... Args>
Error make_error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Error(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace grove

#define GROVE_CONCAT_INNER(a, b) a##b
#define GROVE_CONCAT(a, b) GROVE_CONCAT_INNER(a, b)

#define GROVE_RETURN_IF_ERROR(expr)                                   \
  do {                                                                \
    auto grove_status_ = (expr);                                      \
    if (!grove_status_.ok()) return std::move(grove_status_).error(); \
  } while (0)

#define GROVE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).error();     \
  lhs = std::move(tmp).value()

#define GROVE_ASSIGN_OR_RETURN(lhs, expr) \
  GROVE_ASSIGN_OR_RETURN_IMPL(GROVE_CONCAT(grove_result_, __LINE__), lhs, expr)
