// Holds the desired datapath and puts back what drifted (DESIGN.md: "repairs differences with
// the smallest change"): a missing jump is re-inserted alone, a chain whose rules differ is
// refilled alone, a missing ip rule or route is re-added. Each repair is logged and counted.
//
// iptables-save does not print rules as they were written ("! --syn" comes back as
// "-m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN"), so the comparison is against the form read back
// right after installation, not against the rendered text.
//
// On the nft backend, iptables-save costs about 40 ms of wall time per 1,000 rules; with an
// NftRuleDump the check first compares the kernel's own rule dump with the one learned next to
// the read-back (a few ms), and runs iptables-save only when that differs, to decide the repair.
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
#include "datapath/nft_rule_dump.h"
#include "datapath/payload_renderer.h"
#include "datapath/ruleset_generation.h"

namespace portcullis::datapath {

// One family's installed state as iptables-save prints it.
struct InstalledForm {
  std::map<std::string, std::vector<std::string>> chains;  // our chain -> its "-A" lines
  std::map<std::string, std::string> jumps;                // our chain -> its jump's spec
  // What was read back right after installing.
  static InstalledForm readBack(const IptablesState& saved);
  // The same form in the terms of an nf_tables dump taken at the same moment as `saved` (rules
  // matched by position); nullopt when the two do not line up.
  static std::optional<InstalledForm> inDump(const InstalledForm& read_back,
                                             const IptablesState& saved,
                                             const IptablesState& dumped);
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
  // With `dump` (nft backend only), a comparison reads the rules over netlink first.
  Reconciler(const Kernel& kernel, DatapathPlan plan, RulesetGeneration* generation = nullptr,
             NftRuleDump* dump = nullptr)
      : kernel_(kernel), plan_(std::move(plan)), generation_(generation), dump_(dump) {}

  // Reads back the canonical form of what was just installed (or updated to `plan`).
  Result<void> learn();
  Result<void> learn(DatapathPlan plan);

  // Reads the actual state, repairs drift; returns the number of repairs made.
  Result<size_t> check();

  uint64_t repairs() const { return repairs_.load(std::memory_order_relaxed); }
  const DatapathPlan& plan() const { return plan_; }
  // Whether a check of `family` starts with the nf_tables dump (it was learned).
  bool comparesDump(Family family) const { return dumped_.contains(family); }

 private:
  Result<size_t> checkIptables(Family family);
  Result<size_t> checkRouting();
  // Learns the dumped form of `family` from `saved` when a dump after it equals `before`.
  void learnDump(Family family, const IptablesState& saved, const IptablesState& before);
  Kernel kernel_;
  DatapathPlan plan_;
  std::map<Family, InstalledForm> installed_;
  RulesetGeneration* generation_;
  NftRuleDump* dump_;
  std::map<Family, InstalledForm> dumped_;       // families whose comparison starts with a dump
  std::optional<uint32_t> compared_generation_;  // the ruleset last found free of drift
  std::atomic<uint64_t> repairs_{0};
};

}  // namespace portcullis::datapath
