// What the tray windows' tests share: one QApplication (offscreen unless QT_QPA_PLATFORM says otherwise)
// and RecordingAgentApi.
//
// RecordingAgentApi is a test seam for the socket: an AgentApi that records every command the windows send and answers
// only when the test says so (the real AgentLink answers later on the GUI thread too). Used by the dialogs' logic and
// gui tests; the agent itself is tested elsewhere.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <QApplication>
#include <nlohmann/json.hpp>

#include "agent_api.h"

namespace wm::tray::test {

class RecordingAgentApi : public AgentApi {
 public:
  struct Call {
    std::string cmd;
    nlohmann::json args;
    Reply done;
    bool answered = false;
  };

  void call(const std::string& cmd, nlohmann::json args, Reply done) override {
    calls.push_back(Call{cmd, std::move(args), std::move(done)});
  }

  /// Answers every unanswered call to `cmd` with `reply` (an error when `error` is set); returns how many.
  int answer(const std::string& cmd, const nlohmann::json& reply, const std::string& error = {}) {
    int n = 0;
    // By index: a reply may send the next command, which appends to `calls`.
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].answered || calls[i].cmd != cmd) continue;
      calls[i].answered = true;
      Reply done = calls[i].done;
      if (error.empty())
        done(reply);
      else
        done(fail(Errc::kInvalidInput, error));
      ++n;
    }
    return n;
  }

  /// The calls to `cmd`, in order.
  std::vector<nlohmann::json> argsOf(const std::string& cmd) const {
    std::vector<nlohmann::json> out;
    for (const auto& c : calls)
      if (c.cmd == cmd) out.push_back(c.args);
    return out;
  }

  std::vector<Call> calls;
};

/// The process's QApplication, made on first use (gtest_discover_tests lists the tests without one). It is
/// kept for the whole run: widgets may outlive a test's scope only until its end, the application never.
inline QApplication& qtApp() {
  static int argc = 1;
  static char name[] = "workmonitor-tray-test";
  static char* argv[] = {name, nullptr};
  static QApplication* app = [] {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    return new QApplication(argc, argv);
  }();
  return *app;
}

}  // namespace wm::tray::test
