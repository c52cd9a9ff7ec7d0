#include "proxy/dns_verdict_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace portcullis::proxy {
namespace {

uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + ('a' - 'A')) : c; }

// Eight bytes at a time (a lookup per datagram: byte-wise FNV-1a over name and addresses was
// 280 instructions of the 9k a query cost).
uint64_t mix(uint64_t h, uint64_t v) { return dnsHashMix(h, v); }

uint64_t load(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t hashAddress(uint64_t h, const IpAddress& a) {
  const uint8_t* bytes = a.bytes().data();
  h = mix(h, load(bytes));
  return a.isV4() ? h : mix(h, load(bytes + 8));
}

bool sameFlow(const policy::Flow& a, const policy::Flow& b) {
  return a.port == b.port && a.direction == b.direction && a.protocol == b.protocol &&
         a.source == b.source && a.destination == b.destination;
}

}  // namespace

DnsVerdictCache::DnsVerdictCache(size_t slots)
    : mask_(std::bit_ceil(std::max<size_t>(slots, 1)) - 1) {}

size_t DnsVerdictCache::indexOf(const policy::Flow& flow, const DnsWireName& name) const {
  uint64_t h = dnsNameHash(name);
  h = hashAddress(h, flow.source);
  h = hashAddress(h, flow.destination);
  h = mix(h, uint64_t{flow.port} << 8 | static_cast<uint8_t>(flow.direction));
  return static_cast<size_t>(h ^ (h >> 32)) & mask_;
}

const policy::NameVerdict* DnsVerdictCache::find(const policy::Flow& flow,
                                                 const DnsWireName& name) const {
  if (slots_) {
    const Slot& slot = slots_[indexOf(flow, name)];
    if (slot.epoch == epoch_ && slot.name_size == name.size() && sameFlow(slot.flow, flow) &&
        dnsNameEqualsLowered(slot.name.data(), name)) {
      ++hits_;
      return &slot.verdict;
    }
  }
  ++misses_;
  return nullptr;
}

void DnsVerdictCache::store(const policy::Flow& flow, const DnsWireName& name,
                            const policy::NameVerdict& verdict) {
  if (!slots_) slots_ = std::make_unique<Slot[]>(mask_ + 1);
  Slot& slot = slots_[indexOf(flow, name)];
  slot.epoch = epoch_;
  slot.flow = flow;
  slot.verdict = verdict;
  slot.name_size = static_cast<uint8_t>(name.size());
  for (size_t i = 0; i < name.size(); ++i) slot.name[i] = lower(name[i]);
}

void DnsVerdictCache::clear() { ++epoch_; }

}  // namespace portcullis::proxy
