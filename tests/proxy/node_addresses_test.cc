#include "proxy/node_addresses.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "proxy/tls_proxy_context.h"

namespace portcullis::proxy {
namespace {

using Address = NodeAddresses::Address;

Address addr(const char* text) { return boost::asio::ip::make_address(text); }

std::vector<Address> addrs(std::initializer_list<const char*> texts) {
  std::vector<Address> out;
  for (const char* t : texts) out.push_back(addr(t));
  return out;
}

TEST(NodeAddressesTest, ASetIsSortedWithoutDuplicates) {
  const NodeAddresses::Set set(addrs({"2001:db8::1", "198.18.0.9", "198.18.0.1", "198.18.0.9"}));
  EXPECT_EQ(set.addresses(), addrs({"198.18.0.1", "198.18.0.9", "2001:db8::1"}));
  EXPECT_TRUE(set.contains(addr("198.18.0.9")));
  EXPECT_TRUE(set.contains(addr("2001:db8::1")));
  EXPECT_FALSE(set.contains(addr("198.18.0.2")));
  EXPECT_FALSE(set.contains(addr("::ffff:198.18.0.1")));  // v4-mapped is another address
}

TEST(NodeAddressesTest, LinkLocalAddressesDifferByInterface) {
  boost::asio::ip::address_v6 eth0 = addr("fe80::1").to_v6();
  eth0.scope_id(2);
  boost::asio::ip::address_v6 veth7 = eth0;
  veth7.scope_id(7);
  const NodeAddresses node({Address(eth0)});
  EXPECT_TRUE(node.isLocal(Address(eth0)));
  EXPECT_FALSE(node.isLocal(Address(veth7)));
}

TEST(NodeAddressesTest, LoopbackAndUnspecifiedAreAlwaysLocal) {
  const NodeAddresses node;
  for (const char* a : {"127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "::"}) {
    EXPECT_TRUE(node.isLocal(addr(a))) << a;
  }
  EXPECT_FALSE(node.isLocal(addr("198.18.0.1")));
}

TEST(NodeAddressesTest, PublishSaysWhatChangedAndKeepsAnUnchangedSet) {
  NodeAddresses node(addrs({"198.18.0.1", "2001:db8::1"}));
  const auto first = node.load();
  // The same addresses in another order (getifaddrs lists by interface): nothing changed.
  EXPECT_TRUE(node.publish(addrs({"2001:db8::1", "198.18.0.1"})).empty());
  EXPECT_EQ(node.load(), first);

  const auto change = node.publish(addrs({"198.18.0.1", "198.18.7.1", "2001:db8:7::1"}));
  EXPECT_EQ(change.added, addrs({"198.18.7.1", "2001:db8:7::1"}));
  EXPECT_EQ(change.removed, addrs({"2001:db8::1"}));
  EXPECT_NE(node.load(), first);
  EXPECT_TRUE(node.isLocal(addr("198.18.7.1")));
  EXPECT_FALSE(node.isLocal(addr("2001:db8::1")));
  // A reader's snapshot stays what it was.
  EXPECT_TRUE(first->contains(addr("2001:db8::1")));
  EXPECT_FALSE(first->contains(addr("198.18.7.1")));
}

// Readers on other threads see one whole set or the other, never a mix, while it is swapped.
TEST(NodeAddressesTest, ReadersSeeWholeSetsWhilePublished) {
  const auto a = addrs({"198.18.0.1", "198.18.0.2", "198.18.0.3"});
  const auto b = addrs({"198.18.0.1", "2001:db8::2", "2001:db8::3"});
  NodeAddresses node(a);
  std::atomic<bool> done{false};
  std::atomic<int> mixed{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const auto set = node.load();
        if (!node.isLocal(addr("198.18.0.1"))) ++mixed;
        const bool in_a = set->contains(addr("198.18.0.2")) && set->contains(addr("198.18.0.3"));
        const bool in_b = set->contains(addr("2001:db8::2")) && set->contains(addr("2001:db8::3"));
        if (in_a == in_b || set->addresses().size() != 3) ++mixed;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) node.publish(i % 2 == 0 ? b : a);
  while (reads.load() < 1000) std::this_thread::yield();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(mixed.load(), 0);
}

TEST(NodeAddressesTest, OrReadNowKeepsAGivenStoreElseReadsTheHostOnce) {
  auto given = std::make_shared<const NodeAddresses>(addrs({"198.18.0.1"}));
  EXPECT_EQ(orReadNow(given), given);
  const auto read = orReadNow(nullptr);
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->load()->addresses(), NodeAddresses::Set(localAddresses()).addresses());
}

// An intercepted connection's HTTP side decides on the TLS listener's set, the live one.
TEST(NodeAddressesTest, TlsAndInterceptedHttpShareOneSet) {
  PolicyStore store;
  TlsProxyOptions options;
  options.preserve_source = true;
  auto node = std::make_shared<NodeAddresses>(addrs({"198.18.1.1"}));
  options.node_addresses = node;
  TlsProxyContext context(options, store, 1);
  EXPECT_EQ(context.nodeAddresses(), node);
  EXPECT_EQ(context.http()->nodeAddresses(), node);
  const Tcp::endpoint client(addr("198.18.1.2"), 40000);
  const Tcp::endpoint fresh(addr("198.18.7.1"), 443);
  EXPECT_EQ(context.upstreamSource(client, fresh), client.address());
  node->publish(addrs({"198.18.1.1", "198.18.7.1"}));
  EXPECT_EQ(context.upstreamSource(client, fresh), std::nullopt);
  EXPECT_EQ(context.http()->upstreamSource(client, fresh), std::nullopt);

  TlsProxyContext unfed(TlsProxyOptions{}, store, 1);
  ASSERT_NE(unfed.nodeAddresses(), nullptr);  // read once, at construction
  EXPECT_EQ(unfed.http()->nodeAddresses(), unfed.nodeAddresses());
}

}  // namespace
}  // namespace portcullis::proxy
