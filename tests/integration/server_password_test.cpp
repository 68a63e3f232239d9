// Password change and password reset by mail (issue 15, §14), end to end: the real HTTP server on a real
// PostgreSQL 15, and for the reset a small SMTP server on 127.0.0.1 (below) that takes the server's mail,
// from which the test reads the link, as the person would.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>
#include <vector>

#include "server_test_env.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/mailer.h"

namespace wm::test {
namespace {

using nlohmann::json;
namespace h = server::http;

/// One mail as the relay got it: the envelope and the DATA text (dot-unstuffed).
struct ReceivedMail {
  std::string mail_from, rcpt_to, data;
};

/// Enough of an SMTP server (RFC 5321: greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to take the
/// messages of one client after another, on a thread of its own. No STARTTLS: the client sends in clear.
class LoopbackSmtpServer {
 public:
  LoopbackSmtpServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 8) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "the SMTP test server could not listen";
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackSmtpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
  }
  unsigned short port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

  /// The next mail not yet taken, waiting up to `timeout` for it.
  std::optional<ReceivedMail> next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return taken_ < mails_.size(); })) return std::nullopt;
    return mails_[taken_++];
  }
  size_t received() {
    std::lock_guard lock(mu_);
    return mails_.size();
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      session(fd);
      ::close(fd);
    }
  }
  // A line without its CRLF; nullopt when the client went away or was silent for 10 s.
  std::optional<std::string> line(int fd, std::string& buf) {
    for (;;) {
      if (const size_t end = buf.find("\r\n"); end != std::string::npos) {
        std::string l = buf.substr(0, end);
        buf.erase(0, end + 2);
        return l;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buf.append(chunk, static_cast<size_t>(n));
    }
  }
  static void say(int fd, const std::string& text) { (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL); }
  void session(int fd) {
    std::string buf;
    ReceivedMail m;
    say(fd, "220 localhost test SMTP\r\n");
    while (auto l = line(fd, buf)) {
      std::string verb = l->substr(0, 4);
      for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (verb == "EHLO") {
        say(fd, "250-localhost\r\n250-8BITMIME\r\n250 SIZE 1048576\r\n");
      } else if (verb == "HELO" || verb == "NOOP") {
        say(fd, "250 ok\r\n");
      } else if (verb == "RSET") {
        m = {};
        say(fd, "250 ok\r\n");
      } else if (verb == "MAIL") {
        const std::string arg = l->substr(l->find(':') + 1);
        m.mail_from = arg.substr(0, arg.find(' '));  // the path without its parameters (SIZE=...)
        say(fd, "250 ok\r\n");
      } else if (verb == "RCPT") {
        m.rcpt_to = l->substr(l->find(':') + 1);
        say(fd, "250 ok\r\n");
      } else if (verb == "DATA") {
        say(fd, "354 end with <CRLF>.<CRLF>\r\n");
        while (auto d = line(fd, buf)) {
          if (*d == ".") break;
          m.data += (d->starts_with("..") ? d->substr(1) : *d) + "\n";
        }
        {
          std::lock_guard lock(mu_);
          mails_.push_back(m);
        }
        cv_.notify_all();
        m = {};
        say(fd, "250 queued\r\n");
      } else if (verb == "QUIT") {
        say(fd, "221 bye\r\n");
        return;
      } else {
        say(fd, "502 not implemented\r\n");
      }
    }
  }

  int listener_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedMail> mails_;
  size_t taken_ = 0;
};

constexpr const char* kNewPassword = "a brand new passphrase";
constexpr auto kMailWait = std::chrono::seconds(10);

