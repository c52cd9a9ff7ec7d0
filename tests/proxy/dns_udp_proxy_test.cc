// DNS over UDP through the proxy, against a fake upstream on loopback (dns_proxy_fixture.h):
// verdicts, relaying, ID mapping, timeouts, the in-flight bound, malformed datagrams.
#include <set>

#include "proxy/dns_udp_upstream.h"
#include "tests/proxy/dns_proxy_fixture.h"

namespace portcullis::proxy {
namespace {

using namespace testing;  // NOLINT: the test bench, message builders and clients

class DnsUdpProxyTest : public DnsProxyFixture {};

TEST_F(DnsUdpProxyTest, AllowedQueryIsRelayedVerbatimAndLearned) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(0x1111, "WWW.example.test"));
  ASSERT_TRUE(answer);
  // The upstream's bytes, with the client's ID back in place of the one the proxy chose.
  EXPECT_EQ(*answer, withId(upstream_->sentFor("WWW"), 0x1111));
  EXPECT_EQ(rcodeOf(*answer), 0);
  EXPECT_EQ(upstream_->received(), 1u);
  EXPECT_EQ(names_->lookup("www.example.test.", DnsNameCache::Clock::now()),
            std::vector<IpAddress>{*IpAddress::parse("198.18.5.1")});
  EXPECT_EQ(counters().allowed, 1u);
  std::lock_guard lock(events_mutex_);
  EXPECT_EQ(events_, std::vector<std::string>{"www.example.test. allowed dns-test"});
}

TEST_F(DnsUdpProxyTest, DeniedQueryIsRefusedWithTheQuestionEchoed) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  for (const char* name : {"example.test", "a.b.example.test", "allowed.test.evil"}) {
    const auto q = query(0x2222, name);
    auto answer = client.ask(q);
    ASSERT_TRUE(answer) << name;
    EXPECT_EQ(idOf(*answer), 0x2222);
    EXPECT_EQ(rcodeOf(*answer), 5) << name;  // REFUSED
    EXPECT_EQ(std::vector<uint8_t>(answer->begin() + 12, answer->end()),
              std::vector<uint8_t>(q.begin() + 12, q.end()));
  }
  EXPECT_EQ(rcodeOf(*client.ask(query(3, "Allowed.Test."))), 0);  // matchName, any case
  EXPECT_EQ(upstream_->received(), 1u);
  EXPECT_EQ(counters().denied, 3u);
}

