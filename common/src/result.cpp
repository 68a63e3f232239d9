#include "workmonitor/common/result.h"

namespace wm {

const char* errcName(Errc code) {
  switch (code) {
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kInvalidInput:
      return "invalid_input";
    case Errc::kIo:
      return "io";
    case Errc::kCorrupt:
      return "corrupt";
    case Errc::kBusy:
      return "busy";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace wm