class ServerPasswordTest : public ServerTest {
 protected:
  h::ServerConfig mailConfig() {
    auto c = config();
    c.smtp_url = smtp_.url();
    c.smtp_from = "workmonitor@tracker.test";
    c.password_reset_url = "https://tracker.test/reset?token={token}";
    c.smtp_timeout = std::chrono::seconds(10);
    return c;
  }
  HttpReply askReset(const std::string& email) {
    return call("POST", "/api/v1/auth/password-reset", json{{"email", email}}.dump());
  }
  HttpReply confirm(const std::string& tok, const std::string& password) {
    return call("POST", "/api/v1/auth/password-reset/confirm", json{{"token", tok}, {"new_password", password}}.dump());
  }
  HttpReply refresh(const std::string& rt) { return call("POST", "/auth/refresh", json{{"refresh_token", rt}}.dump()); }
  HttpReply changePassword(const std::string& access, const std::string& old_pw, const std::string& new_pw) {
    return call("POST", "/api/v1/auth/password", json{{"old_password", old_pw}, {"new_password", new_pw}}.dump(),
                bearer(access));
  }
  std::string refreshToken(const std::string& email) {
    auto r = login(email);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().value("refresh_token", "");
  }
  /// The token of the link in the mail.
  static std::string tokenIn(const ReceivedMail& m) {
    std::smatch match;
    static const std::regex kLink(R"(https://tracker\.test/reset\?token=([A-Za-z0-9_-]+))");
    return std::regex_search(m.data, match, kLink) ? match[1].str() : "";
  }
  /// Asks for a reset of `email` and returns the token of the mail that arrives.
  std::string mailedToken(const std::string& email) {
    auto r = askReset(email);
    EXPECT_EQ(r.status, 202) << r.body;
    auto mail = smtp_.next(kMailWait);
    EXPECT_TRUE(mail) << "no mail arrived";
    return mail ? tokenIn(*mail) : "";
  }

  LoopbackSmtpServer smtp_;
};

TEST_F(ServerPasswordTest, ResetByMailEndToEnd) {
  startServer(mailConfig());
  const std::string session_1 = refreshToken("alice@a.test");
  const std::string session_2 = refreshToken("alice@a.test");
  const std::string admins = refreshToken("admin@a.test");

  auto r = askReset("Alice@A.test");  // the address as the person types it
  ASSERT_EQ(r.status, 202) << r.body;
  auto mail = smtp_.next(kMailWait);
  ASSERT_TRUE(mail) << "the reset mail did not arrive";
  EXPECT_EQ(mail->rcpt_to, "<alice@a.test>");
  EXPECT_EQ(mail->mail_from, "<workmonitor@tracker.test>");
  EXPECT_NE(mail->data.find("To: <alice@a.test>"), std::string::npos) << mail->data;
  EXPECT_NE(mail->data.find("Subject: Reset your WorkMonitor password"), std::string::npos) << mail->data;
  const std::string tok = tokenIn(*mail);
  ASSERT_GE(tok.size(), 22u) << mail->data;  // ≥ 128 bits in base64url

  // Only the token's SHA-256 is stored, with its account, an expiry about 30 minutes out and no use yet.
  EXPECT_EQ(scalar("select count(*) from auth.password_reset_tokens where token_hash = '\\x" + h::hex(h::sha256(tok)) +
                   "'::bytea and user_id = '" + user_a_ +
                   "' and used_at is null and expires_at between now() + interval '29 minutes' and "
                   "now() + interval '31 minutes'"),
            "1");
  EXPECT_EQ(scalar("select count(*) from auth.password_reset_tokens where position(convert_to('" + tok +
                   "', 'UTF8') in token_hash) > 0"),
            "0");

  // The runtime role cannot read or write the table itself, only call the two functions.
  auto app = connect("workmonitor_app");
  ASSERT_TRUE(app.query("select auth.password_reset_consume('\\x00'::bytea)"));
  EXPECT_FALSE(app.query("select count(*) from auth.password_reset_tokens"));
  EXPECT_FALSE(app.query("update auth.password_reset_tokens set expires_at = now() + interval '1 year'"));

  EXPECT_EQ(confirm(tok, "short").errorCode(), "weak_password");  // refused before the token is spent
  r = confirm(tok, kNewPassword);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().value("revoked_sessions", -1), 2);

  EXPECT_EQ(login("alice@a.test", kNewPassword).status, 200);
  EXPECT_EQ(login("alice@a.test").status, 401);  // the old password no longer works
  r = confirm(tok, "yet another passphrase");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errorCode(), "invalid_token") << "a reset token works once";
  EXPECT_EQ(login("alice@a.test", kNewPassword).status, 200);

  // Every earlier sign-in of the person is over; other people's are not.
  EXPECT_EQ(refresh(session_1).status, 401);
  EXPECT_EQ(refresh(session_2).status, 401);
  EXPECT_EQ(refresh(admins).status, 200);
  EXPECT_EQ(scalar("select (password_changed_at > now() - interval '1 minute')::text from auth.credentials "
                   "where user_id = '" +
                   user_a_ + "'"),
            "true");
}

