// The writer the crash-safety test kills: it puts records (and newer revisions of some of them) through a
// real Outbox as fast as a busy agent would, and prints "A <id> <revision>" for each one only from its done
// callback, i.e. after the commit that made it durable. Anything printed is therefore a promise the database
// must keep after SIGKILL.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "workmonitor/common/uuid.h"
#include "workmonitor/sync/outbox.h"

namespace {

void emit(const std::string& line) {
  // One write(2) per line: lines below PIPE_BUF reach the pipe whole even when the process dies right after.
  const std::string l = line + "\n";
  (void)!::write(1, l.data(), l.size());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wm;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <db> <seed>\n", argv[0]);
    return 2;
  }
  SystemClock clock;
  UuidV7Generator ids(clock);
  sync::OutboxOptions options;
  options.path = argv[1];
  options.commit_interval = std::chrono::milliseconds(10);  // many commits per run: many kills land in one
  auto outbox = sync::Outbox::open(options, clock);
  if (!outbox) {
    std::fprintf(stderr, "open failed: %s\n", outbox.error().message.c_str());
    return 2;
  }
  for (const auto& inc : (*outbox)->startupIncidents()) emit("INCIDENT " + inc.what + " " + inc.detail);

  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  const api::RecordKind kinds[] = {api::RecordKind::kAppUsage, api::RecordKind::kTimeEntry, api::RecordKind::kActivity,
                                   api::RecordKind::kScreenshot};
  std::vector<api::Record> mine;  // records of this run, so some get newer revisions
  for (int64_t n = 0;; ++n) {
    for (int i = 0; i < 8; ++i) {
      api::Record r;
      if (!mine.empty() && rng() % 4 == 0) {
        api::Record& m = mine[rng() % mine.size()];
        ++m.revision;
        m.end_ms = m.start_ms + m.revision * 1000;
        m.duration_ms = *m.end_ms - m.start_ms;
        m.data["rev"] = m.revision;
        r = m;
      } else {
        r.id = ids.next();
        r.kind = kinds[rng() % 4];
        r.start_ms = toUnixMs(clock.wall());
        r.data = {{"n", n}, {"pad", std::string(rng() % 200, 'p')}};
        if (mine.size() < 64) mine.push_back(r);
      }
      (*outbox)->put(r, [id = r.id, rev = r.revision](Result<void> res) {
        if (res) emit("A " + id + " " + std::to_string(rev));
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}
