#include "proxy/node_addresses.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>

namespace portcullis::proxy {

namespace asio = boost::asio;

NodeAddresses::Set::Set(std::vector<Address> addresses) : addresses_(std::move(addresses)) {
  std::sort(addresses_.begin(), addresses_.end());
  addresses_.erase(std::unique(addresses_.begin(), addresses_.end()), addresses_.end());
  for (const Address& a : addresses_) {
    if (a.is_v4()) {
      v4_.push_back(a.to_v4().to_uint());
    } else {
      v6_.push_back({a.to_v6().to_bytes(), static_cast<uint32_t>(a.to_v6().scope_id())});
    }
  }
  std::sort(v4_.begin(), v4_.end());
  std::sort(v6_.begin(), v6_.end());
}

bool NodeAddresses::Set::contains(const Address& address) const {
  if (address.is_v4()) return std::binary_search(v4_.begin(), v4_.end(), address.to_v4().to_uint());
  const asio::ip::address_v6 v6 = address.to_v6();
  return std::binary_search(v6_.begin(), v6_.end(),
                            V6{v6.to_bytes(), static_cast<uint32_t>(v6.scope_id())});
}

namespace {

std::atomic<uint64_t> g_versions{0};

uint64_t nextVersion() { return g_versions.fetch_add(1, std::memory_order_relaxed) + 1; }

// The set an I/O thread read last, and its version.
struct ThreadCache {
  uint64_t version = 0;
  std::shared_ptr<const NodeAddresses::Set> set;
};
thread_local ThreadCache t_cache;

}  // namespace

NodeAddresses::NodeAddresses(std::vector<Address> initial)
    : set_(std::make_shared<const Set>(std::move(initial))), version_(nextVersion()) {}

bool NodeAddresses::isLocal(const Address& address) const {
  if (address.is_loopback() || address.is_unspecified()) return true;
  // publish() stores the set before its version: a version seen here has its set (or a newer
  // one, whose own version makes the next call read again) behind it.
  const uint64_t version = version_.load(std::memory_order_acquire);
  if (t_cache.version != version) {
    t_cache.set = load();
    t_cache.version = version;
  }
  return t_cache.set->contains(address);
}

NodeAddresses::Change NodeAddresses::publish(std::vector<Address> addresses) {
  auto next = std::make_shared<const Set>(std::move(addresses));
  const std::lock_guard lock(publishing_);
  const std::shared_ptr<const Set> now = load();
  const auto& before = now->addresses();
  const auto& after = next->addresses();
  Change change;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(change.added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(change.removed));
  if (!change.empty()) {
    set_.store(std::move(next), std::memory_order_release);
    version_.store(nextVersion(), std::memory_order_release);
  }
  return change;
}

std::shared_ptr<const NodeAddresses> orReadNow(std::shared_ptr<const NodeAddresses> given) {
  if (given) return given;
  return std::make_shared<const NodeAddresses>(localAddresses());
}

std::vector<asio::ip::address> localAddresses() {
  std::vector<asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.emplace_back(asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
      out.emplace_back(asio::ip::address_v6(bytes, in6->sin6_scope_id));
    }
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace portcullis::proxy
