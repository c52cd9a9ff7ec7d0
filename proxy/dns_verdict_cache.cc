#include "proxy/dns_verdict_cache.h"

#include <algorithm>
#include <bit>

namespace portcullis::proxy {
namespace {

uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + ('a' - 'A')) : c; }

// FNV-1a: a few cycles a byte; the names one client asks for differ in their first labels.
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t mix(uint64_t h, const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * kFnvPrime;
  return h;
}

bool sameFlow(const policy::Flow& a, const policy::Flow& b) {
  return a.port == b.port && a.direction == b.direction && a.protocol == b.protocol &&
         a.source == b.source && a.destination == b.destination;
}

}  // namespace

DnsVerdictCache::DnsVerdictCache(size_t slots)
    : mask_(std::bit_ceil(std::max<size_t>(slots, 1)) - 1) {}

size_t DnsVerdictCache::indexOf(const policy::Flow& flow, const DnsWireName& name) const {
  uint64_t h = kFnvOffset;
  for (uint8_t c : name) h = (h ^ lower(c)) * kFnvPrime;
  h = mix(h, flow.source.bytes().data(), flow.source.isV4() ? 4 : 16);
  h = mix(h, flow.destination.bytes().data(), flow.destination.isV4() ? 4 : 16);
  h = (h ^ flow.port) * kFnvPrime;
  h = (h ^ static_cast<uint8_t>(flow.direction)) * kFnvPrime;
  return static_cast<size_t>(h ^ (h >> 32)) & mask_;
}

const policy::NameVerdict* DnsVerdictCache::find(const policy::Flow& flow,
                                                 const DnsWireName& name) const {
  if (slots_) {
    const Slot& slot = slots_[indexOf(flow, name)];
    if (slot.epoch == epoch_ && slot.name_size == name.size() && sameFlow(slot.flow, flow)) {
      bool same = true;
      for (size_t i = 0; i < name.size() && same; ++i) same = slot.name[i] == lower(name[i]);
      if (same) {
        ++hits_;
        return &slot.verdict;
      }
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
