// Holds the desired datapath and puts back what drifted (DESIGN.md: "repairs differences with
// the smallest change"): a missing jump is re-inserted alone, a chain whose rules differ is
// refilled alone, a missing ip rule or route is re-added. Each repair is logged and counted.
//
// iptables-save does not print rules as they were written ("! --syn" comes back as
// "-m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN"), so the comparison is against the form read back
// right after installation, not against the rendered text.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "datapath/datapath.h"
#include "datapath/iptables_state.h"
#include "datapath/payload_renderer.h"
#include "datapath/ruleset_generation.h"

namespace portcullis::datapath {

// One family's installed state as iptables-save prints it.
struct InstalledForm {
  std::map<std::string, std::vector<std::string>> chains;  // our chain -> its "-A" lines
  std::map<std::string, std::string> jumps;                // our chain -> its jump's spec
  // What was read back right after installing.
  static InstalledForm readBack(const IptablesState& saved);
};

// The repair of one family: edits to apply (empty when nothing drifted) and what they fix.
struct IptablesRepair {
  PayloadEdits edits;
  std::vector<std::string> findings;
  bool needed() const { return !findings.empty(); }
};
IptablesRepair decideRepair(const InstalledForm& desired, const IptablesState& actual);

class Reconciler {
 public:
  // With `generation` (nft backend only), a check whose ruleset generation has not moved since
  // the last clean comparison skips iptables-save; rules and routes are always compared.
  Reconciler(const Kernel& kernel, DatapathPlan plan, RulesetGeneration* generation = nullptr)
      : kernel_(kernel), plan_(std::move(plan)), generation_(generation) {}

  // Reads back the canonical form of what was just installed (or updated to `plan`).
  Result<void> learn();
  Result<void> learn(DatapathPlan plan);

  // Reads the actual state, repairs drift; returns the number of repairs made.
  Result<size_t> check();

  uint64_t repairs() const { return repairs_.load(std::memory_order_relaxed); }
  const DatapathPlan& plan() const { return plan_; }

 private:
  Result<size_t> checkIptables(Family family);
  Result<size_t> checkRouting();
  Kernel kernel_;
  DatapathPlan plan_;
  std::map<Family, InstalledForm> installed_;
  RulesetGeneration* generation_;
  std::optional<uint32_t> compared_generation_;  // the ruleset last found free of drift
  std::atomic<uint64_t> repairs_{0};
};

}  // namespace portcullis::datapath