TEST_F(ServerPasswordTest, ExpiredOrMadeUpTokenIsRefused) {
  startServer(mailConfig());
  const std::string tok = mailedToken("alice@a.test");
  ASSERT_FALSE(tok.empty());
  scalar("update auth.password_reset_tokens set expires_at = now() - interval '1 second' where user_id = '" + user_a_ +
         "' returning 1");
  auto r = confirm(tok, kNewPassword);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errorCode(), "invalid_token");
  r = confirm("not-a-token-anyone-was-sent", kNewPassword);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.errorCode(), "invalid_token");
  EXPECT_EQ(login("alice@a.test").status, 200) << "the password is unchanged";
  EXPECT_EQ(login("alice@a.test", kNewPassword).status, 401);

  // A token issued with a 1-second lifetime is dead a moment later.
  auto c = mailConfig();
  c.password_reset_lifetime = std::chrono::seconds(1);
  startServer(c);
  const std::string short_lived = mailedToken("alice@a.test");
  ASSERT_FALSE(short_lived.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(confirm(short_lived, kNewPassword).errorCode(), "invalid_token");
}

TEST_F(ServerPasswordTest, UnknownOrDisabledAddressIsAnswered202AndGetsNoMail) {
  startServer(mailConfig());
  scalar("update public.users set status = 'disabled' where email = 'admin@b.test' returning 1");
  for (const char* email : {"nobody@a.test", "admin@b.test"}) {
    auto r = askReset(email);
    EXPECT_EQ(r.status, 202) << r.body;
  }
  EXPECT_FALSE(smtp_.next(std::chrono::milliseconds(1500))) << "no mail for an address without an active account";
  EXPECT_EQ(scalar("select count(*) from auth.password_reset_tokens"), "0");
}

TEST_F(ServerPasswordTest, ResetWithoutSmtpAnswers503) {
  auto r = askReset("alice@a.test");  // the fixture's server has no SMTP_URL
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.errorCode(), "reset_unavailable");
}

TEST_F(ServerPasswordTest, ResetRequestsAreRateLimitedPerAccountAndPerAddress) {
  auto c = mailConfig();
  c.password_reset_limit = {2, 3, std::chrono::seconds(2)};
  startServer(c);
  EXPECT_EQ(askReset("alice@a.test").status, 202);
  EXPECT_EQ(askReset("ALICE@a.test").status, 202);  // the same account, however it is written
  auto r = askReset("alice@a.test");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.errorCode(), "rate_limited");
  EXPECT_TRUE(r.headers.contains("retry-after"));
  EXPECT_NE(r.json()["error"].value("message", "").find("for this account"), std::string::npos) << r.body;
  r = askReset("nobody@a.test");  // the address's fourth request in the window
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.json()["error"].value("message", "").find("from this address"), std::string::npos) << r.body;
  EXPECT_TRUE(smtp_.next(kMailWait));
  EXPECT_TRUE(smtp_.next(kMailWait));
  EXPECT_FALSE(smtp_.next(std::chrono::milliseconds(500))) << "a refused request sends no mail";
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  EXPECT_EQ(askReset("alice@a.test").status, 202) << "the limit recovers after its window";
  EXPECT_TRUE(smtp_.next(kMailWait));
}

