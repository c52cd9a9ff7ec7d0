#include "policy/cidr_trie.h"

#include <algorithm>
#include <bit>

namespace portcullis::policy {
namespace {

// Number of leading bits a and b share, at most `limit`.
int commonPrefixLength(const IpAddress& a, const IpAddress& b, int limit) {
  const auto& x = a.bytes();
  const auto& y = b.bytes();
  int bits = 0;
  for (int i = 0; bits < limit; ++i, bits += 8) {
    const uint8_t diff = x[i] ^ y[i];
    if (diff != 0) return std::min(limit, bits + std::countl_zero(diff));
  }
  return limit;
}

}  // namespace

CidrTrie::CidrTrie() {
  v4_.push_back(Node{Cidr(IpAddress::v4(0), 0), {-1, -1}, {}});
  v6_.push_back(Node{Cidr(IpAddress::v6({}), 0), {-1, -1}, {}});
}

void CidrTrie::insert(const Cidr& prefix, uint32_t value) {
  std::vector<Node>& trie = nodes(prefix.family());
  const IpAddress& key = prefix.address();
  const int length = prefix.prefixLength();
  // Invariant: trie[at].prefix contains `prefix` (it is shorter or equal).
  int32_t at = 0;
  while (true) {
    if (trie[at].prefix.prefixLength() == length) {
      trie[at].values.push_back(value);
      return;
    }
    const int branch = key.bit(trie[at].prefix.prefixLength());
    const int32_t child = trie[at].child[branch];
    const auto fresh = static_cast<int32_t>(trie.size());
    if (child < 0) {
      trie.push_back(Node{prefix, {-1, -1}, {value}});
      trie[at].child[branch] = fresh;
      return;
    }
    const Cidr& child_prefix = trie[child].prefix;
    const int common = commonPrefixLength(child_prefix.address(), key,
                                          std::min(child_prefix.prefixLength(), length));
    if (common == child_prefix.prefixLength()) {
      at = child;
      continue;
    }
    // The child diverges from the new prefix (or is longer than it): a node at the common
    // prefix takes the child's place and becomes the parent of both.
    const int child_branch = child_prefix.address().bit(common);
    trie.push_back(Node{Cidr(key, common), {-1, -1}, {}});
    trie[fresh].child[child_branch] = child;
    trie[at].child[branch] = fresh;
    if (common == length) {
      trie[fresh].values.push_back(value);
    } else {
      trie.push_back(Node{prefix, {-1, -1}, {value}});
      trie[fresh].child[key.bit(common)] = fresh + 1;
    }
    return;
  }
}

void CidrTrie::freeze() {
  for (std::vector<Node>* trie : {&v4_, &v6_}) {
    for (Node& node : *trie) {
      std::sort(node.values.begin(), node.values.end());
      node.values.erase(std::unique(node.values.begin(), node.values.end()), node.values.end());
      node.values.shrink_to_fit();
    }
  }
}

std::span<const uint32_t> CidrTrie::longestMatch(const IpAddress& address) const {
  std::span<const uint32_t> longest;
  forEachMatch(address, [&](std::span<const uint32_t> values) { longest = values; });
  return longest;
}

}  // namespace portcullis::policy
