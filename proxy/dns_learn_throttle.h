// Which questions had an answer read for learning (name -> addresses) within the last interval,
// so that the answers to a question asked again and again are not parsed each time: what the
// first one taught is still fresh in the DnsNameCache, which serves status and metrics only,
// where a TTL refreshed up to one interval late shows nowhere. Keyed by (type, name), the name
// compared ASCII-case-insensitively on its wire form.
//
// Direct-mapped, fixed size (allocated at the first note): a collision replaces the older entry,
// which costs one more parse, never a wrong skip. Used by one executor only.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/duration.h"
#include "proxy/dns_message.h"

namespace portcullis::proxy {

class DnsLearnThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kDefaultSlots = 256;
  static constexpr Duration kDefaultInterval = std::chrono::seconds(1);

  explicit DnsLearnThrottle(Duration interval = kDefaultInterval, size_t slots = kDefaultSlots);

  // True when an answer to `question` was noted less than one interval before `now`.
  bool fresh(const DnsQuestion& question, Clock::time_point now) const;
  // An answer to `question` was read for learning at `now`.
  void note(const DnsQuestion& question, Clock::time_point now);

 private:
  struct Slot {
    Clock::time_point until{};  // fresh before this
    uint16_t type = 0;
    uint8_t name_size = 0;
    std::array<uint8_t, 255> name;  // lowercased wire name
  };

  size_t indexOf(const DnsQuestion& question) const;

  const Duration interval_;
  const size_t mask_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace portcullis::proxy
