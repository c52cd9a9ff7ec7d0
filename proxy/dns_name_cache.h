// What the DNS proxy learned from the answers it relayed: name -> addresses, each address kept
// until its TTL runs out, for the daemon's status and metrics. Bounded: when full, expired names
// go first, then the name closest to expiring.
//
// Thread-safe (one mutex): the proxy writes from its io_context, the admin endpoint reads from
// its own. Writes happen once per allowed answer that carries addresses, off the query's path.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "proxy/dns_message.h"

namespace portcullis::proxy {

class DnsNameCache {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  // One name with more addresses than this keeps those that live longest.
  static constexpr size_t kMaxAddressesPerName = 32;

  struct Address {
    IpAddress address;
    TimePoint expires;
  };
  struct Entry {
    std::string name;
    std::vector<Address> addresses;  // unexpired, in the order learned
  };

  explicit DnsNameCache(size_t max_names);
  DnsNameCache(const DnsNameCache&) = delete;
  DnsNameCache& operator=(const DnsNameCache&) = delete;

  // Records `name`'s addresses (a later answer's TTL replaces an earlier one's for the same
  // address). Zero TTLs are not recorded: the client may not reuse those answers either.
  void learn(std::string_view name, std::span<const DnsLearnedAddress> addresses, TimePoint now);

  std::vector<IpAddress> lookup(std::string_view name, TimePoint now) const;
  std::vector<Entry> snapshot(TimePoint now) const;  // sorted by name
  size_t size() const;                               // names held, expired ones not yet purged
  uint64_t evictions() const;                        // unexpired names dropped for room
  void purgeExpired(TimePoint now);

 private:
  struct Names {
    std::vector<Address> addresses;
    TimePoint expires;  // of the longest-lived address
  };
  using Map = std::unordered_map<std::string, Names>;
  // (expiry, name) of every entry; the name points at the map's key, which node-based
  // unordered_map never moves.
  using ExpiryIndex = std::set<std::pair<TimePoint, const std::string*>>;

  void eraseLocked(Map::iterator it);
  void makeRoomLocked(TimePoint now);

  const size_t max_names_;
  mutable std::mutex mutex_;
  Map names_;
  ExpiryIndex by_expiry_;
  uint64_t evictions_ = 0;
};

}  // namespace portcullis::proxy
