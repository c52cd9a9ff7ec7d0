// The rules of the raw and mangle tables read straight from nf_tables over netlink, without
// iptables-save. iptables-nft-save spends about 40 ms of wall time on 1,000 rules (it builds
// the whole xtables cache and prints every rule), while the kernel's own dump of them takes a
// few milliseconds; the reconciler uses this to tell "nothing drifted" quickly on the nft
// backend, and falls back to iptables-save to decide a repair.
//
// A rule is reduced to a canonical byte string of what the kernel evaluates: its expressions
// and userdata (where iptables-nft keeps the comment), with the handle, the position and the
// counter values left out, so traffic does not look like drift. Legacy tables are not nf_tables
// and are not seen here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/ip_address.h"
#include "common/result.h"
#include "datapath/iptables_state.h"

namespace portcullis::datapath {

// One NFT_MSG_NEWRULE message (its attributes, after the nfgenmsg): table, chain and the
// canonical spec. nullopt when an attribute overruns the message.
struct DumpedRule {
  std::string table;
  IptablesRule rule;
};
std::optional<DumpedRule> parseNftRule(std::string_view attributes);

class NftRuleDump {
 public:
  virtual ~NftRuleDump() = default;
  // Tables "raw" and "mangle" of `family` (both always present, possibly empty): their chains,
  // and their rules in order with `spec` holding the canonical bytes instead of text. An error
  // when the dump fails or was interrupted by a concurrent change.
  virtual Result<IptablesState> read(Family family) = 0;
};

// One NETLINK_NETFILTER socket per read.
class NetlinkNftRuleDump final : public NftRuleDump {
 public:
  Result<IptablesState> read(Family family) override;
};

}  // namespace portcullis::datapath
