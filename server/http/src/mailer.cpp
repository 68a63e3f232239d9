#include "workmonitor/server/http/mailer.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "workmonitor/server/http/crypto.h"

namespace wm::server::http {
namespace {

bool headerSafe(std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos; }

bool plainAddress(std::string_view a) {
  const size_t at = a.find('@');
  return !a.empty() && a.size() <= 254 && at != std::string_view::npos && at > 0 && at + 1 < a.size() &&
         a.find_first_of(" \t\r\n<>,;\"") == std::string_view::npos;
}

std::string rfc5322Date() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

void curlInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Upload {
  std::string_view data;
  size_t offset = 0;
};

size_t readChunk(char* out, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  const size_t len = std::min(size * n, u->data.size() - u->offset);
  std::memcpy(out, u->data.data() + u->offset, len);
  u->offset += len;
  return len;
}

}  // namespace

Result<std::string> renderMail(const SmtpSettings& smtp, const MailMessage& m) {
  if (!plainAddress(m.to) || !plainAddress(smtp.from)) return fail(Errc::kInvalidInput, "not a mail address");
  if (!headerSafe(m.subject)) return fail(Errc::kInvalidInput, "the subject has a line break");
  auto id = randomBytes(12);
  if (!id) return std::unexpected(id.error());
  std::string out;
  out += "From: <" + smtp.from + ">\r\n";
  out += "To: <" + m.to + ">\r\n";
  out += "Subject: " + m.subject + "\r\n";
  out += "Date: " + rfc5322Date() + "\r\n";
  out += "Message-ID: <" + hex(*id) + smtp.from.substr(smtp.from.find('@')) + ">\r\n";
  out += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n";
  out += "Auto-Submitted: auto-generated\r\n\r\n";
  // Bare \n become CRLF; libcurl escapes a line that starts with a dot.
  for (char c : m.body) {
    if (c == '\r') continue;
    if (c == '\n')
      out += "\r\n";
    else
      out += c;
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  return out;
}

Result<void> sendMail(const SmtpSettings& smtp, const MailMessage& m) {
  auto text = renderMail(smtp, m);
  if (!text) return std::unexpected(text.error());
  curlInitOnce();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return fail(Errc::kInternal, "curl_easy_init failed");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(
      curl_slist_append(nullptr, ("<" + m.to + ">").c_str()), &curl_slist_free_all);
  if (!rcpt) return fail(Errc::kInternal, "curl_slist_append failed");
  Upload up{*text};
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string from = "<" + smtp.from + ">";
  const long timeout_ms = static_cast<long>(std::chrono::milliseconds(smtp.timeout).count());
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, smtp.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &readChunk);
  curl_easy_setopt(h, CURLOPT_READDATA, &up);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(text->size()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!smtp.user.empty()) {
    // Credentials never cross the network in clear: on smtp:// the relay must take STARTTLS.
    curl_easy_setopt(h, CURLOPT_USERNAME, smtp.user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, smtp.password.c_str());
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  } else {
    // An unauthenticated relay (the LAN's or this machine's): STARTTLS when it offers it, verified then too.
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  }
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    return fail(Errc::kIo, std::string("SMTP: ") + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  return {};
}

Mailer::Mailer(SmtpSettings smtp, size_t max_queued)
    : smtp_(std::move(smtp)), max_queued_(max_queued), worker_([this] { run(); }) {}

Mailer::~Mailer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

bool Mailer::enqueue(MailMessage m) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(m));
  }
  cv_.notify_one();
  return true;
}

void Mailer::run() {
  for (;;) {
    MailMessage m;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) {
        if (!queue_.empty()) spdlog::warn("mail: {} message(s) not sent: the server is stopping", queue_.size());
        return;
      }
      m = std::move(queue_.front());
      queue_.pop_front();
    }
    if (auto sent = sendMail(smtp_, m); !sent) {
      spdlog::warn("mail: {} not sent: {}", m.log_name, sent.error().message);
    } else {
      spdlog::info("mail: {} sent", m.log_name);
    }
  }
}

}  // namespace wm::server::http
