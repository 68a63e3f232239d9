// What the e2e tests do with a running workmonitor-agent binary: its config, one request on its control
// socket, ending it. Shared so each test file keeps only what is particular to it.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "workmonitor/agent/control_client.h"
#include "xvfb_fixture.h"

namespace wm::test {

/// Writes agent.json. Monitoring needs no person's answer here (consent_preapproved, as in headless
/// service mode) unless the config says otherwise.
inline void writeAgentConfig(const std::filesystem::path& file, nlohmann::json j) {
  if (!j.contains("consent_preapproved")) j["consent_preapproved"] = true;
  std::ofstream(file) << j.dump();
}

/// One request; a failure is a test failure and yields null.
inline nlohmann::json callAgent(const std::filesystem::path& socket, const std::string& cmd,
                                const nlohmann::json& args = nlohmann::json::object()) {
  auto c = agent::ControlClient::connect(socket);
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  if (!c) return nlohmann::json();
  auto r = c->call(cmd, args);
  EXPECT_TRUE(r) << cmd << ": " << (r ? "" : r.error().message);
  return r ? *r : nlohmann::json();
}

/// Sends sig to the agent and reaps it; its exit status (128 + signal when killed), -1 when it did not end
/// within 10 s. pid is -1 afterwards.
inline int stopAgentProcess(pid_t& pid, int sig) {
  ::kill(pid, sig);
  int status = 0;
  const pid_t p = pid;
  const bool done = waitUntil([&] { return ::waitpid(p, &status, WNOHANG) == p; }, std::chrono::seconds(10));
  pid = -1;
  if (!done) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace wm::test
