#include "workmonitor/agent/website_usage.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>

#include "workmonitor/agent/heartbeat.h"

namespace wm::agent {

using nlohmann::json;

namespace {

bool validBrowserName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

// The names a browser's windows and executables go by on X11 (WM_CLASS class and instance, exe name).
struct Alias {
  const char* browser;
  std::array<const char*, 4> names;
};
constexpr Alias kAliases[] = {
    {"chrome", {"google-chrome", "chrome", "google-chrome-stable", nullptr}},
    {"chromium", {"chromium", "chromium-browser", nullptr, nullptr}},
    {"firefox", {"firefox", "firefox-esr", "navigator", "firefox-bin"}},
    {"edge", {"microsoft-edge", "msedge", "microsoft-edge-stable", nullptr}},
    {"brave", {"brave-browser", "brave", nullptr, nullptr}},
    {"opera", {"opera", nullptr, nullptr, nullptr}},
    {"vivaldi", {"vivaldi", "vivaldi-stable", "vivaldi-bin", nullptr}},
};

// The same browser, domain and address; only the title differs.
bool samePageOtherTitle(const json& a, const json& b) {
  auto without = [](json j) {
    j.erase("title");
    return j;
  };
  return a.value("title", "") != b.value("title", "") && without(a) == without(b);
}

}  // namespace

bool titleMarksPrivateWindow(std::string_view title) {
  // Firefox ends a private window's title with "Private Browsing" ("… — Mozilla Firefox Private Browsing");
  // Edge puts "InPrivate" in it. Chromium and Chrome mark nothing (checked: Chromium 156 under Xvfb).
  return title.ends_with("Private Browsing") || title.find("InPrivate") != std::string_view::npos;
}

Result<TabInfo> tabFromJson(const json& args) {
  if (!args.is_object()) return fail(Errc::kInvalidInput, "tab needs an object of arguments");
  TabInfo t;
  auto str = [&](const char* key, size_t max, std::string& out, bool required) -> Result<void> {
    auto it = args.find(key);
    if (it == args.end() || it->is_null()) {
      if (required) return fail(Errc::kInvalidInput, std::string("tab needs ") + key);
      return {};
    }
    if (!it->is_string() || it->get_ref<const std::string&>().size() > max)
      return fail(Errc::kInvalidInput,
                  std::string(key) + " must be a string of at most " + std::to_string(max) + " bytes");
    out = it->get<std::string>();
    return {};
  };
  if (auto r = str("browser", 64, t.browser, true); !r) return std::unexpected(r.error());
  t.browser = asciiLower(t.browser);
  if (!validBrowserName(t.browser))
    return fail(Errc::kInvalidInput, "browser must be a short name of letters, digits, '-', '_' or '.'");
  if (auto r = str("url", 8192, t.url, false); !r) return std::unexpected(r.error());
  if (auto r = str("title", 4096, t.title, false); !r) return std::unexpected(r.error());
  if (auto it = args.find("incognito"); it != args.end() && !it->is_null()) {
    if (!it->is_boolean()) return fail(Errc::kInvalidInput, "incognito must be true or false");
    t.incognito = it->get<bool>();
  }
  return t;
}

std::optional<CleanUrl> cleanUrl(std::string_view url) {
  const size_t colon = url.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  CleanUrl c;
  c.scheme = asciiLower(url.substr(0, colon));
  if (c.scheme != "http" && c.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(colon + 3);
  // The query string and fragment never leave this function.
  rest = rest.substr(0, rest.find_first_of("?#"));
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else if (const size_t pc = authority.rfind(':'); pc != std::string_view::npos) {
    host = authority.substr(0, pc);
    port = authority.substr(pc + 1);
  }
  if (host.empty() || host.size() > 253) return std::nullopt;
  for (char ch : host) {
    const auto u = static_cast<unsigned char>(ch);
    if (!(std::isalnum(u) || ch == '-' || ch == '.' || ch == '_' || ch == '[' || ch == ']' || ch == ':' || u >= 0x80))
      return std::nullopt;
  }
  if (!std::all_of(port.begin(), port.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); }) ||
      port.size() > 5)
    return std::nullopt;
  c.host = asciiLower(host);
  c.url = c.scheme + "://" + c.host + (port.empty() ? "" : ":" + std::string(port)) + std::string(path);
  return c;
}

bool isBrowserWindow(const std::string& browser, const platform::WindowInfo& window) {
  if (browser.empty()) return false;
  const std::string candidates[] = {asciiLower(window.app), asciiLower(window.wm_class),
                                    asciiLower(std::filesystem::path(window.exe_path).filename().string())};
  auto matches = [&](const std::string& name) {
    for (const auto& c : candidates)
      if (!c.empty() && c == name) return true;
    return false;
  };
  if (matches(browser)) return true;
  for (const Alias& a : kAliases) {
    if (browser != a.browser) continue;
    for (const char* n : a.names)
      if (n && matches(n)) return true;
  }
  return false;
}

WebsiteTracker::WebsiteTracker(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, WebsiteConfig config,
                               Gate gate)
    : clock_(clock), ids_(ids), sink_(sink), config_(config), gate_(std::move(gate)) {}

