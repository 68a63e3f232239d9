// Errors as values across module boundaries: Result<T> is std::expected<T, Error>.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace wm {

/// Broad error categories that callers branch on; the message is for people.
enum class Errc {
  kUnavailable,   // the facility is not there (no X display, unsupported OS)
  kInvalidInput,  // malformed or out-of-range input
  kIo,            // file, socket or database I/O failed
  kCorrupt,       // stored data failed an integrity check
  kBusy,          // another instance holds a lock
  kNotFound,
  kInternal,
};

/// An error value: a category plus a message that says what happened and what to do.
struct Error {
  Errc code = Errc::kInternal;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

const char* errcName(Errc code);

}  // namespace wm
