#include "workmonitor/agent/site_rules.h"

#include <algorithm>
#include <cctype>

namespace wm::agent {

namespace {

// Lower case, without a trailing dot (and for an entry, without a leading "*.").
std::string siteKey(std::string_view s, bool entry) {
  std::string out = asciiLower(blankTrimmed(s));
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (entry && out.starts_with("*.")) out.erase(0, 2);
  return out;
}

}  // namespace

std::string_view blankTrimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool siteMatches(std::string_view host, std::string_view entry) {
  const std::string h = siteKey(host, false), e = siteKey(entry, true);
  if (h.empty() || e.empty()) return false;
  return h == e || (h.size() > e.size() && h.ends_with(e) && h[h.size() - e.size() - 1] == '.');
}

bool siteExcluded(std::string_view host, const std::vector<std::string>& entries) {
  return std::any_of(entries.begin(), entries.end(), [&](const std::string& e) { return siteMatches(host, e); });
}

std::string siteEntryProblem(std::string_view entry) {
  std::string_view e = entry;
  if (e.starts_with("*.")) e.remove_prefix(2);
  if (e.empty()) return "a site must be a host name such as example.com";
  if (entry.size() > 253) return "a site name is at most 253 bytes";
  for (char ch : e) {
    const auto u = static_cast<unsigned char>(ch);
    if (!(std::isalnum(u) || ch == '-' || ch == '.' || ch == '_'))
      return "a site is a host name such as example.com or *.example.com, without scheme, port, path or blanks";
  }
  if (e.front() == '.' || e.find("..") != std::string_view::npos)
    return "a site name has no empty labels (\"..\" or a leading dot)";
  return {};
}

std::string titleWithoutUrlQueries(std::string_view title) {
  std::string out;
  out.reserve(title.size());
  size_t i = 0;
  while (i < title.size()) {
    const size_t end = std::min(title.find_first_of(" \t", i), title.size());
    std::string_view token = title.substr(i, end - i);
    const size_t cut = token.find_first_of("?#");
    // An address: a scheme, or a host (letters, digits, '-', '.', ':') followed by a '/' before the cut.
    bool address = false;
    if (cut != std::string_view::npos) {
      const std::string_view head = token.substr(0, cut);
      const size_t slash = head.find('/');
      address = head.find("://") != std::string_view::npos ||
                (slash != std::string_view::npos && slash > 0 &&
                 std::all_of(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(slash),
                             [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':';
                             }) &&
                 head.substr(0, slash).find('.') != std::string_view::npos);
    }
    out += address ? token.substr(0, cut) : token;
    if (end < title.size()) out += title[end];
    i = end + 1;
  }
  return out;
}

}  // namespace wm::agent
