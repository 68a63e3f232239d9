// The rules of the site and title settings, shared by the agent's config, company profiles and machine policy
// (and, through wm_agent_settings, the server's profile editor): which sites an excluded_sites entry covers,
// what a valid entry is, and what of an address in a title is kept. No I/O and no platform code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wm::agent {

/// Without the blanks (spaces, tabs, newlines) at either end.
std::string_view blankTrimmed(std::string_view s);
/// ASCII lower case (host names, browser and app names).
std::string asciiLower(std::string_view s);

/// An `excluded_sites` entry ("example.com", "*.example.com") matches that host and every subdomain, never a
/// look-alike suffix ("badexample.com"); case, surrounding blanks and a trailing dot do not matter. The
/// extension applies the same rule before anything leaves the browser (extension/src/core.js siteMatches);
/// tests/data/excluded_sites_cases.json holds the cases both are tested against.
bool siteMatches(std::string_view host, std::string_view entry);
bool siteExcluded(std::string_view host, const std::vector<std::string>& entries);
/// The setting's validator (agent config, profiles, policy): a host name of letters, digits, '-', '_' and
/// '.', optionally "*." first, at most 253 bytes; no scheme, path, port or blank. Empty: valid, else why not.
std::string siteEntryProblem(std::string_view entry);

/// A window title with the query string and fragment cut from every address in it ("host/path?q=1#x" ->
/// "host/path"): browsers show a page's address as the title while it loads, and app usage must not keep
/// what website usage never does.
std::string titleWithoutUrlQueries(std::string_view title);

}  // namespace wm::agent
