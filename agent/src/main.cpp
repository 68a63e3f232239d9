// workmonitor-agent: `run` is the daemon; every other subcommand is a client of its control socket.
#include <malloc.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "browser_host_cli.h"
#include "workmonitor/agent/control_client.h"
#include "workmonitor/agent/daemon.h"
#include "workmonitor/agent/paths.h"
#include "workmonitor/agent/protocol.h"
#include "workmonitor/agent/report.h"
#include "workmonitor/agent/sync_service.h"

namespace {

using nlohmann::json;
using wm::agent::ControlClient;

constexpr int kExitError = 1;
constexpr int kExitNotRunning = 4;

struct Globals {
  std::string state_dir, socket, config;
  bool json_out = false;
};

wm::agent::AgentPaths paths(const Globals& g) {
  auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::filesystem::path>(s); };
  return wm::agent::resolvePaths(opt(g.state_dir), opt(g.socket), opt(g.config));
}

// One request to the running agent; prints the agent's error and returns an exit code on failure.
int call(const Globals& g, const std::string& cmd, const json& args, json* out) {
  auto client = ControlClient::connect(paths(g).socket);
  if (!client) {
    std::cerr << "workmonitor-agent: " << client.error().message << "\n";
    return kExitNotRunning;
  }
  auto r = client->call(cmd, args);
  if (!r) {
    std::cerr << "workmonitor-agent: " << r.error().message << "\n";
    return kExitError;
  }
  *out = *r;
  return 0;
}

std::string field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

void printSync(const json& y);

// What consent means for monitoring right now, in the words a person reads first: while an answer is
// pending only the timer runs, and a decline keeps even the timer off.
void printConsent(const json& c) {
  if (!c.is_object()) return;
  const std::string decision = field(c, "decision");
  const bool required = c.value("required", false);
  const char* kHow =
      "answer in the tray, or with `workmonitor-agent consent --grant` or `workmonitor-agent consent "
      "--decline` (`workmonitor-agent consent` lists what is collected)";
  if (decision == "preapproved") {
    std::cout << "Consent: monitoring on this computer was pre-approved by its administrator\n";
  } else if (decision == "declined") {
    std::cout << "Consent: DECLINED: nothing is monitored and the timer stays off. To change your answer: "
                 "`workmonitor-agent consent --grant` (or the tray)"
              << (required ? "; what is collected has changed since you declined" : "") << "\n";
  } else if (required && decision == "granted") {
    std::string changed;
    for (const auto& ch : c.value("changes", json::array()))
      if (ch.is_string()) changed += (changed.empty() ? "" : ", ") + ch.get<std::string>();
    std::cout << "Consent: what is collected has changed (" << (changed.empty() ? "see the list" : changed)
              << "); the changed parts stay off until you answer: " << kHow << "\n";
  } else if (required) {
    std::cout << "Consent: WAITING FOR YOUR ANSWER: only the timer runs until you answer (no apps, websites, "
                 "screenshots, activity or devices are recorded); "
              << kHow << "\n";
  } else if (decision == "granted") {
    std::cout << "Consent: granted\n";
  }
}

