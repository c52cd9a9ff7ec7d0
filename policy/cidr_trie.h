// Longest-prefix lookup of CIDR prefixes, IPv4 and IPv6, each prefix carrying a set of values
// (rule indexes). A path-compressed binary trie: a lookup visits at most one node per stored
// prefix length on the address's path, whatever the number of prefixes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/ip_address.h"

namespace portcullis::policy {

class CidrTrie {
 public:
  CidrTrie();

  // A value may be inserted under several prefixes, and a prefix may hold several values.
  void insert(const Cidr& prefix, uint32_t value);
  // Sorts and deduplicates each prefix's values; call once after the last insert().
  void freeze();

  // Calls visit(std::span<const uint32_t>) for every stored prefix that contains the address,
  // shortest prefix first.
  template <class Visit>
  void forEachMatch(const IpAddress& address, Visit&& visit) const;

  // The values of the longest stored prefix containing the address; empty when none does.
  std::span<const uint32_t> longestMatch(const IpAddress& address) const;

  size_t nodeCount() const { return v4_.size() + v6_.size(); }

 private:
  struct Node {
    Cidr prefix;
    int32_t child[2] = {-1, -1};
    std::vector<uint32_t> values;
  };
  // Node 0 of each family is the /0 root, present even when nothing was stored there.
  std::vector<Node>& nodes(Family f) { return f == Family::kV4 ? v4_ : v6_; }
  const std::vector<Node>& nodes(Family f) const { return f == Family::kV4 ? v4_ : v6_; }

  std::vector<Node> v4_;
  std::vector<Node> v6_;
};

template <class Visit>
void CidrTrie::forEachMatch(const IpAddress& address, Visit&& visit) const {
  const std::vector<Node>& trie = nodes(address.family());
  int32_t at = 0;
  while (at >= 0) {
    const Node& node = trie[at];
    // Path compression skips bits, so a child's prefix must be checked in full.
    if (!node.prefix.contains(address)) return;
    if (!node.values.empty()) visit(std::span<const uint32_t>(node.values));
    if (node.prefix.prefixLength() == address.bitLength()) return;
    at = node.child[address.bit(node.prefix.prefixLength())];
  }
}

}  // namespace portcullis::policy
