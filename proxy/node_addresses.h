// The node's own addresses as the proxies' sessions see them, for two decisions per connection:
// the loop check (one of the proxy's listeners, on any of them) and preserve-source (never
// toward them). They change while the proxy runs (DHCP, a new interface, a container's veth, an
// IPv6 address after DAD): the daemon reads them again on every netlink notification and
// publish()es them here. Sessions read from I/O threads: a publish swaps in a new immutable Set,
// so a reader never sees a half-updated one and takes no lock of ours (as PolicyStore).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <atomic>
#include <compare>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace portcullis::proxy {

class NodeAddresses {
 public:
  using Address = boost::asio::ip::address;

  // One snapshot: sorted, without duplicates (a node may have hundreds: a link-local address per
  // container veth).
  class Set {
   public:
    explicit Set(std::vector<Address> addresses);
    bool contains(const Address& address) const;
    const std::vector<Address>& addresses() const { return addresses_; }

   private:
    struct V6 {
      boost::asio::ip::address_v6::bytes_type bytes;
      uint32_t scope;  // a link-local address is one per interface
      auto operator<=>(const V6&) const = default;
    };
    std::vector<Address> addresses_;
    // What contains() searches, sorted: integers and bytes compare in a few instructions, where
    // Address's operator< goes through its type and a byte swap each time.
    std::vector<uint32_t> v4_;
    std::vector<V6> v6_;
  };

  // What a publish() changed, each list sorted.
  struct Change {
    std::vector<Address> added;
    std::vector<Address> removed;
    bool empty() const { return added.empty() && removed.empty(); }
  };

  explicit NodeAddresses(std::vector<Address> initial = {});
  NodeAddresses(const NodeAddresses&) = delete;
  NodeAddresses& operator=(const NodeAddresses&) = delete;

  std::shared_ptr<const Set> load() const { return set_.load(std::memory_order_acquire); }

  // Loopback and unspecified addresses are the node's whatever was published: 127/8 and ::1
  // never appear one by one, and 0.0.0.0 or :: as a destination reaches the node.
  // Once per connection on the I/O threads: each thread keeps the set it read last and reads
  // again only after a publish (one atomic load otherwise, instead of load()'s lock and
  // reference count).
  bool isLocal(const Address& address) const;

  // Swaps in `addresses` (the node's complete list) when they differ from the set in force, and
  // says what changed. Safe from any thread; readers see the old set or the new one.
  Change publish(std::vector<Address> addresses);

 private:
  std::mutex publishing_;  // writers only: a diff and its swap go together
  std::atomic<std::shared_ptr<const Set>> set_;
  // Of the set in force: unique among all stores of the process, ever (a thread's cached set is
  // never taken for another store's, even one made where a destroyed store was).
  std::atomic<uint64_t> version_;
};

// `given`, or when it is null a set read now and never updated: for proxies no daemon feeds
// (unit tests, benchmarks).
std::shared_ptr<const NodeAddresses> orReadNow(std::shared_ptr<const NodeAddresses> given);

// Every address of this host now (getifaddrs(3)), each IPv6 one with its scope (the interface of
// a link-local address), as an accepted socket reports its local address.
std::vector<boost::asio::ip::address> localAddresses();

}  // namespace portcullis::proxy
