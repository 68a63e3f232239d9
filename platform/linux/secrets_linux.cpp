// SecretStore on Linux: one file per key, mode 0600, in the given directory (0700). libsecret needs a
// running Secret Service, which headless sessions (services, kiosks, CI) do not have, so the file store is
// what always works; it trusts only files that are the user's own and private.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>

#include "workmonitor/platform/secrets.h"

namespace wm::platform {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxSecretBytes = 64 * 1024;

std::string sysError(const std::string& what, const fs::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

bool validKey(const std::string& key) {
  if (key.empty() || key.size() > 128) return false;
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return key.front() != '.';
}

class FileSecretStore final : public SecretStore {
 public:
  explicit FileSecretStore(fs::path dir) : dir_(std::move(dir)) {}

  Result<void> put(const std::string& key, const std::string& secret) override {
    if (!validKey(key)) return fail(Errc::kInvalidInput, "secret key must be [A-Za-z0-9._-], got '" + key + "'");
    if (secret.size() > kMaxSecretBytes) return fail(Errc::kInvalidInput, "secret too large");
    if (auto d = ensureDir(); !d) return d;
    const fs::path target = fileOf(key);
    const fs::path tmp = dir_ / ("." + key + ".tmp" + std::to_string(std::random_device{}()));
    // O_EXCL + 0600 from the start: the secret is never in a file anyone else could open, not even briefly.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return fail(Errc::kIo, sysError("cannot create", tmp));
    size_t done = 0;
    while (done < secret.size()) {
      const ssize_t n = ::write(fd, secret.data() + done, secret.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string msg = sysError("cannot write", tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return fail(Errc::kIo, msg);
      }
      done += static_cast<size_t>(n);
    }
    // Durable before it replaces the old one: a crash leaves the old secret or the new one, never half.
    if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
      const std::string msg = sysError("cannot sync", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(Errc::kIo, msg);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
      const std::string msg = sysError("cannot replace", target);
      ::unlink(tmp.c_str());
      return fail(Errc::kIo, msg);
    }
    syncDir();
    return {};
  }

  Result<std::optional<std::string>> get(const std::string& key) override {
    if (!validKey(key)) return fail(Errc::kInvalidInput, "secret key must be [A-Za-z0-9._-], got '" + key + "'");
    const fs::path p = fileOf(key);
    const int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return std::optional<std::string>();
      return fail(Errc::kIo, sysError("cannot open", p));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const std::string msg = sysError("cannot stat", p);
      ::close(fd);
      return fail(Errc::kIo, msg);
    }
    // A secret someone else could have read is no longer secret, and one someone else owns could have been
    // planted: refuse both and say how to fix it.
    if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
      ::close(fd);
      return fail(Errc::kCorrupt, p.string() + " is not a private file of this user (it must be owned by uid " +
                                      std::to_string(::geteuid()) + " with mode 0600); remove it and sign in again");
    }
    if (st.st_size > static_cast<off_t>(kMaxSecretBytes)) {
      ::close(fd);
      return fail(Errc::kCorrupt, p.string() + " is too large to be a secret");
    }
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string msg = sysError("cannot read", p);
        ::close(fd);
        return fail(Errc::kIo, msg);
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > kMaxSecretBytes) break;
    }
    ::close(fd);
    return std::optional<std::string>(std::move(out));
  }

  Result<void> erase(const std::string& key) override {
    if (!validKey(key)) return fail(Errc::kInvalidInput, "secret key must be [A-Za-z0-9._-], got '" + key + "'");
    const fs::path p = fileOf(key);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return fail(Errc::kIo, sysError("cannot remove", p));
    syncDir();
    return {};
  }

  std::string describe() const override { return "file store " + dir_.string() + " (0600 files)"; }

 private:
  fs::path fileOf(const std::string& key) const { return dir_ / (key + ".secret"); }

  Result<void> ensureDir() {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return fail(Errc::kIo, "cannot create " + dir_.string() + ": " + ec.message());
    struct stat st {};
    if (::lstat(dir_.c_str(), &st) != 0) return fail(Errc::kIo, sysError("cannot stat", dir_));
    if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
      return fail(Errc::kIo, dir_.string() + " is not a directory of this user; refusing to keep secrets there");
    if ((st.st_mode & 077) != 0 && ::chmod(dir_.c_str(), 0700) != 0)
      return fail(Errc::kIo, sysError("cannot make private", dir_));
    return {};
  }

  void syncDir() const {
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

  fs::path dir_;
};

}  // namespace

std::unique_ptr<SecretStore> makeSecretStore(const std::filesystem::path& fallback_dir) {
  return std::make_unique<FileSecretStore>(fallback_dir);
}

}  // namespace wm::platform
