#include "proxy/dns_name_cache.h"

#include <algorithm>
#include <map>

namespace portcullis::proxy {

DnsNameCache::DnsNameCache(size_t max_names) : max_names_(std::max<size_t>(max_names, 1)) {}

void DnsNameCache::eraseLocked(Map::iterator it) {
  by_expiry_.erase({it->second.expires, &it->first});
  names_.erase(it);
}

void DnsNameCache::makeRoomLocked(TimePoint now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    eraseLocked(names_.find(*by_expiry_.begin()->second));
  }
  if (names_.size() >= max_names_) {
    eraseLocked(names_.find(*by_expiry_.begin()->second));
    ++evictions_;
  }
}

void DnsNameCache::learn(std::string_view name, std::span<const DnsLearnedAddress> addresses,
                         TimePoint now) {
  if (std::none_of(addresses.begin(), addresses.end(),
                   [](const DnsLearnedAddress& a) { return a.ttl > 0; })) {
    return;
  }
  std::lock_guard lock(mutex_);
  auto it = names_.find(std::string(name));
  if (it == names_.end()) {
    if (names_.size() >= max_names_) makeRoomLocked(now);
    it = names_.emplace(std::string(name), Names{{}, now}).first;
  } else {
    by_expiry_.erase({it->second.expires, &it->first});
  }
  std::vector<Address>& held = it->second.addresses;
  std::erase_if(held, [&](const Address& a) { return a.expires <= now; });
  // Past a few dozen addresses, where each one is: a linear search per learned address made a
  // large answer quadratic (3000 A records: 4.5 M comparisons, under the mutex every I/O
  // thread's answers take; 5 s under ThreadSanitizer).
  constexpr size_t kLinearSearch = 2 * kMaxAddressesPerName;
  std::map<IpAddress, size_t> where;  // built once `held` outgrows kLinearSearch
  for (const DnsLearnedAddress& learned : addresses) {
    if (learned.ttl == 0) continue;
    const TimePoint expires = now + std::chrono::seconds(learned.ttl);
    Address* same = nullptr;
    if (held.size() <= kLinearSearch) {
      auto found = std::find_if(held.begin(), held.end(),
                                [&](const Address& a) { return a.address == learned.address; });
      if (found != held.end()) same = &*found;
    } else {
      if (where.empty()) {
        for (size_t i = 0; i < held.size(); ++i) where.emplace(held[i].address, i);
      }
      if (auto found = where.find(learned.address); found != where.end()) same = &held[found->second];
    }
    if (same != nullptr) {
      same->expires = expires;
    } else {
      if (!where.empty()) where.emplace(learned.address, held.size());
      held.push_back({learned.address, expires});
    }
  }
  if (held.size() > kMaxAddressesPerName) {
    std::stable_sort(held.begin(), held.end(),
                     [](const Address& a, const Address& b) { return a.expires > b.expires; });
    held.resize(kMaxAddressesPerName);
  }
  it->second.expires = std::max_element(held.begin(), held.end(), [](auto& a, auto& b) {
                         return a.expires < b.expires;
                       })->expires;
  by_expiry_.insert({it->second.expires, &it->first});
}

std::vector<IpAddress> DnsNameCache::lookup(std::string_view name, TimePoint now) const {
  std::lock_guard lock(mutex_);
  std::vector<IpAddress> out;
  auto it = names_.find(std::string(name));
  if (it == names_.end()) return out;
  for (const Address& a : it->second.addresses) {
    if (a.expires > now) out.push_back(a.address);
  }
  return out;
}

std::vector<DnsNameCache::Entry> DnsNameCache::snapshot(TimePoint now) const {
  std::vector<Entry> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(names_.size());
    for (const auto& [name, names] : names_) {
      Entry e{name, {}};
      for (const Address& a : names.addresses) {
        if (a.expires > now) e.addresses.push_back(a);
      }
      if (!e.addresses.empty()) out.push_back(std::move(e));
    }
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

size_t DnsNameCache::size() const {
  std::lock_guard lock(mutex_);
  return names_.size();
}

uint64_t DnsNameCache::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

void DnsNameCache::purgeExpired(TimePoint now) {
  std::lock_guard lock(mutex_);
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    eraseLocked(names_.find(*by_expiry_.begin()->second));
  }
}

}  // namespace portcullis::proxy
