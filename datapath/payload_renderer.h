// Turns a DatapathPlan into iptables-restore --noflush payloads (SPEC.md "Datapath layout"),
// one per family. Deterministic: the same plan and state give the same bytes (golden tests).
//
// Every payload declares the chains it refills (":CHAIN - [0:0]" creates a missing chain and
// flushes an existing one inside the same transaction), so replacing a previous run's rules
// never opens a gap in which traffic is not redirected.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "datapath/datapath_plan.h"
#include "datapath/iptables_state.h"

namespace portcullis::datapath {

struct OurChain {
  std::string_view table;
  std::string_view name;
  std::string_view builtin;  // the built-in chain that jumps to it
};

inline constexpr std::array<OurChain, 4> kOurChains{{
    {"raw", "PORTCULLIS_PRE_raw", "PREROUTING"},
    {"raw", "PORTCULLIS_OUTPUT_raw", "OUTPUT"},
    {"mangle", "PORTCULLIS_PRE_mangle", "PREROUTING"},
    {"mangle", "PORTCULLIS_OUTPUT_mangle", "OUTPUT"},
}};

// The one rule in chain.builtin that jumps to chain.name (without "-A BUILTIN ").
std::string jumpSpec(const OurChain& chain);

// The desired rules of each of kOurChains, in order, as "-A CHAIN spec" lines.
struct ChainContent {
  OurChain chain;
  std::vector<std::string> rules;
};
std::vector<ChainContent> renderChains(const DatapathPlan& plan, Family family);

// A rule to remove, as iptables-save printed it.
struct TableRule {
  std::string table;
  IptablesRule rule;
};

// A partial change: refill some of our chains, insert missing jumps, delete given rules.
struct PayloadEdits {
  std::vector<std::string_view> refill;  // names from kOurChains
  std::vector<std::string_view> add_jumps;
  std::vector<TableRule> deletes;
  std::vector<TableRule> drop_chains;  // foreign chains of ours: flushed and deleted (rule.chain)
};
std::string renderEdits(const DatapathPlan& plan, Family family, const PayloadEdits& edits);

// Full installation over whatever `current` holds: our chains refilled, jumps inserted where
// missing, duplicate jumps and every other leftover of ours removed. An empty `current`
// gives the payload of a fresh install (used by --dry-run and the golden tests).
std::string renderInstall(const DatapathPlan& plan, Family family, const IptablesState& current);

// Removes everything of ours in `current`; nullopt when there is nothing.
std::optional<std::string> renderRemoval(const IptablesState& current);

}  // namespace portcullis::datapath
