// An AgentApi that records what the tray sends and answers from a script (tests only).
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include <QCoreApplication>
#include <QTimer>

#include "agent_api.h"
#include "dialogs/dialog_host.h"

namespace wm::tray::test {

struct RecordingApi : AgentApi {
  struct Call {
    std::string cmd;
    nlohmann::json args;
  };
  std::vector<Call> calls;
  // Answer per command (default: an empty object); an Error answers with that error.
  std::map<std::string, Result<nlohmann::json>> answers;

  void call(const std::string& cmd, nlohmann::json args, Reply done) override {
    calls.push_back({cmd, args});
    Result<nlohmann::json> r = nlohmann::json::object();
    if (auto it = answers.find(cmd); it != answers.end()) r = it->second;
    // Like the socket: the answer arrives later, on the event loop.
    QTimer::singleShot(0, [done = std::move(done), r] { done(r); });
  }
  std::vector<std::string> commands() const {
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(c.cmd);
    return out;
  }
  bool sent(const std::string& cmd) const {
    for (const auto& c : calls)
      if (c.cmd == cmd) return true;
    return false;
  }
  const Call* last(const std::string& cmd) const {
    for (auto it = calls.rbegin(); it != calls.rend(); ++it)
      if (it->cmd == cmd) return &*it;
    return nullptr;
  }
};

struct RecordingDialogs : DialogHost {
  std::vector<std::string> opened;
  nlohmann::json last;
  void showConsent(const nlohmann::json& c) override { opened.push_back("consent"), last = c; }
  void showIdleReturn(const nlohmann::json& i) override { opened.push_back("idle_return"), last = i; }
  void showMyActivity() override { opened.push_back("my_activity"); }
  void showSettings() override { opened.push_back("settings"); }
  void showScreenshotNotice(const nlohmann::json& s) override { opened.push_back("screenshot"), last = s; }
  void closeIdleReturn() override { opened.push_back("close_idle_return"); }
};

/// Runs the event loop until nothing is left to do (a few rounds).
inline void drain() {
  for (int i = 0; i < 20; ++i) QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
}

}  // namespace wm::tray::test
