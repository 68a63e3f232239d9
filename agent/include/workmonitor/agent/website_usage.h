// Website usage from browsers' `tab` messages (the extension's native-messaging host sends them over the
// control socket). A span is recorded only while that browser is the foreground app and the user is working;
// incognito tabs never; query strings and fragments never; optionally only the domain. Spans are merged
// ActivityWatch-style like app spans. Single-threaded (the daemon's io thread), free of I/O of its own.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/site_rules.h"
#include "workmonitor/agent/tracker.h"
#include "workmonitor/api/records.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/platform/foreground.h"

namespace wm::agent {

/// What a browser reports about its active tab.
struct TabInfo {
  std::string browser;  // chrome, chromium, firefox, edge, brave, opera, vivaldi, ... (lower case)
  std::string url;      // empty: no active tab (the browser has no window or only its own pages)
  std::string title;
  bool incognito = false;
};

/// A `tab` request's arguments, validated; the error says which field is wrong.
Result<TabInfo> tabFromJson(const nlohmann::json& args);

/// A URL reduced to what may be stored: http(s) only, no user info, no query string, no fragment, the host
/// in lower case. nullopt for anything else (browser pages, file://, data:, malformed).
struct CleanUrl {
  std::string scheme;  // http or https
  std::string host;    // lower case, without port
  std::string url;     // scheme://host[:port]/path
};
std::optional<CleanUrl> cleanUrl(std::string_view url);

/// Whether the foreground window belongs to `browser` (its app name, WM_CLASS or executable).
bool isBrowserWindow(const std::string& browser, const platform::WindowInfo& window);

/// A window title that says its window is private (Firefox "Private Browsing", Edge "InPrivate"). Chromium
/// marks nothing in an incognito window's title; there only its extension can tell (WebsiteTracker).
bool titleMarksPrivateWindow(std::string_view title);

struct WebsiteConfig {
  bool enabled = true;
  bool domain_only = false;  // keep the domain only: no path, no title
  Millis pulse{std::chrono::seconds(10)};
  std::vector<std::string> excluded_sites;  // never recorded, and the extension is told so
};

class WebsiteTracker {
 public:
  /// A title change of the same page this soon after its span began retitles the span (a loading page shows
  /// its address before its <title>); later, a new title is a new span.
  static constexpr Millis kTitleSettle{2000};
  /// True while the user is working (Tracker::collecting()).
  using Gate = std::function<bool()>;
  WebsiteTracker(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, WebsiteConfig config, Gate gate);

  /// A browser's active tab changed. Returns {recording, reason, settings}: reason says why nothing is
  /// recorded; settings ({domain_only, excluded_sites}) are what the extension applies before it reports.
  nlohmann::json onTab(const TabInfo& tab);
  /// Whether the app tracker must not keep this foreground window's title: a title marked private, or a
  /// window of a browser whose extension reports a private tab, no window it may see (an incognito window it
  /// is not allowed in), a page that is not recorded (excluded, a browser page) or domain-only detail, or a
  /// title that is not (yet) the one of the tab it reported (the window's title changes before the report). A
  /// browser without the extension keeps its titles (nothing says otherwise), unless they are marked private.
  bool withholdsTitle(const platform::WindowInfo& window) const;
  /// The part of withholdsTitle() that is about the window's content, not the detail kept: a title marked
  /// private, or a browser window whose extension reports a private tab, no window it may see, a browser page
  /// or an excluded site. Screenshots black such a browser's windows out.
  bool privateWindow(const platform::WindowInfo& window) const;
  void onWindow(const platform::WindowInfo& window);
  /// The gate may have changed (timer, idle, break, lock): open or close the span accordingly.
  void refresh();
  /// Every open span ends now.
  void shutdown();
  void setConfig(const WebsiteConfig& config);
  nlohmann::json status() const;

 private:
  struct Open {
    api::Record rec;
    MonoTime mono_start;
  };
  /// What should be recorded right now, or nullopt with the reason.
  std::optional<nlohmann::json> wanted(std::string* reason) const;
  void update();
  void close(MonoTime end);

  const Clock& clock_;
  UuidV7Generator& ids_;
  RecordSink& sink_;
  WebsiteConfig config_;
  Gate gate_;
  platform::WindowInfo window_;
  std::map<std::string, TabInfo> tabs_;  // the last tab of each browser
  std::optional<Open> open_;
  std::optional<api::Record> last_;  // the last closed span, for heartbeat merging
  MonoTime last_end_{};
};

}  // namespace wm::agent
