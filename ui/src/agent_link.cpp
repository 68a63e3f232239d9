#include "agent_link.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>

#include "json_fields.h"

namespace wm::tray {

using nlohmann::json;

namespace {

constexpr const char* kNotRunning = "the agent is not running";

Errc errcFromName(const std::string& name) {
  for (Errc c : {Errc::kUnavailable, Errc::kInvalidInput, Errc::kIo, Errc::kCorrupt, Errc::kBusy, Errc::kNotFound,
                 Errc::kInternal})
    if (name == errcName(c)) return c;
  return Errc::kInternal;
}

}  // namespace

QString findAgentBinary(const QString& explicit_path) {
  if (!explicit_path.isEmpty()) return explicit_path;
  const QString beside = QDir(QCoreApplication::applicationDirPath()).filePath("workmonitor-agent");
  if (QFileInfo(beside).isExecutable()) return beside;
  // The build tree keeps the agent in agent/ next to ui/.
  const QString sibling = QDir(QCoreApplication::applicationDirPath()).filePath("../agent/workmonitor-agent");
  if (QFileInfo(sibling).isExecutable()) return QFileInfo(sibling).canonicalFilePath();
  return QStandardPaths::findExecutable("workmonitor-agent");
}

AgentLink::AgentLink(AgentLinkOptions options, QObject* parent) : QObject(parent), options_(std::move(options)) {
  clock_.start();
  reconnect_timer_.setSingleShot(true);
  connect(&reconnect_timer_, &QTimer::timeout, this, &AgentLink::tryConnect);
  poll_timer_.setInterval(options_.status_interval_ms);
  connect(&poll_timer_, &QTimer::timeout, this, &AgentLink::refreshStatus);
  // Events come in bursts (state, then sync...): one status request for the burst.
  refresh_soon_.setSingleShot(true);
  refresh_soon_.setInterval(100);
  connect(&refresh_soon_, &QTimer::timeout, this, &AgentLink::refreshStatus);
  expire_timer_.setInterval(1000);
  connect(&expire_timer_, &QTimer::timeout, this, &AgentLink::expireCalls);
}

AgentLink::~AgentLink() {
  // Replies never come now; the callers hear so (their objects may be going too, so only when still wanted).
  pending_.clear();
  if (cmd_) cmd_->disconnect(this);
  if (events_) events_->disconnect(this);
}

void AgentLink::open() {
  if (cmd_ || reconnect_timer_.isActive()) return;
  tryConnect();
}

void AgentLink::tryConnect() {
  if (cmd_) {
    cmd_->disconnect(this);
    cmd_->deleteLater();
  }
  if (events_) {
    events_->disconnect(this);
    events_->deleteLater();
    events_ = nullptr;
  }
  // A reply is one line too, and a day's `report` (apps, websites, activity slots, screenshots) passes the 64 KB
  // the agent allows a request: a longer line would be dropped and the window would wait for nothing.
  cmd_reader_ = agent::protocol::LineReader(agent::protocol::kMaxReplyBytes);
  event_reader_ = agent::protocol::LineReader();
  cmd_ = new QLocalSocket(this);
  connect(cmd_, &QLocalSocket::connected, this, &AgentLink::onCmdConnected);
  connect(cmd_, &QLocalSocket::errorOccurred, this, &AgentLink::onCmdError);
  connect(cmd_, &QLocalSocket::disconnected, this, &AgentLink::onLost);
  connect(cmd_, &QLocalSocket::readyRead, this, &AgentLink::onCmdReadable);
  cmd_->connectToServer(options_.socket);
}

void AgentLink::onCmdConnected() {
  backoff_ms_ = 0;
  events_ = new QLocalSocket(this);
  connect(events_, &QLocalSocket::readyRead, this, &AgentLink::onEventsReadable);
  connect(events_, &QLocalSocket::disconnected, this, &AgentLink::onLost);
  connect(events_, &QLocalSocket::errorOccurred, this, [this](QLocalSocket::LocalSocketError e) {
    if (e != QLocalSocket::PeerClosedError) onLost();
  });
  connect(events_, &QLocalSocket::connected, this, [this] {
    events_->write(
        QByteArray::fromStdString(agent::protocol::makeRequest(json("events"), "subscribe", json::object())));
  });
  events_->connectToServer(options_.socket);
  connected_ = true;
  status_in_flight_ = false;
  poll_timer_.start();
  expire_timer_.start();
  emit connected();
  refreshStatus();
}

void AgentLink::onCmdError() {
  if (connected_) {
    onLost();
    return;
  }
  // Nobody answers: no socket file, or a stale one of an agent that died.
  maybeStartAgent();
  scheduleReconnect();
}

void AgentLink::onLost() {
  if (!connected_) return;
  connected_ = false;
  poll_timer_.stop();
  expire_timer_.stop();
  failPending(kNotRunning);
  if (cmd_) cmd_->disconnect(this);
  if (events_) events_->disconnect(this);
  if (cmd_) cmd_->abort();
  if (events_) events_->abort();
  emit disconnected();
  backoff_ms_ = 0;
  scheduleReconnect();
}

void AgentLink::scheduleReconnect() {
  backoff_ms_ = backoff_ms_ == 0 ? 100 : std::min(backoff_ms_ * 2, options_.max_backoff_ms);
  reconnect_timer_.start(backoff_ms_);
}

void AgentLink::maybeStartAgent() {
  if (!options_.start_agent) return;
  const qint64 now = clock_.elapsed();
  if (last_start_ms_ >= 0 && now - last_start_ms_ < options_.start_retry_ms) return;
  last_start_ms_ = now;
  const QString binary = findAgentBinary(options_.agent_binary);
  if (binary.isEmpty()) {
    emit agentStarted(0, "workmonitor-agent was not found next to the tray or on PATH");
    return;
  }
  QProcess p;
  p.setProgram(binary);
  p.setArguments(options_.agent_args + QStringList{"run"} + options_.agent_run_args);
  p.setStandardInputFile(QProcess::nullDevice());
  qint64 pid = 0;
  if (p.startDetached(&pid)) {
    started_pid_ = pid;
    emit agentStarted(pid, QString());
  } else {
    emit agentStarted(0, "cannot start " + binary);
  }
}

void AgentLink::failPending(const QString& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.done(fail(Errc::kUnavailable, why.toStdString()));
}

void AgentLink::expireCalls() {
  const qint64 now = clock_.elapsed();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline_ms > now) {
      ++it;
      continue;
    }
    Reply done = std::move(it->second.done);
    it = pending_.erase(it);
    done(fail(Errc::kUnavailable, "the agent did not answer in time"));
  }
}