void printStatus(const json& s) {
  const json consent = s.value("consent", json());
  const bool waiting =
      consent.is_object() && consent.value("required", false) && consent.value("decision", std::string()) == "none";
  std::cout << "State: " << field(s, "state") << (waiting ? " (timer only: waiting for your consent)" : "") << "\n";
  printConsent(consent);
  if (s.contains("timer") && s["timer"].is_object()) {
    const json& t = s["timer"];
    std::cout << "Timer: running for " << wm::agent::formatDuration(t.value("elapsed_ms", int64_t{0})) << " since "
              << field(t, "started_at");
    if (!field(t, "project_id").empty()) std::cout << ", project " << field(t, "project_id");
    if (!field(t, "task_id").empty()) std::cout << ", task " << field(t, "task_id");
    if (!field(t, "note").empty()) std::cout << " (" << field(t, "note") << ")";
    std::cout << "\n";
  }
  if (s.contains("break")) std::cout << "On a break since " << field(s["break"], "started_at") << "\n";
  if (s.contains("idle")) std::cout << "Idle since " << field(s["idle"], "since") << "\n";
  if (s.contains("idle_pending")) {
    const json& p = s["idle_pending"];
    std::cout << "You were idle from " << field(p, "from") << " to " << field(p, "to") << " ("
              << wm::agent::formatDuration(p.value("duration_ms", int64_t{0}))
              << "). Answer with `workmonitor-agent idle keep|discard|discard-continue|break`; otherwise '"
              << field(p, "default") << "' applies in "
              << wm::agent::formatDuration(p.value("decides_in_ms", int64_t{0})) << ".\n";
  }
  if (s.contains("window"))
    std::cout << "Window: " << field(s["window"], "app") << " — " << field(s["window"], "title") << "\n";
  if (s.contains("agent")) {
    const json& a = s["agent"];
    std::cout << "Agent: " << field(a, "version") << ", pid " << a.value("pid", 0) << ", " << field(a, "mode")
              << ", state in " << field(a, "state_dir") << "\n";
    if (a.value("service_mode", false))
      std::cout << "Service mode: on (started by the OS service manager; no tray needed)\n";
    if (a.value("display", "ok") != "ok") std::cout << "Display: " << field(a, "display") << "\n";
    if (a.contains("config_problems"))
      for (const auto& p : a["config_problems"]) std::cout << "Config problem: " << p.get<std::string>() << "\n";
    if (a.contains("machine_policy")) {
      const json& mp = a["machine_policy"];
      if (mp.value("applies", true) == false)
        std::cout << "Machine policy: " << field(mp, "path") << " is refused, so no machine policy applies\n";
      else if (mp.value("last_good_copy", false))
        std::cout << "Machine policy: " << field(mp, "path")
                  << " is refused, so its last good copy applies until it is fixed\n";
      for (const auto& p : mp.value("problems", json::array()))
        std::cout << "Machine policy problem: " << p.get<std::string>() << "\n";
    }
  }
  if (s.contains("consent") && s["consent"].value("preapproved", false)) {
    std::string what;
    for (const auto& item : s["consent"].value("collects", json::array()))
      what += (what.empty() ? "" : "; ") + field(item, "detail");
    std::cout << "Collected under the administrator's pre-approval: "
              << (what.empty() ? "nothing beyond the timer" : what) << "\n";
  }
  if (s.contains("outbox")) {
    std::cout << "Outbox: " << s["outbox"].value("records", 0) << " records, " << s["outbox"].value("pending", 0)
              << " not uploaded, " << s["outbox"].value("quarantined", 0) << " quarantined\n";
  }
  if (s.contains("sync")) printSync(s["sync"]);
}

void printSync(const json& y) {
  if (y.value("mode", "") != "sync") {
    std::cout << "Sync: local-only (no server configured)\n";
    return;
  }
  const std::string auth = field(y, "auth");
  std::cout << "Sync: " << field(y, "server")
            << (field(y, "server_source") == "machine_policy" ? " (set by the machine policy)" : "") << ", ";
  if (auth == "signed_in") {
    std::cout << "signed in" << (field(y, "account").empty() ? "" : " as " + field(y, "account"));
  } else if (y.contains("auto_enroll")) {
    const json& ae = y["auto_enroll"];
    std::cout << "not signed in yet: enrolling automatically as the computer account '" << field(ae, "os_account")
              << "'";
    if (!field(ae, "error").empty())
      std::cout << "; the last attempt failed (" << field(ae, "error") << "), next attempt at "
                << field(ae, "next_attempt_at");
  } else if (auth == "sign_in_needed") {
    std::cout << "SIGN-IN NEEDED (" << field(y, "auth_problem")
              << "); records stay queued. Run `workmonitor-agent login` or `enroll --token`";
  } else {
    std::cout << "not signed in. Run `workmonitor-agent login` or `enroll --token`";
  }
  std::cout << "\n";
  if (y.value("backing_off", false)) {
    std::cout << "Sync: " << (y.value("online", true) ? "server trouble" : "offline") << " (" << field(y, "last_error")
              << "); next retry at " << field(y, "next_retry_at") << "\n";
  }
  std::cout << "Last upload: " << (field(y, "last_upload_at").empty() ? "none yet" : field(y, "last_upload_at"))
            << "\n";
  if (!field(y, "profile").empty()) std::cout << "Company profile: " << field(y, "profile") << "\n";
  if (!field(y, "profile_problem").empty())
    std::cout << "Company profile rejected (the last good one stays): " << field(y, "profile_problem") << "\n";
  if (y.contains("recent_quarantine"))
    for (const auto& q : y["recent_quarantine"])
      std::cout << "Quarantined: " << field(q, "kind") << " " << field(q, "id") << ": " << field(q, "reason") << "\n";
}

