// libFuzzer target for the native-messaging frame decoder and message check: the input is split into chunks
// at places the input itself picks (so every way a pipe can cut a stream is tried), and what comes out must
// keep the decoder's promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "workmonitor/nmhost/framing.h"

using namespace wm::nmhost;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte seeds the chunk sizes (1..64 bytes, or the rest at once when it is 0).
  const uint8_t seed = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  FrameDecoder d;
  std::vector<Frame> out;
  size_t step = seed;
  while (!rest.empty()) {
    const size_t n = step == 0 ? rest.size() : std::min(rest.size(), (step % 64) + 1);
    d.feed(rest.substr(0, n), out);
    rest.remove_prefix(n);
    step = step * 33 + 7;
    check(d.buffered() <= 4 + kMaxIncomingBytes);
  }
  auto last = d.finish();
  if (last) check(last->error == FrameError::kTruncated);
  for (const Frame& f : out) {
    if (f.error == FrameError::kCorrupt) check(f.declared_length > kMaxPlausibleBytes);
    if (f.error == FrameError::kTooLarge) check(f.declared_length > kMaxIncomingBytes);
    if (f.error != FrameError::kNone) continue;
    check(f.body.size() == f.declared_length && f.body.size() <= kMaxIncomingBytes);
    Message m = parseMessage(f.body);
    if (m.error != FrameError::kNone) continue;
    check(m.json.is_object() && isValidUtf8(f.body));
    // What the host would send back decodes to the same object.
    auto frame = encodeFrame(m.json);
    if (!frame) continue;
    FrameDecoder again;
    std::vector<Frame> back;
    again.feed(*frame, back);
    check(back.size() == 1 && back[0].error == FrameError::kNone);
    check(parseMessage(back[0].body).json == m.json);
  }
  return 0;
}