void AgentLink::call(const std::string& cmd, json args, Reply done) {
  if (!connected_ || !cmd_) {
    // Answered later, like a reply would be: callers may rely on not being re-entered.
    QTimer::singleShot(0, this, [done = std::move(done)] { done(fail(Errc::kUnavailable, kNotRunning)); });
    return;
  }
  const int64_t id = next_id_++;
  pending_[id] = Pending{std::move(done), clock_.elapsed() + options_.call_timeout_ms};
  cmd_->write(QByteArray::fromStdString(agent::protocol::makeRequest(json(id), cmd, args)));
}

void AgentLink::refreshStatus() {
  if (!connected_ || status_in_flight_) return;
  status_in_flight_ = true;
  call("status", json::object(), [this](Result<json> r) {
    status_in_flight_ = false;
    if (!r) return;
    status_ = std::move(*r);
    emit status(status_);
  });
}

void AgentLink::onCmdReadable() {
  const QByteArray bytes = cmd_->readAll();
  cmd_reader_.feed(
      std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())),
      [this](std::string_view line) { handleReply(line); }, [] {});
}

void AgentLink::onEventsReadable() {
  const QByteArray bytes = events_->readAll();
  event_reader_.feed(
      std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())),
      [this](std::string_view line) { handleEvent(line); }, [] {});
}

void AgentLink::handleReply(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer()) return;
  auto it = pending_.find(j["id"].get<int64_t>());
  if (it == pending_.end()) return;  // expired already
  Reply done = std::move(it->second.done);
  pending_.erase(it);
  if (jf::flag(j, "ok")) {
    done(j.contains("result") ? j["result"] : json::object());
  } else {
    const json& err = jf::field(j, "error");
    const std::string message = jf::str(err, "message");
    done(fail(errcFromName(jf::str(err, "code")), message.empty() ? "the agent refused the request" : message));
  }
}

void AgentLink::handleEvent(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("event") || !j["event"].is_string()) return;  // the subscribe reply
  const QString name = QString::fromStdString(j["event"].get<std::string>());
  emit event(name, j.contains("data") ? j["data"] : json::object());
  if (name != "usb") refresh_soon_.start();
}

}  // namespace wm::tray