TEST_F(DnsUdpProxyTest, NxdomainRejectMode) {
  startProxy([](DnsProxyConfig& c) { c.dns.reject = policy::DnsReject::kNxdomain; });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(7, "denied.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 3);
  EXPECT_EQ(upstream_->received(), 0u);
}

TEST_F(DnsUdpProxyTest, UpstreamTimeoutIsServfail) {
  startProxy([](DnsProxyConfig& c) { c.dns.upstream_timeout = milliseconds(100); });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(8, "drop.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(idOf(*answer), 8);
  EXPECT_EQ(rcodeOf(*answer), 2);
  EXPECT_EQ(counters().upstream_timeouts, 1u);
  EXPECT_EQ(counters().allowed, 1u);
  onIo([&] { EXPECT_EQ(proxy_->inFlight(), 0u); });
}

TEST_F(DnsUdpProxyTest, UnreachableUpstreamIsServfail) {
  // A port nothing listens on: ICMP port unreachable (UDP), connection refused (TCP).
  uint16_t dead_port;
  {
    boost::asio::io_context scratch;
    boost::asio::ip::udp::socket s(scratch, {boost::asio::ip::make_address("127.0.0.1"), 0});
    dead_port = s.local_endpoint().port();
  }
  store_.store(compilePolicy(examplePolicy(dead_port)));
  startProxy([&](DnsProxyConfig& c) {
    const boost::asio::ip::udp::endpoint dead(boost::asio::ip::make_address("127.0.0.1"),
                                              dead_port);
    c.listener.original_destination = [dead](const auto&) { return dead; };
  });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(9, "www.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 2);
  TcpClient tcp("127.0.0.1", port());
  tcp.send(query(10, "www.example.test"));
  auto tcp_answer = tcp.receive();
  ASSERT_TRUE(tcp_answer);
  EXPECT_EQ(idOf(*tcp_answer), 10);
  EXPECT_EQ(rcodeOf(*tcp_answer), 2);
  EXPECT_EQ(counters().upstream_failures, 2u);
}

TEST_F(DnsUdpProxyTest, OverTheInFlightLimitQueriesGetServfail) {
  startProxy([](DnsProxyConfig& c) { c.dns.max_in_flight = 2; });
  UdpClient a("127.0.0.1", port());
  UdpClient b("127.0.0.1", port());
  UdpClient c("127.0.0.1", port());
  a.send(query(1, "hold.example.test"));
  b.send(query(2, "hold.example.test"));
  ASSERT_TRUE(upstream_->waitReceived(2));
  auto refused = c.ask(query(3, "www.example.test"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(idOf(*refused), 3);
  EXPECT_EQ(rcodeOf(*refused), 2);
  EXPECT_EQ(upstream_->received(), 2u);
  EXPECT_EQ(counters().over_limit, 1u);
  upstream_->releaseHeld();
  auto first = a.receive();
  auto second = b.receive();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(rcodeOf(*first), 0);
  EXPECT_EQ(rcodeOf(*second), 0);
  // Slots are given back: the next query goes through.
  EXPECT_EQ(rcodeOf(*c.ask(query(4, "www.example.test"))), 0);
}

TEST_F(DnsUdpProxyTest, AHeldQueryDoesNotDelayOthers) {
  startProxy();
  UdpClient held("127.0.0.1", port());
  held.send(query(100, "hold.example.test"));
  ASSERT_TRUE(upstream_->waitReceived(1));
  UdpClient client("127.0.0.1", port());
  for (uint16_t id = 1; id <= 50; ++id) client.send(query(id, "www.example.test"));
  std::set<uint16_t> ids;
  for (int i = 0; i < 50; ++i) {
    auto answer = client.receive();
    ASSERT_TRUE(answer) << "after " << i << " answers";
    ids.insert(idOf(*answer));
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_FALSE(held.receive(milliseconds(0)));
  upstream_->releaseHeld();
  auto late = held.receive();
  ASSERT_TRUE(late);
  EXPECT_EQ(idOf(*late), 100);
}

TEST_F(DnsUdpProxyTest, UpstreamIdsAreRandomAndMappedBackToEachClient) {
  startProxy();
  UdpClient a("127.0.0.1", port());
  UdpClient b("127.0.0.1", port());
  a.send(query(0x1111, "hold.example.test"));
  b.send(query(0x1111, "hold.example.test"));  // the same ID from another client, both in flight
  ASSERT_TRUE(upstream_->waitReceived(2));
  const auto ids = upstream_->receivedIds();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
  upstream_->releaseHeld();
  auto to_a = a.receive();
  auto to_b = b.receive();
  ASSERT_TRUE(to_a && to_b);
  EXPECT_EQ(idOf(*to_a), 0x1111);
  EXPECT_EQ(idOf(*to_b), 0x1111);
  EXPECT_EQ(rcodeOf(*to_a), 0);
}

TEST_F(DnsUdpProxyTest, ManyQueriesWithOneIdGetDistinctUpstreamIdsAndAllComeBack) {
  // A whole upstream socket's worth of queries in flight at once, all with the client ID 7: the
  // upstream IDs must not collide (a collision would relay one answer twice and lose another).
  startProxy();
  constexpr size_t kQueries = DnsUdpUpstream::kQueriesPerSocket;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (size_t i = 0; i < kQueries; ++i) {
    clients.push_back(std::make_unique<UdpClient>("127.0.0.1", port()));
    clients.back()->send(query(7, "hold.example.test"));
  }
  ASSERT_TRUE(upstream_->waitReceived(kQueries));
  const auto ids = upstream_->receivedIds();
  EXPECT_EQ(std::set<uint16_t>(ids.begin(), ids.end()).size(), kQueries);
  upstream_->releaseHeld();
  for (auto& client : clients) {
    auto answer = client->receive();
    ASSERT_TRUE(answer);
    EXPECT_EQ(idOf(*answer), 7);
    EXPECT_EQ(rcodeOf(*answer), 0);
    EXPECT_FALSE(client->receive(milliseconds(0)));  // exactly one answer each
  }
  EXPECT_EQ(counters().allowed, kQueries);
}

TEST_F(DnsUdpProxyTest, AnAnswerToAnotherQuestionIsNotRelayed) {
  startProxy([](DnsProxyConfig& c) { c.dns.upstream_timeout = milliseconds(200); });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(0x3333, "wrongq.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 2);  // the real answer never came: SERVFAIL at the timeout
  EXPECT_EQ(counters().upstream_timeouts, 1u);
}

TEST_F(DnsUdpProxyTest, UpstreamSourcePortsRotate) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  for (uint16_t id = 0; id < 3 * DnsUdpUpstream::kQueriesPerSocket; ++id) {
    auto answer = client.ask(query(id, "www.example.test"));
    ASSERT_TRUE(answer);
    ASSERT_EQ(idOf(*answer), id);
  }
  const auto ports = upstream_->udpSourcePorts();
  EXPECT_GE(std::set<uint16_t>(ports.begin(), ports.end()).size(), 3u);
}

TEST_F(DnsUdpProxyTest, TruncatedAnswerAndEdnsPassThroughUntouched) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(ednsQuery(0x07c0, "tc.example.test", 1232));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, withId(upstream_->sentFor("tc"), 0x07c0));
  EXPECT_TRUE(flagsOf(*answer) & 0x0200);  // TC
  EXPECT_EQ((*answer)[11], 1);             // the OPT record is still there
}

TEST_F(DnsUdpProxyTest, MalformedDatagramsAreCountedAndDoNotDisturbTheNextQuery) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  client.send({0x12, 0x34, 0x01});  // not even a header: dropped
  std::vector<uint8_t> loop = header(0x4444, kRdFlag, 1);
  append(loop, std::vector<uint8_t>{0xc0, 12, 0, 1, 0, 1});
  client.send(loop);  // header parses: FORMERR
  auto formerr = client.receive();
  ASSERT_TRUE(formerr);
  EXPECT_EQ(idOf(*formerr), 0x4444);
  EXPECT_EQ(rcodeOf(*formerr), 1);
  auto notimp = client.ask(query(0x5555, "www.example.test", 1, 0x2000));  // opcode 4 (NOTIFY)
  ASSERT_TRUE(notimp);
  EXPECT_EQ(rcodeOf(*notimp), 4);
  client.send(response(0x6666, "www.example.test", 1, {}));  // a response: dropped
  auto ok = client.ask(query(0x7777, "www.example.test"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(idOf(*ok), 0x7777);
  EXPECT_EQ(rcodeOf(*ok), 0);
  EXPECT_EQ(counters().malformed, 4u);
  EXPECT_EQ(upstream_->received(), 1u);
}

TEST_F(DnsUdpProxyTest, OversizedDatagramGetsFormerr) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  auto big = query(0x0b16, "www.example.test");
  big.resize(kDnsMaxQuerySize + 100, 0);
  auto answer = client.ask(big);
  ASSERT_TRUE(answer);
  EXPECT_EQ(idOf(*answer), 0x0b16);
  EXPECT_EQ(rcodeOf(*answer), 1);
  EXPECT_EQ(upstream_->received(), 0u);
}

TEST_F(DnsUdpProxyTest, LearnsThroughCnameChains) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  ASSERT_TRUE(client.ask(query(1, "cname.example.test")));
  auto snapshot = names_->snapshot(DnsNameCache::Clock::now());
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].name, "cname.example.test.");
  ASSERT_EQ(snapshot[0].addresses.size(), 1u);
  EXPECT_EQ(snapshot[0].addresses[0].address, *IpAddress::parse("198.18.6.1"));
  // The chain's TTL (the CNAME's 30 s) bounds the address's 300 s.
  EXPECT_LE(snapshot[0].addresses[0].expires,
            DnsNameCache::Clock::now() + std::chrono::seconds(30));
}

}  // namespace
}  // namespace portcullis::proxy
