#include "workmonitor/agent/usb_events.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string_view>
#include <utility>

namespace wm::agent {

using nlohmann::json;
using platform::UsbEvent;

namespace {

// The server's column limits (record_mapping.cpp) for these fields.
constexpr size_t kMaxId = 64;
constexpr size_t kMaxString = 256;
constexpr size_t kMaxName = 512;

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
size_t utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Valid UTF-8 (bad bytes become U+FFFD, control characters are dropped), trimmed, at most max bytes, never cut
// inside a character. Device strings come from the device itself and may be anything.
std::string clean(std::string_view s, size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max));
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8SequenceLength(s, i);
    std::string_view piece = n == 0 ? std::string_view("\xEF\xBF\xBD") : s.substr(i, n);
    i += n == 0 ? 1 : n;
    if (n == 1 && std::iscntrl(static_cast<unsigned char>(piece[0]))) continue;
    if (out.size() + piece.size() > max) break;
    out.append(piece);
  }
  const auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

const char* actionName(UsbEvent::Kind kind) {
  return kind == UsbEvent::Kind::kDisconnected ? "disconnected" : "connected";
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (prefix.size() > s.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

}  // namespace

std::string usbDeviceName(const platform::UsbDevice& device) {
  const std::string manufacturer = clean(device.manufacturer, kMaxString);
  const std::string product = clean(device.product, kMaxString);
  std::string name;
  if (manufacturer.empty() || startsWithNoCase(product, manufacturer))
    name = product;
  else if (product.empty())
    name = manufacturer;
  else
    name = manufacturer + " " + product;
  if (name.empty()) {
    name = "USB device " + clean(device.vendor_id, kMaxId) + ":" + clean(device.product_id, kMaxId);
  }
  return clean(name, kMaxName);
}

json usbEventData(const UsbEvent& event, bool corrected) {
  const platform::UsbDevice& d = event.device;
  json data{
      {"action", actionName(event.kind)},        {"present_at_start", event.kind == UsbEvent::Kind::kPresentAtStart},
      {"vendor_id", clean(d.vendor_id, kMaxId)}, {"product_id", clean(d.product_id, kMaxId)},
      {"serial", clean(d.serial, kMaxString)},   {"manufacturer", clean(d.manufacturer, kMaxString)},
      {"product", clean(d.product, kMaxString)}, {"device_name", usbDeviceName(d)},
      {"device_class", d.device_class},          {"is_storage", d.mass_storage},
  };
  if (corrected) data["corrected"] = true;
  return data;
}

UsbEventRecorder::UsbEventRecorder(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, EventFn events)
    : clock_(clock), ids_(ids), sink_(sink), events_(std::move(events)) {}

void UsbEventRecorder::onEvent(const UsbEvent& event) {
  if (!enabled_) return;
  bool corrected = false;
  if (event.kind == UsbEvent::Kind::kDisconnected)
    attached_.erase(event.device.device_key);
  else
    corrected = !attached_.insert(event.device.device_key).second;

  api::Record r;
  r.id = ids_.next();
  r.kind = api::RecordKind::kUsbEvent;
  r.start_ms = toUnixMs(clock_.wall());
  r.end_ms = r.start_ms;
  r.duration_ms = 0;
  r.data = usbEventData(event, corrected);
  sink_.put(r);
  ++recorded_;

  if (events_) {
    json pushed{{"record_id", r.id}};
    for (const char* key :
         {"action", "present_at_start", "vendor_id", "product_id", "device_name", "is_storage", "corrected"}) {
      if (r.data.contains(key)) pushed[key] = r.data[key];
    }
    events_(kEventName, pushed);
  }
}

void UsbEventRecorder::setEnabled(bool enabled) {
  if (enabled == enabled_) return;
  enabled_ = enabled;
  // Turned off, the watcher stops: what it knew is gone, and a restart reports "present at start" afresh.
  attached_.clear();
}

json UsbEventRecorder::status() const {
  return json{{"enabled", enabled_}, {"recorded", recorded_}, {"attached", attached_.size()}};
}

UsbCollector::UsbCollector(std::unique_ptr<platform::UsbWatcher> watcher, const Clock& clock, UuidV7Generator& ids,
                           RecordSink& sink, UsbEventRecorder::EventFn events, Post post)
    : watcher_(std::move(watcher)), recorder_(clock, ids, sink, std::move(events)), post_(std::move(post)) {}

UsbCollector::~UsbCollector() { stop(); }

Result<void> UsbCollector::setEnabled(bool enabled) {
  enabled_ = enabled;
  recorder_.setEnabled(enabled);
  if (!enabled) {
    if (running_) watcher_->stop();
    running_ = false;
    ++generation_;
    problem_.clear();
    return {};
  }
  if (running_) return {};
  if (!watcher_) {
    problem_ = "no USB watcher on this platform";
    return fail(Errc::kUnavailable, problem_);
  }
  const uint64_t generation = ++generation_;
  auto ok = watcher_->start([this, generation](const UsbEvent& e) {
    post_([this, generation, e] {
      if (running_ && generation == generation_) recorder_.onEvent(e);
    });
  });
  if (!ok) {
    problem_ = ok.error().message;
    return ok;
  }
  problem_.clear();
  running_ = true;
  return {};
}

void UsbCollector::stop() {
  if (running_) watcher_->stop();
  running_ = false;
  ++generation_;
}

std::pair<bool, std::string> UsbCollector::doctorCheck() const {
  if (!enabled_) return {true, "off (usb_events is off in the settings)"};
  if (!running_) return {false, problem_.empty() ? std::string("not running") : problem_};
  const json s = recorder_.status();
  return {true, "watching; " + std::to_string(s["attached"].get<size_t>()) + " attached, " +
                    std::to_string(s["recorded"].get<int64_t>()) + " events recorded"};
}

json UsbCollector::status() const {
  json s = recorder_.status();
  s["enabled"] = enabled_;
  s["running"] = running_;
  if (!problem_.empty()) s["problem"] = problem_;
  return s;
}

}  // namespace wm::agent
