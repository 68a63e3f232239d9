// The daemon's answers for the person (issue 7): consent, settings, today's tracked time, screenshots for
// the report.
#include "daemon_impl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>

namespace wm::agent::daemon_detail {

// --- consent, settings, today (issue 7) ---

// The tracker runs automatic tracking and app spans only with the person's consent to them.
TrackerConfig Daemon::trackerConfigFor(const AgentConfig& c) const {
  TrackerConfig t = c.tracker;
  t.auto_tracking = t.auto_tracking && allowed("auto_tracking");
  t.monitoring_allowed = allowed("app_usage");
  return t;
}

// After a consent decision: every collector's gate is looked at again.
void Daemon::applyGates() {
  tracker_->setConfig(trackerConfigFor(config_.config));
  web_->refresh();
  setActivityCounting(config_.config.collectors.activity_counts && allowed("activity"));
  if (usb_) {
    if (auto ok = usb_->setEnabled(config_.config.collectors.usb_events && allowed("usb")); !ok)
      spdlog::warn("USB events off: {}", ok.error().message);
  }
  scheduleTick();
}

Result<json> Daemon::decideConsent(const json& a) {
  Error err;
  const std::string decision = requireString(a, "decision", 16, &err);
  const std::string version = requireString(a, "version", 64, &err);
  if (!err.message.empty()) return std::unexpected(err);
  if (decision != "grant" && decision != "decline")
    return fail(Errc::kInvalidInput, "decision must be grant or decline");
  const bool grant = decision == "grant";
  if (auto ok = consent_->decide(grant, version); !ok) return std::unexpected(ok.error());
  spdlog::info("consent {} for version {}", grant ? "granted" : "declined", version);
  if (!grant && tracker_->currentEntryId()) (void)tracker_->stopTimer();  // declined: the timer stays off
  applyGates();
  if (server_) server_->broadcast("consent", consent_->status());
  return statusJson();
}

namespace {

// The user's agent.json as JSON: an empty object when there is none; an error when it cannot be used.
Result<json> readUserConfig(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return json::object();
  std::ifstream in(path);
  if (!in) return fail(Errc::kIo, path.string() + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object()) return fail(Errc::kInvalidInput, path.string() + " is not a JSON object; fix or remove it first");
  return j;
}

// Replaces the file atomically (temp + fsync + rename), readable by the user alone.
Result<void> writeUserConfig(const std::filesystem::path& path, const json& j) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return fail(Errc::kIo, "cannot write " + tmp.string());
    out << j.dump(2) << "\n";
    out.flush();
    if (!out) return fail(Errc::kIo, "cannot write " + tmp.string());
  }
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return fail(Errc::kIo, "cannot replace " + path.string() + ": " + ec.message());
  }
  return {};
}

}  // namespace

const char* Daemon::settingSource(const std::string& key, const json& user_json) const {
  // The layers from the top: machine policy → company profile → agent.json → built-in default.
  return policy_.settings.contains(key)    ? "policy"
         : profile_settings_.contains(key) ? "profile"
         : user_json.contains(key)         ? "user"
                                           : "default";
}

json Daemon::settingSources() {
  auto user = readUserConfig(options_.paths.config);
  const json user_json = user ? *user : json::object();
  json sources = json::object();
  const json effective = configToJson(config_.config);
  for (const auto& [key, value] : effective.items()) sources[key] = settingSource(key, user_json);
  return sources;
}

json Daemon::settingsJson() {
  auto user = readUserConfig(options_.paths.config);
  const json user_json = user ? *user : json::object();
  const json defaults = configToJson(AgentConfig{});
  json list = json::array();
  const json effective = configToJson(config_.config);
  for (const auto& [key, value] : effective.items()) {
    if (localOnlySetting(key)) continue;  // an administrator's key, not the person's
    const char* source = settingSource(key, user_json);
    list.push_back({{"key", key},
                    {"value", value},
                    {"locked", std::string(source) == "policy" || std::string(source) == "profile"},
                    {"source", source},
                    {"default", defaults.value(key, json())}});
  }
  json out{{"settings", list}, {"path", options_.paths.config.string()}};
  if (!user) out["problem"] = user.error().message;
  return out;
}

