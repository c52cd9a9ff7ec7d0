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
  return IpAddress::v4((uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) |
                       (uint32_t{b[14]} << 8) | uint32_t{b[15]});
}

// The union of the value sets of every prefix containing the address. Usually one set
// matches (the wildcard or one prefix), and it is returned as is, without copying.
std::span<const uint32_t> unionOfMatches(const CidrTrie& trie, const IpAddress& address,
                                         std::vector<uint32_t>& scratch) {
  std::span<const uint32_t> single;
  int count = 0;
  scratch.clear();
  trie.forEachMatch(address, [&](std::span<const uint32_t> values) {
    if (++count == 1) {
      single = values;
      return;
    }
    if (count == 2) scratch.assign(single.begin(), single.end());
    const auto middle = static_cast<std::ptrdiff_t>(scratch.size());
    scratch.insert(scratch.end(), values.begin(), values.end());
    std::inplace_merge(scratch.begin(), scratch.begin() + middle, scratch.end());
  });
  if (count <= 1) return single;
  scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
  return scratch;
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
  thread_local std::vector<uint32_t> source_scratch;
  thread_local std::vector<uint32_t> destination_scratch;
  const auto sources = unionOfMatches(it->second.sources, unmapped(flow.source), source_scratch);
  if (sources.empty()) return;
  const auto destinations =
      unionOfMatches(it->second.destinations, unmapped(flow.destination), destination_scratch);
  std::set_intersection(sources.begin(), sources.end(), destinations.begin(), destinations.end(),
                        std::back_inserter(rules));
}

}  // namespace portcullis::policy