std::optional<json> WebsiteTracker::wanted(std::string* reason) const {
  auto no = [&](const char* why) -> std::optional<json> {
    if (reason) *reason = why;
    return std::nullopt;
  };
  if (!config_.enabled) return no("website tracking is off");
  if (!gate_ || !gate_()) return no("not tracking (no timer, idle, on a break or locked)");
  const TabInfo* tab = nullptr;
  for (const auto& [browser, t] : tabs_) {
    if (isBrowserWindow(browser, window_)) tab = &t;
  }
  if (!tab) return no("the browser is not the foreground app");
  if (tab->incognito) return no("incognito tabs are never recorded");
  auto url = cleanUrl(tab->url);
  if (!url) return no("not a web page");
  if (siteExcluded(url->host, config_.excluded_sites)) return no("an excluded site");
  json data{{"domain", url->host}, {"browser", tab->browser}};
  if (!config_.domain_only) {
    data["url"] = url->url;
    // A page without a <title> has its address as its tab title: no query or fragment from there either.
    if (!tab->title.empty()) data["title"] = titleWithoutUrlQueries(tab->title);
  }
  return data;
}

void WebsiteTracker::close(MonoTime end) {
  if (!open_) return;
  end = std::max(end, open_->mono_start);
  const auto dur = (end - open_->mono_start).count();
  open_->rec.duration_ms = dur;
  open_->rec.end_ms = open_->rec.start_ms + dur;
  open_->rec.revision += 1;
  sink_.put(open_->rec);
  last_ = open_->rec;
  last_end_ = end;
  open_.reset();
}

void WebsiteTracker::update() {
  auto data = wanted(nullptr);
  if (open_ && data && open_->rec.data == *data) return;
  const MonoTime now = clock_.mono();
  // A page's title settles after its address (a page being loaded shows its address, then its <title>): a
  // new title for the same page within kTitleSettle of the span's start is that span's title, not a new span.
  if (open_ && data && now - open_->mono_start < kTitleSettle && samePageOtherTitle(open_->rec.data, *data)) {
    open_->rec.data = std::move(*data);
    open_->rec.revision += 1;
    sink_.put(open_->rec);
    return;
  }
  close(now);
  if (!data) return;
  const int64_t now_ms = toUnixMs(clock_.wall());
  // Heartbeat rule: the same page again within the pulse window extends the last span.
  if (last_ && last_->end_ms) {
    if (mergeHeartbeat(Span{last_->start_ms, *last_->end_ms, last_->data}, Span{now_ms, now_ms, *data},
                       config_.pulse)) {
      api::Record reopened = *last_;
      reopened.end_ms.reset();
      reopened.revision += 1;
      sink_.put(reopened);
      // Its monotonic start: the span's length so far plus the gap since it ended.
      open_ = Open{reopened, last_end_ - Millis(reopened.duration_ms)};
      last_.reset();
      return;
    }
  }
  api::Record r;
  r.id = ids_.next();
  r.kind = api::RecordKind::kWebsiteUsage;
  r.revision = 1;
  r.start_ms = now_ms;
  r.data = std::move(*data);
  sink_.put(r);
  open_ = Open{r, now};
}

json WebsiteTracker::onTab(const TabInfo& tab) {
  tabs_[tab.browser] = tab;
  update();
  std::string reason;
  json out{{"recording", wanted(&reason).has_value()},
           {"settings", {{"domain_only", config_.domain_only}, {"excluded_sites", config_.excluded_sites}}}};
  if (!reason.empty()) out["reason"] = reason;
  return out;
}

bool WebsiteTracker::privateWindow(const platform::WindowInfo& window) const {
  if (titleMarksPrivateWindow(window.title)) return true;
  for (const auto& [browser, tab] : tabs_) {
    if (!isBrowserWindow(browser, window)) continue;
    if (tab.incognito) return true;
    const auto url = cleanUrl(tab.url);
    return !url || siteExcluded(url->host, config_.excluded_sites);
  }
  return false;
}

bool WebsiteTracker::withholdsTitle(const platform::WindowInfo& window) const {
  if (privateWindow(window)) return true;
  for (const auto& [browser, tab] : tabs_) {
    if (!isBrowserWindow(browser, window)) continue;
    // Kept only once the browser vouched for it: the window shows the title of the tab it reported. A title
    // the window shows first (a page loading, a window the extension has not reported yet) waits for the
    // report, which fills it into the span (Tracker::retitleWindow), so an unvouched title is never written.
    return config_.domain_only || tab.title.empty() || !window.title.starts_with(tab.title);
  }
  return false;
}

void WebsiteTracker::onWindow(const platform::WindowInfo& window) {
  window_ = window;
  update();
}

void WebsiteTracker::refresh() { update(); }

void WebsiteTracker::shutdown() { close(clock_.mono()); }

void WebsiteTracker::setConfig(const WebsiteConfig& config) {
  config_ = config;
  update();
}

json WebsiteTracker::status() const {
  std::string reason;
  auto data = wanted(&reason);
  json s{{"recording", open_.has_value()}};
  if (open_) s["domain"] = open_->rec.data.value("domain", "");
  if (!data && !reason.empty()) s["reason"] = reason;
  return s;
}

}  // namespace wm::agent