TEST_F(ServerPasswordTest, ChangePasswordNeedsTheOldOneAndEndsOtherSessions) {
  const std::string other_session = refreshToken("alice@a.test");
  const std::string admins = refreshToken("admin@a.test");
  auto signed_in = login("alice@a.test");
  ASSERT_EQ(signed_in.status, 200);
  const std::string access = signed_in.json().value("access_token", "");

  EXPECT_EQ(
      call("POST", "/api/v1/auth/password", json{{"old_password", kPassword}, {"new_password", kNewPassword}}.dump())
          .status,
      401)
      << "signed in only";
  EXPECT_EQ(changePassword(access, kPassword, "short").errorCode(), "weak_password");
  auto r = changePassword(access, "not my password", kNewPassword);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.errorCode(), "wrong_password");
  EXPECT_EQ(scalar("select failed_attempts from auth.credentials where user_id = '" + user_a_ + "'"), "1")
      << "counted like a failed sign-in";

  r = changePassword(access, kPassword, kNewPassword);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().value("revoked_sessions", -1), 2);
  EXPECT_EQ(scalar("select failed_attempts from auth.credentials where user_id = '" + user_a_ + "'"), "0");
  const std::string new_refresh = r.json().value("refresh_token", "");
  EXPECT_EQ(refresh(other_session).status, 401) << "other sessions end";
  EXPECT_EQ(refresh(signed_in.json().value("refresh_token", "")).status, 401) << "and this one's old token too";
  EXPECT_EQ(refresh(new_refresh).status, 200) << "this device goes on with the tokens of the answer";
  EXPECT_EQ(refresh(admins).status, 200);
  EXPECT_EQ(login("alice@a.test").status, 401);
  EXPECT_EQ(login("alice@a.test", kNewPassword).status, 200);
}

// Access tokens are JWTs, valid until they expire by themselves; a password change must end the stolen ones
// at once, not an hour later. Tokens carry whole seconds (iat), so the old ones are made a second older.
TEST_F(ServerPasswordTest, AccessTokensFromBeforeAChangeEndAtOnce) {
  const std::string other_device = token("alice@a.test");
  const std::string this_device = token("alice@a.test");
  const std::string admins = token("admin@a.test");
  const auto projects = [&](const std::string& at) { return call("GET", "/api/v1/agent/projects", "", bearer(at)); };
  ASSERT_EQ(projects(other_device).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));

  auto r = changePassword(this_device, kPassword, kNewPassword);
  ASSERT_EQ(r.status, 200) << r.body;
  for (const auto& old : {other_device, this_device}) {
    auto refused = projects(old);
    EXPECT_EQ(refused.status, 401) << refused.body;
    EXPECT_EQ(refused.errorCode(), "token_revoked");
    EXPECT_EQ(call("GET", "/auth/me", "", bearer(old)).status, 401);
  }
  EXPECT_EQ(projects(r.json().value("access_token", "")).status, 200) << "the answer's new token works";
  EXPECT_EQ(projects(login("alice@a.test", kNewPassword).json().value("access_token", "")).status, 200);
  EXPECT_EQ(projects(admins).status, 200) << "other people's tokens are untouched";

  // Disabling an account ends its access tokens the same way, on every endpoint.
  scalar("update public.users set status = 'disabled' where email = 'admin@a.test' returning 1");
  EXPECT_EQ(projects(admins).errorCode(), "token_revoked");
}

