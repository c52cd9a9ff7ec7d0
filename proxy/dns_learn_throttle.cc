#include "proxy/dns_learn_throttle.h"

#include <algorithm>
#include <bit>

namespace portcullis::proxy {
namespace {

uint8_t lower(uint8_t c) {
  return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}

}  // namespace

DnsLearnThrottle::DnsLearnThrottle(Duration interval, size_t slots)
    : interval_(interval), mask_(std::bit_ceil(std::max<size_t>(slots, 1)) - 1) {}

size_t DnsLearnThrottle::indexOf(const DnsQuestion& question) const {
  const uint64_t h = dnsHashMix(dnsNameHash(question.wire_name), question.type);
  return static_cast<size_t>(h ^ (h >> 32)) & mask_;
}

bool DnsLearnThrottle::fresh(const DnsQuestion& question, Clock::time_point now) const {
  if (!slots_) return false;
  const Slot& slot = slots_[indexOf(question)];
  return now < slot.until && slot.type == question.type &&
         slot.name_size == question.wire_name.size() &&
         dnsNameEqualsLowered(slot.name.data(), question.wire_name);
}

void DnsLearnThrottle::note(const DnsQuestion& question, Clock::time_point now) {
  if (!slots_) slots_ = std::make_unique<Slot[]>(mask_ + 1);
  Slot& slot = slots_[indexOf(question)];
  slot.until = now + interval_;
  slot.type = question.type;
  slot.name_size = static_cast<uint8_t>(question.wire_name.size());
  for (size_t i = 0; i < question.wire_name.size(); ++i)
    slot.name[i] = lower(question.wire_name[i]);
}

}  // namespace portcullis::proxy
