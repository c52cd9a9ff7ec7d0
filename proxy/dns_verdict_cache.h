// Verdicts of recent UDP queries, so that a repeated question on the same flow skips the policy
// (matching the flow's selectors, then the question name against its rules): (direction, client
// address, server address and port, question name) -> verdict. Names are compared
// ASCII-case-insensitively on their wire form, which maps one to one to the lowercased
// presentation name the policy judges. The verdict's rule name points into the policy it came
// from, so the owner clears the cache whenever it takes a new policy (a reload).
//
// Direct-mapped, fixed size (allocated at the first store): a collision replaces the older entry.
// Used by one executor only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "policy/compiled_policy.h"
#include "proxy/dns_message.h"

namespace portcullis::proxy {

class DnsVerdictCache {
 public:
  static constexpr size_t kDefaultSlots = 1024;

  explicit DnsVerdictCache(size_t slots = kDefaultSlots);  // rounded up to a power of two

  // The verdict stored for this flow and name since the last clear(), or null.
  const policy::NameVerdict* find(const policy::Flow& flow, const DnsWireName& name) const;
  void store(const policy::Flow& flow, const DnsWireName& name, const policy::NameVerdict& verdict);
  // Forgets everything (a new policy).
  void clear();

  size_t hits() const { return hits_; }
  size_t misses() const { return misses_; }

 private:
  struct Slot {
    uint64_t epoch = 0;  // valid when equal to epoch_
    policy::Flow flow;
    policy::NameVerdict verdict;
    uint8_t name_size = 0;
    std::array<uint8_t, 255> name;  // lowercased wire name
  };

  size_t indexOf(const policy::Flow& flow, const DnsWireName& name) const;

  size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  uint64_t epoch_ = 1;
  mutable size_t hits_ = 0;
  mutable size_t misses_ = 0;
};

}  // namespace portcullis::proxy
