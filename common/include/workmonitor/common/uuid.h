// UUIDv7 ids (RFC 9562): created once per record, time-ordered, so ids sort by creation.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "workmonitor/common/clock.h"

namespace wm {

/// Generates UUIDv7 strings; monotonic within one generator even when the wall clock steps back.
class UuidV7Generator {
 public:
  explicit UuidV7Generator(const Clock& clock);
  std::string next();

 private:
  const Clock& clock_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  int64_t last_ms_ = 0;
  uint16_t counter_ = 0;  // 12-bit rand_a used as a counter within one millisecond
};

/// True when s is a canonical lowercase UUID string of version 7.
bool isUuidV7(const std::string& s);

}  // namespace wm
