// The tray's connection to the agent: AgentApi over the control socket (JSON lines, agent/CONTROL_PROTOCOL.md).
// One connection carries requests and replies, a second one is subscribed to events. It polls `status`,
// reconnects when the agent restarts, and starts the agent when none answers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include <QElapsedTimer>
#include <QLocalSocket>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <nlohmann/json.hpp>

#include "agent_api.h"
#include "workmonitor/agent/protocol.h"

namespace wm::tray {

struct AgentLinkOptions {
  QString socket;              // the control socket's path
  QStringList agent_args;      // global flags for a started agent: --state-dir/--socket/--config ...
  QStringList agent_run_args;  // after `run`, e.g. --quiet
  QString agent_binary;        // empty: workmonitor-agent next to this program, else on PATH
  bool start_agent = true;     // start the agent when none answers
  int status_interval_ms = 3000;
  int max_backoff_ms = 2000;
  int start_retry_ms = 15000;   // do not start another agent sooner than this after the last attempt
  int call_timeout_ms = 15000;  // a request without a reply by then fails (the agent hangs)
};

/// Path to workmonitor-agent: `explicit_path` if given, else next to the running program, else on PATH.
QString findAgentBinary(const QString& explicit_path);

class AgentLink : public QObject, public AgentApi {
  Q_OBJECT
 public:
  explicit AgentLink(AgentLinkOptions options, QObject* parent = nullptr);
  ~AgentLink() override;

  /// Starts connecting (and keeps reconnecting until destroyed).
  void open();
  bool isConnected() const { return connected_; }
  /// The last status received (null before the first).
  const nlohmann::json& lastStatus() const { return status_; }
  /// Asks for status now (coalesced with a request already in flight).
  void refreshStatus();
  /// The pid of the agent this link started last (0: none).
  qint64 startedAgentPid() const { return started_pid_; }
  const AgentLinkOptions& options() const { return options_; }

  void call(const std::string& cmd, nlohmann::json args, Reply done) override;

 signals:
  void connected();
  void disconnected();
  void event(const QString& name, const nlohmann::json& data);
  void status(const nlohmann::json& status);
  /// Starting the agent failed or it was started (pid > 0).
  void agentStarted(qint64 pid, const QString& problem);

 private:
  void tryConnect();
  void onCmdConnected();
  void onCmdError();
  void onLost();
  void onCmdReadable();
  void onEventsReadable();
  void scheduleReconnect();
  void maybeStartAgent();
  void failPending(const QString& why);
  void handleReply(std::string_view line);
  void handleEvent(std::string_view line);
  void expireCalls();

  AgentLinkOptions options_;
  QLocalSocket* cmd_ = nullptr;
  QLocalSocket* events_ = nullptr;
  agent::protocol::LineReader cmd_reader_, event_reader_;
  QTimer reconnect_timer_, poll_timer_, refresh_soon_, expire_timer_;
  int backoff_ms_ = 0;
  bool connected_ = false;
  bool status_in_flight_ = false;
  int64_t next_id_ = 1;
  struct Pending {
    Reply done;
    qint64 deadline_ms;
  };
  std::map<int64_t, Pending> pending_;
  QElapsedTimer clock_;
  qint64 last_start_ms_ = -1;
  qint64 started_pid_ = 0;
  nlohmann::json status_;
};

}  // namespace wm::tray
