#include "policy/selector_index.h"

#include <algorithm>
#include <array>
#include <span>

namespace portcullis::policy {
namespace {

const std::array<Cidr, 2> kAnyAddress = {Cidr(IpAddress::v4(0), 0), Cidr(IpAddress::v6({}), 0)};

// A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d (RFC 4291 2.5.5.2); selectors
// write IPv4 prefixes, so judge it as the IPv4 address it is.
IpAddress unmapped(const IpAddress& a) {
  if (a.isV4()) return a;
  const auto& b = a.bytes();
  const bool mapped = std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; }) &&
                      b[10] == 0xff && b[11] == 0xff;
  if (!mapped) return a;
  return IpAddress::v4((uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) |
                       uint32_t{b[15]});
}

// The value sets of every prefix containing the address (their union is the answer).
size_t collectMatches(const CidrTrie& trie, const IpAddress& address,
                      std::vector<std::span<const uint32_t>>& spans) {
  spans.clear();
  size_t total = 0;
  trie.forEachMatch(address, [&](std::span<const uint32_t> values) {
    spans.push_back(values);
    total += values.size();
  });
  return total;
}

bool inAny(const std::vector<std::span<const uint32_t>>& spans, uint32_t value) {
  return std::any_of(spans.begin(), spans.end(), [&](std::span<const uint32_t> s) {
    return std::binary_search(s.begin(), s.end(), value);
  });
}

}  // namespace

uint64_t SelectorIndex::key(Direction d, L7Protocol l7, uint16_t port, Protocol transport) {
  return (uint64_t{static_cast<uint8_t>(d)} << 32) | (uint64_t{static_cast<uint8_t>(l7)} << 24) |
         (uint64_t{static_cast<uint8_t>(transport)} << 16) | port;
}

void SelectorIndex::add(uint32_t index, const Rule& rule) {
  const Selector& s = rule.selector;
  for (const PortProtocol& pp : s.ports) {
    for (const Protocol transport : {Protocol::kTcp, Protocol::kUdp}) {
      if (pp.protocol != Protocol::kAny && pp.protocol != transport) continue;
      Group& group = groups_[key(rule.direction, rule.l7, pp.port, transport)];
      if (s.source_cidrs.empty()) {
        for (const Cidr& any : kAnyAddress) group.sources.insert(any, index);
      }
      for (const Cidr& c : s.source_cidrs) group.sources.insert(c, index);
      if (s.destination_cidrs.empty()) {
        for (const Cidr& any : kAnyAddress) group.destinations.insert(any, index);
      }
      for (const Cidr& c : s.destination_cidrs) group.destinations.insert(c, index);
    }
  }
}

void SelectorIndex::freeze() {
  for (auto& [k, group] : groups_) {
    group.sources.freeze();
    group.destinations.freeze();
  }
}

void SelectorIndex::match(const Flow& flow, L7Protocol l7, std::vector<uint32_t>& rules) const {
  rules.clear();
  // A flow is TCP or UDP; kAny in a Flow is a caller's mistake and selects nothing.
  if (flow.protocol == Protocol::kAny) return;
  const auto it = groups_.find(key(flow.direction, l7, flow.port, flow.protocol));
  if (it == groups_.end()) return;
  // Rules without CIDRs make one side's sets large (the /0 of every such rule) while the
  // other side is often a single /32: walk the smaller side, probe the larger, so the cost
  // follows the smaller side rather than the rule count.
  thread_local std::vector<std::span<const uint32_t>> sources;
  thread_local std::vector<std::span<const uint32_t>> destinations;
  thread_local std::vector<uint32_t> merged;
  const size_t source_count = collectMatches(it->second.sources, unmapped(flow.source), sources);
  if (source_count == 0) return;
  const size_t destination_count =
      collectMatches(it->second.destinations, unmapped(flow.destination), destinations);
  if (destination_count == 0) return;
  const bool walk_sources = source_count <= destination_count;
  const auto& walk = walk_sources ? sources : destinations;
  const auto& probe = walk_sources ? destinations : sources;
  std::span<const uint32_t> candidates = walk.front();
  if (walk.size() > 1) {
    merged.clear();
    for (const auto& span : walk) merged.insert(merged.end(), span.begin(), span.end());
    std::sort(merged.begin(), merged.end());
    merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
    candidates = merged;
  }
  for (const uint32_t rule : candidates) {
    if (inAny(probe, rule)) rules.push_back(rule);
  }
}

}  // namespace portcullis::policy
