#include "workmonitor/nmhost/host.h"

#include <algorithm>

#include "workmonitor/nmhost/log.h"

namespace wm::nmhost {

using nlohmann::json;

Host::Host(const Clock& clock, AgentConnector connect, std::string parent_browser, BrowserFamily args_family,
           HostOptions options)
    : clock_(clock),
      connector_(std::move(connect)),
      parent_browser_(std::move(parent_browser)),
      args_family_(args_family),
      options_(options),
      browser_(identifyBrowser(parent_browser_, args_family_, {})) {}

std::vector<json> Host::onFrame(const Frame& frame) {
  if (frame.error != FrameError::kNone) {
    log::warn(std::string("rejected a message from the browser: ") + frameErrorCode(frame.error) +
              " (declared length " + std::to_string(frame.declared_length) + ")");
    return {makeError(frameErrorCode(frame.error), "the host rejected a message")};
  }
  Message m = parseMessage(frame.body);
  if (m.error != FrameError::kNone) {
    log::warn(std::string("rejected a message from the browser: ") + frameErrorCode(m.error) + " (" +
              std::to_string(frame.body.size()) + " bytes)");
    return {makeError(frameErrorCode(m.error), "the host rejected a message")};
  }
  return onMessage(m.json);
}

std::vector<json> Host::onMessage(const json& message) {
  auto in = parseIncoming(message);
  if (!in) {
    log::warn("rejected a message from the browser: " + in.error().message);
    return {makeError("invalid_message", in.error().message)};
  }
  if (in->kind == Incoming::Kind::kHello) {
    browser_ = identifyBrowser(parent_browser_, args_family_, in->hello.browser);
    log::info("serving browser '" + browser_.name + "' (from " + browser_.source + ")");
    const bool running = agent_ || connect();
    if (!running) scheduleRetry();
    told_not_running_ = !running;
    return {running ? makeStatus(true, browser_.name, std::nullopt) : notRunning()};
  }
  pending_ = sanitize(std::move(in->tab));
  return deliver(false);
}

bool Host::connect() {
  auto c = connector_();
  if (!c) {
    if (c.error().message != last_error_) log::info("no agent to talk to: " + c.error().message);
    last_error_ = c.error().message;
    return false;
  }
  agent_ = std::move(*c);
  last_error_.clear();
  log::info("connected to the agent");
  return true;
}

void Host::scheduleRetry() {
  // Capped exponential backoff: nothing runs between attempts but poll() waiting for a frame or this time.
  ++failures_;
  Millis delay = options_.backoff_initial;
  for (int i = 1; i < failures_ && delay < options_.backoff_cap; ++i) delay *= 2;
  retry_at_ = clock_.mono() + std::min(delay, options_.backoff_cap);
}

json Host::notRunning() const {
  std::optional<int64_t> retry;
  if (retry_at_) retry = std::max<int64_t>(0, (*retry_at_ - clock_.mono()).count());
  return makeStatus(false, browser_.name, retry, "the WorkMonitor agent is not running; the host keeps trying");
}

std::vector<json> Host::deliver(bool from_timer) {
  std::vector<json> out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!agent_ && !connect()) break;
    if (told_not_running_) {
      out.push_back(makeStatus(true, browser_.name, std::nullopt));
      told_not_running_ = false;
    }
    failures_ = 0;
    retry_at_.reset();
    if (!pending_) return out;
    auto r = agent_->call("tab", tabArgs(*pending_, browser_.name));
    if (r) {
      delivered_ = std::move(pending_);
      pending_.reset();
      out.push_back(makeAck(*r));
      return out;
    }
    if (r.error().code == Errc::kInvalidInput) {  // the agent refused this report: retrying would not help
      log::warn("the agent refused a tab report: " + r.error().message);
      pending_.reset();
      out.push_back(makeError("agent_refused", r.error().message));
      return out;
    }
    // The connection broke (the agent restarted): one fresh connection, then back off.
    log::info("lost the agent: " + r.error().message);
    agent_.reset();
  }
  scheduleRetry();
  if (!from_timer || !told_not_running_) out.push_back(notRunning());
  told_not_running_ = true;
  return out;
}

std::vector<json> Host::onAgentHangup() {
  log::info("the agent closed the connection");
  agent_.reset();
  // The agent that comes back knows nothing of the current tab: tell it again.
  if (!pending_ && delivered_) pending_ = delivered_;
  failures_ = 0;
  scheduleRetry();
  told_not_running_ = true;
  return {notRunning()};
}

std::vector<json> Host::onTimer() {
  retry_at_.reset();
  return deliver(true);
}

}  // namespace wm::nmhost