Result<json> Daemon::setSetting(const json& a) {
  auto k = a.find("key");
  if (k == a.end() || !k->is_string()) return fail(Errc::kInvalidInput, "set_setting needs a key");
  const std::string key = k->get<std::string>();
  if (!a.contains("value")) return fail(Errc::kInvalidInput, "set_setting needs a value");
  const json& value = a["value"];
  if (!configToJson(AgentConfig{}).contains(key) || localOnlySetting(key))
    return fail(Errc::kInvalidInput, "'" + key + "' is not a setting that can be changed here");
  if (policy_.settings.contains(key))
    return fail(Errc::kInvalidInput,
                "'" + key + "' is locked by this computer's administrator (machine policy " + policy_.source + ")");
  if (profile_settings_.contains(key))
    return fail(Errc::kInvalidInput, "'" + key + "' is set by your company's profile and cannot be changed here");
  LoadedConfig checked = configFromJson(json{{key, value}});
  if (!checked.problems.empty()) return fail(Errc::kInvalidInput, checked.problems.front());
  auto user = readUserConfig(options_.paths.config);
  if (!user) return std::unexpected(user.error());
  (*user)[key] = value;
  if (auto ok = writeUserConfig(options_.paths.config, *user); !ok) return std::unexpected(ok.error());
  LoadedConfig loaded = configFromJson(*user);
  loaded.source = options_.paths.config.string();
  spdlog::info("setting {} = {} (agent.json)", key, value.dump());
  const json ps = profile_settings_;
  AgentConfig effective = sync_->setLocal(loaded.config);
  config_.problems = loaded.problems;
  config_.source = loaded.source;
  applyConfig(effective, ps);
  return settingsJson();
}

// Tracked time since local midnight: the time entries overlapping today, the running one up to now.
int64_t Daemon::todayMs() {
  const int64_t now = toUnixMs(clock_.wall());
  std::time_t t = static_cast<std::time_t>(now / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  tm.tm_hour = 0;
  tm.tm_min = 0;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  const int64_t midnight = static_cast<int64_t>(std::mktime(&tm)) * 1000;
  sync::RecordQuery q;
  q.kinds = {api::RecordKind::kTimeEntry};
  q.from_ms = midnight;
  q.to_ms = now + 1;
  auto records = outbox_->query(q);
  if (!records) return 0;
  return buildReport(*records, q.from_ms, q.to_ms, now).value("tracked_ms", int64_t{0});
}

// The screenshots taken in a range, with the local thumbnail (an unchanged screen shows its earlier shot's).
Result<json> Daemon::screenshotList(int64_t from_ms, int64_t to_ms) {
  sync::RecordQuery q;
  q.kinds = {api::RecordKind::kScreenshot};
  q.from_ms = from_ms;
  q.to_ms = to_ms;
  auto records = outbox_->query(q);
  if (!records) return std::unexpected(records.error());
  const std::filesystem::path thumbs = ScreenshotTaker::thumbnailDirFor(options_.paths.state_dir / "screenshots");
  json list = json::array();
  for (const auto& r : *records) {
    const bool unchanged = r.data.value("unchanged", false);
    const std::string image_id = unchanged ? r.data.value("same_as", r.id) : r.id;
    const std::filesystem::path thumb = thumbs / (image_id + ".jpg");
    std::error_code ec;
    list.push_back({{"id", r.id},
                    {"taken_at", formatUtc(fromUnixMs(r.start_ms))},
                    {"taken_at_ms", r.start_ms},
                    {"monitor", r.data.value("monitor", "")},
                    {"unchanged", unchanged},
                    {"thumbnail", std::filesystem::exists(thumb, ec) ? json(thumb.string()) : json(nullptr)}});
  }
  return list;
}
// --- end consent, settings, today ---

}  // namespace wm::agent::daemon_detail
