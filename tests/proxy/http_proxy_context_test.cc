#include "proxy/http_proxy_context.h"

#include <gtest/gtest.h>

namespace portcullis::proxy {
namespace {

Tcp::endpoint ep(const char* address, uint16_t port) {
  return {boost::asio::ip::make_address(address), port};
}

std::shared_ptr<NodeAddresses> nodeOf(std::initializer_list<const char*> addresses) {
  std::vector<boost::asio::ip::address> list;
  for (const char* a : addresses) list.push_back(boost::asio::ip::make_address(a));
  return std::make_shared<NodeAddresses>(std::move(list));
}

TEST(HttpProxyContextTest, OwnEndpointsAreListenersOnAnyLocalAddress) {
  PolicyStore store;
  HttpProxyOptions options;
  options.node_addresses = nodeOf({"198.18.0.1", "2001:db8::1"});
  HttpProxyContext context(options, store, 1);
  context.setOwnEndpoints({ep("127.0.0.1", 15001), ep("::1", 15001)});
  EXPECT_TRUE(context.isOwnEndpoint(ep("127.0.0.1", 15001)));
  EXPECT_TRUE(context.isOwnEndpoint(ep("127.0.0.2", 15001)));  // all of 127/8 is loopback
  EXPECT_TRUE(context.isOwnEndpoint(ep("::1", 15001)));
  EXPECT_TRUE(context.isOwnEndpoint(ep("0.0.0.0", 15001)));
  EXPECT_TRUE(context.isOwnEndpoint(ep("198.18.0.1", 15001)));
  EXPECT_TRUE(context.isOwnEndpoint(ep("2001:db8::1", 15001)));
  // Another port on this host, or our port on another host, is ordinary traffic.
  EXPECT_FALSE(context.isOwnEndpoint(ep("198.18.0.1", 80)));
  EXPECT_FALSE(context.isOwnEndpoint(ep("127.0.0.1", 80)));
  EXPECT_FALSE(context.isOwnEndpoint(ep("198.18.2.9", 15001)));
  EXPECT_FALSE(context.isOwnEndpoint(ep("2001:db8::2", 15001)));
}

TEST(HttpProxyContextTest, PreserveSourceKeepsTheClientsAddressExceptTowardThisHost) {
  PolicyStore store;
  HttpProxyOptions options;
  options.node_addresses = nodeOf({"198.18.1.1", "2001:db8:1::1"});
  const Tcp::endpoint client = ep("198.18.1.2", 40000);
  HttpProxyContext plain(options, store, 1);
  EXPECT_EQ(plain.upstreamSource(client, ep("198.18.2.2", 80)), std::nullopt);
  options.preserve_source = true;
  HttpProxyContext context(options, store, 1);
  EXPECT_EQ(context.upstreamSource(client, ep("198.18.2.2", 80)), client.address());
  // This host's addresses, loopback included: the proxy's own address (README, datapath).
  EXPECT_EQ(context.upstreamSource(client, ep("198.18.1.1", 80)), std::nullopt);
  EXPECT_EQ(context.upstreamSource(ep("2001:db8:1::2", 40000), ep("2001:db8:1::1", 80)),
            std::nullopt);
  EXPECT_EQ(context.upstreamSource(client, ep("127.0.0.1", 80)), std::nullopt);
  EXPECT_EQ(context.upstreamSource(client, ep("::1", 80)), std::nullopt);
}

// The daemon publishes the node's addresses again when they change (a new interface, DHCP):
// contexts made before decide on the new set from then on.
TEST(HttpProxyContextTest, DecisionsFollowTheAddressesPublishedAfterTheStart) {
  PolicyStore store;
  HttpProxyOptions options;
  options.preserve_source = true;
  auto node = nodeOf({"198.18.1.1"});
  options.node_addresses = node;
  HttpProxyContext context(options, store, 1);
  context.setOwnEndpoints({ep("127.0.0.1", 15001)});
  const Tcp::endpoint client = ep("198.18.1.2", 40000);
  EXPECT_EQ(context.upstreamSource(client, ep("198.18.7.1", 80)), client.address());
  EXPECT_FALSE(context.isOwnEndpoint(ep("198.18.7.1", 15001)));
  EXPECT_FALSE(context.isOwnEndpoint(ep("2001:db8:7::1", 15001)));

  node->publish({boost::asio::ip::make_address("198.18.1.1"),
                 boost::asio::ip::make_address("198.18.7.1"),
                 boost::asio::ip::make_address("2001:db8:7::1")});
  EXPECT_EQ(context.upstreamSource(client, ep("198.18.7.1", 80)), std::nullopt);
  EXPECT_EQ(context.upstreamSource(client, ep("2001:db8:7::1", 80)), std::nullopt);
  EXPECT_TRUE(context.isOwnEndpoint(ep("198.18.7.1", 15001)));
  EXPECT_TRUE(context.isOwnEndpoint(ep("2001:db8:7::1", 15001)));

  node->publish({boost::asio::ip::make_address("198.18.1.1")});  // removed again
  EXPECT_EQ(context.upstreamSource(client, ep("198.18.7.1", 80)), client.address());
  EXPECT_FALSE(context.isOwnEndpoint(ep("198.18.7.1", 15001)));
  EXPECT_EQ(context.upstreamSource(client, ep("198.18.1.1", 80)), std::nullopt);
}

TEST(HttpProxyContextTest, AdmissionStopsAtTheLimitAndAtShutdown) {
  PolicyStore store;
  HttpProxyOptions options;
  options.limits.max_connections = 2;
  HttpProxyContext context(options, store, 1);
  EXPECT_TRUE(context.tryAdmit());
  EXPECT_TRUE(context.tryAdmit());
  EXPECT_FALSE(context.tryAdmit());
  context.release();
  EXPECT_EQ(context.active(), 1u);
  context.stopAdmitting();
  EXPECT_FALSE(context.tryAdmit());
}

TEST(PolicyStoreTest, RefreshReloadsOnlyAfterAStore) {
  PolicyStore store;
  PolicyStore::Pointer cached;
  uint64_t generation = 0;
  EXPECT_TRUE(store.refresh(cached, generation));  // first use
  EXPECT_FALSE(cached);
  policy::Policy empty;
  auto compiled = policy::CompiledPolicy::compile(empty);
  ASSERT_TRUE(compiled.ok());
  store.store(*compiled.value);
  EXPECT_EQ(store.generation(), 1u);
  EXPECT_TRUE(store.refresh(cached, generation));
  EXPECT_EQ(cached, *compiled.value);
  EXPECT_FALSE(store.refresh(cached, generation));
}

}  // namespace
}  // namespace portcullis::proxy
