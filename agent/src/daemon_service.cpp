// Service mode (issue 13): the machine policy's server and automatic enrolment, and telling the person
// once that monitoring was pre-approved by the administrator (no tray may be running to ask them).
#include <pwd.h>

#include "daemon_impl.h"
#include "workmonitor/platform/notifications.h"

namespace wm::agent::daemon_detail {

namespace {

constexpr const char* kNoticeKey = "consent.preapproval_notice";  // outbox state: the consent version told

// The computer's account name: what an unattended token maps to a company user.
std::string osAccountName() {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr && pw.pw_name != nullptr)
    return pw.pw_name;
  return {};
}

std::string collectedList(const json& consent) {
  std::string out;
  for (const auto& item : consent.value("collects", json::array()))
    if (item.is_object())
      out += (out.empty() ? "" : "; ") + item.value("detail", item.value("category", std::string()));
  return out.empty() ? std::string("nothing beyond the timer") : out;
}

}  // namespace

// A person's --server, WORKMONITOR_SERVER or --local-only cannot override the administrator's server.
void Daemon::applyPolicyServer() {
  if (!policy_.server) return;
  const PolicyServer& ps = *policy_.server;
  const std::string locked = sync::redactUrl(ps.url);
  if (options_.local_only_requested)
    spdlog::warn(
        "machine policy {}: this computer syncs to {}; --local-only is ignored (the administrator locked "
        "the server)",
        policy_.source, locked);
  else if (!sync_options_.server_url.empty() && sync_options_.server_url != ps.url)
    spdlog::warn(
        "machine policy {}: this computer syncs to {}; the server {} from --server/WORKMONITOR_SERVER is "
        "ignored (the administrator locked the server)",
        policy_.source, locked, sync::redactUrl(sync_options_.server_url));
  if (sync_options_.ca_bundle && sync_options_.ca_bundle != ps.ca_bundle)
    spdlog::warn("machine policy {}: --ca-bundle/WORKMONITOR_CA_BUNDLE is ignored; the policy's trust applies",
                 policy_.source);
  sync_options_.server_url = ps.url;
  sync_options_.ca_bundle = ps.ca_bundle;
  sync_options_.secrets_dir = options_.paths.state_dir / "secrets";
  sync_options_.auto_enroll_token = ps.enrollment_token;
  sync_options_.os_account = ps.enrollment_token.empty() ? std::string() : osAccountName();
  sync_options_.locked_by_policy = true;
  if (ps.enrollment_token.empty())
    spdlog::info("machine policy {}: server {} (no enrolment token: the person signs in with `login`)", policy_.source,
                 locked);
  else
    spdlog::info(
        "machine policy {}: server {}; without a sign-in the agent enrols by itself as the computer "
        "account '{}'",
        policy_.source, locked, sync_options_.os_account);
}

// Pre-approved consent is said in the log at every start and in `status` always; the desktop notification
// once per consent version (remembered in the outbox's state, in the state directory).
void Daemon::tellPreapproval() {
  const json c = consent_->status();
  if (!c.value("preapproved", false)) return;
  const std::string collected = collectedList(c);
  spdlog::info(
      "consent: monitoring on this computer was pre-approved by its administrator (consent_preapproved); "
      "collected: {}",
      collected);
  const std::string version = consent_->version();
  if (auto told = outbox_->getState(kNoticeKey); told && *told && **told == version) return;
  if (notice_thread_.joinable()) notice_thread_.join();  // an earlier notice still being delivered
  notice_thread_ = std::thread([this, version, collected] {
    auto ok = platform::showNotification(
        "WorkMonitor", "Monitoring was pre-approved by your administrator",
        "WorkMonitor records on this computer: " + collected + ". `workmonitor-agent status` shows it at any time.");
    asio::post(io_, [this, ok, version] {
      if (stopping_) return;
      if (!ok) {
        spdlog::warn(
            "pre-approval notice: no desktop notification ({}); it is in `workmonitor-agent status` and this "
            "log, and is tried again at the next start",
            ok.error().message);
        return;
      }
      if (auto saved = outbox_->setState(kNoticeKey, version); !saved)
        spdlog::warn("cannot remember the pre-approval notice: {}", saved.error().message);
      spdlog::info("pre-approval notice shown as a desktop notification (consent version {})", version);
    });
  });
}

}  // namespace wm::agent::daemon_detail
