// Outgoing mail for the password reset: one message at a time to the configured SMTP relay, through libcurl
// (smtp:// with STARTTLS, or smtps://; certificates verified), on a worker thread of its own so a request
// never waits for the relay and never holds a database connection while it talks to it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "workmonitor/common/result.h"
#include "workmonitor/server/http/config.h"

namespace wm::server::http {

struct SmtpSettings {
  std::string url;  // smtp://host[:port] or smtps://host[:port]
  std::string from;
  std::string user;  // with password: AUTH (PLAIN/LOGIN/...), and on smtp:// STARTTLS is then required
  std::string password;
  std::chrono::seconds timeout{20};
  static SmtpSettings fromConfig(const ServerConfig& c) {
    return SmtpSettings{c.smtp_url, c.smtp_from, c.smtp_user, c.smtp_password, c.smtp_timeout};
  }
};

struct MailMessage {
  std::string to;
  std::string subject;
  std::string body;      // plain text, UTF-8; lines end in \n (sent as CRLF)
  std::string log_name;  // what the log says the mail was for (never the body: it carries the token)
};

/// The message as sent: headers (From, To, Subject, Date, Message-ID, MIME) and the body, CRLF line ends.
/// Fails when an address or the subject contains a line break (a header of its own) or an address is not one.
Result<std::string> renderMail(const SmtpSettings& smtp, const MailMessage& m);

/// Sends one message and waits for the relay's answer (at most smtp.timeout).
Result<void> sendMail(const SmtpSettings& smtp, const MailMessage& m);

/// A queue of messages sent in order by one worker thread; a full queue refuses more (the caller tells).
class Mailer {
 public:
  explicit Mailer(SmtpSettings smtp, size_t max_queued = 256);
  ~Mailer();
  Mailer(const Mailer&) = delete;
  Mailer& operator=(const Mailer&) = delete;

  /// Queues `m`; false when the queue is full.
  bool enqueue(MailMessage m);

 private:
  void run();

  SmtpSettings smtp_;
  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<MailMessage> queue_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace wm::server::http
