// The Linux secret store: a 0600 file per key in a 0700 directory, written atomically, trusted only when
// it is private to this user.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "outbox_test_util.h"
#include "workmonitor/platform/secrets.h"

namespace wm::platform {
namespace {

namespace fs = std::filesystem;
using sync::testing::TempDir;

mode_t modeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(FileSecretStore, PutGetEraseWithPrivateModes) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "secrets";
  auto store = makeSecretStore(dir);
  EXPECT_EQ(store->get("refresh_token").value(), std::nullopt);
  ASSERT_TRUE(store->put("refresh_token", "s3cret\nwith newline"));
  EXPECT_EQ(store->get("refresh_token").value(), "s3cret\nwith newline");
  EXPECT_EQ(modeOf(dir), 0700u);
  EXPECT_EQ(modeOf(dir / "refresh_token.secret"), 0600u);
  ASSERT_TRUE(store->put("refresh_token", "rotated"));
  EXPECT_EQ(store->get("refresh_token").value(), "rotated");
  // Atomic replacement leaves no temporary files behind.
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);
  ASSERT_TRUE(store->erase("refresh_token"));
  EXPECT_EQ(store->get("refresh_token").value(), std::nullopt);
  EXPECT_TRUE(store->erase("refresh_token"));  // erasing nothing is fine
  EXPECT_NE(store->describe().find(dir.string()), std::string::npos);
}

TEST(FileSecretStore, WritesPrivateFilesWhateverTheUmask) {
  TempDir tmp;
  const mode_t old = ::umask(0);
  auto store = makeSecretStore(tmp.path() / "s");
  auto ok = store->put("k", "v");
  ::umask(old);
  ASSERT_TRUE(ok);
  EXPECT_EQ(modeOf(tmp.path() / "s" / "k.secret"), 0600u);
}

TEST(FileSecretStore, RefusesAFileOthersCanRead) {
  TempDir tmp;
  auto store = makeSecretStore(tmp.path());
  ASSERT_TRUE(store->put("k", "v"));
  ASSERT_EQ(::chmod((tmp.path() / "k.secret").c_str(), 0640), 0);
  auto r = store->get("k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorrupt);
  EXPECT_NE(r.error().message.find("0600"), std::string::npos);
  ASSERT_EQ(::chmod((tmp.path() / "k.secret").c_str(), 0604), 0);
  EXPECT_FALSE(store->get("k"));
  // Writing again replaces it with a private file.
  ASSERT_TRUE(store->put("k", "v2"));
  EXPECT_EQ(store->get("k").value(), "v2");
}

TEST(FileSecretStore, RefusesAFileOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  TempDir tmp;
  auto store = makeSecretStore(tmp.path());
  ASSERT_TRUE(store->put("k", "v"));
  ASSERT_EQ(::chown((tmp.path() / "k.secret").c_str(), 65534, 65534), 0);
  auto r = store->get("k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorrupt);
}

TEST(FileSecretStore, RefusesASymlinkAndBadKeys) {
  TempDir tmp;
  { std::ofstream(tmp.path() / "elsewhere") << "planted"; }
  ::chmod((tmp.path() / "elsewhere").c_str(), 0600);
  fs::create_symlink(tmp.path() / "elsewhere", tmp.path() / "k.secret");
  auto store = makeSecretStore(tmp.path());
  EXPECT_FALSE(store->get("k"));
  EXPECT_FALSE(store->put("../escape", "v"));
  EXPECT_FALSE(store->put("", "v"));
  EXPECT_FALSE(store->get("a/b"));
  EXPECT_FALSE(store->put(".hidden", "v"));
}

}  // namespace
}  // namespace wm::platform
