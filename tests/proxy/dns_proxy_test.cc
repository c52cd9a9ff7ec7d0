// The DNS proxy as a whole: policy reloads, no policy, loops, IPv6, shards over several
// executors (dns_proxy_fixture.h has the loopback test bench).
#include <set>

#include "proxy/io_pool.h"
#include "tests/proxy/dns_proxy_fixture.h"

namespace portcullis::proxy {
namespace {

using namespace testing;  // NOLINT: the test bench, message builders and clients

class DnsProxyTest : public DnsProxyFixture {};

TEST_F(DnsProxyTest, ANewPolicyAppliesToTheNextQueryOnUdpAndOnAnOpenTcpConnection) {
  startProxy();
  UdpClient udp("127.0.0.1", port());
  TcpClient tcp("127.0.0.1", port());
  EXPECT_EQ(rcodeOf(*udp.ask(query(1, "www.example.test"))), 0);
  EXPECT_EQ(rcodeOf(*tcp.ask(query(2, "www.example.test"))), 0);
  store_.store(compilePolicy(denyAllPolicy(upstream_->port())));
  EXPECT_EQ(rcodeOf(*udp.ask(query(3, "www.example.test"))), 5);
  EXPECT_EQ(rcodeOf(*tcp.ask(query(4, "www.example.test"))), 5);
}

TEST_F(DnsProxyTest, NoPolicyMeansDeny) {
  PolicyStore empty;
  DnsProxyConfig config;
  config.bind_v6 = std::nullopt;
  config.listener.transparent = false;
  config.listener.upstream_mark = 0;
  const auto fake = upstream_->endpoint();
  config.listener.original_destination = [fake](const auto&) { return fake; };
  proxy_ = std::make_unique<DnsProxy>(executors(), config, empty, names_);
  ASSERT_TRUE(proxy_->start());
  thread_ = std::thread([this] { io_.run(); });
  UdpClient client("127.0.0.1", port());
  EXPECT_EQ(rcodeOf(*client.ask(query(1, "www.example.test"))), 5);
}

TEST_F(DnsProxyTest, QueriesSentStraightToTheListenerAreDropped) {
  // Without the mapping hook and without TPROXY, the original destination is the listener
  // itself: forwarding would loop.
  startProxy([](DnsProxyConfig& c) { c.listener.original_destination = nullptr; });
  UdpClient client("127.0.0.1", port());
  client.send(query(1, "www.example.test"));
  TcpClient tcp("127.0.0.1", port());
  EXPECT_TRUE(tcp.closedByPeer());
  for (int i = 0; i < 2000 && counters().not_redirected < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(1));  // the counter is the only observable
  }
  EXPECT_EQ(counters().not_redirected, 2u);
  EXPECT_FALSE(client.receive(milliseconds(0)));
  EXPECT_EQ(upstream_->received(), 0u);
}

TEST_F(DnsProxyTest, Ipv6ListenersServeUdpAndTcp) {
  if (!hasIpv6Loopback()) GTEST_SKIP() << "no ::1 on this host";
  startProxy();
  UdpClient udp("::1", port());
  auto answer = udp.ask(query(0x0661, "www.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 0);
  TcpClient tcp("::1", port());
  auto refused = tcp.ask(query(0x0662, "denied.test"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(rcodeOf(*refused), 5);
}

// Several shards on one port (SO_REUSEPORT), in both IoPool models: every query is answered by
// exactly one shard and the counters add up.
class DnsProxyShardsTest : public ::testing::TestWithParam<IoPool::Model> {};

TEST_P(DnsProxyShardsTest, ServesFromEveryShardAndSumsCounters) {
  boost::asio::io_context upstream_io;
  auto upstream_work = boost::asio::make_work_guard(upstream_io);
  FakeDnsUpstream upstream(upstream_io);
  upstream.start();
  std::thread upstream_thread([&] { upstream_io.run(); });

  PolicyStore store(compilePolicy(examplePolicy(upstream.port())));
  auto names = std::make_shared<DnsNameCache>(100);
  IoPool pool(2, GetParam());
  DnsProxyConfig config;
  config.bind_v6 = std::nullopt;
  config.listener.transparent = false;
  config.listener.upstream_mark = 0;
  const auto fake = upstream.endpoint();
  config.listener.original_destination = [fake](const auto&) { return fake; };
  auto proxy = std::make_unique<DnsProxy>(DnsProxy::executorsFor(pool), config, store, names);
  ASSERT_TRUE(proxy->start());
  pool.start();

  constexpr int kClients = 40;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<UdpClient>("127.0.0.1", proxy->port()));
    clients.back()->send(query(static_cast<uint16_t>(i), "www.example.test"));
    clients.back()->send(query(static_cast<uint16_t>(1000 + i), "denied.test"));
  }
  for (auto& client : clients) {
    std::set<int> rcodes;
    for (int j = 0; j < 2; ++j) {
      auto answer = client->receive();
      ASSERT_TRUE(answer);
      rcodes.insert(rcodeOf(*answer));
    }
    EXPECT_EQ(rcodes, (std::set<int>{0, 5}));
  }
  for (int i = 0; i < 4; ++i) {
    TcpClient tcp("127.0.0.1", proxy->port());
    auto answer = tcp.ask(query(static_cast<uint16_t>(2000 + i), "www.example.test"));
    ASSERT_TRUE(answer);
    EXPECT_EQ(rcodeOf(*answer), 0);
  }
  const DnsCounterValues c = proxy->counters();
  EXPECT_EQ(c.allowed, kClients + 4u);
  EXPECT_EQ(c.denied, static_cast<uint64_t>(kClients));
  EXPECT_EQ(c.tcp_connections, 4u);

  proxy->shutdown();
  pool.stop();
  pool.join();
  proxy.reset();
  upstream_io.post([&] { upstream.close(); });
  upstream_work.reset();
  upstream_thread.join();
}

INSTANTIATE_TEST_SUITE_P(Models, DnsProxyShardsTest,
                         ::testing::Values(IoPool::Model::kContextPerThread,
                                           IoPool::Model::kSharedContext),
                         [](const auto& model) {
                           return model.param == IoPool::Model::kContextPerThread
                                      ? std::string("ContextPerThread")
                                      : std::string("SharedContextStrands");
                         });

}  // namespace
}  // namespace portcullis::proxy
