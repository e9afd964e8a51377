// Errors as values. An Error carries a code, a message and a stack of context lines that each
// layer adds on the way up ("reading block (0,0,64,0,0) of raw.h5/data: HDF5: ..."), the way
// tensorstore does it. No exception crosses a layer boundary; nothing aborts on bad input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grove {

enum class ErrorCode {
  kInvalidArgument,    // a parameter, flag or value the caller gave is wrong
  kNotFound,           // a file, dataset or key does not exist
  kAlreadyExists,      // refusing to overwrite
  kIo,                 // the operating system or a library failed to read or write
  kCorrupt,            // a file's contents are not what its format promises
  kUnsupported,        // valid, but grove cannot do it (yet)
  kOutOfRange,         // a box or index outside the data
  kResourceExhausted,  // memory budget, absurd sizes, disk full
  kCancelled,
  kInternal,  // a bug in grove
};

std::string_view error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Context lines, innermost first.
  const std::vector<std::string>& context() const { return context_; }

  // Adds an outer context line ("while doing X").
  Error& add_context(std::string line) {
    context_.push_back(std::move(line));
    return *this;
  }

  // "outermost: ...: innermost: message".
  std::string to_string() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::vector<std::string> context_;
};

}  // namespace grove
