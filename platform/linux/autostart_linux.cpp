// XDG autostart (freedesktop Desktop Application Autostart Specification): a desktop entry in
// $XDG_CONFIG_HOME/autostart (default ~/.config/autostart) that the session starts at login.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "workmonitor/platform/autostart.h"

namespace wm::platform {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEntryName = "workmonitor-tray.desktop";

fs::path autostartDir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg == '/') return fs::path(xdg) / "autostart";  // the spec: relative values are ignored
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && *home != '\0' ? home : "/tmp") / ".config" / "autostart";
}

// Exec= quoting (Desktop Entry Specification): a path with reserved characters goes in double quotes, with
// `"`, `` ` ``, `$` and `\` escaped by a backslash.
std::string quoteExec(const std::string& arg) {
  if (arg.find_first_of(" \t\n\"'\\><~|&;$*?#()`") == std::string::npos && !arg.empty()) return arg;
  std::string out = "\"";
  for (char c : arg) {
    if (c == '"' || c == '`' || c == '$' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class LinuxAutostart final : public Autostart {
 public:
  Result<void> enable(const fs::path& executable, const std::string& args) override {
    if (executable.empty() || !executable.is_absolute())
      return fail(Errc::kInvalidInput,
                  "autostart needs the program's absolute path, not '" + executable.string() + "'");
    if (args.find('\n') != std::string::npos) return fail(Errc::kInvalidInput, "autostart arguments are one line");
    const fs::path dir = autostartDir();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return fail(Errc::kIo, "cannot create " + dir.string() + ": " + ec.message());
    std::ostringstream entry;
    entry << "[Desktop Entry]\n"
          << "Type=Application\n"
          << "Name=WorkMonitor\n"
          << "Comment=Time tracking: the WorkMonitor tray\n"
          << "Exec=" << quoteExec(executable.string()) << (args.empty() ? "" : " ") << args << "\n"
          << "Icon=workmonitor\n"
          << "Terminal=false\n"
          << "X-GNOME-Autostart-enabled=true\n";
    // Written next to its final name and renamed over it, so a crash never leaves half an entry.
    const fs::path target = dir / kEntryName;
    const fs::path tmp = dir / (std::string(kEntryName) + ".tmp");
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << entry.str();
      out.flush();
      if (!out) return fail(Errc::kIo, "cannot write " + tmp.string());
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return fail(Errc::kIo, "cannot write " + target.string());
    }
    return {};
  }

  Result<void> disable() override {
    std::error_code ec;
    fs::remove(autostartDir() / kEntryName, ec);
    if (ec) return fail(Errc::kIo, "cannot remove the autostart entry: " + ec.message());
    return {};
  }

  Result<bool> isEnabled() override {
    std::ifstream in(autostartDir() / kEntryName);
    if (!in) return false;
    // A user who switched it off in the desktop's settings gets Hidden=true or X-GNOME-Autostart-enabled=false.
    std::string line;
    while (std::getline(in, line)) {
      if (line == "Hidden=true" || line == "X-GNOME-Autostart-enabled=false") return false;
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Autostart> makeAutostart() { return std::make_unique<LinuxAutostart>(); }

}  // namespace wm::platform
