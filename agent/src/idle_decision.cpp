// The idle decisions' names, as the config, profiles, the control protocol and the records spell them.
#include <array>
#include <utility>

#include "workmonitor/agent/tracker.h"

namespace wm::agent {

namespace {

constexpr std::array<std::pair<IdleDecision, const char*>, 5> kDecisionNames{{
    {IdleDecision::kKeep, "keep"},
    {IdleDecision::kDiscard, "discard"},
    {IdleDecision::kDiscardContinue, "discard_continue"},
    {IdleDecision::kBreak, "break"},
    {IdleDecision::kReassign, "reassign"},
}};

}  // namespace

const char* decisionName(IdleDecision d) {
  for (const auto& [k, n] : kDecisionNames)
    if (k == d) return n;
  return "keep";
}

std::vector<IdleDecision> allIdleDecisions() {
  std::vector<IdleDecision> all;
  for (const auto& [k, n] : kDecisionNames) all.push_back(k);
  return all;
}

std::optional<IdleDecision> decisionFromName(const std::string& name) {
  for (const auto& [k, n] : kDecisionNames)
    if (name == n) return k;
  if (name == "discard-continue") return IdleDecision::kDiscardContinue;
  return std::nullopt;
}

}  // namespace wm::agent