// Starts a sync job on the agent and polls it until it answers (the agent never blocks its loop on the
// network, so the reply to login/enroll/logout/sync is a job number).
int runJob(const Globals& g, const std::string& cmd, const json& args, json* result) {
  json started;
  if (int rc = call(g, cmd, args, &started); rc != 0) return rc;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline) {
    json st;
    if (int rc = call(g, "sync_job", {{"job", started.value("job", int64_t{0})}}, &st); rc != 0) return rc;
    if (st.value("done", false)) {
      *result = st.value("result", json::object());
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::cerr << "workmonitor-agent: no answer from the agent within 3 minutes\n";
  return kExitError;
}

// A line from the terminal without echo (a password), or a plain line when stdin is not a terminal.
bool readSecretLine(const std::string& prompt, std::string* out) {
  const bool tty = ::isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    std::cerr << prompt << std::flush;
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  const bool ok = static_cast<bool>(std::getline(std::cin, *out));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::cerr << "\n";
  }
  if (!out->empty() && out->back() == '\r') out->pop_back();
  return ok && !out->empty();
}

// [from, to) in unix ms for a local calendar day ("" = today).
bool dayRange(const std::string& day, int64_t* from, int64_t* to) {
  std::tm tm{};
  if (day.empty()) {
    const std::time_t now = std::time(nullptr);
    localtime_r(&now, &tm);
  } else {
    int y = 0, m = 0, d = 0;
    char extra = 0;
    if (std::sscanf(day.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
      return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
  }
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;
  std::tm next = tm;
  next.tm_mday += 1;
  *from = static_cast<int64_t>(std::mktime(&tm)) * 1000;
  *to = static_cast<int64_t>(std::mktime(&next)) * 1000;
  return *from > 0 && *to > *from;
}

}  // namespace

int main(int argc, char** argv) {
  // A fixed mmap threshold: buffers of 128 KiB and more (a screenshot's JPEG, thumbnails) are mmapped and go back
  // to the system when freed. Left dynamic, glibc raises the threshold after the first such free and then keeps
  // those buffers in the heap for good (measured by bench/footprint).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CLI::App app{"WorkMonitor agent: tracks time, idle periods, breaks and app usage for the signed-in user"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--state-dir", g.state_dir, "State directory (default $XDG_STATE_HOME/workmonitor)");
  app.add_option("--socket", g.socket, "Control socket (default $XDG_RUNTIME_DIR/workmonitor/agent.sock)");
  app.add_option("--config", g.config, "Settings file (default $XDG_CONFIG_HOME/workmonitor/agent.json)");

  bool local_only = false, quiet = false, service = false;
  std::string server, ca_bundle;
  auto* run = app.add_subcommand("run", "Run the agent in the foreground (the daemon)");
  run->add_flag("--local-only", local_only, "Keep records on this machine only (no server)");
  run->add_option("--server", server, "workmonitor-server URL, e.g. https://wm.example.com")
      ->envname("WORKMONITOR_SERVER");
  run->add_option("--ca-bundle", ca_bundle, "Extra CA certificates (PEM) for a server with a private CA")
      ->envname("WORKMONITOR_CA_BUNDLE");
  run->add_flag("--quiet", quiet, "Log to the log file only, not to stderr");
  run->add_flag("--service", service,
                "Service mode: started by the OS service manager for the session (systemd user unit), no tray "
                "needed; the machine policy configures it");

  auto* status = app.add_subcommand("status", "What the agent is doing now");
  status->add_flag("--json", g.json_out);

  std::string project, task, note;
  auto* start = app.add_subcommand("start", "Start the timer");
  start->add_option("--project", project, "Project id");
  start->add_option("--task", task, "Task id");
  start->add_option("--note", note, "What you are working on");

  auto* stop = app.add_subcommand("stop", "Stop the timer");

  std::string break_action;
  auto* brk = app.add_subcommand("break", "Take or end a break");
  brk->add_option("action", break_action, "start or end")->required()->check(CLI::IsMember({"start", "end"}));

  std::string decision, idle_id;
  auto* idle = app.add_subcommand("idle", "Decide what happens to the idle time you just came back from");
  idle->add_option("decision", decision, "keep, discard, discard-continue or break")
      ->required()
      ->check(CLI::IsMember({"keep", "discard", "discard-continue", "discard_continue", "break"}));
  idle->add_option("--id", idle_id, "The idle period's id (from `status --json`)");

  std::string day;
  auto* report = app.add_subcommand("report", "What was recorded today (or on --day)");
  report->add_option("--day", day, "Local date, YYYY-MM-DD");
  report->add_flag("--json", g.json_out);

  auto* doctor = app.add_subcommand("doctor", "Check what works on this machine");
  doctor->add_flag("--json", g.json_out);

  std::string email, enroll_token;
  auto* login = app.add_subcommand("login", "Sign in to the server (password from a prompt, or stdin when piped)");
  login->add_option("--email", email, "Your email (asked for when missing)");
  auto* enroll = app.add_subcommand("enroll", "Register this machine with an enrolment token from your admin");
  enroll->add_option("--token", enroll_token, "The enrolment token")->required();
  auto* logout = app.add_subcommand("logout", "Sign out and forget the stored credential");
  auto* sync_now = app.add_subcommand("sync", "Upload what is queued now");

  auto* watch = app.add_subcommand("watch", "Print the agent's events as JSON lines until interrupted");
  auto* version = app.add_subcommand("version", "Print the version");
  bool consent_grant = false, consent_decline = false;
  auto* consent = app.add_subcommand("consent", "What is monitored, and your answer (--grant or --decline)");
  auto* grant_opt = consent->add_flag("--grant", consent_grant, "Agree to what is listed");
  consent->add_flag("--decline", consent_decline, "Decline: nothing but the timer runs, and the timer stays off")
      ->excludes(grant_opt);
  consent->add_flag("--json", g.json_out);
  std::string tab_browser, tab_url, tab_title;
  bool tab_incognito = false;
  auto* tab = app.add_subcommand("tab", "Report a browser's active tab (what the browser extension's host sends)");
  tab->add_option("--browser", tab_browser, "chrome, chromium, firefox, edge, ...")->required();
  tab->add_option("--url", tab_url, "The tab's URL (only scheme, host and path are ever stored)");
  tab->add_option("--title", tab_title, "The tab's title");
  tab->add_flag("--incognito", tab_incognito, "A private window: never recorded");
  tab->add_flag("--json", g.json_out);

  wm::agent::BrowserHostCli browser_host;
  auto* browser_host_cmd = wm::agent::addBrowserHostCommand(app, browser_host);

  CLI11_PARSE(app, argc, argv);
  if (*browser_host_cmd) return wm::agent::runBrowserHost(browser_host);  // files only: no agent needed

  if (*run) {
    wm::agent::DaemonOptions o;
    o.paths = paths(g);
    o.local_only = local_only || server.empty();
    o.log_to_stderr = !quiet;
    o.local_only_requested = local_only;
    o.service_mode = service;
    wm::agent::SyncServiceOptions so;
    if (!o.local_only) {
      so.server_url = server;
      if (!ca_bundle.empty()) so.ca_bundle = ca_bundle;
      so.secrets_dir = o.paths.state_dir / "secrets";
    }
    return wm::agent::runDaemon(o, so);
  }
  if (*version) {
    std::cout << "workmonitor-agent " << WM_VERSION << " (control protocol " << wm::agent::protocol::kVersion << ")\n";
    return 0;
  }
  json out;
  int rc = 0;
  if (*status) {
    if ((rc = call(g, "status", json::object(), &out)) != 0) return rc;
    if (g.json_out)
      std::cout << out.dump(2) << "\n";
    else
      printStatus(out);
  } else if (*start) {
    if ((rc = call(g, "start", {{"project_id", project}, {"task_id", task}, {"note", note}}, &out)) != 0) return rc;
    printStatus(out);
  } else if (*stop) {
    if ((rc = call(g, "stop", json::object(), &out)) != 0) return rc;
    printStatus(out);
  } else if (*brk) {
    if ((rc = call(g, break_action == "start" ? "break_start" : "break_end", json::object(), &out)) != 0) return rc;
    printStatus(out);
  } else if (*idle) {
    if (decision == "discard-continue") decision = "discard_continue";
    if ((rc = call(g, "idle_decision", {{"decision", decision}, {"idle_id", idle_id}}, &out)) != 0) return rc;
    printStatus(out);
  } else if (*report) {
    int64_t from = 0, to = 0;
    if (!dayRange(day, &from, &to)) {
      std::cerr << "workmonitor-agent: --day must be a date like 2026-11-25\n";
      return 2;
    }
    if ((rc = call(g, "report", {{"from_ms", from}, {"to_ms", to}}, &out)) != 0) return rc;
    if (g.json_out)
      std::cout << out.dump(2) << "\n";
    else
      std::cout << wm::agent::formatReport(out);
  } else if (*doctor) {
    rc = call(g, "doctor", json::object(), &out);
    if (rc == kExitNotRunning) {
      std::cout << "agent: not running (start it with `workmonitor-agent run`)\n";
      std::cout << "DISPLAY: " << (std::getenv("DISPLAY") ? std::getenv("DISPLAY") : "(not set: no X display)") << "\n";
      return rc;
    }
    if (rc != 0) return rc;
    if (g.json_out) {
      std::cout << out.dump(2) << "\n";
    } else {
      bool all_ok = true;
      for (const auto& c : out["checks"]) {
        all_ok = all_ok && c.value("ok", false);
        std::cout << (c.value("ok", false) ? "[ok]   " : "[FAIL] ") << field(c, "check") << ": " << field(c, "detail")
                  << "\n";
      }
      // Which layer set each value in force (the ids of `settings`: policy, profile, user, default).
      if (out.contains("sources") && out["sources"].is_object() && out.contains("config")) {
        std::cout << "Settings (value, set by):\n";
        for (const auto& [key, src] : out["sources"].items()) {
          const std::string id = src.is_string() ? src.get<std::string>() : "";
          const char* name = id == "policy"    ? "machine policy"
                             : id == "profile" ? "company profile"
                             : id == "user"    ? "agent.json"
                                               : "default";
          std::cout << "  " << key << " = " << out["config"].value(key, json()).dump() << " (" << name << ")\n";
        }
      }
      return all_ok ? 0 : kExitError;
    }
  } else if (*login) {
    if (email.empty()) {
      if (::isatty(STDIN_FILENO)) std::cerr << "Email: " << std::flush;
      if (!std::getline(std::cin, email) || email.empty()) {
        std::cerr << "workmonitor-agent: an email is needed (--email or on stdin)\n";
        return 2;
      }
    }
    std::string password;
    if (!readSecretLine("Password: ", &password)) {
      std::cerr << "workmonitor-agent: a password is needed\n";
      return 2;
    }
    rc = runJob(g, "login", {{"email", email}, {"password", password}}, &out);
    std::fill(password.begin(), password.end(), '\0');
    if (rc != 0) return rc;
    std::cout << "Signed in as " << field(out.value("user", json::object()), "email") << "\n";
  } else if (*enroll) {
    if ((rc = runJob(g, "enroll", {{"token", enroll_token}}, &out)) != 0) return rc;
    std::cout << "Enrolled as device " << field(out, "device_id") << "\n";
  } else if (*logout) {
    if ((rc = runJob(g, "logout", json::object(), &out)) != 0) return rc;
    std::cout << "Signed out; queued records stay on this machine until the next sign-in\n";
  } else if (*sync_now) {
    if ((rc = runJob(g, "sync", json::object(), &out)) != 0) return rc;
    std::cout << "Uploaded " << out.value("uploaded", 0) << " records; " << out.value("pending", 0) << " still queued, "
              << out.value("quarantined", 0) << " quarantined\n";
  } else if (*consent) {
    if ((rc = call(g, "status", json::object(), &out)) != 0) return rc;
    const json c = out.value("consent", json::object());
    if (consent_grant || consent_decline) {
      json args{{"decision", consent_grant ? "grant" : "decline"}, {"version", c.value("version", "")}};
      if ((rc = call(g, "consent", args, &out)) != 0) return rc;
    }
    const json now = out.value("consent", c);
    if (g.json_out) {
      std::cout << now.dump(2) << "\n";
    } else {
      std::cout << "What the company's settings collect:\n";
      for (const auto& item : now.value("collects", json::array()))
        std::cout << "  - " << field(item, "category") << ": " << field(item, "detail") << "\n";
      std::cout << (now.value("required", false) ? "Your answer is needed: `workmonitor-agent consent --grant` or "
                                                   "`--decline`.\n"
                                                 : "Answered: " + now.value("decision", std::string("-")) + "\n");
    }
  } else if (*tab) {
    json args{{"browser", tab_browser}, {"url", tab_url}, {"title", tab_title}, {"incognito", tab_incognito}};
    if ((rc = call(g, "tab", args, &out)) != 0) return rc;
    if (g.json_out)
      std::cout << out.dump() << "\n";
    else
      std::cout << (out.value("recording", false) ? "recording" : "not recorded: " + field(out, "reason")) << "\n";
  } else if (*watch) {
    auto client = ControlClient::connect(paths(g).socket);
    if (!client) {
      std::cerr << "workmonitor-agent: " << client.error().message << "\n";
      return kExitNotRunning;
    }
    if (auto r = client->call("subscribe"); !r) {
      std::cerr << "workmonitor-agent: " << r.error().message << "\n";
      return kExitError;
    }
    std::cout << "{\"event\":\"subscribed\"}" << std::endl;
    for (;;) {
      auto ev = client->nextEvent(wm::Millis(60000));
      if (!ev) {
        std::cerr << "workmonitor-agent: " << ev.error().message << "\n";
        return kExitError;
      }
      if (*ev) std::cout << (*ev)->dump() << std::endl;
    }
  }
  return 0;
}
