// Which rules select a flow (SPEC.md "Policy file": a flow is judged by the rules of its
// direction whose selector matches its source, destination and port), without scanning the
// rules: a hash map from (direction, L7 protocol, port, transport) to the rules listing that
// port, and within it two CIDR tries giving the rules whose source (destination) prefixes
// contain the address. A rule without source (destination) CIDRs stores /0 of both families.
//
// interfaces, cgroups and uids narrow the redirection in the datapath only; the proxy never
// sees them, so they play no part here.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "policy/cidr_trie.h"
#include "policy/compiled_policy.h"
#include "policy/model.h"

namespace portcullis::policy {

class SelectorIndex {
 public:
  // Rules are added with their index in the policy.
  void add(uint32_t index, const Rule& rule);
  // Call once after the last add().
  void freeze();

  // Sets `rules` to the indexes of the rules selecting the flow, ascending.
  void match(const Flow& flow, L7Protocol l7, std::vector<uint32_t>& rules) const;

 private:
  struct Group {
    CidrTrie sources;
    CidrTrie destinations;
  };
  static uint64_t key(Direction d, L7Protocol l7, uint16_t port, Protocol transport);

  std::unordered_map<uint64_t, Group> groups_;
};

}  // namespace portcullis::policy