TEST_F(ServerPasswordTest, GuessingTheOldPasswordLocksTheAccount) {
  const std::string access = token("alice@a.test");
  auto c = config();
  c.login_attempts_per_account = 3;
  startServer(c);  // a fresh in-memory throttle: only the guesses below count
  for (int i = 0; i < 3; ++i) EXPECT_EQ(changePassword(access, "guess " + std::to_string(i), kNewPassword).status, 403);
  EXPECT_EQ(scalar("select (locked_until > now())::text from auth.credentials where user_id = '" + user_a_ + "'"),
            "true")
      << "the third failure locks the account in the database (auth.note_login), as at sign-in";
  auto r = changePassword(access, kPassword, kNewPassword);
  EXPECT_EQ(r.status, 429) << "locked like sign-in, even for the right password: " << r.body;
  EXPECT_EQ(login("alice@a.test").status, 429);
}

TEST(ServerPasswordSettings, ReadFromTheEnvironmentAndCheckedAtStart) {
  std::map<std::string, std::string> env{{"SMTP_URL", "smtps://mail.example.com:465"},
                                         {"SMTP_FROM", "workmonitor@example.com"},
                                         {"SMTP_USER", "workmonitor"},
                                         {"SMTP_PASSWORD", "relay secret"},
                                         {"PASSWORD_RESET_URL", "https://tracker.example.com/reset#{token}"},
                                         {"PASSWORD_RESET_TTL_SECONDS", "900"}};
  auto read = [&] {
    return h::configFromEnv([&](const char* n) -> const char* {
      auto it = env.find(n);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  auto c = read();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->passwordResetEnabled());
  EXPECT_EQ(c->smtp_url, "smtps://mail.example.com:465");
  EXPECT_EQ(c->smtp_user, "workmonitor");
  EXPECT_EQ(c->smtp_password, "relay secret");
  EXPECT_EQ(c->password_reset_lifetime, std::chrono::seconds(900));
  c->jwt_secret = kTestSecret;
  EXPECT_TRUE(h::checkSecrets(*c));
  // Each setting that would leave the mail unsendable, or a header injectable, is refused at start.
  for (auto [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"SMTP_URL", "http://mail.example.com"},
                                                        {"SMTP_FROM", "not an address"},
                                                        {"SMTP_FROM", "a@example.com\r\nBcc: x@example.com"},
                                                        {"PASSWORD_RESET_URL", "https://tracker.example.com/reset"},
                                                        {"SMTP_PASSWORD", ""}}) {
    auto changed = *c;
    if (key == "SMTP_URL") changed.smtp_url = value;
    if (key == "SMTP_FROM") changed.smtp_from = value;
    if (key == "PASSWORD_RESET_URL") changed.password_reset_url = value;
    if (key == "SMTP_PASSWORD") changed.smtp_password = value;
    EXPECT_FALSE(h::checkSecrets(changed)) << key << "=" << value;
  }
  env["PASSWORD_RESET_TTL_SECONDS"] = "5";
  EXPECT_FALSE(read()) << "a lifetime under a minute is refused";
  // Without a relay the feature is off; a sender without a relay is a mistake worth telling.
  h::ServerConfig off;
  off.jwt_secret = kTestSecret;
  EXPECT_FALSE(off.passwordResetEnabled());
  EXPECT_TRUE(h::checkSecrets(off));
  off.smtp_from = "workmonitor@example.com";
  EXPECT_FALSE(h::checkSecrets(off));
}

TEST(ServerPasswordSettings, MailHeadersCannotBeInjected) {
  h::SmtpSettings smtp{"smtp://127.0.0.1:25", "workmonitor@example.com", "", "", std::chrono::seconds(5)};
  auto ok = h::renderMail(smtp, {"alice@example.com", "Reset", "line one\n.line two\n", "test"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_NE(ok->find("\r\n\r\nline one\r\n.line two\r\n"), std::string::npos) << *ok;
  EXPECT_FALSE(h::renderMail(smtp, {"alice@example.com\r\nBcc: eve@example.com", "Reset", "x", "test"}));
  EXPECT_FALSE(h::renderMail(smtp, {"alice@example.com", "Reset\r\nBcc: eve@example.com", "x", "test"}));
}

}  // namespace
}  // namespace wm::test
